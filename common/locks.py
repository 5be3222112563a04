"""Short-lived locks in Redis that their holder keeps alive, so a dead holder's lock clears fast.

A lock has an owner (host, process and a random token) and a TTL of about a minute; while the
``with`` block runs, a background thread renews it every third of the TTL. A worker that dies
stops renewing, and its lock is gone within one TTL instead of the half hour a fixed expiry
would need to cover the longest run. Only the owner can release a lock (redis-py's ``Lock``
compares the token in Redis). Keys go through the cache's ``make_key``, which prefixes the
current client's schema, so every client has its own lock of each name.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from redis.exceptions import LockError
from redis.lock import Lock

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 60.0


def owner_token() -> str:
    """Who holds a lock: host, process and a random part (unique per acquisition)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _redis_lock(name: str, ttl: float) -> Lock:
    key = cache.make_key(f"lock:{name}")
    client = cache._cache.get_client(key, write=True)
    return Lock(client, key, timeout=ttl, thread_local=False)


def lock_owner(name: str) -> str | None:
    """The owner token of the lock ``name`` in the current schema, or None when it is free."""
    key = cache.make_key(f"lock:{name}")
    value = cache._cache.get_client(key).get(key)
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def held_lock(name: str, *, ttl: float = DEFAULT_TTL_SECONDS) -> Iterator[bool]:
    """Try to take the lock ``name`` (never waits). Yields True when held — renewed until the
    block ends, then released — or False when another owner holds it."""
    lock = _redis_lock(name, ttl)
    if not lock.acquire(blocking=False, token=owner_token()):
        yield False
        return
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, ttl, stop), daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join(timeout=ttl)
        try:
            lock.release()
        except LockError:
            logger.warning("lock %s expired before its holder released it", name)


def _renew(lock: Lock, ttl: float, stop: threading.Event) -> None:
    while not stop.wait(ttl / 3):
        try:
            lock.reacquire()
        except LockError:
            logger.warning("lost lock %s while holding it", lock.name)
            return
