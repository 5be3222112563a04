"""Every management command: ``--help`` works; bad input is a CommandError that changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django_tenants.utils import tenant_context

from catalogue.models import KevEntry, Vulnerability
from inventory.models import Asset
from tenants.models import ApiToken, Client

ROOT = Path(__file__).resolve().parent.parent
PROJECT_APPS = (
    "tenants",
    "accounts",
    "inventory",
    "catalogue",
    "findings",
    "compliance",
    "rings",
    "evidence",
    "exceptions_register",
    "integrations",
    "scorecards",
    "reports",
    "dashboard",
    "demo",
)
PROJECT_COMMANDS = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
NMAP_XML = b'<?xml version="1.0"?><nmaprun scanner="nmap"><host></host></nmaprun>'
KEV_JSON = b'{"title": "CISA Catalog", "vulnerabilities": [{"cveID": 42}]}'


def test_every_project_command_is_listed() -> None:
    expected = {
        "bootstrap",
        "create_api_token",
        "tokens",
        "unlock_account",
        "create_client",
        "seed_demo",
        "ingest",
        "generate_report",
        "verify_evidence",
        "import_kev",
        "import_epss",
        "import_nvd",
    }
    assert expected <= set(PROJECT_COMMANDS)


@pytest.mark.parametrize("name", PROJECT_COMMANDS)
def test_help_describes_the_command(name: str) -> None:
    command = load_command_class(get_commands()[name], name)
    text = command.create_parser("manage.py", name).format_help()
    assert command.help.split()[0] in text
    assert len(command.help) > 20


def _files(tmp_path: Path) -> dict[str, str]:
    files = {
        "empty": b"",
        "png": PNG,
        "nmap": NMAP_XML,
        "kev_bad_types": KEV_JSON,
        "text": b"this is not a catalogue\n",
        "json_list": b"[1, 2, 3]",
        "truncated_json": b'{"vulnerabilities": [',
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        out[name] = str(path)
    out["missing"] = str(tmp_path / "no-such-file.json")
    out["dir"] = str(tmp_path)
    return out


IMPORTS = ["import_kev", "import_epss", "import_nvd", "import_cve5", "import_osv"]
IMPORTS += ["import_debian", "import_msrc"]

CASES: list[tuple[str, list[str], str]] = [
    ("create_client", ["Bad Slug!", "--name", "X"], "slug"),
    ("create_client", ["tenant-a", "--name", "Again"], "slug"),
    ("create_client", ["new-client", "--name", "X", "--timezone", "Mars/Olympus"], "zone"),
    ("create_client", ["new-client", "--name", "X", "--locale", "xx-YY"], "locale"),
    ("create_client", ["new-client"], "--name"),
    ("create_api_token", ["--name", "x", "--client", "nope", "--scope", "read"], "nope"),
    ("create_api_token", ["--name", "x", "--all", "--scope", "root"], "scope"),
    ("create_api_token", ["--name", "x", "--scope", "read"], "--client"),
    (
        "create_api_token",
        ["--name", "x", "--all", "--client", "tenant-a", "--scope", "read"],
        "all",
    ),
    ("invite_user", ["x@a.test", "--client", "nope", "--role", "owner"], "nope"),
    ("invite_user", ["not-an-address", "--client", "tenant-a", "--role", "owner"], "e-mail"),
    ("invite_user", ["x@a.test", "--client", "tenant-a", "--role", "root"], "role"),
    ("invite_user", ["viewer@a.test", "--client", "tenant-a", "--role", "owner"], "member"),
    ("deactivate_user", ["ghost@nowhere.test"], "ghost"),
    ("deactivate_user", [], "email"),
    ("changepassword", ["owner@a.test"], "client user"),
    ("tokens", [], "create|list|revoke"),
    ("tokens", ["create", "--name", "x", "--client", "nope", "--scope", "read"], "nope"),
    ("tokens", ["create", "--name", "x", "--all", "--scope", "agent"], "exactly one client"),
    ("tokens", ["revoke", "po_nosuchkey_x"], "No token"),
    ("tokens", ["list", "--client", "nope"], "nope"),
    ("weekly_rollups", [], "--since"),
    ("weekly_rollups", ["--since", "last-monday"], "not a date"),
    ("weekly_rollups", ["--since", "2026-06-01", "--until", "2026-13-01"], "not a date"),
    ("weekly_rollups", ["nope", "--since", "2026-06-01"], "nope"),
    ("weekly_rollups", ["--since", "2026-06-01", "--until", "2026-05-01"], "before --since"),
    ("weekly_rollups", ["--since", "2000-01-03", "--until", "2026-01-01"], "At most 260"),
    ("weekly_rollups", ["--since", "2999-01-04", "--until", "2999-01-04"], "has not begun"),
    ("unlock_account", [], "e-mail address"),
    ("unlock_account", ["--ip", "not-an-ip"], "IPv4"),
    ("seed_demo", ["--bogus"], "unrecognized"),
    ("bootstrap", ["--bogus"], "unrecognized"),
    ("bootstrap", ["--executor", "threads"], "Unknown migration executor"),
    ("ingest", ["nope", "{text}"], "nope"),
    ("ingest", ["tenant-a", "{missing}"], "no-such-file"),
    ("ingest", ["tenant-a", "{dir}"], "Cannot read"),
    ("ingest", ["tenant-a", "{empty}"], "empty"),
    ("ingest", ["tenant-a", "{png}"], "format"),
    ("ingest", ["tenant-a", "{png}", "--format", "osquery"], "osquery"),
    ("ingest", ["tenant-a", "{nmap}", "--format", "csv"], "csv"),
    ("ingest", ["tenant-a", "{text}", "--format", "xlsx"], "format"),
    ("ingest", ["tenant-a", "{truncated_json}", "--format", "osquery"], "osquery"),
    ("generate_report", ["nope", "--kind", "monthly", "--period", "2026-01"], "nope"),
    ("generate_report", ["tenant-a", "--kind", "novel", "--period", "2026-01"], "novel"),
    ("generate_report", ["tenant-a", "--kind", "inventory", "--period", "2026-13"], "2026-13"),
    ("generate_report", ["tenant-a", "--kind", "inventory", "--period", "last"], "YYYY-MM"),
    ("generate_report", ["tenant-a", "--kind", "inventory", "--period", "2999-01"], "not started"),
    ("generate_report", ["tenant-a", "--period", "2026-01"], "--kind"),
    ("verify_evidence", ["nope"], "nope"),
    ("reset_second_factor", ["nobody@nope.test"], "no user"),
    ("reset_second_factor", ["owner@a.test"], "client user"),
    ("reset_second_factor", [], "email"),
    ("verify_evidence", ["tenant-a", "--batch-size", "0"], "batch-size"),
    ("verify_evidence", ["tenant-a", "--batch-size", "many"], "batch-size"),
]
for _name in IMPORTS:
    CASES += [
        (_name, ["{missing}"], "no-such-file"),
        (_name, ["{empty}"], "nothing was imported"),
        (_name, ["{png}"], "nothing was imported"),
        (_name, ["{json_list}"], "nothing was imported"),
        (_name, ["{truncated_json}"], "nothing was imported"),
    ]
CASES += [
    ("import_kev", ["{kev_bad_types}"], "nothing was imported"),
    ("import_kev", ["{nmap}"], "nothing was imported"),
    ("import_nvd", ["{text}"], "nothing was imported"),
    ("import_epss", ["{dir}"], "nothing was imported"),
]


def _counts(tenant) -> tuple[int, ...]:
    with tenant_context(tenant):
        assets = Asset.objects.count()
    return (
        Client.objects.count(),
        ApiToken.objects.count(),
        Vulnerability.objects.count(),
        KevEntry.objects.count(),
        assets,
    )


@pytest.mark.parametrize(
    ("name", "args", "message"),
    CASES,
    ids=[f"{n}-{'-'.join(a)[:40]}" for n, a, _ in CASES],
)
def test_bad_input_is_a_command_error_that_changes_nothing(
    name: str, args: list[str], message: str, tmp_path: Path, tenant_a
) -> None:
    files = _files(tmp_path)
    argv = [a.format(**files) for a in args]
    before = _counts(tenant_a)
    with pytest.raises(CommandError) as exc:
        call_command(name, *argv)
    assert message.lower() in str(exc.value).lower()
    assert "Traceback" not in str(exc.value)
    assert _counts(tenant_a) == before


def _manage(*args: str) -> subprocess.CompletedProcess:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_help_exits_zero() -> None:
    done = _manage("ingest", "--help")
    assert done.returncode == 0
    assert "osquery" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "no-such-client", "/nonexistent/file.json"],
        ["import_kev", "/nonexistent/known_exploited_vulnerabilities.json"],
    ],
)
def test_cli_bad_input_exits_non_zero_without_traceback(args: list[str]) -> None:
    done = _manage(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "CommandError" in done.stderr or done.stderr.strip()
