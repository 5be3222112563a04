from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = "Import an NVD CVE API 2.0 JSON page or bare cve object (idempotent)."
    kind = ImportKind.NVD
    what = "NVD CVE API 2.0 JSON (a response page or a bare cve object)"
