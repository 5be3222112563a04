"""Whatever a file holds, an import succeeds or stops with ImportFileError, writing nothing."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.models import Advisory, CatalogueImport, EpssScore, KevEntry, Vulnerability
from catalogue.services import ImportFileError, run_import

KINDS = ["kev", "epss", "nvd", "cve5", "msrc", "osv", "debian"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "vulnerabilities",
                    "cveID",
                    "dateAdded",
                    "dueDate",
                    "id",
                    "affected",
                    "modified",
                    "descriptions",
                    "cve",
                    "releases",
                    "ranges",
                    "events",
                    "package",
                    "metrics",
                    "dataType",
                    "cveMetadata",
                    "containers",
                    "fixed_version",
                    "status",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _clear() -> None:
    for model in (KevEntry, EpssScore, Vulnerability, Advisory, CatalogueImport):
        model.objects.all().delete()


def _nothing_written() -> bool:
    return not any(
        m.objects.exists() for m in (KevEntry, EpssScore, Vulnerability, Advisory, CatalogueImport)
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), value=json_values)
def test_random_json_is_imported_or_refused_cleanly(db, tmp_path, kind, value):
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(value))
    try:
        run_import(kind=kind, path=path)
    except ImportFileError as exc:
        assert str(exc)
        assert _nothing_written()
    else:
        _clear()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=200))
def test_random_bytes_are_refused_cleanly(db, tmp_path, kind, data):
    path = tmp_path / "feed.bin"
    path.write_bytes(data)
    try:
        run_import(kind=kind, path=path)
    except ImportFileError:
        assert _nothing_written()
    else:
        _clear()


@pytest.mark.realdata
@pytest.mark.parametrize("kind", KINDS)
def test_every_importer_refuses_the_nessus_export(realdata, db, kind):
    with pytest.raises(ImportFileError):
        run_import(kind=kind, path=realdata / "nessus/nessus_with_cvssv3.nessus")
    assert _nothing_written()
