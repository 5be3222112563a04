import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.versions import InvalidVersion, compare, fixed_version_for, is_affected


@pytest.mark.parametrize(
    ("ecosystem", "a", "b", "expected"),
    [
        # dpkg: epochs win over everything, tilde sorts before the empty string
        ("debian", "1:1.0-1", "2.0-1", 1),
        ("debian", "1.0~rc1", "1.0", -1),
        ("debian", "1.0~rc1-1", "1.0~rc2-1", -1),
        ("ubuntu", "1.16.0-1ubuntu1.1~18.04.4", "1.16.0-1ubuntu1.1", -1),
        ("ubuntu", "1.20.0-1ubuntu0.1", "1.20.0-1", 1),
        ("ubuntu", "1:1.2.11.dfsg-2ubuntu9", "1.2.13-1", 1),
        ("debian", "2.35-0ubuntu3.1", "2.35-0ubuntu3.10", -1),
        # RPM: epoch, then version, then release
        ("rpm", "1:1.0-1.el8", "2.0-1.el8", 1),
        ("rpm", "8.0p1-19.el9", "8.0p1-19.el9_4.1", -1),
        ("rpm", "1.0-10.el8", "1.0-9.el8", 1),
        # language ecosystems
        ("maven", "2.14.1", "2.15.0", -1),
        ("maven", "2.15.0-rc1", "2.15.0", -1),
        ("pypi", "1.0rc1", "1.0", -1),
        ("pypi", "2.0.post1", "2.0", 1),
        ("npm", "1.2.3-beta.1", "1.2.3", -1),
        # Windows builds and macOS app versions: numeric fields, never text
        ("windows", "10.0.22631.2715", "10.0.22631.10", 1),
        ("windows", "10.0.22621.2715", "10.0.22631.1", -1),
        ("windows", "10.0.19045.3693", "10.0.19045.3693", 0),
        ("macos", "120.0.6099.129", "120.0.6099.71", 1),
        ("macos", "14.10", "14.9.1", 1),
        ("macos", "14.1", "14.1.0", 0),
    ],
)
def test_compare_follows_ecosystem_rules(ecosystem, a, b, expected):
    assert compare(ecosystem, a, b) == expected
    assert compare(ecosystem, b, a) == -expected


def test_compare_never_falls_back_to_strings():
    # As strings "10.0.22631.10" < "10.0.22631.9"; as builds it is newer.
    assert compare("windows", "10.0.22631.10", "10.0.22631.9") == 1


def test_is_affected_by_fixed_version():
    assert is_affected("ubuntu", "1.20.0-1", fixed="1.20.0-1ubuntu0.1")
    assert not is_affected("ubuntu", "1.20.0-1ubuntu0.1", fixed="1.20.0-1ubuntu0.1")
    assert is_affected("ubuntu", "1.16.0-1ubuntu1.1~18.04.3", fixed="1.16.0-1ubuntu1.1~18.04.4")
    assert not is_affected("windows", "10.0.22631.2861", fixed="10.0.22631.2715")
    assert not is_affected("debian", "1.0")  # nothing to compare with


def test_invalid_versions_raise_a_clear_error():
    with pytest.raises(InvalidVersion):
        compare("windows", "not-a-build", "10.0.1")
    with pytest.raises(InvalidVersion):
        compare("cobol", "1", "2")


@pytest.mark.realdata
def test_log4shell_ranges_from_the_real_ghsa(realdata):
    record = json.loads((realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json").read_text())
    ranges = [r for affected in record["affected"] for r in affected["ranges"]]
    assert is_affected("maven", "2.14.1", ranges=ranges)
    assert fixed_version_for("maven", "2.14.1", ranges) == "2.15.0"
    assert is_affected("maven", "2.0", ranges=ranges)
    assert fixed_version_for("maven", "2.0", ranges) == "2.3.1"
    for outside in ("2.15.0", "2.12.2", "2.3.1", "2.16.0"):
        assert not is_affected("maven", outside, ranges=ranges), outside


def test_last_affected_closes_a_range():
    ranges = [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "1.4.2"}]}]
    assert is_affected("npm", "1.4.2", ranges=ranges)
    assert not is_affected("npm", "1.4.3", ranges=ranges)
    assert not is_affected("npm", "0.9.0", ranges=ranges)


def test_git_ranges_are_not_compared():
    ranges = [{"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]
    assert not is_affected("pypi", "1.0", ranges=ranges)


builds = st.tuples(*[st.integers(min_value=0, max_value=99999)] * 4)


@given(builds, builds)
def test_windows_build_order_matches_integer_tuples(a, b):
    text_a, text_b = ".".join(map(str, a)), ".".join(map(str, b))
    expected = (a > b) - (a < b)
    assert compare("windows", text_a, text_b) == expected


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_debian_tilde_always_sorts_before_release(major, minor, rc):
    assert compare("debian", f"{major}.{minor}~rc{rc}", f"{major}.{minor}") == -1
