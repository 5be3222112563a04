"""The multi-row insert refuses what it cannot write as bulk_create would (the rows it writes are
tested through the ingest that writes them: tests/inventory/test_ingest.py)."""

import pytest

from common.bulkinsert import insert_instances
from inventory.models import InstalledSoftware


def test_nothing_to_insert_is_a_no_op():
    assert insert_instances([]) is None


def test_a_model_with_a_database_default_is_refused():
    row = InstalledSoftware(kind="program", name="Tool", version="1", vendor="", category="other")
    with pytest.raises(ValueError, match="database default"):
        insert_instances([row])
