from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import a FIRST EPSS scores (CSV or CSV.gz) into the catalogue (idempotent)."
    kind = ImportKind.EPSS
    what = "FIRST EPSS scores (CSV or CSV.gz)"
