"""Helpers shared by every CSV export."""

from __future__ import annotations

from typing import Any

__all__ = ["spreadsheet_safe"]

# A spreadsheet evaluates a cell that starts with one of these as a formula (CSV injection).
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with a quote; else unchanged."""
    if isinstance(value, str) and value[:1] in _FORMULA_LEADS:
        return "'" + value
    return value
