"""API filter backends that refuse what they cannot honour instead of ignoring it: an ordering
or a filter value outside the allowed ones answers 400 naming the allowed values (DRF's own
ordering filter drops an unknown field silently, and a choice filter's error does not list the
choices)."""

from __future__ import annotations

from typing import Any

from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter

__all__ = ["StrictFilterBackend", "StrictOrderingFilter", "StrictSearchFilter", "allowed_values"]

# The most allowed values an error message lists.
LISTED = 40


def allowed_values(values: list[str]) -> str:
    """``values`` as an error message lists them (at most ``LISTED``, then how many more)."""
    shown = values[:LISTED]
    more = f" (and {len(values) - len(shown)} more)" if len(values) > len(shown) else ""
    return ", ".join(shown) + more


_allowed = allowed_values


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` with fields the view allows (``-`` for descending); anything else is 400."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            terms = [term.strip() for term in params.split(",") if term.strip()]
            valid = [
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            ]
            unknown = [t for t in terms if t.lstrip("-") not in valid]
            if unknown:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Unknown ordering {', '.join(unknown)}. Allowed: "
                            + _allowed([*valid, *(f"-{name}" for name in valid)])
                            + "."
                        ]
                    }
                )
            return terms
        return self.get_default_ordering(view)


class StrictSearchFilter(SearchFilter):
    """``?search=`` over the view's ``search_fields`` (case-insensitive; every word must match
    one of them). A list without ``search_fields`` answers 400 to ``?search=`` instead of
    ignoring it, and its OpenAPI operation does not offer the parameter."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        if self.search_param in request.query_params and not self.get_search_fields(view, request):
            lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "")
            if lookup not in (getattr(view, "kwargs", None) or {}):
                raise ValidationError(
                    {self.search_param: ["This list takes no search; use its filters."]}
                )
        return super().filter_queryset(request, queryset, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = getattr(view, "search_fields", None)
        if not fields:
            return []
        names = ", ".join(name.lstrip("^=@$").replace("__", ".") for name in fields)
        return [
            {
                "name": self.search_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Words to find in {names} (case-insensitive; every word must match one "
                    "of them)."
                ),
                "schema": {"type": "string"},
            }
        ]


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend; a refused choice names the choices the filter accepts."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            errors = {name: list(messages) for name, messages in filterset.errors.items()}
            for name, messages in errors.items():
                field = filterset.form.fields.get(name)
                if isinstance(field, forms.ChoiceField):
                    choices = [str(value) for value, _ in field.choices if value not in ("", None)]
                    if choices:
                        errors[name] = [*messages, f"Allowed: {_allowed(choices)}."]
            raise ValidationError(errors)
        return filterset.qs
