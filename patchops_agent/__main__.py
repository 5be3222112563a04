"""``python -m patchops_agent`` and the ``patchops-agent.pyz`` archive start here."""

import sys

from patchops_agent.cli import main

sys.exit(main())
