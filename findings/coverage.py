"""Which findings an active exception covers, without the findings app importing the exception
register (which sits above it and links exceptions to findings).

The exception register registers its rules once, in its ``AppConfig.ready()``; until then (or in
a project without it) no finding is covered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import DateTimeField, Value

__all__ = ["CoverRules", "register", "excepted_until", "covering_exceptions"]


@dataclass(frozen=True)
class CoverRules:
    # ``excepted_until(at)``: an annotation for findings, the expiry of the active exception
    # covering the finding at ``at`` (the latest when several do), NULL when none covers it.
    excepted_until: Callable[[datetime], Any]
    # ``covering_exceptions(findings, at=…)``: the covering exception of each finding, by pk.
    covering_exceptions: Callable[..., dict[int, Any]]


_rules: CoverRules | None = None


def register(rules: CoverRules) -> None:
    global _rules
    _rules = rules


def excepted_until(at: datetime) -> Any:
    if _rules is None:
        return Value(None, output_field=DateTimeField())
    return _rules.excepted_until(at)


def covering_exceptions(findings: list[Any], *, at: datetime) -> dict[int, Any]:
    if _rules is None:
        return {}
    return _rules.covering_exceptions(findings, at=at)
