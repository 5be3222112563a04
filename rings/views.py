"""HTML pages of the rings app: rollout board, ring editor, maintenance-window editor."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.html import escape
from django.views import View
from django.views.generic import TemplateView

from evidence.services import record_event
from tenants.permissions import Capability, ClientPageMixin, has_capability

from . import selectors, services
from .choices import WAVE_DONE_STATES, ApproverRole, DeploymentStatus, RolloutState, WaveState
from .filters import RolloutFilterSet
from .forms import (
    HaltForm,
    MaintenanceWindowForm,
    ResumeForm,
    RingForm,
    RollbackForm,
    RolloutCreateForm,
    RunbookForm,
    WaveForm,
)
from .models import MaintenanceWindow, Ring, Rollout, RunbookCheck, Wave


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{m}" for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


def _wave_rows(
    rollout: Rollout, *, now: datetime, role: str | None, can_operate: bool
) -> list[dict[str, Any]]:
    """What the board shows for each wave of a rollout, and which actions the viewer has."""
    waves = list(rollout.waves.all())
    current = next((w for w in waves if w.state not in WAVE_DONE_STATES), None)
    rows = []
    for wave in waves:
        approval = getattr(wave, "approval", None)
        soak_left = (
            wave.soak_ends_at - now
            if wave.state == WaveState.SOAKING and wave.soak_ends_at > now
            else None
        )
        counts = wave.counts()
        needed = services.required_approver(wave)
        rows.append(
            {
                "wave": wave,
                "counts": counts,
                "rate": wave.failure_rate(counts),
                "approval": approval,
                "needed": needed,
                "needed_label": ApproverRole(needed).label.lower() if needed else "",
                "soak_left": soak_left,
                "is_current": current is not None and wave.pk == current.pk,
                "can_approve": (
                    rollout.state == RolloutState.ACTIVE
                    and approval is None
                    and wave.state in (WaveState.PENDING, WaveState.AWAITING)
                    and services.may_approve(role, wave)
                ),
                "can_record": can_operate
                and rollout.state == RolloutState.ACTIVE
                and wave.state
                in (
                    WaveState.DEPLOYING,
                    WaveState.DEPLOYED,
                    WaveState.VERIFYING,
                    WaveState.SOAKING,
                ),
                "can_roll_back": can_operate
                and counts["attempted"] - counts[DeploymentStatus.ROLLED_BACK] > 0,
            }
        )
    return rows


def _board(rollout: Rollout, *, now: datetime, role: str | None, can_operate: bool) -> dict:
    return {
        "rollout": rollout,
        "waves": _wave_rows(rollout, now=now, role=role, can_operate=can_operate),
        "rollbacks": list(rollout.rollbacks.all()),
        "can_resume": can_operate and rollout.state == RolloutState.HALTED,
        "can_halt": can_operate and rollout.state == RolloutState.ACTIVE,
    }


def _preview(form: RolloutCreateForm) -> dict[str, Any]:
    """The preview of a filled-in rollout form: per ring what it would patch, or the errors."""
    if not form.is_valid():
        return {"errors": form.errors}
    data = form.cleaned_data
    try:
        findings = services.select_findings(
            selection=data["selection"],
            patch_identifiers=form.identifiers(),
            os_family=data["os_family"],
        )
    except ValidationError as exc:
        return {"error": _errors(exc)}
    check = services.expedite_check(findings=findings)
    soak = (data.get("soak_hours") or check.suggested_soak_hours) if data["expedite"] else None
    rings = services.preview_rollout(findings=findings, soak_hours=soak, at=timezone.now())
    return {
        "findings": len(findings),
        "devices": sum(r.devices for r in rings),
        "rings": rings,
        "check": check,
        "expedite": data["expedite"],
    }


class RolloutBoardView(ClientPageMixin, TemplateView):
    """Every rollout of the client with its waves, counts, failure rate and soak countdown; the
    form for a new rollout previews what each ring would patch before it starts."""

    template_name = "rings/rollout_board.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = RolloutFilterSet(
            self.request.GET or {"state": ""}, queryset=selectors.visible_rollouts()
        )
        rollouts = list(filterset.qs[:50]) if filterset.is_valid() else []
        now = timezone.now()
        can_operate = has_capability(self.request.user, self.client, Capability.OPERATE)
        boards = [_board(r, now=now, role=self.role, can_operate=can_operate) for r in rollouts]
        create_form = kwargs.get("create_form")
        patch_search = self.request.GET.get("patch_q", "").replace("\x00", "")[:100]
        patch_rows = []
        if can_operate:
            patch_rows = selectors.patch_choices(at=now, search=patch_search)
            create_form = create_form or RolloutCreateForm(patch_rows=patch_rows)
        ticked = set(create_form["patches"].value() or []) if create_form else set()
        context.update(
            patch_rows=patch_rows[:PATCH_LIST_LIMIT],
            patch_rows_more=max(len(patch_rows) - PATCH_LIST_LIMIT, 0),
            patch_search=patch_search,
            ticked_patches=ticked,
            boards=boards,
            filterset=filterset,
            can_operate=can_operate,
            create_form=create_form,
            preview=kwargs.get("preview"),
            rollback_form=RollbackForm(),
            runbook_checks=list(RunbookCheck.objects.filter(is_active=True)),
            failure_rates=selectors.failure_rates_by_ring(now - timedelta(days=30), now),
        )
        return context


# How many patches the rollout form lists (a search narrows the rest).
PATCH_LIST_LIMIT = 300


def _create_form(request) -> RolloutCreateForm:
    return RolloutCreateForm(request.POST, patch_rows=selectors.patch_choices(at=timezone.now()))


class PreviewRolloutView(RolloutBoardView):
    """The rollout form posted for a preview: the board again, with what each ring would patch
    under the form (nothing is created)."""

    capability = Capability.OPERATE

    def post(self, request, **kwargs):
        form = _create_form(request)
        preview = _preview(form)
        context = self.get_context_data(create_form=form, preview=preview, **kwargs)
        status = 400 if preview.get("errors") or preview.get("error") else 200
        return self.render_to_response(context, status=status)


# How often the rollout page asks for its devices' job status.
STATUS_POLL_SECONDS = 5


class RolloutDetailView(ClientPageMixin, TemplateView):
    """One rollout: its waves, rollbacks with each device's result, and its evidence history
    (approvals, halts, resumes, rollbacks) in chain order."""

    template_name = "rings/rollout_detail.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rollout = get_object_or_404(selectors.visible_rollouts(), uuid=kwargs["pk"])
        can_operate = has_capability(self.request.user, self.client, Capability.OPERATE)
        context.update(
            board=_board(rollout, now=timezone.now(), role=self.role, can_operate=can_operate),
            rollout=rollout,
            can_operate=can_operate,
            rollback_form=RollbackForm(),
            runbook_checks=list(RunbookCheck.objects.filter(is_active=True)),
            history=selectors.rollout_history(rollout),
            job_status=selectors.rollout_job_status(rollout, self.client.tz),
            poll_seconds=STATUS_POLL_SECONDS,
            detail=True,
        )
        return context


class RolloutStatusView(ClientPageMixin, View):
    """GET: the rollout's state and each device's job status as JSON; the rollout page polls it
    (``static/js/rollout_status.js``) so results the agents report show without a reload."""

    capability = Capability.VIEW

    def get(self, request, pk=None, **kwargs):
        rollout = get_object_or_404(Rollout, uuid=pk)
        response = JsonResponse(selectors.rollout_job_status(rollout, self.client.tz))
        response["Cache-Control"] = "no-store"
        return response


class _RolloutAction(ClientPageMixin, View):
    capability = Capability.OPERATE
    form_class: type = HaltForm
    success: str = "Done."

    def post(self, request, slug: str | None = None, pk: str | None = None, **kwargs):
        rollout = get_object_or_404(Rollout, uuid=pk)
        form = self.form_class(request.POST)
        base = f"/clients/{self.client.slug}/rollouts/"
        back = HttpResponseRedirect(
            f"{base}{rollout.uuid}/" if request.POST.get("back") == "detail" else base
        )
        if not form.is_valid():
            messages.error(request, "Check the form: " + form.errors.as_text())
            return back
        try:
            self.act(rollout, form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return back
        except (services.ApprovalRefused, services.ResumeRefused) as exc:
            return HttpResponse(
                f"<p>{escape(str(exc))}</p>"
                f"<p><a href='/clients/{self.client.slug}/rollouts/'>Back</a></p>",
                status=403,
            )
        messages.success(request, self.success)
        return back

    def act(self, rollout: Rollout, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def wave(self, rollout: Rollout, wave_id: Any) -> Wave:
        return get_object_or_404(
            Wave.objects.select_related("ring", "rollout"), rollout=rollout, uuid=wave_id
        )


class ApproveWaveView(_RolloutAction):
    """Anyone who may see the client may try; the ring's approver role decides (403 otherwise)."""

    capability = Capability.VIEW
    form_class = WaveForm
    success = "Approved."

    def act(self, rollout, data):
        services.approve_wave(wave=self.wave(rollout, data["wave"]), user=self.request.user)


class HaltRolloutView(_RolloutAction):
    form_class = HaltForm
    success = "Rollout halted."

    def act(self, rollout, data):
        services.halt_rollout(rollout=rollout, actor=self.request.user, reason=data["reason"])


class ResumeRolloutView(_RolloutAction):
    """Engineers and MSP admins resume a halted rollout with a reason (403 for other roles)."""

    form_class = ResumeForm
    success = "Rollout resumed."

    def act(self, rollout, data):
        services.resume_rollout(rollout=rollout, user=self.request.user, reason=data["reason"])


class RollbackView(_RolloutAction):
    form_class = RollbackForm
    success = "Rollback queued: each device reports its result."

    def act(self, rollout, data):
        wave = self.wave(rollout, data["wave"]) if data.get("wave") else None
        if data.get("outcome"):
            assets = []
            if wave is not None:
                assets = [r.asset for r in wave.results.select_related("asset")]
            services.record_rollback(
                rollout=rollout,
                wave=wave,
                actor=self.request.user,
                what=data["what"],
                outcome=data["outcome"],
                assets=assets,
            )
            self.success = "Rollback recorded."
            return
        services.request_rollback(
            rollout=rollout, wave=wave, actor=self.request.user, reason=data["what"]
        )


class RunbookCheckView(_RolloutAction):
    form_class = RunbookForm
    success = "Check recorded."

    def act(self, rollout, data):
        check = get_object_or_404(RunbookCheck, uuid=data["check"])
        services.record_runbook_check(
            wave=self.wave(rollout, data["wave"]),
            check=check,
            passed=data["passed"],
            actor=self.request.user,
            note=data.get("note", ""),
        )


class CreateRolloutView(ClientPageMixin, View):
    capability = Capability.OPERATE

    def post(self, request, **kwargs):
        form = _create_form(request)
        back = HttpResponseRedirect(f"/clients/{self.client.slug}/rollouts/")
        if not form.is_valid():
            messages.error(request, "Check the form: " + form.errors.as_text())
            return back
        data = form.cleaned_data
        try:
            rollout = services.create_rollout(
                name=data["name"],
                actor=request.user,
                selection=data["selection"],
                patch_identifiers=form.identifiers(),
                os_family=data["os_family"],
                expedite=data["expedite"],
                expedite_reason=data["expedite_reason"],
                soak_hours=data["soak_hours"] if data["expedite"] else None,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return back
        first = rollout.waves.select_related("ring").order_by("order").first()
        if rollout.is_expedited:
            text = (
                f"Expedited rollout created: {rollout.expedite_soak_hours} h soak per ring; "
                "every wave waits for a person's approval, then deploys at once."
            )
        elif first and services.required_approver(first) is None:
            text = f"Rollout created; {first.ring.name} promotes on its own in its window."
        else:
            text = "Rollout created; its first wave waits for approval."
        messages.success(request, text)
        return HttpResponseRedirect(f"/clients/{self.client.slug}/rollouts/{rollout.uuid}/")


class RingEditorView(ClientPageMixin, TemplateView):
    """Rings with their settings and members; admins edit, reassign and export."""

    template_name = "rings/ring_list.html"
    capability = Capability.VIEW

    def required_capability(self, request):
        return Capability.ADMINISTER if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rings = list(selectors.visible_rings())
        selected = self.request.GET.get("ring") or (rings[0].key if rings else None)
        ring = next((r for r in rings if r.key == selected), None)
        members = list(selectors.ring_members(ring)[:500]) if ring else []
        forms_by_ring = kwargs.get("forms") or {
            r.pk: RingForm(instance=r, prefix=r.key) for r in rings
        }
        context.update(
            rings=[(r, forms_by_ring.get(r.pk)) for r in rings],
            selected=ring,
            members=members,
            placement=selectors.placement_summary(),
            placements=list(selectors.visible_placements()[:10]),
            can_administer=has_capability(self.request.user, self.client, Capability.ADMINISTER),
        )
        return context

    def post(self, request, **kwargs):
        back = HttpResponseRedirect(f"/clients/{self.client.slug}/rings/")
        if "assign" in request.POST:
            try:
                summary = services.assign_rings(actor=request.user)
            except ValidationError as exc:
                messages.error(request, _errors(exc))
                return back
            messages.success(
                request,
                f"Assigned {summary['assets']} assets ({summary['moved']} moved, "
                f"{summary['pinned']} pinned and {summary['held']} in unfinished rollouts "
                "left in place).",
            )
            return back
        key = request.POST.get("ring", "")
        if "\x00" in key:  # PostgreSQL text cannot hold NUL: no ring has such a key
            raise Http404("No such ring.")
        ring = get_object_or_404(Ring, key=key)
        form = RingForm(request.POST, instance=ring, prefix=ring.key)
        if not form.is_valid():
            messages.error(request, f"{ring.name}: " + form.errors.as_text())
            return self.render_to_response(self.get_context_data(forms={ring.pk: form}), status=400)
        with transaction.atomic():
            form.save()
            record_event(
                kind="ring.updated",
                subject_type="ring",
                subject_id=ring.uuid,
                actor=request.user,
                payload={k: str(v) for k, v in form.cleaned_data.items()},
            )
        messages.success(request, f"{ring.name} saved.")
        return back


class RingExportView(ClientPageMixin, View):
    capability = Capability.VIEW

    def get(self, request, **kwargs):
        response = HttpResponse(selectors.membership_csv(), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="{self.client.slug}-ring-membership.csv"'
        )
        return response


class WindowEditorView(ClientPageMixin, TemplateView):
    """The client's maintenance windows named in words, the calendar of their next openings in
    the client's time zone, and (for those who operate) the form to add one."""

    template_name = "rings/maintenancewindow_list.html"
    capability = Capability.VIEW

    def required_capability(self, request):
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        tz = self.client.tz
        stored = list(selectors.visible_windows())
        windows = [(w, w.current_or_next(now, tz), w.describe(tz)) for w in stored]
        context.update(
            windows=windows,
            calendar=selectors.window_calendar(at=now, tz=tz, days=CALENDAR_DAYS, among=stored),
            calendar_days=CALENDAR_DAYS,
            form=kwargs.get("form") or MaintenanceWindowForm(),
            can_operate=has_capability(self.request.user, self.client, Capability.OPERATE),
        )
        return context

    def post(self, request, **kwargs):
        back = HttpResponseRedirect(f"/clients/{self.client.slug}/maintenance-windows/")
        if request.POST.get("delete"):
            window = get_object_or_404(MaintenanceWindow, uuid=_uuid_or_404(request.POST["delete"]))
            with transaction.atomic():
                record_event(
                    kind="window.deleted",
                    subject_type="maintenance_window",
                    subject_id=window.uuid,
                    actor=request.user,
                    payload={"name": window.name},
                )
                window.delete()
            messages.success(request, f"Window “{window.name}” deleted.")
            return back
        form = MaintenanceWindowForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        with transaction.atomic():
            window = form.save()
            record_event(
                kind="window.created",
                subject_type="maintenance_window",
                subject_id=window.uuid,
                actor=request.user,
                payload={"name": window.name, "recurrence": window.recurrence},
            )
        messages.success(request, f"Window “{window.name}” added.")
        return back


# How far ahead the maintenance-window calendar looks.
CALENDAR_DAYS = 28


class WindowEditView(ClientPageMixin, TemplateView):
    """One maintenance window's form: viewers read it, those who operate change it."""

    template_name = "rings/maintenancewindow_form.html"
    capability = Capability.VIEW

    def required_capability(self, request):
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        window = kwargs.get("window") or get_object_or_404(MaintenanceWindow, uuid=kwargs["pk"])
        now = timezone.now()
        context.update(
            window=window,
            description=window.describe(self.client.tz),
            openings=selectors.window_openings(window, at=now, tz=self.client.tz),
            form=kwargs.get("form") or MaintenanceWindowForm(instance=window),
            can_operate=has_capability(self.request.user, self.client, Capability.OPERATE),
        )
        return context

    def post(self, request, pk=None, **kwargs):
        window = get_object_or_404(MaintenanceWindow, uuid=pk)
        before = {"name": window.name, "rule": window.describe(self.client.tz)}
        form = MaintenanceWindowForm(request.POST, instance=window)
        if not form.is_valid():
            # The instance holds the posted values now: show the stored window above the form.
            stored = MaintenanceWindow.objects.get(pk=window.pk)
            context = self.get_context_data(window=stored, form=form, pk=pk)
            return self.render_to_response(context, status=400)
        with transaction.atomic():
            window = form.save()
            after = window.describe(self.client.tz)
            record_event(
                kind="window.updated",
                subject_type="maintenance_window",
                subject_id=window.uuid,
                actor=request.user,
                payload={
                    "name": window.name,
                    "recurrence": window.recurrence,
                    "before": before["rule"],
                    "after": after,
                    "changed": sorted(form.changed_data),
                },
            )
        messages.success(request, f"Window “{window.name}” saved: {after}.")
        return HttpResponseRedirect(f"/clients/{self.client.slug}/maintenance-windows/")


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value).strip())
    except ValueError as exc:
        raise Http404("No such object.") from exc


__all__ = [
    "RolloutBoardView",
    "RolloutDetailView",
    "RolloutStatusView",
    "PreviewRolloutView",
    "ApproveWaveView",
    "HaltRolloutView",
    "ResumeRolloutView",
    "RollbackView",
    "RunbookCheckView",
    "CreateRolloutView",
    "RingEditorView",
    "RingExportView",
    "WindowEditorView",
    "WindowEditView",
]
