"""Lengths of free text, defined once: models, forms and API serializers all take them from here."""

from __future__ import annotations

# A reason, note or description a person types (an exception's justification, a halt reason).
TEXT_MAX_LENGTH = 4000
# What a machine reports about a run (an agent job's log, an installer's message).
LOG_MAX_LENGTH = 65536
