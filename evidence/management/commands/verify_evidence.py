"""Recompute a client's evidence chain; exit non-zero naming the first broken event."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from evidence.selectors import verify_chain
from tenants.models import Client


class Command(BaseCommand):
    help = (
        "Recompute the evidence hash chain of one client (sequence continuity, prev_hash links and "
        "each event's hash). Exits 0 with 'N events, head <hash>', "
        "non-zero at the first broken event."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="client slug, e.g. tenant-a")
        parser.add_argument("--batch-size", type=int, default=2000, help="events read per query")

    def handle(self, *args, **options):
        slug = options["slug"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be a positive number.")
        client = Client.objects.exclude(schema_name="public").filter(slug=slug).first()
        if client is None:
            raise CommandError(f"No client with the slug “{slug}”.")
        with tenant_context(client):
            status = verify_chain(batch_size=options["batch_size"])
        if not status.ok:
            raise CommandError(f"{client.slug}: {status.summary()}", returncode=3)
        self.stdout.write(f"{client.slug}: {status.summary()}")
