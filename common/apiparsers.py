"""The API's JSON parser: :mod:`common.strictjson` rules and a bounded body."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from common import strictjson


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", 4 * 1024 * 1024))


def too_large_detail(limit: int) -> str:
    return f"The request body is larger than {limit // 1024} KiB, the most the API accepts."


class StrictJSONParser(JSONParser):
    """JSON with finite numbers in the 64-bit range, bounded nesting and no NUL or lone
    surrogates in any string; a body over ``API_MAX_BODY_BYTES`` is a 413."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(too_large_detail(limit))
        try:
            return strictjson.loads(raw)
        except strictjson.InputError as exc:
            raise ParseError(str(exc)) from None
