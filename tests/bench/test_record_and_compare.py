"""Benchmark results as ``python -m bench`` writes them, and ``bench.compare`` setting two sets
side by side."""

from __future__ import annotations

import json

import pytest

from bench import compare, record


def test_a_ratio_meets_its_target_in_the_direction_the_target_names():
    faster = record.Ratio("engine vs raw", value=3.0, baseline=2.0, target="<= 2")
    slower = record.Ratio("engine vs raw", value=5.0, baseline=2.0, target="<= 2")
    rate = record.Ratio("ingest vs raw", value=60.0, baseline=100.0, unit="rows/s", target=">= 0.5")

    assert (faster.ratio, faster.met) == (1.5, True)
    assert (slower.ratio, slower.met) == (2.5, False)
    assert rate.met is True
    assert record.Ratio("no target", 1.0, 1.0).met is None
    assert "MISSED (informational)" in record.format_ratio(slower, full_scale=False)
    assert "MISSED (informational)" not in record.format_ratio(slower, full_scale=True)


def _result(tmp_path, folder: str, seconds: float, baseline: float) -> None:
    ratio = record.Ratio("engine vs raw", seconds, baseline, target="<= 2")
    record.write(
        "engine",
        {
            "benchmark": "engine",
            "scale": 0.02,
            "status": "ok",
            "machine": {"cpus": 2, "commit": folder * 5},
            "figures": {"engine_s": seconds, "nested": {"rows": 100}},
            "ratios": [ratio.as_dict()],
        },
        tmp_path / folder,
    )


def test_compare_sets_each_ratio_and_figure_of_two_runs_side_by_side(tmp_path, capsys):
    _result(tmp_path, "old", seconds=4.0, baseline=2.0)
    _result(tmp_path, "new", seconds=3.0, baseline=2.0)
    written = json.loads((tmp_path / "new" / "engine.json").read_text())
    assert written["ratios"][0]["ratio"] == 1.5 and written["ratios"][0]["met"] is True

    assert compare.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    ratio_line = next(line for line in out.splitlines() if "ratio: engine vs raw" in line)
    assert ratio_line.split()[-4:] == ["2", "1.5", f"{(1.5 - 2) / 2 * 100:+.1f}", "%"]
    assert any("nested / rows" in line for line in out.splitlines())


def test_compare_refuses_a_missing_folder_with_a_clear_error(tmp_path, capsys):
    _result(tmp_path, "old", seconds=4.0, baseline=2.0)
    with pytest.raises(SystemExit) as exit_:
        compare.main([str(tmp_path / "old"), str(tmp_path / "absent")])
    assert exit_.value.code == 2
    assert "does not exist" in capsys.readouterr().err
