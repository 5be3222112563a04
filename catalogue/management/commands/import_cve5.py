from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import a CVE JSON 5 record, or a directory of them into the catalogue (idempotent)."
    kind = ImportKind.CVE5
    what = "CVE JSON 5 record, or a directory of them"
