from catalogue.choices import ImportKind
from catalogue.importers.command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import a CISA KEV catalogue snapshot (JSON or CSV, any column layout CISA has "
        "published) into the catalogue (idempotent). Entries the snapshot no longer lists are "
        "marked removed. A snapshot older than the one already imported is refused unless "
        "--force, which then only adds CVEs never seen and overwrites nothing."
    )
    kind = ImportKind.KEV
    what = "CISA KEV catalogue (JSON or CSV)"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--force",
            action="store_true",
            help="accept an older snapshot: add only CVEs never seen, overwrite and remove nothing",
        )
