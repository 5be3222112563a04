"""The load test's requests, shared by ``bench/locustfile.py`` (locust, over HTTP) and
``bench/request_cost.py`` (in-process): a device's one-device discovery push, the PSA's
findings-list filters and pages, and the TOTP code an authenticator app computes.
Standard library only (the locustfile imports it under gevent)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import struct
import time
from typing import Any

#: The PSA's findings-list filters (``?limit=50&offset=0|50|100`` beside each).
FINDING_FILTERS: list[dict[str, str]] = [
    {"state": "open"},
    {"state": "open", "tier": "critical"},
    {"tier": "high", "overdue": "true"},
    {"state": "open", "os_family": "windows"},
    {},
]


def findings_query() -> dict[str, Any]:
    """One PSA findings-list query: a filter and one of the first three pages of 50."""
    return {**random.choice(FINDING_FILTERS), "limit": 50, "offset": 50 * random.randint(0, 2)}


def totp(secret: str, step: int) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits, 30 s) of a base32 secret, as an authenticator app does."""
    clean = secret.replace(" ", "").upper()
    key = base64.b32decode(clean + "=" * (-len(clean) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return str((struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6).zfill(6)


def device_payload(number: int) -> dict[str, Any]:
    """One device as the discovery agent sends it (osquery tables, patchops_agent's shape)."""
    serial = f"LT{number % 500:06d}"
    return {
        "agent_id": f"loadtest-{number % 500:05d}",
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "system_info": {"hostname": f"LOADTEST-{number % 500:05d}", "hardware_serial": serial},
        "os_version": {
            "name": "Microsoft Windows 11 Pro",
            "version": "10.0.22631",
            "platform": "windows",
        },
        "interface_details": [
            {"interface": "eth0", "mac": f"02:10:00:{number % 500 >> 8:02x}:{number % 256:02x}:01"}
        ],
        "programs": [
            {
                "name": f"Line-of-business app {j}",
                "version": f"{1 + number % 3}.{j}",
                "publisher": "Contoso",
            }
            for j in range(40)
        ],
        "patches": [{"hotfix_id": f"KB50{j:05d}", "installed_on": "2026-11-10"} for j in range(8)],
    }
