"""Locks that their holder renews: exclusive while held, cleared within one TTL when the holder
dies (a real process killed with SIGKILL), released only by their owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from common.locks import held_lock, lock_owner

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import os, sys, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
django.setup()
from django.conf import settings
settings.CACHES["default"]["KEY_PREFIX"] = sys.argv[1]
from common.locks import held_lock
with held_lock(sys.argv[2], ttl=float(sys.argv[3])) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def test_a_held_lock_excludes_others_until_released() -> None:
    with held_lock("test:exclusive") as first:
        assert first
        owner = lock_owner("test:exclusive")
        assert owner and owner.split(":")[1] == str(os.getpid())
        with held_lock("test:exclusive") as second:
            assert second is False
        assert lock_owner("test:exclusive") == owner
    assert lock_owner("test:exclusive") is None
    with held_lock("test:exclusive") as again:
        assert again


def test_the_holder_keeps_its_lock_past_the_ttl() -> None:
    with held_lock("test:renewed", ttl=0.6) as held:
        assert held
        time.sleep(1.5)
        assert lock_owner("test:renewed") is not None
        with held_lock("test:renewed", ttl=0.6) as other:
            assert other is False
    assert lock_owner("test:renewed") is None


def test_a_killed_holders_lock_clears_within_one_ttl() -> None:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, prefix, "test:dead-holder", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with held_lock("test:dead-holder") as taken:
            assert taken is False
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        killed_at = time.monotonic()
        while lock_owner("test:dead-holder") is not None:
            assert time.monotonic() - killed_at < 5, "the dead holder's lock did not clear"
            time.sleep(0.1)
        with held_lock("test:dead-holder") as taken:
            assert taken
    finally:
        if holder.poll() is None:
            holder.kill()
