"""The one error every inventory parser raises for input it cannot read."""

from __future__ import annotations

__all__ = ["ParseError"]


class ParseError(ValueError):
    """The input is not of the expected kind, or is too damaged to read.

    The message says what was expected and what was found, so it can be shown as is to the
    person who uploaded the file.
    """
