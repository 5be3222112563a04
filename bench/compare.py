"""Compare two result sets of ``python -m bench`` (and ``make loadtest``): each ratio and figure
present in both, old beside new, with the change.

    python -m bench.compare OLD_DIR NEW_DIR    # folders of <name>.json (a copy of bench/results)
    python -m bench.compare old.json new.json  # two results of one benchmark

Ratios are comparable across machines (both sides of a ratio ran on the same one); absolute
figures only on the same machine, which the header shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _load(path: Path) -> dict[str, dict[str, Any]]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    loaded = {}
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(f"{file}: not a result file ({exc})") from exc
        loaded[data.get("benchmark", file.stem)] = data
    return loaded


def _numbers(data: dict[str, Any]) -> dict[str, float]:
    """Every comparable number of one result: its ratios, then its numeric figures (flattened)."""
    found = {f"ratio: {r['name']}": r["ratio"] for r in data.get("ratios", [])}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            found[prefix] = float(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix} / {key}" if prefix else str(key), inner)

    walk("", data.get("figures", {}))
    return found


def _machine(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    return (
        f"{str(m.get('commit', ''))[:10]}{'+' if m.get('dirty') else ''} scale {data.get('scale')}"
        f" · {m.get('cpus')} cpus {m.get('cpu_model', '')} · {m.get('memory_gib')} GiB"
    )


def compare(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    """The comparison as printable lines."""
    lines = []
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        lines.append(f"== {name}")
        lines.append(f"   old: {_machine(a)}")
        lines.append(f"   new: {_machine(b)}")
        if a.get("status", "ok") != "ok" or b.get("status", "ok") != "ok":
            lines.append(f"   status: {a.get('status')} -> {b.get('status')}")
        na, nb = _numbers(a), _numbers(b)
        keys = [k for k in na if k in nb]
        width = max((len(k) for k in keys), default=0)
        for key in keys:
            change = f"{(nb[key] - na[key]) / na[key] * 100:+.1f} %" if na[key] else ""
            lines.append(f"   {key:<{width}}  {na[key]:>12.4g}  {nb[key]:>12.4g}  {change}")
    for name in sorted(set(old) ^ set(new)):
        lines.append(f"== {name}: only in {'old' if name in old else 'new'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("old", type=Path, help="folder of results (or one result file)")
    parser.add_argument("new", type=Path, help="folder of results (or one result file)")
    args = parser.parse_args(argv)
    for path in (args.old, args.new):
        if not path.exists():
            parser.error(f"{path} does not exist")
    old, new = _load(args.old), _load(args.new)
    if not set(old) & set(new):
        parser.error("the two sides have no benchmark in common")
    print("\n".join(compare(old, new)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
