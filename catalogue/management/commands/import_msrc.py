from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import an MSRC CVRF 1.1 XML document into the catalogue (idempotent)."
    kind = ImportKind.MSRC
    what = "MSRC CVRF 1.1 XML document"
