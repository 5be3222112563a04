from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import an OSV JSON file or a directory of them: USN, GHSA… (idempotent)."
    kind = ImportKind.OSV
    what = "OSV JSON file, or a directory of them (USN, GHSA…)"
