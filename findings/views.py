"""HTML pages of the patch core under /clients/<slug>/: findings, compliance, prioritization log,
SLA policy. Thin: selectors and the compliance engine do the work."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from common.choices import OsFamily
from common.pagination import page_of
from inventory.models import AssetClass
from tenants.permissions import Capability, ClientPageMixin

from . import coverage, selectors
from . import policy as sla_policy
from .api.views import REDATING_RULE, prioritization_csv
from .choices import FindingState, RebootPolicy, SeverityTier
from .filters import FindingFilterSet
from .models import Finding
from .risk import TIER_RANK

PAGE_SIZE = 50
NOT_REPORTING_LIMIT = 200
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _page(request: HttpRequest, qs: Any) -> Any:
    return page_of(request, qs, size=PAGE_SIZE)


def _querystring_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class FindingListView(ClientPageMixin, TemplateView):
    template_name = "findings/finding_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        base = selectors.visible_findings(self.request.user)
        # The list opens on open work: without a state filter (or ?state=all) it shows the
        # outstanding findings, uncovered work first and excepted findings after it.
        params = self.request.GET.copy()
        show_all = params.get("state") == "all"
        if show_all:
            params.pop("state")
        outstanding_only = not show_all and "state" not in params
        if outstanding_only:
            base = base.exclude(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE])
        qs = selectors.with_exception_cover(base, now).order_by("is_excepted", "due_at", "pk")
        filterset = FindingFilterSet(params or None, queryset=qs)
        valid = not filterset.is_bound or filterset.is_valid()
        qs = filterset.qs if valid else Finding.objects.none()
        context.update(
            outstanding_only=outstanding_only,
            show_all=show_all,
            filterset=filterset,
            page_obj=_page(self.request, qs),
            querystring=_querystring_without_page(self.request),
            now=now,
            tiers=SeverityTier.choices,
            os_families=OsFamily.choices,
            asset_classes=AssetClass.objects.order_by("name"),
        )
        return context


class FindingDetailView(ClientPageMixin, TemplateView):
    template_name = "findings/finding_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        finding = selectors.visible_findings(self.request.user).filter(uuid=kwargs["uuid"]).first()
        if finding is None:
            raise Http404("No such finding.")
        now = timezone.now()
        context["finding"] = finding
        context["chain"] = selectors.finding_chain(finding)
        context["now"] = now
        context["exceptions"] = finding.exceptions.all()
        context["covering"] = coverage.covering_exceptions([finding], at=now).get(finding.pk)
        return context


class PrioritizationLogView(ClientPageMixin, TemplateView):
    template_name = "findings/prioritization_log.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("format") == "csv":
            now = timezone.now()
            entries = selectors.explain_positions(
                list(selectors.prioritized_findings(request.user)), at=now
            )
            response = HttpResponse(prioritization_csv(entries), content_type="text/csv")
            response["Content-Disposition"] = (
                f'attachment; filename="prioritization-log-{self.client.slug}-{now:%Y%m%d}.csv"'
            )
            return response
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = _page(self.request, selectors.prioritized_findings(self.request.user))
        context["page_obj"] = page
        context["entries"] = selectors.explain_positions(
            list(page.object_list), at=timezone.now(), start=page.start_index() or 1
        )
        return context


class SlaPolicyView(ClientPageMixin, TemplateView):
    """Everyone who sees the client reads the policy; MSP admins (ADMINISTER) edit it."""

    template_name = "findings/sla_policy.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.ADMINISTER if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        policy = sla_policy.get_policy()
        rules = sorted(
            selectors.sla_rules(), key=lambda r: (r.asset_class.name, TIER_RANK.get(r.tier, 9))
        )
        context.update(
            policy=policy,
            rules=rules,
            changes=selectors.sla_changes()[:20],
            can_edit=Capability.ADMINISTER.value in context["client_capabilities"],
            reboot_policies=RebootPolicy.choices,
            weekdays=list(enumerate(WEEKDAYS)),
            redating_rule=REDATING_RULE,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rules = []
        for rule in selectors.sla_rules():
            prefix = f"{rule.asset_class.key}.{rule.tier}."
            if prefix + "window_hours" not in request.POST:
                continue
            raw_hours = request.POST.get(prefix + "window_hours", "")
            raw_weekday = request.POST.get(prefix + "reboot_weekday", "")
            rules.append(
                {
                    "asset_class": rule.asset_class.key,
                    "tier": rule.tier,
                    "window_hours": _int_or(raw_hours, raw_hours),
                    "reboot_policy": request.POST.get(prefix + "reboot_policy", ""),
                    "reboot_weekday": _int_or(raw_weekday, None),
                    "reboot_time": request.POST.get(prefix + "reboot_time") or None,
                }
            )
        try:
            change = sla_policy.update_sla_policy(
                rules=rules, actor=request.user, at=timezone.now()
            )
        except ValidationError as exc:
            context = self.get_context_data(**kwargs)
            context["errors"] = exc.message_dict if hasattr(exc, "message_dict") else exc.messages
            return self.render_to_response(context, status=400)
        messages.success(
            request, f"SLA policy saved; {change.redated_findings} open finding(s) re-dated."
        )
        return redirect(request.path)


def _int_or(raw: str, default: Any) -> Any:
    """``raw`` as an int when it is one (ASCII digits only), else ``default``."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() else default
