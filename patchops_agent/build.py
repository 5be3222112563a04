"""Build the agent as one file: ``python -m patchops_agent.build [TARGET]`` writes a zip
application (default ``dist/patchops-agent.pyz``) that a device runs with its own Python 3.7+:
``python3 patchops-agent.pyz collect --dry-run``. ``make agent`` calls this."""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DEFAULT_TARGET = Path("dist") / "patchops-agent.pyz"
MAIN = "import sys\n\nfrom patchops_agent.cli import main\n\nsys.exit(main())\n"


def build_archive(target: Path = DEFAULT_TARGET) -> Path:
    """Write the archive to ``target`` (its folder is created) and return the path."""
    target = Path(target)
    with tempfile.TemporaryDirectory() as staging:
        root = Path(staging)
        shutil.copytree(
            PACKAGE,
            root / PACKAGE.name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (root / "__main__.py").write_text(MAIN, encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(root, target, interpreter="/usr/bin/env python3", compressed=True)
    return target


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m patchops_agent.build [TARGET]", file=sys.stderr)
        return 2
    target = build_archive(Path(args[0]) if args else DEFAULT_TARGET)
    print(f"patchops-agent archive written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
