"""``python -m bench [name …]``: run the benchmarks (every ``bench/bench_*.py`` ``run()``)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("bootstrap", verbosity=0)
    import bench

    names = argv or sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        module = importlib.import_module(
            f"bench.{name if name.startswith('bench_') else 'bench_' + name}"
        )
        print(f"== {module.__name__}")
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
