"""The one error every inventory parser raises for input it cannot read: the agent package's
(the portal reads some formats with the agent's own parsers, so both raise the same error)."""

from __future__ import annotations

from patchops_agent.parsers.errors import ParseError

__all__ = ["ParseError"]
