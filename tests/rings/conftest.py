"""Fixtures of the rings tests that drive the real producers (see ``producers.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from tenants.choices import TokenScope
from tests.rings.producers import Device, Fleet, members, person

# Monday 2026-06-01 10:00 in Chicago (CDT, UTC-5): the office opens.
MONDAY = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def agents(tenant_a, make_token) -> Fleet:
    _, token = make_token(TokenScope.AGENT, tenant_a, name="agents")
    return Fleet(token)


@pytest.fixture
def engineer(personas):
    return person(personas.engineer)


@pytest.fixture
def office(agents, engineer) -> dict:
    """A clinic office reported by its agents on Monday morning: twelve Windows workstations,
    two Ubuntu servers, a Mac kiosk and a Windows file server (a core server). Returns the
    fleet and where the automatic placement put each device (hostname → ring)."""
    agents.add(
        *[Device(f"FRONTDESK-{i:02d}") for i in range(1, 13)],
        Device("app-srv-01", os="ubuntu"),
        Device("app-srv-02", os="ubuntu"),
        Device("KIOSK-01", os="macos", attributes={"role": "shared_kiosk"}),
        Device("FS-01", os="windows_server"),
    )
    with time_machine.travel(MONDAY, tick=False):
        agents.push()
    return {"fleet": agents, "rings": members(engineer)}
