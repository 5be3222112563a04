from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import a OSV JSON file, or a directory of them (USN, GHSA…) into the catalogue (idempotent)."
    kind = ImportKind.OSV
    what = "OSV JSON file, or a directory of them (USN, GHSA…)"
