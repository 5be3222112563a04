"""Run every benchmark module (``bench/bench_*.py``) and print one table.

Usage: ``python -m bench [--quick] [name ...]``. ``BENCH_SCALE`` (a factor, default 1) shrinks or
grows the sizes; ``--quick`` means a scale of 0.05. Needs DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (scale 0.05)")
    parser.add_argument("names", nargs="*", help="only these benchmarks (e.g. ingest)")
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else float(os.environ.get("BENCH_SCALE", "1"))
    _setup_django()
    folder = Path(__file__).resolve().parent
    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_")
    )
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names]
    rows: list[tuple[str, str, str]] = []
    failed = False
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"running {name} (scale {scale}) …", file=sys.stderr, flush=True)
        try:
            results = module.run(scale=scale)
        except Exception as exc:  # noqa: BLE001 - report and carry on with the others
            rows.append((name, "error", repr(exc)))
            failed = True
            continue
        for metric, value in results:
            rows.append((name, metric, value))
        rows.append((name, "wall time (s)", f"{time.perf_counter() - started:.1f}"))
    widths = [max(len(r[i]) for r in [("benchmark", "metric", "value"), *rows]) for i in range(3)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format("benchmark", "metric", "value"))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
