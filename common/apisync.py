"""Incremental sync for API integrators: ``?updated_since=`` on every list, and an
``updated_at`` that moves whenever a row changes, also through ``QuerySet.update()``.

Each list filters on its model's ``updated_at`` column; a resource whose rows never change
after they are written (evidence events, audit events, snapshots, stored reports) names the
moment it was written instead (the view's ``updated_field``), and its serializer answers that
as ``updated_at``. ``updated_since`` is inclusive (``updated_at >= updated_since``) so a row
written in the same microsecond as the last one a client saw is not lost; the client may see
that one row again. With ``updated_since`` and no ``?ordering=`` the list is ordered by
``updated_at`` then id, so ``?offset=`` pages through the changes in a stable order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

__all__ = [
    "UPDATED_SINCE",
    "UPDATED_SINCE_FORMAT",
    "UpdatedSinceFilter",
    "UPDATED_SINCE_PARAMETER",
    "filter_since",
    "parse_updated_since",
    "install_touch_on_update",
]

UPDATED_SINCE = "updated_since"
UPDATED_SINCE_FORMAT = (
    "an ISO 8601 date and time with its UTC offset, e.g. 2026-01-05T09:30:00Z or "
    "2026-01-05T10:30:00+01:00"
)


def parse_updated_since(raw: str) -> datetime:
    """``raw`` as an aware UTC datetime; a ValidationError naming the format otherwise.

    A time without an offset is refused rather than guessed: the client's zone and the
    server's may differ, and a guess would silently skip or repeat an hour of changes."""
    value = raw.strip()
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({UPDATED_SINCE: [f"Enter {UPDATED_SINCE_FORMAT}."]})
    if timezone.is_naive(parsed):
        raise ValidationError(
            {UPDATED_SINCE: [f"Give the time's UTC offset (Z or ±hh:mm): {UPDATED_SINCE_FORMAT}."]}
        )
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValidationError(
            {UPDATED_SINCE: ["Enter a date and time between the years 1 and 9999 (UTC)."]}
        ) from exc


UPDATED_SINCE_DESCRIPTION = (
    "Only rows whose updated_at is at or after this moment, ordered by updated_at then id "
    f"(unless ordering is given). Format: {UPDATED_SINCE_FORMAT}; a time without an offset is "
    "refused."
)
# For list actions that do not run the view's filter backends (nested lists).
UPDATED_SINCE_PARAMETER = OpenApiParameter(
    UPDATED_SINCE, OpenApiTypes.DATETIME, description=UPDATED_SINCE_DESCRIPTION
)


def filter_since(request: Any, queryset: Any, field: str = "updated_at") -> Any:
    """``queryset`` narrowed by the request's ``?updated_since=`` on ``field`` (unchanged when
    absent), ordered by ``field`` then id when it is given and no ``?ordering=`` is."""
    raw = request.query_params.get(UPDATED_SINCE)
    if raw is None:
        return queryset
    queryset = queryset.filter(**{f"{field}__gte": parse_updated_since(raw)})
    if not request.query_params.get("ordering"):
        queryset = queryset.order_by(field, "pk")
    return queryset


def updated_field(view: Any, queryset: Any) -> str | None:
    """The column a view's ``updated_at`` stands for, or None when its rows have none."""
    name = getattr(view, "updated_field", "updated_at")
    model = getattr(queryset, "model", None)
    if not name or model is None:
        return None
    try:
        model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - a field that does not exist means no sync filter
        return None
    return name


def _is_list(view: Any) -> bool:
    kwargs = getattr(view, "kwargs", {}) or {}
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    return not (lookup and lookup in kwargs)


class UpdatedSinceFilter(BaseFilterBackend):
    """``?updated_since=<ISO 8601 with offset>``: rows changed at or after that moment, ordered
    by ``updated_at`` then id unless the caller gave ``?ordering=``."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        raw = request.query_params.get(UPDATED_SINCE)
        if raw is None or not _is_list(view):
            return queryset
        field = updated_field(view, queryset)
        if field is None:
            raise ValidationError({UPDATED_SINCE: ["This list has no change time to filter on."]})
        return filter_since(request, queryset, field)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        try:
            queryset = view.get_queryset()
        except Exception:  # noqa: BLE001 - a view whose queryset needs a request has none here
            queryset = getattr(view, "queryset", None)
        if updated_field(view, queryset) is None:
            return []
        return [
            {
                "name": UPDATED_SINCE,
                "required": False,
                "in": "query",
                "description": UPDATED_SINCE_DESCRIPTION,
                "schema": {"type": "string", "format": "date-time"},
                "example": "2026-01-05T09:30:00Z",
            }
        ]


# --- updated_at through QuerySet.update(), bulk_update() and nested rows ------------------------
#
# A model whose rows are shown inside another resource (a rollout's waves and their deployment
# results, its rollbacks) names that resource with ``sync_parent`` (a lookup path, e.g.
# ``"wave__rollout"``): whenever such rows change, through save(), delete(), update() or
# bulk_update(), the parent's ``updated_at`` moves too.


def _auto_now_fields(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.DateTimeField) and getattr(f, "auto_now", False)
    ]


def _parent_model(model: type[models.Model], path: str) -> type[models.Model]:
    target = model
    for hop in path.split("__"):
        target = target._meta.get_field(hop).related_model
    return target


def _parent_ids(queryset: models.QuerySet) -> list[Any]:
    path = getattr(queryset.model, "sync_parent", None)
    if not path:
        return []
    return [pk for pk in queryset.order_by().values_list(path, flat=True).distinct() if pk]


def _touch_parents(model: type[models.Model], ids: list[Any]) -> None:
    if ids:
        parent = _parent_model(model, model.sync_parent)
        _original_update(parent._base_manager.filter(pk__in=ids), updated_at=timezone.now())


_original_update = models.QuerySet.update
_original_bulk_update = models.QuerySet.bulk_update


def _update(self: models.QuerySet, **kwargs: Any) -> int:
    now = None
    for name in _auto_now_fields(self.model):
        if name not in kwargs:
            now = now or timezone.now()
            kwargs[name] = now
    parents = _parent_ids(self)
    changed = _original_update(self, **kwargs)
    if changed:
        _touch_parents(self.model, parents)
    return changed


def _bulk_update(self: models.QuerySet, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
    fields = list(fields)
    objs = list(objs)
    extra = [name for name in _auto_now_fields(self.model) if name not in fields]
    if extra:
        now = timezone.now()
        for obj in objs:
            for name in extra:
                setattr(obj, name, now)
        fields += extra
    changed = _original_bulk_update(self, objs, fields, *args, **kwargs)
    if getattr(self.model, "sync_parent", None) and objs:
        pks = [obj.pk for obj in objs]
        _touch_parents(self.model, _parent_ids(self.model._base_manager.filter(pk__in=pks)))
    return changed


def _saved(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        _touch_parents(sender, _parent_ids(sender._base_manager.filter(pk=instance.pk)))


def _deleting(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    _touch_parents(sender, _parent_ids(sender._base_manager.filter(pk=instance.pk)))


def install_touch_on_update() -> None:
    """Make ``QuerySet.update()`` and ``bulk_update()`` set a model's ``auto_now`` fields (as
    ``save()`` does) unless the call sets them itself, and move the ``updated_at`` of each
    ``sync_parent``, so no change escapes ``updated_since``. Called once from the project's
    ``AppConfig.ready()``."""
    from django.apps import apps
    from django.db.models.signals import post_save, pre_delete

    if models.QuerySet.update is _update:
        return
    models.QuerySet.update = _update  # type: ignore[method-assign]
    models.QuerySet.bulk_update = _bulk_update  # type: ignore[method-assign]
    for model in apps.get_models():
        if getattr(model, "sync_parent", None):
            label = model._meta.label
            post_save.connect(_saved, sender=model, dispatch_uid=f"sync-parent-save-{label}")
            pre_delete.connect(_deleting, sender=model, dispatch_uid=f"sync-parent-del-{label}")
