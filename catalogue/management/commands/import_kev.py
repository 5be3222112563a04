from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import a CISA KEV catalogue (JSON or CSV) into the catalogue (idempotent)."
    kind = ImportKind.KEV
    what = "CISA KEV catalogue (JSON or CSV)"
