"""Run the benchmarks: every bench/bench_*.py module's ``run(scale)``, results as a table.

    python -m bench                 # all benchmarks at full size
    python -m bench clients ingest  # only these
    BENCH_SCALE=0.1 python -m bench # a tenth of the sizes (quick look)

Each figure is measured beside a baseline in the same run and reported as a ratio; nothing
here is asserted in tests.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import sys
import time
from pathlib import Path


def _print_pairs(result: object) -> None:
    """Benchmarks that return (label, value) pairs instead of printing get them printed here."""
    if (
        isinstance(result, list)
        and result
        and all(isinstance(row, tuple) and len(row) == 2 for row in result)
    ):
        width = max(len(str(label)) for label, _ in result)
        for label, value in result:
            print(f"   {label:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BENCH_SCALE", 1)),
        help="multiply every size by this factor (default 1, env BENCH_SCALE)",
    )
    args = parser.parse_args()
    if not 0 < args.scale <= 10:
        parser.error("--scale must be in (0, 10]")

    os.environ["BENCH_SCALE"] = str(args.scale)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("bootstrap", verbosity=0)

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
    for name in args.names or available:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"\n== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        started = time.perf_counter()
        params = inspect.signature(module.run).parameters
        if "scale" in params:
            result = module.run(scale=args.scale)
        elif "assets" in params:
            result = module.run(assets=max(50, round(params["assets"].default * args.scale)))
        else:
            result = module.run()  # reads BENCH_SCALE
        _print_pairs(result)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
