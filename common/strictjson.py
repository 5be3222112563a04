"""JSON as PatchOps accepts it from outside: finite numbers, bounded nesting, clean strings.

Python's ``json`` accepts ``NaN`` and ``Infinity``, integers of any length, nesting as deep as
the interpreter's stack and strings holding NUL or unpaired surrogates — none of which PostgreSQL
or the rest of the product can store or show. :func:`loads` refuses each of them with a message
that names where in the document the value is, so a caller learns what to fix.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deeper than any document PatchOps reads (a discovery payload nests four levels).
MAX_DEPTH = 32
# A signed 64-bit integer: the widest integer column in the database.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
# Integers are refused by length before Python converts them, so a 100,000-digit number
# costs nothing.
_MAX_INT_DIGITS = 19
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class InputError(ValueError):
    """The document is not acceptable; the message says why and where."""


def loads(data: bytes | str) -> Any:
    """Parse ``data`` (UTF-8 when bytes, a byte-order mark allowed) or raise :class:`InputError`."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"The body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        document = json.loads(
            data,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"Malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:
        raise InputError(f"Malformed JSON: {exc}.") from None
    check(document)
    return document


def check(document: Any) -> None:
    """Raise :class:`InputError` for nesting, strings or numbers PatchOps does not accept."""
    stack: list[tuple[Any, str, int]] = [(document, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"JSON nested deeper than {MAX_DEPTH} levels (at {path}).")
        if isinstance(node, str):
            _check_string(node, path)
        elif isinstance(node, dict):
            for key, value in node.items():
                _check_string(key, f"{path} (a key)")
                stack.append((value, f"{path}.{key}", depth + 1))
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{i}]", depth + 1) for i, value in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise InputError(f"Numbers must be finite (at {path}).")
        elif (
            isinstance(node, int) and not isinstance(node, bool) and not MIN_INT <= node <= MAX_INT
        ):
            raise InputError(f"Number out of range (at {path}).")


def _check_string(value: str, path: str) -> None:
    bad = _BAD_CHARACTERS.search(value)
    if bad is None:
        return
    if bad.group() == "\x00":
        raise InputError(f"Text must not contain NUL characters (at {path}).")
    raise InputError(f"Text must not contain unpaired UTF-16 surrogates (at {path}).")


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not a JSON number; numbers must be finite.")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise InputError(f"Number out of range: {text[:24]}….")
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise InputError(f"Number out of range: {text}.")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"Number out of range: {text[:24]}.")
    return value
