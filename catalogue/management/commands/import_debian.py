from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import a Debian security tracker JSON or DSA list into the catalogue (idempotent)."
    kind = ImportKind.DEBIAN
    what = "Debian security tracker JSON or DSA list"
