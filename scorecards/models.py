"""Cross-client rollup (public schema): one scorecard row per client per day.

A per-client Celery task computes the row inside the client's schema with the compliance engine
(``compliance.engine``) and writes it here, so the cross-client pages and API read only these
rows and never loop over schemas in a request.
"""

from __future__ import annotations

from django.db import models

__all__ = ["ScorecardRow"]


class ScorecardRow(models.Model):
    """The one-page internal scorecard of one client on one day (figures as of ``computed_at``)."""

    client = models.ForeignKey("tenants.Client", on_delete=models.CASCADE, related_name="+")
    date = models.DateField(help_text="The day in the client's time zone.")
    computed_at = models.DateTimeField()
    assets_in_scope = models.PositiveIntegerField(default=0)
    compliant_assets = models.PositiveIntegerField(default=0)
    compliance_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    by_tier = models.JSONField(default=dict, blank=True)
    by_os_family = models.JSONField(default=dict, blank=True)
    by_asset_class = models.JSONField(default=dict, blank=True)
    sla_attainment_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    sla_period_days = models.PositiveSmallIntegerField(default=30)
    exceptions_active = models.PositiveIntegerField(default=0)
    exceptions_max_aging_days = models.PositiveIntegerField(null=True, blank=True)
    patch_failure_rate_pct = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    after_hours_tickets = models.PositiveIntegerField(default=0)
    open_critical = models.PositiveIntegerField(default=0)
    overdue_findings = models.PositiveIntegerField(default=0)
    ephi_assets = models.PositiveIntegerField(default=0)
    do_not_disrupt_assets = models.PositiveIntegerField(default=0)
    is_regulated = models.BooleanField(default=False)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_id", "-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "date"],
                name="%(app_label)s_%(class)s_one_per_client_day",
                violation_error_message="This client already has a scorecard row for that day.",
            )
        ]
        indexes = [models.Index(fields=["date"], name="scorecards_row_date")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.date}"
