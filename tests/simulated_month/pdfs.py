"""Reading the month-end PDFs with pdftotext."""

# ruff: noqa: F403, F405
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.simulated_month.scenario import *

# --- reading the PDFs -----------------------------------------------------------------------------


FURNITURE = re.compile(
    rf"PatchOps · confidential|Page \d+ of \d+|{NAME} · [^\n]* · Period [-– \d]+"
)


@dataclass(frozen=True)
class Pdf:
    """A PDF's text twice: in reading order (prose, cells that wrap) without the running header
    and footer, and as printed lines with their spaces collapsed (table rows)."""

    text: str
    lines: frozenset[str]

    def rows(self, *rows: str) -> None:
        """Each row is a printed line (spaces aside: a narrow cell may print "4d1h")."""
        printed = {squash(line) for line in self.lines}
        for row in rows:
            assert squash(row) in printed, f"row {row!r} not found"


def read_pdf(path: Path) -> Pdf:
    def run(*options: str) -> str:
        return subprocess.run(
            ["pdftotext", *options, str(path), "-"], check=True, capture_output=True, text=True
        ).stdout

    pages = run().split("\f")
    header = "\n".join(p.split("\n", 1)[0] for p in pages if p.strip())
    lines = frozenset(re.sub(r"\s+", " ", line).strip() for line in run("-layout").splitlines())
    return Pdf(text=header + "\n" + FURNITURE.sub(" ", "\n".join(pages)), lines=lines)


def squash(text: str) -> str:
    """Text without whitespace and hyphens: pdftotext joins a word broken at the end of a line
    and drops the hyphen it broke at, so "lfc-ws-01" may read "lfcws-01"."""
    return re.sub(r"[\s\-\u00ad]", "", text)


def between(text: str, start: str, end: str | None = None) -> str:
    """The squashed part of ``text`` from ``start`` up to ``end``."""
    body = squash(text)
    head = body.index(squash(start))
    tail = body.index(squash(end), head) if end else len(body)
    return body[head:tail]


def contains(haystack: str, *needles: str) -> None:
    for needle in needles:
        assert squash(needle) in haystack, f"{needle!r} not found"


def in_order(haystack: str, *needles: str) -> None:
    position = 0
    for needle in needles:
        found = haystack.find(squash(needle), position)
        assert found >= 0, f"{needle!r} not found after position {position}"
        position = found + len(squash(needle))
