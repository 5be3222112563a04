"""What every inventory list page shares: its count line, sortable columns and CSV export.

* **Counts**: ``count_line(page, noun)`` → ``"1–50 of 412 assets"`` (``"0 assets"`` when empty).
* **Sorting**: ``?sort=<column>`` or ``?sort=-<column>`` over a whitelist of columns per page
  (``Sorting``); any other value is ignored (the page's default order), never an error.
* **CSV export**: ``?export=csv`` answers every row the filters select (not one page), streamed
  row by row through ``common.csvexport`` (cells a spreadsheet would run are defused). Each
  export is an ``export.downloaded`` row of the audit log naming who took which list, how many
  rows and with which filters (as the audit-log export does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from common.csvexport import csv_writer

__all__ = ["Sorting", "count_line", "wants_csv", "csv_export"]


@dataclass(frozen=True)
class Sorting:
    """The sortable columns of one list: column name → the fields it orders by."""

    columns: dict[str, tuple[str, ...]]
    default: str  # a column name, "-" first for descending

    def chosen(self, request: HttpRequest) -> str:
        value = (request.GET.get("sort") or "").strip()
        return value if value.removeprefix("-") in self.columns else self.default

    def apply(self, qs: QuerySet, request: HttpRequest) -> tuple[QuerySet, str]:
        chosen = self.chosen(request)
        descending = chosen.startswith("-")
        fields = self.columns[chosen.removeprefix("-")]
        order = [f"-{f}" if descending else f for f in fields]
        return qs.order_by(*order, "-pk" if descending else "pk"), chosen

    def links(self, request: HttpRequest, chosen: str) -> dict[str, dict[str, str]]:
        """Per column: the query string that sorts by it (toggling the direction of the current
        one, back to the first page) and its ``aria-sort`` value."""
        out: dict[str, dict[str, str]] = {}
        for name in self.columns:
            query = request.GET.copy()
            query.pop("page", None)
            query.pop("export", None)
            if chosen == name:
                query["sort"], aria = f"-{name}", "ascending"
            elif chosen == f"-{name}":
                query["sort"], aria = name, "descending"
            else:
                query["sort"], aria = name, "none"
            out[name] = {"query": query.urlencode(), "aria": aria}
        return out


def count_line(page: Page, noun: str) -> str:
    """``"1–50 of 412 assets"``; ``"0 assets"`` when nothing matches."""
    total = page.paginator.count
    if not total:
        return f"0 {noun}"
    return f"{page.start_index()}–{page.end_index()} of {total} {noun}"


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("export") == "csv"


class _Echo:
    def write(self, text: str) -> str:
        return text


def csv_export(
    *,
    request: HttpRequest,
    client: Any,
    name: str,
    header: Sequence[str],
    rows: QuerySet,
    row: Callable[[Any], Iterable[Any]],
) -> StreamingHttpResponse:
    """Stream ``rows`` (every row the filters select) as ``<client>-<name>-<date>.csv`` and
    record the ``export.downloaded`` audit event first (with the row count and the filters)."""
    from accounts import audit

    count = rows.count()
    filters = {
        k: v if len(v) > 1 else v[0]
        for k, v in request.GET.lists()
        if k not in ("export", "page") and any(x != "" for x in v)
    }
    audit.record(
        "export.downloaded",
        actor=request.user,
        client=client,
        request=request,
        target=f"{name}.csv",
        export=name,
        rows=count,
        filters=filters,
    )
    writer = csv_writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(list(header))
        for obj in rows.iterator(chunk_size=500):
            yield writer.writerow(list(row(obj)))

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{client.slug}-{name}-{stamp}.csv"'
    response["X-Row-Count"] = str(count)
    return response


class CsvExportMixin:
    """A list page that answers ``?export=csv`` with every row its filters select: the view
    names the file (``csv_name``), its header (``csv_header``) and how a row reads
    (``csv_row``), and gives ``filtered() -> (filterset, queryset, sort)``."""

    csv_name: str
    csv_header: Sequence[str]

    def csv_row(self, obj: Any) -> Iterable[Any]:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if wants_csv(request):
            _, qs, _ = self.filtered()  # type: ignore[attr-defined]
            return csv_export(
                request=request,
                client=self.client,  # type: ignore[attr-defined]
                name=self.csv_name,
                header=self.csv_header,
                rows=qs,
                row=self.csv_row,
            )
        return super().get(request, *args, **kwargs)  # type: ignore[misc]
