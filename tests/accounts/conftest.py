"""``signed_in(user)``: a new, independent test client with its own session of ``user`` (one
user may hold several sessions: laptop, phone). Built like the suite's ``login`` fixture."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from tests.mfa import sign_in


@pytest.fixture
def signed_in(db):
    def _signed_in(user) -> HttpClient:
        return sign_in(HttpClient(), user)

    return _signed_in
