"""The compliance engine: the numbers of DESIGN "Definitions", computed set-based in SQL.

Every figure is a fixed number of aggregate queries over the current client's schema, whatever
its size; nothing loops over assets or findings in Python. Run inside the client's schema.

Terms used below (all evaluated at the instant ``at``):

* **In (patch) scope at t**: a managed asset (``is_managed``) seen by t that a patch source
  covers or is expected to cover: it had reported a patch or package list
  (``inventory.PatchReport``, written by ingest) at or before t, or it is a computer (Windows,
  macOS, Linux, not network gear) — a computer that never reported one is simply not reporting.
  Other managed devices that never reported one (printers, switches adopted from a scan) are
  **outside patch scope**: listed, never counted compliant. Unknown devices are out of scope.
* **Reporting at t**: an in-scope asset whose last patch or package list arrived within the
  client's staleness window (``Client.stale_after_days``) before t; otherwise it is **not
  reporting** (its patch state is unknown) and counts against compliance.
* **Outstanding at t**: detected at or before t, not verified by t (``verified_at`` null or
  after t) and not "not applicable". (So past instants are recomputed exactly.)
* **Overdue at t**: outstanding and ``due_at < t`` (at ``due_at`` itself a finding is on time).
* **Excepted at t**: covered by an active exception, ``starts_at <= t < expires_at``
  (``exceptions_register.selectors.covered_findings_at``): coverage ends at the expiry instant.
* **Compliance % (point in time)** of a group = reporting in-scope assets of the group with no
  overdue, un-excepted finding ÷ all in-scope assets of the group (a not-reporting asset counts
  against); each ``Ratio`` carries its not-reporting count. Groups: the client, each OS family,
  each asset class, and each tier (for a tier the denominator is every in-scope asset and the
  numerator the reporting ones with no overdue, un-excepted finding *of that tier*). ``None``
  when the group is empty.
* **SLA attainment % (period)** = findings due in ``[start, end)`` and verified at or before their
  ``due_at`` ÷ findings due in ``[start, end)`` (not-applicable findings excluded).
* **Time to remediate** by tier = median and 90th percentile (``percentile_cont``) of
  ``verified_at − detected_at`` over findings verified in the period.
* **Exception aging**: per active exception, days since ``starts_at`` and days left to
  ``expires_at``; the engine reports the count, the oldest aging and the soonest expiry.
* **Patch failure rate** = failed deployment results ÷ attempted in the period
  (``deployment_counts``; failed is ``rings.selectors.FAILED_INSTALL``, so a failed install
  that was rolled back afterwards stays failed; zero attempts → ``None``).
* **After-hours patch tickets**: PSA tickets about patching created in the period outside the
  client's business hours in its time zone; weekends (Saturday, Sunday) count as outside.
* **Time to fix** (the team's own figure): for tickets PatchOps opened on a failure or breach
  (patching — an overdue finding —, failure-rate breach, failed runbook check) and resolved in
  the period, ``closed_at − created_at``; per resolver (``PsaTicket.resolved_by``) and overall,
  count, median and mean hours.
* **Widen-windows recommendation**: the client's patch failure rate over the period is above the
  SLA policy's ``failure_rate_threshold_pct`` (none when the threshold is blank or nothing was
  attempted).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.utils import timezone

from common.choices import OsFamily
from exceptions_register.selectors import (
    active_exception_kinds,
    active_exceptions_at,
    excepted_by_q,
    excepted_q,
)
from findings.choices import FindingState, SeverityTier
from findings.models import Finding, SlaPolicy
from integrations.choices import TicketCategory, TicketSource
from integrations.models import PsaTicket
from inventory import selectors as inventory_selectors
from inventory.models import Asset, AssetClass, PatchReport
from rings import selectors as ring_selectors
from rings.models import DeploymentResult, Ring
from tenants.models import Client

__all__ = [
    "REPORTED_TIERS",
    "Ratio",
    "ComplianceFigures",
    "staleness_window",
    "in_scope_assets",
    "outside_patch_scope",
    "reporting_q",
    "last_report_at",
    "not_reporting_assets",
    "outstanding_at",
    "overdue_unexcepted_at",
    "compliance_at",
    "period_figures",
    "sla_attainment",
    "time_to_remediate",
    "exception_figures",
    "deployment_counts",
    "after_hours_tickets",
    "time_to_fix",
    "TimeToFix",
    "widen_windows_recommendation",
    "Aggregates",
    "run_together",
    "ScorecardFigures",
    "scorecard_figures",
    "compute",
]

REPORTED_TIERS = [
    SeverityTier.CRITICAL,
    SeverityTier.HIGH,
    SeverityTier.MEDIUM,
    SeverityTier.LOW,
]
_HUNDRED = Decimal(100)


def pct(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * _HUNDRED / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int
    # Compliance ratios: the in-scope assets of the group that are not reporting.
    not_reporting: int = 0

    @property
    def pct(self) -> Decimal | None:
        return pct(self.numerator, self.denominator)

    def as_dict(
        self, num: str = "compliant", den: str = "in_scope", *, reporting: bool = False
    ) -> dict[str, Any]:
        value = self.pct
        out: dict[str, Any] = {
            num: self.numerator,
            den: self.denominator,
            "pct": float(value) if value is not None else None,
        }
        if reporting:
            out["not_reporting"] = self.not_reporting
        return out


class PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


@dataclass(frozen=True)
class Aggregates:
    """Named aggregates over one queryset: one row of figures. ``run()`` answers it alone (one
    query, ``QuerySet.aggregate``); ``run_together`` answers several in one statement."""

    queryset: QuerySet
    aggregates: dict[str, Any]

    def run(self) -> dict[str, Any]:
        return self.queryset.aggregate(**self.aggregates)

    def sql_with_params(self) -> tuple[str, tuple[Any, ...]]:
        """The aggregate as one SELECT without GROUP BY (a constant grouping key is dropped by
        the ORM), so it always answers exactly one row, as ``aggregate()`` does."""
        names = list(self.aggregates)
        return (
            self.queryset.order_by()
            .annotate(_one=Value(1, output_field=IntegerField()))
            .values("_one")
            .annotate(**self.aggregates)
            .values_list(*names)
            .query.sql_with_params()
        )


def together_sql(
    parts: list[Aggregates], grouped: tuple[str, list[Any], int] | None = None
) -> tuple[str, list[Any]]:
    """The statement of ``run_together``: the grouped rows (if any) as one JSON array column,
    then every part's columns, from a cross join of the parts' single-row aggregates."""
    selects: list[str] = []
    params: list[Any] = []
    if grouped is not None:
        g_sql, g_params, width = grouped
        columns = ", ".join(f"g.c{j}" for j in range(width))
        names = ", ".join(f"c{j}" for j in range(width))
        selects.append(
            f"(SELECT coalesce(json_agg(json_build_array({columns})), '[]'::json)"
            f" FROM ({g_sql}) g ({names}))"
        )
        params += g_params
    froms: list[str] = []
    for i, part in enumerate(parts):
        sql, part_params = part.sql_with_params()
        froms.append(f"({sql}) p{i}")
        selects.append(f"p{i}.*")
        params += part_params
    sql = f"SELECT {', '.join(selects)}"
    if froms:
        sql += f" FROM {' CROSS JOIN '.join(froms)}"
    return sql, params


def _fetch_together(
    sql: str, params: list[Any], layout: list[list[str]], grouped: bool
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = list(cursor.fetchone())
    rows: list[list[Any]] = row.pop(0) if grouped else []
    out = []
    for names in layout:
        out.append(dict(zip(names, row[: len(names)], strict=True)))
        row = row[len(names) :]
    return out, rows


def run_together(
    parts: list[Aggregates], grouped: tuple[str, list[Any], int] | None = None
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """Every part's row, and the rows of an optional grouped statement (``(sql, params,
    column count)``, folded into one JSON array), in ONE statement on one cursor: a cross join of
    single-row aggregates. Answers ``([row of each part], grouped rows)``."""
    sql, params = together_sql(parts, grouped)
    return _fetch_together(sql, params, [list(p.aggregates) for p in parts], grouped is not None)


# Statements compiled once per process and shape, then reused for any instant (``_shifted``).
_PROBES = (datetime(2001, 1, 1, tzinfo=UTC), datetime(2101, 1, 1, tzinfo=UTC))
_COMPILED: dict[Hashable, tuple[str, list[Any], list[list[str]]] | None] = {}
_COMPILED_MAX = 256


def _shifted(
    key: Hashable,
    build: Callable[[datetime], tuple[list[Aggregates], tuple[str, list[Any], int]]],
    at: datetime,
) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """``run_together(*build(at))`` without compiling the ORM querysets again for every client.

    ``build`` is compiled for two probe instants a century apart; when the SQL is the same and
    every parameter is either equal in both or a datetime that moved exactly with the instant
    (``at`` plus a constant: ``at``, ``at - window``, ``at - period``), the statement is kept
    under ``key`` (which must hold everything else the statement depends on) and run for ``at``
    with each datetime parameter shifted. Anything else is compiled for ``at`` every time.
    """
    if key not in _COMPILED:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = []
        for probe in _PROBES:
            parts, grouped = build(probe)
            compiled.append((*together_sql(parts, grouped), [list(p.aggregates) for p in parts]))
        (sql, params, layout), (sql_2, params_2, layout_2) = compiled
        step = _PROBES[1] - _PROBES[0]
        same = (
            sql == sql_2
            and layout == layout_2
            and len(params) == len(params_2)
            and all(
                b - a == step if isinstance(a, datetime) and isinstance(b, datetime) else a == b
                for a, b in zip(params, params_2, strict=True)
            )
        )
        _COMPILED[key] = (sql, params, layout) if same else None
    entry = _COMPILED[key]
    if entry is None:
        parts, grouped = build(at)
        return run_together(parts, grouped)
    sql, params, layout = entry
    moved = [at + (p - _PROBES[0]) if isinstance(p, datetime) else p for p in params]
    return _fetch_together(sql, moved, layout, True)


# --- building blocks --------------------------------------------------------------------------


DEFAULT_STALE_AFTER_DAYS = 14


def staleness_window(client: Client | None = None) -> timedelta:
    """The client's staleness window (``stale_after_days``; the current schema's client)."""
    client = client if client is not None else getattr(connection, "tenant", None)
    days = getattr(client, "stale_after_days", None) or DEFAULT_STALE_AFTER_DAYS
    return timedelta(days=days)


def in_scope_assets(at: datetime | None = None) -> QuerySet[Asset]:
    """Managed assets in patch scope at ``at`` (``inventory.selectors.in_patch_scope``):
    reporting or not."""
    return inventory_selectors.in_patch_scope(at)


def outside_patch_scope(at: datetime | None = None) -> QuerySet[Asset]:
    """Managed devices no patch source covers (``inventory.selectors.outside_patch_scope``)."""
    return inventory_selectors.outside_patch_scope(at)


def reporting_q(at: datetime, window: timedelta) -> Exists:
    """An asset that reported a patch or package list in (at − window, at]."""
    return inventory_selectors.reported_by(at, since=at - window)


def last_report_at(at: datetime) -> Subquery:
    """Annotation: the time of the asset's last patch or package list at or before ``at``."""
    return Subquery(
        PatchReport.objects.filter(asset=OuterRef("pk"), reported_at__lte=at)
        .order_by("-reported_at")
        .values("reported_at")[:1],
        output_field=DateTimeField(),
    )


def not_reporting_assets(
    at: datetime | None = None, *, window: timedelta | None = None
) -> QuerySet[Asset]:
    """In-scope assets that are not reporting at ``at``, oldest report first, each annotated
    with ``last_report_at``."""
    at = at or timezone.now()
    window = window if window is not None else staleness_window()
    return (
        in_scope_assets(at)
        .exclude(reporting_q(at, window))
        .annotate(last_report_at=last_report_at(at))
        .select_related("asset_class")
        .order_by("last_report_at", "hostname", "pk")
    )


def outstanding_at(at: datetime) -> QuerySet[Finding]:
    return Finding.objects.filter(
        Q(verified_at__isnull=True) | Q(verified_at__gt=at), detected_at__lte=at
    ).exclude(state=FindingState.NOT_APPLICABLE)


def overdue_unexcepted_at(at: datetime, *, excepted: Q | None = None) -> QuerySet[Finding]:
    """Outstanding, past ``due_at`` and not covered by an active exception at ``at``."""
    excepted = excepted_q(at) if excepted is None else excepted
    return outstanding_at(at).filter(due_at__lt=at).exclude(excepted)


@dataclass
class ComplianceBreakdown:
    client: Ratio
    by_tier: dict[str, Ratio]
    by_os_family: dict[str, Ratio]
    by_asset_class: dict[str, Ratio]
    outside_patch_scope: int = 0
    staleness_window: timedelta = timedelta(days=DEFAULT_STALE_AFTER_DAYS)

    @property
    def not_reporting(self) -> int:
        return self.client.not_reporting


ALL_TIERS = [*REPORTED_TIERS, SeverityTier.UNKNOWN]


def compliance_at(at: datetime, *, window: timedelta | None = None) -> ComplianceBreakdown:
    """Compliance % by client, tier, OS family and asset class in ONE grouped statement.

    The overdue, un-excepted findings (the ORM queryset ``overdue_unexcepted_at``, compiled to
    SQL) are folded per asset into one flag per tier, left-joined to the in-scope assets (each
    with its reporting flag for the staleness ``window``) and grouped by (OS family, asset
    class) — a handful of rows, never one per asset — which are summed into the client, OS,
    class and tier figures. A not-reporting asset counts in the denominator only. The count of
    managed assets outside patch scope rides in the same statement (``run_together``).
    """
    window = window if window is not None else staleness_window()
    [outside], rows = run_together([outside_scope_count(at)], compliance_grouped(at, window))
    return compliance_breakdown(rows, window=window, outside=outside["outside"])


def outside_scope_count(at: datetime) -> Aggregates:
    """The count of managed assets outside patch scope at ``at``."""
    return Aggregates(outside_patch_scope(at), {"outside": Count("pk")})


def compliance_grouped(
    at: datetime, window: timedelta, *, excepted: Q | None = None
) -> tuple[str, list[Any], int]:
    """The grouped statement of ``compliance_at`` as ``(sql, params, column count)``: one row
    per (OS family, asset class) of in-scope assets, ``(os_family, class_key, in scope,
    compliant, not reporting, compliant for each tier of ALL_TIERS)``. ``excepted`` defaults to
    ``excepted_q(at)``."""
    excepted = excepted_q(at) if excepted is None else excepted
    overdue = overdue_unexcepted_at(at, excepted=excepted).order_by().values("asset_id", "tier")
    bad_sql, bad_params = overdue.query.sql_with_params()
    tier_flags = ", ".join(f"bool_or(b.tier = %s) AS bad_{i}" for i in range(len(ALL_TIERS)))
    tier_counts = ", ".join(
        f"count(*) FILTER (WHERE scope.reporting AND bad.bad_{i} IS NOT TRUE)"
        for i in range(len(ALL_TIERS))
    )
    scope_sql, scope_params = (
        in_scope_assets(at)
        .annotate(reporting=reporting_q(at, window))
        .order_by()
        .values("pk", "os_family", "asset_class__key", "reporting")
        .query.sql_with_params()
    )
    sql = (
        f"WITH bad AS (SELECT b.asset_id, {tier_flags}"
        f" FROM ({bad_sql}) b (asset_id, tier) GROUP BY b.asset_id),"
        f" scope (id, os_family, class_key, reporting) AS ({scope_sql})"
        " SELECT scope.os_family, scope.class_key, count(*),"
        " count(*) FILTER (WHERE scope.reporting AND bad.asset_id IS NULL),"
        f" count(*) FILTER (WHERE NOT scope.reporting), {tier_counts}"
        " FROM scope LEFT JOIN bad ON bad.asset_id = scope.id GROUP BY 1, 2"
    )
    return sql, [*ALL_TIERS, *bad_params, *scope_params], 5 + len(ALL_TIERS)


def compliance_breakdown(
    rows: list[list[Any]], *, window: timedelta, outside: int
) -> ComplianceBreakdown:
    """Sum the rows of ``compliance_grouped`` into the client, tier, OS and class ratios."""
    total = ok = silent = 0
    by_os: dict[str, list[int]] = {}
    by_class: dict[str, list[int]] = {}
    ok_by_tier = dict.fromkeys(ALL_TIERS, 0)
    for os_family, class_key, n, n_ok, n_silent, *n_tier_ok in rows:  # one per (OS, class)
        total += n
        ok += n_ok
        silent += n_silent
        for tier, count in zip(ALL_TIERS, n_tier_ok, strict=True):
            ok_by_tier[tier] += count
        for bucket, key in ((by_os, os_family), (by_class, class_key)):
            cell = bucket.setdefault(key, [0, 0, 0])
            cell[0] += n_ok
            cell[1] += n
            cell[2] += n_silent
    return ComplianceBreakdown(
        client=Ratio(ok, total, silent),
        by_tier={t: Ratio(ok_by_tier[t], total, silent) for t in ALL_TIERS},
        by_os_family={
            k: Ratio(*by_os[k])
            for k in sorted(
                by_os, key=lambda k: OsFamily.values.index(k) if k in OsFamily.values else 99
            )
        },
        by_asset_class={k: Ratio(*by_class[k]) for k in sorted(by_class)},
        outside_patch_scope=outside,
        staleness_window=window,
    )


def sla_due_q(start: datetime, end: datetime) -> Q:
    """The findings SLA attainment counts: due in [start, end), not "not applicable"."""
    return Q(due_at__gte=start, due_at__lt=end) & ~Q(state=FindingState.NOT_APPLICABLE)


# Of those, the ones verified at or before their due time.
SLA_MET_Q = Q(verified_at__lte=F("due_at"))


def sla_counts(start: datetime, end: datetime) -> Aggregates:
    """SLA attainment over [start, end), every tier: ``due`` and ``met`` (the overall ratio of
    ``period_figures``, without its per-tier and time-to-remediate figures)."""
    return Aggregates(
        Finding.objects.filter(sla_due_q(start, end)),
        {"due": Count("pk"), "met": Count("pk", filter=SLA_MET_Q)},
    )


def period_figures(
    start: datetime, end: datetime
) -> tuple[Ratio, dict[str, Ratio], dict[str, dict[str, Any]]]:
    """SLA attainment and time to remediate for [start, end) in ONE pass over the findings.

    * SLA attainment: findings due in the period (not "not applicable") verified at or before
      their due time ÷ findings due in the period.
    * Time to remediate: median and p90 (``percentile_cont``) of ``verified_at − detected_at``
      over findings verified in the period, per tier.
    """
    due_q = sla_due_q(start, end)
    verified_q = Q(verified_at__gte=start, verified_at__lt=end)
    duration = ExpressionWrapper(F("verified_at") - F("detected_at"), output_field=DurationField())
    rows = (
        Finding.objects.filter(Q(due_at__gte=start, due_at__lt=end) | verified_q)
        .values("tier")
        .annotate(
            due=Count("pk", filter=due_q),
            met=Count("pk", filter=due_q & SLA_MET_Q),
            n=Count("pk", filter=verified_q),
            median=PercentileCont(duration, 0.5, filter=verified_q, output_field=DurationField()),
            p90=PercentileCont(duration, 0.9, filter=verified_q, output_field=DurationField()),
        )
        .order_by()
    )
    by_tier: dict[str, Ratio] = {}
    ttr: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["due"]:
            by_tier[r["tier"]] = Ratio(r["met"], r["due"])
        if r["n"]:
            ttr[r["tier"]] = {"count": r["n"], "median": r["median"], "p90": r["p90"]}
    overall = Ratio(
        sum(r.numerator for r in by_tier.values()), sum(r.denominator for r in by_tier.values())
    )
    return overall, by_tier, ttr


def sla_attainment(start: datetime, end: datetime) -> tuple[Ratio, dict[str, Ratio]]:
    """Findings due in [start, end) verified by their due time ÷ findings due in [start, end)."""
    overall, by_tier, _ = period_figures(start, end)
    return overall, by_tier


def time_to_remediate(start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """Median and p90 of verified_at − detected_at per tier, for findings verified in the period."""
    return period_figures(start, end)[2]


@dataclass
class ExceptionFigures:
    active: int
    covered_findings: int
    max_aging_days: int | None
    min_days_left: int | None


def exception_counts(at: datetime) -> Aggregates:
    """The active exceptions at ``at``: ``n``, the ``oldest`` start and the ``soonest`` expiry."""
    return Aggregates(
        active_exceptions_at(at),
        {"n": Count("pk"), "oldest": Min("starts_at"), "soonest": Min("expires_at")},
    )


def max_aging_days(at: datetime, oldest: datetime | None) -> int | None:
    """Exception aging of the oldest active exception: whole days since its ``starts_at``."""
    return (at - oldest).days if oldest else None


def exception_figures(at: datetime) -> ExceptionFigures:
    agg = exception_counts(at).run()
    covered = outstanding_at(at).filter(excepted_q(at)).count() if agg["n"] else 0
    return ExceptionFigures(
        active=agg["n"],
        covered_findings=covered,
        max_aging_days=max_aging_days(at, agg["oldest"]),
        min_days_left=(agg["soonest"] - at).days if agg["soonest"] else None,
    )


PATCH_TICKET_CATEGORIES = (
    TicketCategory.PATCHING,
    TicketCategory.BREACH,
    TicketCategory.RUNBOOK,
)


def deployment_counts(start: datetime, end: datetime) -> tuple[int, int]:
    """(failed, attempted) deployment results attempted in [start, end), all rings
    (``rings.selectors.deployment_counts``: dry runs never count)."""
    return ring_selectors.deployment_counts(start, end)


def deployment_aggregates(start: datetime, end: datetime) -> Aggregates:
    """``deployment_counts`` as aggregates (``failed``, ``attempted``) to run with others."""
    return Aggregates(
        ring_selectors.attempted_results(start, end), ring_selectors.DEPLOYMENT_COUNTS
    )


def failure_rates_by_ring(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Patch failure rate per ring for [start, end), in ring order (one query):
    ``[{"ring": key, "name", "failed", "attempted", "pct"}]``, ``pct`` None when none attempted."""
    counts = {
        row["wave__ring_id"]: row
        for row in DeploymentResult.objects.filter(
            status__in=ring_selectors.ATTEMPTED, attempted_at__gte=start, attempted_at__lt=end
        )
        .values("wave__ring_id")
        .annotate(attempted=Count("pk"), failed=Count("pk", filter=ring_selectors.FAILED_INSTALL))
    }
    out = []
    for ring in Ring.objects.order_by("order").only("pk", "key", "name"):
        row = counts.get(ring.pk, {"failed": 0, "attempted": 0})
        out.append(
            {
                "ring": ring.key,
                "name": ring.name,
                "failed": row["failed"],
                "attempted": row["attempted"],
                "pct": pct(row["failed"], row["attempted"]),
            }
        )
    return out


def after_hours_tickets(client: Client, start: datetime, end: datetime) -> int:
    """PSA tickets about patching (patching, failure-rate breach, failed runbook check) created
    in [start, end) outside the client's business hours: ``integrations.PsaTicket.is_after_hours``,
    set in the client's time zone when the ticket was opened."""
    return after_hours_ticket_count(start, end).run()["n"]


def after_hours_ticket_count(start: datetime, end: datetime) -> Aggregates:
    """``after_hours_tickets`` as an aggregate (``n``) to run with others."""
    return Aggregates(
        PsaTicket.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            category__in=PATCH_TICKET_CATEGORIES,
            is_after_hours=True,
        ),
        {"n": Count("pk")},
    )


def finding_counts(at: datetime) -> Aggregates:
    """Outstanding findings of in-scope assets at ``at``: ``open``, ``critical``, ``kev`` and
    ``overdue`` (past ``due_at``, excepted or not)."""
    return Aggregates(
        outstanding_at(at).filter(asset__in=in_scope_assets(at)),
        {
            "open": Count("pk"),
            "critical": Count("pk", filter=Q(tier=SeverityTier.CRITICAL)),
            "kev": Count("pk", filter=Q(is_kev=True)),
            "overdue": Count("pk", filter=Q(due_at__lt=at)),
        },
    )


def asset_counts(at: datetime) -> Aggregates:
    """In-scope assets at ``at`` holding ePHI (``ephi``) and of the do-not-disrupt class
    (``dnd``)."""
    return Aggregates(
        in_scope_assets(at),
        {
            "ephi": Count("pk", filter=Q(is_ephi=True)),
            "dnd": Count("pk", filter=Q(asset_class__key=AssetClass.DO_NOT_DISRUPT)),
        },
    )


@dataclass(frozen=True)
class TimeToFix:
    """Time to fix of one group of resolved tickets: the durations in hours (oldest ticket
    first) and their count, median and mean."""

    hours: tuple[float, ...] = ()

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def median_hours(self) -> float | None:
        values = sorted(self.hours)
        if not values:
            return None
        mid = len(values) // 2
        if len(values) % 2:
            return round(values[mid], 2)
        return round((values[mid - 1] + values[mid]) / 2, 2)

    @property
    def mean_hours(self) -> float | None:
        return round(sum(self.hours) / len(self.hours), 2) if self.hours else None

    def __add__(self, other: TimeToFix) -> TimeToFix:
        return TimeToFix(self.hours + other.hours)


def time_to_fix(start: datetime, end: datetime) -> tuple[TimeToFix, dict[str, TimeToFix]]:
    """(overall, per resolver) time to fix of the failure and breach tickets PatchOps opened and
    that were resolved in [start, end) — one query; a ticket resolved with no resolver recorded
    counts under "unrecorded"."""
    rows = (
        PsaTicket.objects.filter(
            source=TicketSource.PATCHOPS,
            category__in=PATCH_TICKET_CATEGORIES,
            closed_at__gte=start,
            closed_at__lt=end,
        )
        .order_by("created_at", "pk")
        .values_list("resolved_by", "created_at", "closed_at")
    )
    per: dict[str, list[float]] = {}
    every: list[float] = []
    for who, opened, closed in rows:
        hours = max((closed - opened).total_seconds(), 0) / 3600
        per.setdefault(who or "unrecorded", []).append(hours)
        every.append(hours)
    return TimeToFix(tuple(every)), {k: TimeToFix(tuple(v)) for k, v in sorted(per.items())}


def widen_windows_recommendation(
    failed: int, attempted: int, *, threshold: Decimal | None = None
) -> dict[str, Any] | None:
    """The recommendation to widen the client's maintenance windows when its patch failure
    rate (``failed`` ÷ ``attempted`` of a period) is above the SLA policy's threshold, else
    None. ``threshold`` defaults to the current client's policy."""
    if threshold is None:
        threshold = (
            SlaPolicy.objects.order_by("pk")
            .values_list("failure_rate_threshold_pct", flat=True)
            .first()
        )
    rate = pct(failed, attempted)
    if threshold is None or rate is None or rate <= threshold:
        return None
    return {
        "failure_rate": rate,
        "threshold": threshold,
        "failed": failed,
        "attempted": attempted,
        "text": (
            f"The patch failure rate was {rate} % ({failed} of {attempted} deployments), above "
            f"the {threshold} % threshold of the SLA policy: consider widening this client's "
            "maintenance windows so installs and reboots have the time they need."
        ),
    }


# --- one client, all figures ----------------------------------------------------------------


@dataclass
class ComplianceFigures:
    at: datetime
    period_start: datetime
    compliance: ComplianceBreakdown
    sla_attainment: Ratio
    sla_attainment_by_tier: dict[str, Ratio]
    time_to_remediate: dict[str, dict[str, Any]]
    exceptions: ExceptionFigures
    deployments_failed: int
    deployments_attempted: int
    after_hours_tickets: int
    open_findings: int = 0
    open_critical: int = 0
    overdue_findings: int = 0
    kev_open: int = 0
    ephi_assets: int = 0
    do_not_disrupt_assets: int = 0
    failure_rate_by_ring: list[dict[str, Any]] = field(default_factory=list)
    not_reporting_assets: list[Asset] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_scope(self) -> int:
        return self.compliance.client.denominator

    @property
    def not_reporting(self) -> int:
        return self.compliance.not_reporting

    @property
    def patch_failure_rate(self) -> Decimal | None:
        return pct(self.deployments_failed, self.deployments_attempted)

    def as_dict(self) -> dict[str, Any]:
        def ratios(d: dict[str, Ratio], num: str = "compliant", den: str = "in_scope") -> dict:
            return {k: v.as_dict(num, den) for k, v in d.items()}

        ttr = {
            tier: {
                "count": v["count"],
                "median_hours": _hours(v["median"]),
                "p90_hours": _hours(v["p90"]),
            }
            for tier, v in self.time_to_remediate.items()
        }
        rate = self.patch_failure_rate
        return {
            "at": self.at.isoformat(),
            "period_start": self.period_start.isoformat(),
            "compliance": self.compliance.client.as_dict(reporting=True),
            "outside_patch_scope": self.compliance.outside_patch_scope,
            "staleness_window_days": self.compliance.staleness_window.days,
            "by_tier": compliance_ratios(self.compliance.by_tier),
            "by_os_family": compliance_ratios(self.compliance.by_os_family),
            "by_asset_class": compliance_ratios(self.compliance.by_asset_class),
            "sla_attainment": self.sla_attainment.as_dict("verified_in_time", "due"),
            "sla_attainment_by_tier": ratios(
                self.sla_attainment_by_tier, "verified_in_time", "due"
            ),
            "time_to_remediate": ttr,
            "exceptions": asdict(self.exceptions),
            "patch_failure_rate": {
                "failed": self.deployments_failed,
                "attempted": self.deployments_attempted,
                "pct": float(rate) if rate is not None else None,
                "by_ring": [
                    {**r, "pct": float(r["pct"]) if r["pct"] is not None else None}
                    for r in self.failure_rate_by_ring
                ],
            },
            "after_hours_tickets": self.after_hours_tickets,
            "open_findings": self.open_findings,
            "open_critical": self.open_critical,
            "overdue_findings": self.overdue_findings,
            "kev_open": self.kev_open,
            "ephi_assets": self.ephi_assets,
        }


def compliance_ratios(d: dict[str, Ratio]) -> dict[str, dict[str, Any]]:
    """Compliance ratios of a group (tier, OS family, asset class) as stored and answered."""
    return {k: v.as_dict(reporting=True) for k, v in d.items()}


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 2) if value is not None else None


def compute(
    *,
    client: Client,
    at: datetime,
    period_days: int = 30,
    start: datetime | None = None,
    not_reporting_limit: int = 0,
) -> ComplianceFigures:
    """All figures for the current client's schema at ``at``: point-in-time figures at ``at``,
    period figures over ``[start, at)`` (``start`` defaults to ``period_days`` before ``at``).
    With ``not_reporting_limit`` it also lists that many not-reporting assets (oldest first),
    from the same instant and window as the counts.

    A fixed number of queries (about ten) whatever the size of the client. Every report takes
    all of its figures from ONE call, so a headline and its chart never disagree.
    """
    start = start if start is not None else at - timedelta(days=period_days)
    attainment, attainment_by_tier, ttr = period_figures(start, at)
    failed, attempted = deployment_counts(start, at)
    counts = finding_counts(at).run()
    assets = asset_counts(at).run()
    window = staleness_window(client)
    breakdown = compliance_at(at, window=window)
    silent = (
        list(not_reporting_assets(at, window=window)[:not_reporting_limit])
        if not_reporting_limit and breakdown.not_reporting
        else []
    )
    return ComplianceFigures(
        at=at,
        period_start=start,
        compliance=breakdown,
        not_reporting_assets=silent,
        sla_attainment=attainment,
        sla_attainment_by_tier=attainment_by_tier,
        time_to_remediate=ttr,
        exceptions=exception_figures(at),
        deployments_failed=failed,
        deployments_attempted=attempted,
        failure_rate_by_ring=failure_rates_by_ring(start, at),
        after_hours_tickets=after_hours_tickets(client, start, at),
        open_findings=counts["open"],
        open_critical=counts["critical"],
        overdue_findings=counts["overdue"],
        kev_open=counts["kev"],
        ephi_assets=assets["ephi"],
        do_not_disrupt_assets=assets["dnd"],
    )


def raw_compliance_sql() -> str:
    """One plain SQL aggregate of the client compliance % (the benchmark's reference): in-scope
    assets (a patch report by ``at``), of which the compliant ones reported within the window
    and have no overdue finding. Parameters: at (×6), window start."""
    return (
        "SELECT count(*), count(*) FILTER (WHERE EXISTS ("
        " SELECT 1 FROM inventory_patchreport r WHERE r.asset_id = a.id AND r.reported_at <= %s"
        " AND r.reported_at > %s) AND NOT EXISTS ("
        " SELECT 1 FROM patchops_finding f WHERE f.asset_id = a.id AND f.detected_at <= %s"
        " AND (f.verified_at IS NULL OR f.verified_at > %s) AND f.state <> 'not_applicable'"
        " AND f.due_at < %s)) FROM inventory_asset a WHERE a.is_managed AND EXISTS ("
        " SELECT 1 FROM inventory_patchreport p WHERE p.asset_id = a.id AND p.reported_at <= %s)"
    )


def run_raw_compliance(at: datetime, window: timedelta | None = None) -> tuple[int, int]:
    window = window if window is not None else staleness_window()
    with connection.cursor() as cursor:
        cursor.execute(raw_compliance_sql(), [at, at - window, at, at, at, at])
        total, ok = cursor.fetchone()
    return ok, total


# --- one client, the scorecard's figures --------------------------------------------------------


@dataclass
class ScorecardFigures:
    """The figures of a client's daily scorecard row: a subset of ``ComplianceFigures``, each
    computed by the same function (``scorecard_figures``)."""

    at: datetime
    period_start: datetime
    compliance: ComplianceBreakdown
    sla_attainment: Ratio
    exceptions_active: int
    exceptions_max_aging_days: int | None
    deployments_failed: int
    deployments_attempted: int
    after_hours_tickets: int
    open_critical: int
    overdue_findings: int
    ephi_assets: int
    do_not_disrupt_assets: int

    @property
    def patch_failure_rate(self) -> Decimal | None:
        return pct(self.deployments_failed, self.deployments_attempted)


def scorecard_figures(*, client: Client, at: datetime, period_days: int = 30) -> ScorecardFigures:
    """The scorecard's figures for the current client's schema at ``at`` (period figures over
    the ``period_days`` before ``at``), equal to those of ``compute`` with the same arguments:
    the same aggregates (``compliance_grouped``, ``sla_counts``, ``exception_counts``,
    ``deployment_aggregates``, ``after_hours_ticket_count``, ``finding_counts``,
    ``asset_counts``), without the figures the scorecard does not keep (time to remediate, per
    tier SLA, failure rate by ring, covered findings), all in ONE statement after the active
    exception lookup of ``excepted_q``: two queries whatever the size of the client. The
    statement is compiled once per process, period, window and set of active exceptions
    (``_shifted``)."""
    start = at - timedelta(days=period_days)
    window = staleness_window(client)
    active = active_exception_kinds(at)

    def build(instant: datetime) -> tuple[list[Aggregates], tuple[str, list[Any], int]]:
        begin = instant - timedelta(days=period_days)
        parts = [
            outside_scope_count(instant),
            sla_counts(begin, instant),
            exception_counts(instant),
            deployment_aggregates(begin, instant),
            after_hours_ticket_count(begin, instant),
            finding_counts(instant),
            asset_counts(instant),
        ]
        return parts, compliance_grouped(instant, window, excepted=excepted_by_q(active))

    key = ("scorecard", period_days, window, active)
    (outside, sla, exceptions, deployments, tickets, findings, assets), rows = _shifted(
        key, build, at
    )
    return ScorecardFigures(
        at=at,
        period_start=start,
        compliance=compliance_breakdown(rows, window=window, outside=outside["outside"]),
        sla_attainment=Ratio(sla["met"], sla["due"]),
        exceptions_active=exceptions["n"],
        exceptions_max_aging_days=max_aging_days(at, exceptions["oldest"]),
        deployments_failed=deployments["failed"],
        deployments_attempted=deployments["attempted"],
        after_hours_tickets=tickets["n"],
        open_critical=findings["critical"],
        overdue_findings=findings["overdue"],
        ephi_assets=assets["ephi"],
        do_not_disrupt_assets=assets["dnd"],
    )
