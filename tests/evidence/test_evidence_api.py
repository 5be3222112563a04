from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from tenants.choices import TokenScope
from tests.producers import all_day_window

pytestmark = pytest.mark.django_db
API = "/clients/tenant-a/api/v1/evidence/"


@pytest.fixture
def events(tenant_a, tenant_b, personas, login):
    """Three events from their producers: a discovery schedule change (1 Oct), the software
    list review (5 Oct) and a maintenance window added through the API (2 Nov)."""
    from inventory.models import DiscoverySchedule
    from inventory.services import record_policy_review, update_discovery_schedule

    with tenant_context(tenant_a):
        with time_machine.travel(datetime(2026, 10, 1, 12, tzinfo=UTC), tick=False):
            update_discovery_schedule(
                schedule=DiscoverySchedule.current(), actor=personas.msp_admin, local_hour=3
            )
        with time_machine.travel(datetime(2026, 10, 5, 12, tzinfo=UTC), tick=False):
            record_policy_review(actor=personas.engineer, notes="Quarterly review.")
    with time_machine.travel(datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False):
        all_day_window(login(personas.msp_admin))
    with tenant_context(tenant_b):
        update_discovery_schedule(
            schedule=DiscoverySchedule.current(), actor=personas.msp_admin, local_hour=4
        )
    with tenant_context(tenant_a):
        return list(EvidenceEvent.objects.order_by("sequence"))


def test_anonymous_is_401(http, events):
    assert http.get(API).status_code == 401
    assert http.get(f"{API}verify/").status_code == 401


def test_agent_token_is_403(api, make_token, tenant_a, events):
    _, agent = make_token(TokenScope.AGENT, tenant_a)
    assert api(agent).get(API).status_code == 403


def test_other_client_is_404(login, personas, events):
    assert login(personas.owner_b).get(API).status_code == 404
    assert login(personas.owner_b).get("/clients/tenant-a/evidence/").status_code == 404


def test_list_detail_and_pagination(login, personas, events):
    client = login(personas.viewer_a)
    body = client.get(API, {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert (
        first["id"] == str(events[0].uuid)
        and first["sequence"] == 1
        and first["hash"] == events[0].hash
    )
    detail = client.get(f"{API}{events[1].uuid}/").json()
    assert detail["kind"] == "software_policy.reviewed" and detail["prev_hash"] == events[0].hash
    assert client.get(f"{API}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert set(client.get(API, {"brief": "true"}).json()["results"][0]) == {
        "id",
        "sequence",
        "kind",
        "occurred_at",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "discovery.schedule_changed"}, [1]),
        ({"subject_type": "software_policy"}, [2]),
        ({"subject_type": "maintenance_window", "kind": "window.created"}, [3]),
        ({"occurred_after": "2026-10-02T00:00:00Z"}, [2, 3]),
        (
            {"occurred_after": "2026-10-01T00:00:00Z", "occurred_before": "2026-11-01T00:00:00Z"},
            [1, 2],
        ),
        ({"kind_prefix": "window."}, [3]),
    ],
)
def test_filters(login, personas, events, params, expected):
    body = login(personas.engineer).get(API, params).json()
    assert [row["sequence"] for row in body["results"]] == expected


def test_bad_filter_is_400(login, personas, events):
    response = login(personas.engineer).get(API, {"occurred_after": "yesterday"})
    assert response.status_code == 400 and "occurred_after" in response.json()


def test_verify_reports_the_chain_status(login, personas, events, tenant_a):
    client = login(personas.account_manager)
    body = client.get(f"{API}verify/").json()
    assert body["ok"] is True and body["count"] == 3 and body["head_hash"] == events[-1].hash
    assert body["broken"] is None
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE evidence_evidenceevent SET actor = 'x' WHERE sequence = 2")
        cursor.execute("SET LOCAL session_replication_role = origin")
    body = client.get(f"{API}verify/").json()
    assert body["ok"] is False and body["broken"]["sequence"] == 2
    assert body["broken"]["id"] == str(events[1].uuid)


def test_evidence_page_lists_events_filters_and_head(login, personas, events):
    client = login(personas.viewer_a)
    html = client.get("/clients/tenant-a/evidence/").content.decode()
    assert events[-1].hash in html and "window.created" in html
    assert "software_policy.reviewed" in html
    filtered = client.get(
        "/clients/tenant-a/evidence/", {"kind": "window.created"}
    ).content.decode()
    assert "window.created" in filtered and "software_policy.reviewed</span>" not in filtered


def test_evidence_page_empty_state(login, personas):
    html = login(personas.viewer_a).get("/clients/tenant-a/evidence/").content.decode()
    assert "No evidence recorded yet." in html


def test_event_listing_query_count_is_bounded(
    login, personas, events, django_assert_max_num_queries
):
    client = login(personas.viewer_a)
    # 12, and the second-factor check of a viewer without one (two queries, each with its
    # search_path: must a viewer of this client give one; has it a passkey or an authenticator).
    with django_assert_max_num_queries(16):
        assert client.get(API).json()["count"] == 3
