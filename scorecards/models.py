"""Cross-client rollup (public schema): one scorecard row per client per day.

A per-client Celery task computes the row inside the client's schema with the compliance engine
(``compliance.engine``) and writes it here, so the cross-client pages and API read only these
rows and never loop over schemas in a request.
"""

from __future__ import annotations

from django.db import models

__all__ = ["ScorecardRow", "WeeklyRollup"]


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


class WeeklyRollup(models.Model):
    """One client's week (Monday 00:00 to Monday 00:00 in its time zone) for the weekly review:
    the figures of ``compliance.engine`` measured at the week's end — or, while the week runs,
    at ``measured_at`` — so the review and its digest read rows, never every schema."""

    client = models.ForeignKey("tenants.Client", on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField(help_text="The week's Monday in the client's time zone.")
    start = models.DateTimeField()
    end = models.DateTimeField()
    measured_at = models.DateTimeField(help_text="The week's end, or earlier while it runs.")
    compliant = models.PositiveIntegerField(default=0)
    in_scope = models.PositiveIntegerField(default=0)
    not_reporting = models.PositiveIntegerField(default=0)
    exceptions_active = models.PositiveIntegerField(default=0)
    exceptions_max_aging_days = models.PositiveIntegerField(null=True, blank=True)
    exceptions_min_days_left = models.IntegerField(null=True, blank=True)
    deployments_failed = models.PositiveIntegerField(default=0)
    deployments_attempted = models.PositiveIntegerField(default=0)
    after_hours_tickets = models.PositiveIntegerField(default=0)
    # Hours of each failure or breach ticket resolved in the week (oldest ticket first), overall
    # and per resolver: medians across clients need the durations, not a client's median.
    time_to_fix_hours = models.JSONField(default=list, blank=True)
    time_to_fix_by_engineer = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_id", "-week_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "week_start"],
                name="%(app_label)s_%(class)s_one_per_client_week",
                violation_error_message="This client already has a rollup for that week.",
            )
        ]
        indexes = [models.Index(fields=["week_start"], name="scorecards_weekly_week")]

    def __str__(self) -> str:
        return f"{self.client_id} week of {self.week_start}"

    @property
    def is_final(self) -> bool:
        return self.measured_at >= self.end
