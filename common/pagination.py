"""The one way pages paginate (the API's is ``common.api.Pagination``)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 50


def page_of(
    request: HttpRequest, items: Any, *, size: int = PAGE_SIZE, param: str = "page"
) -> Page:
    """The page of ``items`` that ``?<param>=`` asks for (the last one when past the end, the
    first when the number is not a number)."""
    return Paginator(items, size).get_page(request.GET.get(param))
