"""The cross-client pages: the engineer home (/) and each client's overview (/clients/<slug>/).
They only read: every figure comes from the apps below."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from catalogue.freshness import stale_catalogues
from common.choices import OsFamily
from compliance import engine
from exceptions_register.selectors import awaiting_signature
from findings.choices import FindingState, SeverityTier
from findings.models import OPEN_STATES, Finding
from inventory.choices import RebootApproval
from inventory.selectors import reboot_counts
from privileged.selectors import identity_mfa, register_counts
from reports.models import StoredReport
from rings.choices import RolloutState, WaveState
from rings.models import Rollout, Wave
from rings.services import awaiting_approval_by
from scorecards.models import ScorecardRow
from scorecards.selectors import latest_rows, risk_index, top_risk_ids
from tenants.choices import MembershipRole
from tenants.models import Client
from tenants.permissions import (
    Capability,
    ClientPageMixin,
    MspPageMixin,
    has_capability,
    has_msp_capability,
    require,
    visible_clients,
)
from tenants.tiers import TIERS, Plan, tier_of

from .plans import change_plan, plan_rows
from .weekly import weekly_review


class HomeView(LoginRequiredMixin, TemplateView):
    """Staff see the clients they may work on; a client user lands in their own client."""

    template_name = "dashboard/home.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        clients = list(visible_clients(request.user))
        if not request.user.staff_role and len(clients) == 1:
            return redirect(clients[0].get_absolute_url())
        self.clients = clients
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.get("q", "").strip()
        sort = self.request.GET.get("sort", "risk")
        if sort not in HOME_SORTS:
            sort = "risk"
        rows = client_rows(self.clients)
        if query:
            needle = query.casefold()
            rows = [
                r for r in rows if needle in r.client.name.casefold() or needle in r.client.slug
            ]
        rows.sort(key=HOME_SORTS[sort][1])
        context.update(
            stale_catalogues=stale_catalogues(),
            clients=self.clients,
            rows=rows,
            q=query,
            sort=sort,
            sorts=[(key, label) for key, (label, _) in HOME_SORTS.items()],
        )
        return context


@dataclass
class ClientRow:
    client: Client
    row: Any = None  # the latest scorecards.ScorecardRow, or None before the first nightly run
    is_top_risk: bool = False
    risk: Decimal | None = None


def client_rows(clients: list[Client]) -> list[ClientRow]:
    """Each client with its latest scorecard row: ONE query over the public rollup rows.

    The top-20 % risk mark is taken among ``clients`` (the clients the viewer may see), as on
    the scorecard page, never across clients hidden from the viewer.
    """
    latest = list(latest_rows(ScorecardRow.objects.filter(client__in=[c.pk for c in clients])))
    risks = {r.client_id: risk_index(r) for r in latest}
    ranked = sorted(latest, key=lambda r: -risks[r.client_id])
    top_ids = top_risk_ids(ranked)
    by_client = {r.client_id: r for r in latest}
    return [
        ClientRow(
            client=c,
            row=by_client.get(c.pk),
            is_top_risk=c.pk in top_ids,
            risk=risks.get(c.pk),
        )
        for c in clients
    ]


def _none_last(value: Any, *, reverse: bool = False) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    return (0, -value if reverse else value)


HOME_SORTS: dict[str, tuple[str, Callable[[ClientRow], Any]]] = {
    "risk": (
        "Risk (highest first)",
        lambda r: (not r.is_top_risk, _none_last(r.risk, reverse=True), r.client.name.casefold()),
    ),
    "compliance": (
        "Compliance (lowest first)",
        lambda r: (_none_last(r.row.compliance_pct if r.row else None), r.client.name.casefold()),
    ),
    "critical": (
        "Open critical (most first)",
        lambda r: (
            _none_last(r.row.open_critical if r.row else None, reverse=True),
            r.client.name.casefold(),
        ),
    ),
    "name": ("Name", lambda r: r.client.name.casefold()),
}


OVERVIEW_ROLLOUTS = 5
OVERVIEW_REPORTS = 5
OVERVIEW_NOT_REPORTING = 10


class ClientHomeView(ClientPageMixin, TemplateView):
    """The client overview: compliance now, open work, rollouts, exceptions and reports.

    A fixed number of queries whatever the size of the client: the compliance engine's grouped
    statement, one aggregate over the findings and one query per panel.
    """

    template_name = "dashboard/client_home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        capabilities = context["client_capabilities"]
        now = timezone.now()
        breakdown = engine.compliance_at(now)
        open_q = Q(state__in=OPEN_STATES)
        counts = Finding.objects.aggregate(
            open=Count("pk", filter=open_q),
            overdue=Count(
                "pk",
                filter=Q(due_at__lt=now)
                & ~Q(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE]),
            ),
            critical=Count("pk", filter=open_q & Q(tier=SeverityTier.CRITICAL)),
            kev=Count("pk", filter=open_q & Q(is_kev=True)),
            total=Count("pk"),
        )
        findings_url = f"{self.client.get_absolute_url()}findings/"
        open_states = urlencode([("state", s) for s in OPEN_STATES])
        context["finding_counts"] = [
            ("open", "Open findings", counts["open"], f"{findings_url}?{open_states}"),
            ("overdue", "Overdue", counts["overdue"], f"{findings_url}?overdue=true"),
            (
                "critical",
                "Critical open",
                counts["critical"],
                f"{findings_url}?{open_states}&tier={SeverityTier.CRITICAL}",
            ),
            ("kev", "In CISA KEV", counts["kev"], f"{findings_url}?{open_states}&is_kev=true"),
        ]
        context["findings_total"] = counts["total"]
        reboots = reboot_counts()
        assets_url = f"{self.client.get_absolute_url()}assets/"
        context["reboot_counts"] = [
            (
                "reboot-pending",
                "Reboot pending",
                reboots["pending"],
                f"{assets_url}?reboot_pending=true",
            ),
            (
                "reboot-approval",
                "Reboot pending approval",
                reboots["awaiting"],
                f"{assets_url}?reboot_approval={RebootApproval.AWAITING}",
            ),
        ]
        context["compliance"] = breakdown
        context["not_reporting"] = list(
            engine.not_reporting_assets(now, window=breakdown.staleness_window)[
                :OVERVIEW_NOT_REPORTING
            ]
        )
        context["os_rows"] = [
            (OsFamily(key).label if key in OsFamily.values else key or "Unknown", ratio)
            for key, ratio in breakdown.by_os_family.items()
        ]
        waves = Wave.objects.select_related("ring").order_by("order")
        rollouts = list(
            Rollout.objects.filter(state__in=[RolloutState.ACTIVE, RolloutState.HALTED])
            .prefetch_related(Prefetch("waves", queryset=waves))
            .order_by("-created_at")[:OVERVIEW_ROLLOUTS]
        )
        for rollout in rollouts:
            waves_list = list(rollout.waves.all())
            rollout.overview_waves = waves_list
            rollout.passed_waves = sum(1 for w in waves_list if w.state == WaveState.PASSED)
            rollout.current_wave = next(
                (w for w in waves_list if w.state != WaveState.PASSED), None
            )
        context["rollouts"] = rollouts
        context["reports"] = (
            list(StoredReport.objects.order_by("-generated_at")[:OVERVIEW_REPORTS])
            if "reports" in capabilities
            else []
        )
        context["approvals"] = (
            awaiting_approval_by(self.role)[:10] if self.role == MembershipRole.CLIENT_OWNER else []
        )
        # Overdue rotations and reviews have their own SLA: shown apart, never in the findings'
        # counts or in patch compliance.
        context["privileged"] = register_counts()
        context["identity_mfa"] = identity_mfa(self.client)
        context["awaiting"] = (
            list(awaiting_signature(self.request.user).order_by("expires_at")[:10])
            if "sign" in capabilities
            else []
        )
        return context


class PlansView(LoginRequiredMixin, TemplateView):
    """Service plans of the clients the viewer may see, and which would gain from an upgrade
    (account managers' list); MSP admins change a client's plan here."""

    template_name = "dashboard/plans.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not request.user.staff_role:
            raise PermissionDenied("Service plans are for MSP staff.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        gains_only = self.request.GET.get("gains") == "1"
        clients = list(visible_clients(self.request.user))
        rows = plan_rows(clients, gains_only=gains_only)
        context.update(
            rows=rows,
            gains_only=gains_only,
            plans=Plan.choices,
            tiers=list(TIERS.values()),
            # MSP admins administer every client; nobody else changes plans.
            may_change=(
                {c.pk for c in clients}
                if has_msp_capability(self.request.user, Capability.ADMINISTER)
                else set()
            ),
            errors=kwargs.get("errors"),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = (
            Client.objects.exclude(schema_name="public")
            .filter(slug=request.POST.get("client", ""))
            .first()
        )
        require(request.user, client, Capability.ADMINISTER)
        try:
            changed = change_plan(
                client=client, plan=request.POST.get("plan", ""), actor=request.user
            )
        except ValidationError as exc:
            context = self.get_context_data(errors=exc.message_dict)
            return self.render_to_response(context, status=400)
        if changed:
            messages.success(request, f"{client.name} is now on the {tier_of(client).label} plan.")
        else:
            messages.info(
                request, f"{client.name} was already on the {tier_of(client).label} plan."
            )
        return redirect(request.get_full_path())


class WeeklyReviewView(MspPageMixin, TemplateView):
    """The team's own numbers for the week (``?week=YYYY-MM-DD``, any day of it; default this
    week) against the week before: per client, across the MSP and per engineer. For MSP-wide
    staff (the view capability across every client)."""

    template_name = "dashboard/weekly_review.html"
    msp_capability = Capability.VIEW

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raw = request.GET.get("week", "").strip()
        day = timezone.localdate()
        error = ""
        if raw:
            try:
                chosen = date.fromisoformat(raw)
            except ValueError:
                error = f"“{raw[:40]}” is not a date (YYYY-MM-DD); showing this week."
            else:
                if 2000 <= chosen.year <= 2999:
                    day = chosen
                else:
                    error = "Choose a week from the year 2000 on; showing this week."
        clients = [
            c
            for c in visible_clients(request.user)
            if has_capability(request.user, c, Capability.VIEW)
        ]
        review = weekly_review(clients, day)
        context = self.get_context_data(
            review=review,
            error=error,
            previous_week=(day - timedelta(days=7)).isoformat(),
            next_week=(day + timedelta(days=7)).isoformat(),
        )
        return self.render_to_response(context, status=400 if error else 200)
