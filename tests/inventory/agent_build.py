"""The agent as a device gets it: the one-file archive ``make agent`` builds, built once per
test process into a temporary folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from patchops_agent.build import build_archive

AGENT = build_archive(Path(tempfile.mkdtemp(prefix="patchops-agent-")) / "patchops-agent.pyz")
PACKAGE = Path(__file__).resolve().parents[2] / "patchops_agent"
