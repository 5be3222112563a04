"""The one CSV writer of every export: cells a spreadsheet would run as a formula are defused.

A cell of text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is what
Excel, LibreOffice and Google Sheets evaluate as a formula (CSV injection, OWASP). Such a cell
is written with a leading apostrophe, which spreadsheets show as text. Numbers are written as
they are (a negative number is a number, not a formula).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_LEADS", "SafeCsvWriter", "csv_writer", "spreadsheet_safe"]

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with a quote; else unchanged."""
    if isinstance(value, str) and value[:1] in FORMULA_LEADS:
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every row is made spreadsheet-safe cell by cell."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: _Writable, **options: Any) -> SafeCsvWriter:
    """The CSV writer every export uses (options as for ``csv.writer``)."""
    return SafeCsvWriter(out, **options)
