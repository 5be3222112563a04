"""HTML pages of the patch core under /clients/<slug>/: findings, compliance, prioritization log,
SLA policy. Thin: selectors and the compliance engine do the work."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from common.choices import OsFamily
from common.pagination import page_of
from inventory.models import AssetClass
from tenants.permissions import Capability, ClientPageMixin, capabilities_in

from . import coverage, hooks, queue, risk, selectors, triage
from . import policy as sla_policy
from .api.views import REDATING_RULE, prioritization_csv
from .choices import FindingState, RebootPolicy, SeverityTier, TriageState
from .filters import FindingFilterSet
from .models import Finding, FindingTriage
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


def _action_context(client: Any, capabilities: set[str]) -> dict[str, Any]:
    """The actions the reader may take on chosen findings, with what their inputs need."""
    actions = [a for a in hooks.finding_actions() if a.capability in capabilities]
    context: dict[str, Any] = {"finding_actions": actions}
    for action in actions:
        if action.context is not None:
            context.update(action.context(client=client))
    return context


class FindingListView(ClientPageMixin, TemplateView):
    """The client's findings as a work queue: open work first (verified and not applicable
    findings only with ``?state=all`` or a state filter), whitelisted sorts (``?sort=``), the
    group-by-patch view (``?group=patch``, drill down with ``?patch=``), and the actions on
    chosen findings for those who operate."""

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
        for name in ("sort", "group", "page"):
            params.pop(name, None)
        outstanding_only = not show_all and "state" not in params
        if outstanding_only:
            base = base.exclude(state__in=[FindingState.VERIFIED, FindingState.NOT_APPLICABLE])
        qs = selectors.with_exception_cover(base, now).order_by("is_excepted", "due_at", "pk")
        filterset = FindingFilterSet(params or None, queryset=qs)
        valid = not filterset.is_bound or filterset.is_valid()
        qs = filterset.qs if valid else Finding.objects.none()
        grouped = self.request.GET.get("group") == "patch"
        sorts = queue.GROUP_SORTS if grouped else queue.SORTS
        default_sort = "-devices" if grouped else ""
        sort = self.request.GET.get("sort", "").strip()
        sort_error = ""
        if sort and sort not in sorts:
            sort_error = queue.unknown_sort(sort, sorts, default_sort or "due")
            sort = ""
        if grouped:
            page = _page(self.request, queue.patch_groups(qs, at=now, sort=sort or default_sort))
        else:
            page = _page(self.request, queue.sorted_findings(qs, sort) if sort else qs)
        keep = self.request.GET.copy()
        for name in ("sort", "page"):
            keep.pop(name, None)
        drill = keep.copy()
        drill.pop("group", None)
        context.update(
            outstanding_only=outstanding_only,
            show_all=show_all,
            filterset=filterset,
            page_obj=page,
            querystring=_querystring_without_page(self.request),
            sort_querystring=keep.urlencode(),
            drill_querystring=drill.urlencode(),
            grouped=grouped,
            sort=sort,
            sort_error=sort_error,
            sorts=[(k, label) for k, (label, _) in sorts.items()],
            now=now,
            tiers=SeverityTier.choices,
            tier_by_rank={rank: SeverityTier(t).label for t, rank in TIER_RANK.items()},
            os_families=OsFamily.choices,
            asset_classes=AssetClass.objects.order_by("name"),
            # Each row links to ``<this list>/<uuid>/`` (``findings:finding_detail``), written
            # from the list's address instead of a reverse() per row.
            finding_list_url=reverse("findings:finding_list"),
            **_action_context(self.client, context["client_capabilities"]),
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
        scores = risk.cve_score_map(finding.cves)
        kev = risk.is_kev(finding.cves)
        triage_rows = list(finding.triage.select_related("requested_by").all())
        capabilities = context["client_capabilities"]
        context["finding"] = finding
        context["chain"] = selectors.finding_chain(finding)
        context["now"] = now
        context["exceptions"] = finding.exceptions.all()
        context["covering"] = coverage.covering_exceptions([finding], at=now).get(finding.pk)
        context["cve_rows"] = [
            {
                "cve": c,
                "cvss": scores[c].cvss if c in scores else None,
                "epss": scores[c].epss if c in scores else None,
                "kev": c.upper() in kev,
            }
            for c in finding.cves
        ]
        context["rollouts"] = list(finding.rollouts.order_by("-created_at")[:20])
        context["triage_rows"] = [
            (row, row.state == TriageState.PENDING and triage.may_decide(
                self.request.user, self.client, row
            ))
            for row in triage_rows
        ]  # fmt: skip
        context["closed_by"] = next(
            (r for r in triage_rows if r.state == TriageState.APPROVED), None
        )
        if finding.state not in (FindingState.VERIFIED, FindingState.NOT_APPLICABLE):
            context.update(_action_context(self.client, capabilities))
        return context


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _error_page(request: HttpRequest, client: Any, errors: Any, back: str) -> HttpResponse:
    if isinstance(errors, ValidationError):
        errors = (
            [f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
             for k, v in errors.message_dict.items()]
            if hasattr(errors, "error_dict")
            else errors.messages
        )  # fmt: skip
    return render(
        request,
        "findings/action_error.html",
        {"client": client, "errors": errors, "back": back},
        status=400,
    )


class FindingActionView(ClientPageMixin, View):
    """POST: one action (``action``) on the chosen findings (``finding`` UUIDs, or every
    outstanding finding of the chosen ``patch`` groups). Bad input answers 400 with the reasons
    and changes nothing."""

    capability = Capability.OPERATE

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        back = _safe_next(request, reverse("findings:finding_list"))
        action = hooks.finding_action(request.POST.get("action", ""))
        if action is None or action.capability not in {
            c.value for c in capabilities_in(request.user, self.client)
        }:
            known = ", ".join(a.key for a in hooks.finding_actions())
            return _error_page(request, self.client, [f"Choose an action ({known})."], back)
        raw = request.POST.getlist("finding")
        patches = [p for p in request.POST.getlist("patch") if p.strip()]
        ids, bad = [], []
        for value in raw:
            try:
                ids.append(uuid.UUID(value))
            except (ValueError, AttributeError):
                bad.append(value[:40])
        if bad:
            return _error_page(request, self.client, [f"Not a finding: {', '.join(bad)}."], back)
        visible = selectors.visible_findings(request.user)
        chosen = list(visible.filter(uuid__in=ids).order_by("due_at", "pk")) if ids else []
        if len(chosen) != len(set(ids)):
            return _error_page(request, self.client, ["Some chosen findings do not exist."], back)
        if patches:
            known = {f.pk for f in chosen}
            chosen += [
                f
                for f in selectors.outstanding_findings()
                .select_related("asset", "asset__asset_class", "advisory")
                .filter(patch_identifier__in=patches)
                .order_by("due_at", "pk")
                if f.pk not in known
            ]
        if not chosen:
            return _error_page(request, self.client, ["Choose at least one finding."], back)
        try:
            result = action.run(
                client=self.client,
                findings=chosen,
                data=request.POST,
                actor=request.user,
                at=timezone.now(),
            )
        except ValidationError as exc:
            return _error_page(request, self.client, exc, back)
        message, target = result if isinstance(result, tuple) else (result, back)
        messages.success(request, message)
        return redirect(target if request.POST.get("follow") == "1" else back)


class TriageDecisionView(ClientPageMixin, View):
    """POST: an MSP admin other than the requester approves (``decision=approve``) or rejects
    (``decision=reject`` with a ``note``) a request to close a finding."""

    capability = Capability.ADMINISTER

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        row = FindingTriage.objects.select_related("finding").filter(uuid=kwargs["uuid"]).first()
        if row is None:
            raise Http404("No such triage request.")
        back = reverse("findings:finding_detail", kwargs={"uuid": row.finding.uuid})
        decision = request.POST.get("decision", "")
        if decision not in ("approve", "reject"):
            return _error_page(request, self.client, ["Approve or reject the request."], back)
        try:
            triage.decide_triage(
                client=self.client,
                triage=row,
                approve=decision == "approve",
                actor=request.user,
                note=request.POST.get("note", ""),
            )
        except ValidationError as exc:
            return _error_page(request, self.client, exc, back)
        messages.success(
            request,
            f"Approved: the finding is closed as {row.get_kind_display().lower()}."
            if decision == "approve"
            else "Rejected: the finding stays open work.",
        )
        return redirect(back)


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
        if "failure_rate_threshold_pct" in request.POST:
            return self._post_threshold(request, **kwargs)
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

    def _post_threshold(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            policy = sla_policy.set_failure_rate_threshold(
                value=request.POST.get("failure_rate_threshold_pct", ""),
                actor=request.user,
                at=timezone.now(),
            )
        except ValidationError as exc:
            context = self.get_context_data(**kwargs)
            context["errors"] = exc.message_dict
            return self.render_to_response(context, status=400)
        value = policy.failure_rate_threshold_pct
        messages.success(
            request,
            f"Failure-rate threshold set to {value} %."
            if value is not None
            else "Threshold cleared.",
        )
        return redirect(request.path)


def _int_or(raw: str, default: Any) -> Any:
    """``raw`` as an int when it is one (ASCII digits only), else ``default``."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() else default
