"""Property tests: the payload validator accepts or rejects, never crashes."""

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsers import ParseError
from inventory.parsers.csv import parse_csv
from inventory.parsers.osquery import parse_osquery
from inventory.payload import PayloadError, validate_payloads

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TABLES = [
    "system_info",
    "os_version",
    "programs",
    "patches",
    "deb_packages",
    "rpm_packages",
    "apps",
    "homebrew_packages",
    "pending_updates",
    "interface_addresses",
    "interface_details",
    "patchops",
    "agent_id",
    "collected_at",
]
row = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "version",
            "hotfix_id",
            "installed_on",
            "source",
            "severity",
            "cves",
            "mac",
            "address",
            "reboot_required",
            "epoch",
            "release",
            "arch",
            "hostname",
            "role",
            "ephi",
            "data_flows",
            "asset_class",
            "install_date",
            "bundle_short_version",
        ]
    ),
    json_values,
    max_size=6,
)
device = st.dictionaries(
    st.sampled_from(TABLES), st.lists(row, max_size=3) | row | json_values, max_size=8
)


def check(data):
    try:
        devices = validate_payloads(data)
    except PayloadError as exc:
        assert exc.errors and all(isinstance(m, list) and m for m in exc.errors.values())
        return
    assert devices and all(d.hostname for d in devices)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_validator_never_raises_on_arbitrary_json(data):
    check(data)


@settings(max_examples=150, deadline=None)
@given(st.one_of(device, st.lists(device, max_size=3)))
def test_validator_never_raises_on_payload_shaped_data(data):
    check(data)


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(str.strip),
    st.lists(st.tuples(st.text(max_size=20), st.text(max_size=10)), max_size=5),
)
def test_valid_devices_roundtrip_through_json(hostname, programs):
    payload = {
        "system_info": {"hostname": hostname},
        "programs": [{"name": n, "version": v} for n, v in programs],
    }
    try:
        devices = validate_payloads(json.loads(json.dumps(payload)))
    except PayloadError as exc:
        assert any("programs" in k or "hostname" in k for k in exc.errors)
        return
    names = {n.strip().replace("\x00", "") for n, _ in programs if n.strip().replace("\x00", "")}
    assert {r.name for r in devices[0].software["program"]} == names


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_file_parsers_raise_only_parse_errors(data):
    for parse in (parse_osquery, parse_csv):
        with contextlib.suppress(ParseError):
            parse(data)
