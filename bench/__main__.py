"""Run the benchmarks: every bench/bench_*.py module's ``run(scale)``, results as a table.

    python -m bench                 # all benchmarks at full size
    python -m bench clients ingest  # only these
    BENCH_SCALE=0.02 python -m bench # a fiftieth of the sizes (what CI runs)

Each figure is measured beside a baseline in the same run and reported as a ratio, printed with
its target and written with the machine and the commit to bench/results/<name>.json
(``--out`` another folder; ``python -m bench.compare OLD NEW`` compares two). A benchmark that
fails makes the run fail; a missed target does so only at full scale (below it the sizes are too
small for the targets to mean much, and they are printed as informational).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import record as results

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE") or 1),
        help="multiply every size by this factor (default 1, env BENCH_SCALE)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=results.RESULTS,
        help=f"folder for the <name>.json results (default {results.RESULTS})",
    )
    args = parser.parse_args()
    if not 0 < args.scale <= 10:
        parser.error("--scale must be in (0, 10]")

    available = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    unknown = set(args.names) - set(available)
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; available: {', '.join(available)}"
        )

    os.environ["BENCH_SCALE"] = str(args.scale)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        results.ensure_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("bootstrap", verbosity=0)
    machine = results.machine()
    full_scale = args.scale >= 1
    failed: list[str] = []
    missed: list[str] = []
    for name in args.names or available:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"\n== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        payload = {
            "benchmark": name,
            "scale": args.scale,
            "started_at": started_at.isoformat(),
            "machine": machine,
        }
        try:
            params = inspect.signature(module.run).parameters
            result = module.run(scale=args.scale) if "scale" in params else module.run()
        except Exception:  # noqa: BLE001 - reported, written and counted as a failure
            connection.set_schema_to_public()
            traceback.print_exc()
            failed.append(name)
            payload.update(status="failed", error=traceback.format_exc(limit=5))
        else:
            width = max((len(k) for k in result.figures), default=0)
            for key, value in result.figures.items():
                if isinstance(value, dict):
                    value = ", ".join(f"{k} {v}" for k, v in value.items() if k != "label")
                print(f"   {key:<{width}}  {value}")
            print("   ratios against the baseline of this run:")
            for ratio in result.ratios:
                print(results.format_ratio(ratio, full_scale))
                if ratio.met is False:
                    missed.append(f"{name}: {ratio.name}")
            payload.update(
                status="ok",
                figures=result.figures,
                ratios=[ratio.as_dict() for ratio in result.ratios],
            )
        payload["elapsed_s"] = round(time.perf_counter() - started, 2)
        path = results.write(name, payload, args.out)
        print(f"   ({payload['elapsed_s']:.1f} s; {path})", flush=True)

    if missed:
        print(
            f"\ntargets missed{'' if full_scale else ' (informational at this scale)'}: "
            + "; ".join(missed)
        )
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 2 if missed and full_scale else 0


if __name__ == "__main__":
    sys.exit(main())
