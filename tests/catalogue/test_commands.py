import pytest
from django.core.management import call_command

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize("name", ["kev", "epss", "nvd", "cve5", "msrc", "osv", "debian"])
def test_import_commands_have_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command(f"import_{name}", "--help")
    assert exit_.value.code == 0
    assert "--no-progress" in capsys.readouterr().out


def test_progress_counter_goes_to_stderr(db, tmp_path, capsys):
    rows = "".join(f"CVE-2020-{n:05d},0.001,0.5\n" for n in range(2500))
    scores = tmp_path / "epss.csv"
    scores.write_text(f"#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\n{rows}")
    call_command("import_epss", str(scores))
    captured = capsys.readouterr()
    assert "\repss: 2500/2500" in captured.err
    assert "epss: 2500" not in captured.out
    assert "epss scores: 2500 created, 0 updated, 0 unchanged" in captured.out
    call_command("import_epss", str(scores), "--no-progress")
    assert "\repss:" not in capsys.readouterr().err
