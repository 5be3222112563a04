"""The agent's parsers of the OS's own install records, on samples of each format and on what
this machine's own apt and dpkg logs hold.

The samples in ``osrecords/`` follow the formats as their tools write them:

* Windows: ``wevtutil qe System /f:xml`` with the query
  ``*[System[Provider[@Name='Microsoft-Windows-WindowsUpdateClient']]]``
  (events one after another, no root), an Event Viewer "Save as XML" export of a German
  system (``<Events>`` root, RenderingInfo in de-DE), and ``Get-WinEvent … | ConvertTo-Json``
  from Windows PowerShell 5.1 (``/Date(ms)/`` times) and PowerShell 7 (ISO times, one object).
  Event 19 is "Installation Successful", 20 "Installation Failure" (errorCode first), 43
  "Installation Started" (wuaueng.dll's message table, as listed in libyal/winevt-kb).
* macOS: ``softwareupdate --history`` (softwareupdate(8); columns Display Name, Version, Date in
  the user's locale) in English and German, and /var/log/install.log lines.
* Linux: apt's history.log (Start-Date/Commandline/Requested-By/Install/Upgrade/Remove/Error/
  End-Date), dpkg.log (dpkg(1) FILES), dnf.rpm.log of dnf 4 (Upgrade/Upgraded pairs) and of
  older dnf (Upgraded naming the result), and yum.log (no year).
"""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from patchops_agent.collect import (
    install_records,
    read_log_family,
    read_records_mark,
    write_records_mark,
)
from patchops_agent.parsers.errors import ParseError
from patchops_agent.parsers.osrecords import (
    parse_apt_history,
    parse_dnf_rpm_log,
    parse_dpkg_log,
    parse_install_log,
    parse_softwareupdate_history,
    parse_wu_events_json,
    parse_wu_events_xml,
    parse_yum_log,
)

SAMPLES = Path(__file__).parent / "osrecords"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def by_id(records):
    return {r["record_id"]: r for r in records}


# --- Windows -------------------------------------------------------------------------------------


def test_wevtutil_export_reads_started_installed_and_failed_and_skips_other_providers():
    records = parse_wu_events_xml(sample("wevtutil_system.xml"))
    # Four events in the export; the Service Control Manager one is not an install record.
    assert [r["record_id"] for r in records] == ["48211", "48213", "48214"]
    started, installed, failed = records
    assert started["outcome"] == "started" and started["kb"] == "KB5031354"
    assert installed == {
        "source": "windows_update",
        "record_id": "48213",
        "occurred_at": "2026-06-03T04:12:45Z",  # 7 fraction digits, UTC
        "outcome": "installed",
        "name": "2026-06 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems "
        "(KB5031354)",
        "version": "1",
        "kb": "KB5031354",
        "detail": "",
    }
    assert failed["outcome"] == "failed" and failed["kb"] == "KB2267602"
    assert failed["detail"] == "error 0x80070643"


def test_event_viewer_export_of_a_german_system_with_a_root_and_a_decimal_error_code():
    records = by_id(parse_wu_events_xml(sample("eventviewer_de.xml")))
    assert records["9120"]["outcome"] == "installed"
    assert records["9120"]["kb"] == "KB5058379"  # the localized title keeps the KB
    assert "Kumulatives Update" in records["9120"]["name"]
    assert records["9118"]["outcome"] == "failed"
    assert records["9118"]["detail"] == f"error 0x{2149842967:08X}"


def test_get_winevent_json_of_windows_powershell_and_powershell_7():
    records = by_id(parse_wu_events_json(sample("getwinevent_ps51.json")))
    assert records["73001"]["outcome"] == "installed" and records["73001"]["kb"] == "KB5031360"
    when = datetime.fromtimestamp(1780294365, UTC).isoformat().replace("+00:00", "Z")
    assert records["73001"]["occurred_at"] == when
    # Event 20's first property is the error code; the title is the second.
    assert records["72988"]["outcome"] == "failed"
    assert records["72988"]["detail"] == "error 0x800F0922"
    assert records["72988"]["kb"] == "KB5031360"
    (store,) = parse_wu_events_json(sample("getwinevent_ps7.json"))  # one object, not a list
    assert store["occurred_at"] == "2026-06-01T20:40:05Z"  # +02:00 read as such
    assert store["kb"] == "" and store["name"] == "9NBLGGH4NNS1-Microsoft.DesktopAppInstaller"


@pytest.mark.parametrize(
    ("parser", "text", "expected"),
    [
        (parse_wu_events_xml, "not xml at all", "<Event> elements"),
        (parse_wu_events_xml, "<Event><System>", "damaged"),
        (
            parse_wu_events_xml,
            '<!DOCTYPE x [<!ENTITY a "b">]><Event/>',
            "DOCTYPE is not allowed",
        ),
        (parse_wu_events_json, "{not json", "not JSON"),
        (parse_wu_events_json, '"a string"', "an event object or a list"),
        (parse_wu_events_json, '[{"RecordId": 3}]', "needs its Id"),
        (parse_softwareupdate_history, "Software Update Tool\n\nerror", "Display Name"),
        (parse_install_log, "garbage\nmore garbage", "install.log lines"),
        (parse_apt_history, "Commandline without a start", "Start-Date"),
        (parse_dpkg_log, "random words", "dpkg.log lines"),
        (parse_dnf_rpm_log, "nothing here", "dnf.rpm.log lines"),
        (parse_yum_log, "nothing here", "yum.log lines"),
    ],
)
def test_garbage_is_a_clear_error(parser, text, expected):
    with pytest.raises(ParseError, match=re.escape(expected)):
        parser(text)


def test_empty_input_is_no_records():
    for parser in (
        parse_wu_events_json,
        parse_softwareupdate_history,
        parse_install_log,
        parse_apt_history,
        parse_dpkg_log,
        parse_dnf_rpm_log,
        parse_yum_log,
    ):
        assert parser("") == []
    assert parse_wu_events_json("[]") == []


# --- macOS ---------------------------------------------------------------------------------------


def test_softwareupdate_history_in_english_with_a_name_wider_than_its_column():
    records = parse_softwareupdate_history(sample("softwareupdate_history_en.txt"), tz=UTC)
    names = {r["name"]: r for r in records}
    assert names["macOS Sonoma 14.7.1"]["occurred_at"] == "2026-06-03T04:40:12Z"  # month first
    assert names["Safari"]["version"] == "17.6"
    wide = names["Background Security Improvement for macOS Sonoma 14.6.1 (a)"]
    assert wide["version"] == "14.6.1 (a)" and wide["occurred_at"] == "2026-04-22T18:22:40Z"
    assert {r["outcome"] for r in records} == {"installed"}


def test_softwareupdate_history_with_german_dates_reads_day_first_in_the_local_zone():
    berlin = timezone(timedelta(hours=2))
    records = parse_softwareupdate_history(sample("softwareupdate_history_de.txt"), tz=berlin)
    first = records[0]
    assert first["name"] == "macOS Sonoma 14.7.1"
    assert first["occurred_at"] == "2026-06-03T02:40:12Z"  # 03.06. 04:40 CEST
    assert parse_softwareupdate_history("Display Name  Version  Date\n") == []


def test_install_log_reads_installed_and_failed_lines_with_their_offsets():
    records = parse_install_log(sample("install.log"), tz=UTC)
    assert [(r["outcome"], r["name"], r["version"]) for r in records] == [
        ("installed", "macOS Sonoma 14.7.1", "14.7.1"),
        ("installed", "XProtectPlistConfigData", "5287"),
        ("failed", "Zoom", ""),
    ]
    assert records[0]["occurred_at"] == "2026-06-03T09:39:58Z"  # -05 applied
    assert records[0]["detail"] == "softwareupdated"


# --- Linux ---------------------------------------------------------------------------------------


def test_apt_history_with_a_failed_install_among_successes():
    records = parse_apt_history(sample("apt_history.log"), tz=UTC)
    outcome = {r["name"]: r for r in records}
    assert outcome["openssl"]["outcome"] == "installed"
    assert outcome["openssl"]["version"] == "3.0.2-0ubuntu1.16"  # (old, new): the new one
    assert outcome["openssl"]["occurred_at"] == "2026-06-03T04:20:11Z"
    assert outcome["openssl"]["record_id"] == "2026-06-03T04:20:11/Upgrade/openssl:amd64"
    # The transaction with an Error: line failed, each of its packages with the error.
    kernel = outcome["linux-image-5.15.0-113-generic"]
    assert kernel["outcome"] == "failed"
    assert kernel["detail"] == "Sub-process /usr/bin/dpkg returned an error code (1)"
    assert outcome["linux-modules-5.15.0-113-generic"]["version"] == "5.15.0-113.123"
    assert outcome["telnet"]["outcome"] == "removed"
    assert len(records) == 5


def test_dpkg_log_installed_state_and_removals():
    records = parse_dpkg_log(sample("dpkg.log"), tz=UTC)
    assert [(r["outcome"], r["name"], r["version"]) for r in records] == [
        ("installed", "openssl", "3.0.2-0ubuntu1.16"),
        ("removed", "telnet", "0.17+2.3-3"),
    ]


def test_dnf_rpm_log_new_layout_keeps_the_new_packages_not_the_replaced_ones():
    records = parse_dnf_rpm_log(sample("dnf.rpm.log"), tz=UTC)
    assert [(r["outcome"], r["name"], r["version"]) for r in records] == [
        ("installed", "openssl-libs", "1:3.0.7-27.el9"),
        ("installed", "openssl", "1:3.0.7-27.el9"),
        ("installed", "htop", "3.3.0-1.el9"),
        ("removed", "telnet", "1:0.17-85.el9"),
    ]


def test_dnf_rpm_log_old_layout_reads_upgraded_as_the_result():
    records = parse_dnf_rpm_log(sample("dnf.rpm_old.log"), tz=UTC)
    assert [(r["outcome"], r["name"], r["version"]) for r in records] == [
        ("installed", "bash", "5.1.8-9.el9"),
        ("installed", "tmux", "3.2a-5.el9"),
    ]


def test_yum_log_takes_the_year_and_steps_back_across_new_year():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    records = parse_yum_log(sample("yum.log"), tz=UTC, now=now)
    assert records[1]["name"] == "openssl" and records[1]["version"] == "1:1.0.2k-26.el7_9"
    assert records[0]["occurred_at"] == "2026-02-11T09:14:02Z"
    assert records[-1]["outcome"] == "removed" and records[-1]["name"] == "telnet"
    january = parse_yum_log(sample("yum.log"), tz=UTC, now=datetime(2026, 1, 5, tzinfo=UTC))
    assert january[0]["occurred_at"] == "2025-02-11T09:14:02Z"  # February is last year's


# --- the collector: rotations, the mark of the last run -------------------------------------------


def test_collector_reads_rotated_logs_and_keeps_records_since_the_last_run(tmp_path):
    folder = tmp_path / "apt"
    folder.mkdir()
    (folder / "history.log").write_text(sample("apt_history.log"), encoding="utf-8")
    with gzip.open(folder / "history.log.2.gz", "wt", encoding="utf-8") as handle:
        handle.write(sample("apt_history_old.log"))
    (folder / "history.log.bak").write_text("Start-Date: 1999-01-01  00:00:00\n")  # not a rotation
    texts = read_log_family(str(folder / "history.log"))
    assert len(texts) == 2 and "curl" in texts[0]  # oldest first
    roots = {
        "apt_history": str(folder / "history.log"),
        "dnf_rpm_log": str(tmp_path / "none" / "dnf.rpm.log"),
        "yum_log": str(tmp_path / "none" / "yum.log"),
    }
    everything = install_records("Linux", None, roots=roots)
    assert {r["name"] for r in everything} >= {"curl", "openssl", "telnet"}
    # The last run was collected on 2026-06-02 12:00 (local = UTC here): a day's overlap keeps
    # records from 2026-06-01 12:00 on, so May's curl upgrade is not sent again.
    state = tmp_path / "state"
    write_records_mark(state, "2026-06-02T12:00:00Z")
    mark = read_records_mark(state)
    assert mark == datetime(2026, 6, 2, 12, tzinfo=UTC)
    recent = install_records("Linux", mark, roots=roots)
    assert "curl" not in {r["name"] for r in recent}
    assert {r["name"] for r in recent} >= {"openssl", "telnet"}
    assert install_records("Plan9", None) is None  # nothing the agent can read there


def test_records_mark_that_is_damaged_means_everything(tmp_path):
    (tmp_path / "install-records-since").write_text("yesterday\n")
    assert read_records_mark(tmp_path) is None
    assert read_records_mark(tmp_path / "missing") is None


# --- this machine's own logs ---------------------------------------------------------------------


def _own(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        pytest.skip(f"{path} does not exist on this machine (no apt/dpkg here)")
    text = file.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        pytest.skip(f"{path} is empty on this machine")
    return text


def test_this_machines_apt_history():
    text = _own("/var/log/apt/history.log")
    records = parse_apt_history(text)
    starts = len(re.findall(r"^Start-Date: ", text, re.MULTILINE))
    assert starts > 0 and records
    # One record per package of every transaction, each with its time and a unique id.
    listed = sum(
        len(re.findall(r"[^\s,()]+ \([^)]*\)", line.partition(": ")[2]))
        for line in text.splitlines()
        if line.split(":")[0] in ("Install", "Upgrade", "Downgrade", "Reinstall", "Remove", "Purge")
    )
    assert len(records) == listed
    assert len({r["record_id"] for r in records}) == len(records)
    failed_blocks = text.count("\nError: ")
    assert bool(failed_blocks) == any(r["outcome"] == "failed" for r in records)


def test_this_machines_dpkg_log():
    text = _own("/var/log/dpkg.log")
    records = parse_dpkg_log(text)
    installed = len(re.findall(r"^\S+ \S+ status installed \S+ \S+$", text, re.MULTILINE))
    removed = len(re.findall(r"^\S+ \S+ (?:remove|purge) ", text, re.MULTILINE))
    assert len(records) == installed + removed
    assert all(r["occurred_at"].endswith("Z") for r in records)


def test_the_parsers_and_the_collector_stay_valid_on_python_3_7():
    import ast

    import patchops_agent.collect
    import patchops_agent.parsers.osrecords

    for module in (patchops_agent.parsers.osrecords, patchops_agent.collect):
        source = Path(module.__file__).read_text(encoding="utf-8")
        ast.parse(source, feature_version=(3, 7))  # raises SyntaxError on newer syntax


def test_windows_collector_asks_get_winevent_for_the_events_since_the_mark(monkeypatch):
    """The Windows branch runs PowerShell's Get-WinEvent for events 19, 20 and 43 since the
    last run (less a day) and reads its JSON; PowerShell is outside this machine: its output
    is the Windows PowerShell 5.1 sample."""
    import shutil

    import patchops_agent.collect as collect_module

    scripts = []

    def run(args, **kwargs):
        scripts.append(args[-1])
        return sample("getwinevent_ps51.json")

    monkeypatch.setattr(shutil, "which", lambda name: f"C:/bin/{name}.exe")
    monkeypatch.setattr(collect_module, "run", run)
    mark = datetime(2026, 6, 1, 12, tzinfo=UTC)
    records = install_records("Windows", mark)
    assert "Id = 19, 20, 43" in scripts[0]
    assert "2026-05-31T12:00:00+00:00" in scripts[0]  # the mark less the day's overlap
    # Records before the start are not sent again, whatever PowerShell printed.
    assert [r["record_id"] for r in records] == ["72988", "73001"]  # oldest first
    monkeypatch.setattr(collect_module, "run", lambda args, **kwargs: "")
    assert install_records("Windows", mark) == []  # no events since: an empty list, collected


def test_macos_collector_reads_the_history_and_the_install_log(monkeypatch, tmp_path):
    import patchops_agent.collect as collect_module

    monkeypatch.setattr(
        collect_module,
        "run",
        lambda args, **kwargs: (
            sample("softwareupdate_history_en.txt")
            if args[:2] == ["softwareupdate", "--history"]
            else None
        ),
    )
    log_file = tmp_path / "install.log"
    log_file.write_text(sample("install.log"), encoding="utf-8")
    records = install_records("Darwin", None, roots={"install_log": str(log_file)})
    sources = {r["source"] for r in records}
    assert sources == {"softwareupdate", "install_log"}
    assert len(records) == 4 + 3
