"""Cross-client API lists (``/api/v1/findings/``, ``assets/``, ``exceptions/``): every client's
rows in one paginated list, for MSP-wide principals only (MSP admins and engineers, MSP-wide
tokens); a client-bound token answers 403.

Each page is two queries whatever the number of clients (``common.crossclient``: a UNION ALL
of one part per client schema, counted and paged by PostgreSQL), plus one for the clients. Each
row names its client (``client``: slug, ``client_name``). Filters: ``client`` (slugs), the
resource's own, ``search`` and ``updated_since``; an unknown value answers 400 naming the
allowed ones. Default order: ``updated_at``, then client, then id, so a sync can page through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.apifilters import allowed_values
from common.apisync import UPDATED_SINCE, UPDATED_SINCE_PARAMETER, parse_updated_since
from common.crossclient import UnionRows, UnionSpec
from tenants.permissions import Capability, MspAccess, visible_clients

__all__ = ["ChoiceParam", "BoolParam", "CrossClientListView"]

MAX_SEARCH = 200
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class ChoiceParam:
    """``?<name>=a,b`` (or repeated): rows whose ``column`` is one of the values."""

    name: str
    column: str
    choices: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class BoolParam:
    name: str
    column: str
    description: str = ""


def _values(request: Request, name: str) -> list[str]:
    return [
        v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()
    ]


class CrossClientSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        view = self.view
        params: list[Any] = [
            OpenApiParameter(
                "client",
                OpenApiTypes.STR,
                description="Client slugs, comma-separated or repeated (default: every client).",
            ),
        ]
        for p in view.choice_params:
            params.append(
                OpenApiParameter(
                    p.name,
                    OpenApiTypes.STR,
                    description=(p.description or p.name)
                    + f" One or more of: {', '.join(p.choices)}.",
                )
            )
        for b in view.bool_params:
            params.append(OpenApiParameter(b.name, OpenApiTypes.BOOL, description=b.description))
        if view.search_columns:
            params.append(
                OpenApiParameter(
                    "search",
                    OpenApiTypes.STR,
                    description=f"Text to find in {view.search_label} (case-insensitive).",
                )
            )
        orderings = [*view.orderings, *(f"-{o}" for o in view.orderings)]
        params += [
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=orderings,
                description="Default: updated_at (then client, id).",
            ),
            UPDATED_SINCE_PARAMETER,
        ]
        return [*params, *super().get_override_parameters()]


class CrossClientListView(generics.ListAPIView):
    """Base of the cross-client lists; subclasses give the union, filters and serializer."""

    permission_classes = [MspAccess]
    msp_capability = Capability.VIEW
    filter_backends: ClassVar[list] = []
    schema = CrossClientSchema()

    spec: ClassVar[UnionSpec]
    choice_params: ClassVar[tuple[ChoiceParam, ...]] = ()
    bool_params: ClassVar[tuple[BoolParam, ...]] = ()
    search_columns: ClassVar[tuple[str, ...]] = ()
    search_label: ClassVar[str] = ""
    updated_column: ClassVar[str] = "t.updated_at"
    # Union columns a caller may order by; every order ends with client then id (stable pages).
    orderings: ClassVar[tuple[str, ...]] = ("updated_at",)

    def get_queryset(self) -> Any:  # the clients this principal may read
        return visible_clients(self.request.user)

    def _where(self, request: Request, clients: dict[str, Any]) -> tuple[list, list[str]]:
        where: list[tuple[str, list[Any]]] = []
        schemas = sorted(clients)
        wanted = _values(request, "client")
        if wanted:
            by_slug = {c.slug: schema for schema, c in clients.items()}
            unknown = [w for w in wanted if w not in by_slug]
            if unknown:
                raise ValidationError(
                    {
                        "client": [
                            f"Unknown client {', '.join(u[:60] for u in unknown[:5])}. "
                            f"Allowed: {allowed_values(sorted(by_slug))}."
                        ]
                    }
                )
            schemas = sorted({by_slug[w] for w in wanted})
        for p in self.choice_params:
            values = _values(request, p.name)
            if not values:
                continue
            unknown = [v for v in values if v not in p.choices]
            if unknown:
                raise ValidationError(
                    {
                        p.name: [
                            f"Unknown {p.name} {', '.join(u[:60] for u in unknown[:5])}. "
                            f"Allowed: {allowed_values(list(p.choices))}."
                        ]
                    }
                )
            where.append((f"{p.column} = ANY(%s)", [values]))
        for b in self.bool_params:
            raw = request.query_params.get(b.name)
            if raw is None:
                continue
            if raw.lower() not in TRUE + FALSE:
                raise ValidationError({b.name: ["Allowed: true, false."]})
            where.append((f"{b.column} = %s", [raw.lower() in TRUE]))
        term = request.query_params.get("search", "").strip()
        if term and self.search_columns:
            if len(term) > MAX_SEARCH or "\x00" in term:
                raise ValidationError({"search": [f"At most {MAX_SEARCH} characters."]})
            like = "%" + term.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            where.append(
                (
                    " OR ".join(f"{c} ILIKE %s" for c in self.search_columns),
                    [like] * len(self.search_columns),
                )
            )
        since = request.query_params.get(UPDATED_SINCE)
        if since is not None:
            where.append((f"{self.updated_column} >= %s", [parse_updated_since(since)]))
        return where, schemas

    def _order(self, request: Request) -> list[str]:
        raw = request.query_params.get("ordering", "").strip()
        allowed = [*self.orderings, *(f"-{o}" for o in self.orderings)]
        if raw and raw not in allowed:
            raise ValidationError(
                {"ordering": [f"Unknown ordering {raw[:60]}. Allowed: {allowed_values(allowed)}."]}
            )
        first = raw or "updated_at"
        return [first, "schema_name", "id"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        clients = {c.schema_name: c for c in self.get_queryset()}
        where, schemas = self._where(request, clients)
        rows = UnionRows(self.spec, schemas, where, self._order(request))
        page = self.paginate_queryset(rows)
        for row in page:
            client = clients[row["schema_name"]]
            row["client"], row["client_name"] = client.slug, client.name
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
