"""The Restore tests page: critical systems with their latest passing restore test, the
tests scheduled and recorded, and the client's rule (days, and whether waves wait for one)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.views.generic import TemplateView

from inventory.models import Asset
from tenants.permissions import Capability, ClientPageMixin, has_capability, require

from . import services
from .forms import RecordRestoreTestForm, RestoreRuleForm, ScheduleRestoreTestForm
from .models import RestoreTest
from .services.restore_tests import restore_overview

_ACTIONS = {
    "schedule": (ScheduleRestoreTestForm, Capability.OPERATE),
    "record": (RecordRestoreTestForm, Capability.OPERATE),
    "rule": (RestoreRuleForm, Capability.ADMINISTER),
}


class RestoreTestsView(ClientPageMixin, TemplateView):
    template_name = "rings/restoretest_list.html"
    capability = Capability.VIEW

    def required_capability(self, request: Any) -> Capability:
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user, client = self.request.user, self.client
        overview = restore_overview()
        context.update(
            overview,
            can_operate=has_capability(user, client, Capability.OPERATE),
            can_administer=has_capability(user, client, Capability.ADMINISTER),
            errors=kwargs.get("errors"),
            posted=kwargs.get("posted") or {},
        )
        return context

    def post(self, request, **kwargs):
        action = request.POST.get("action", "")
        entry = _ACTIONS.get(action)
        if entry is None:
            return self._invalid({"action": ["Choose schedule, record or rule."]}, action)
        # The rule is the MSP admins' (a 403 for an engineer, through the permission layer).
        require(request.user, self.client, entry[1])
        form = entry[0](request.POST)
        if not form.is_valid():
            return self._invalid(form.errors, action)
        data = form.cleaned_data
        try:
            text = self._act(action, data)
        except ValidationError as exc:
            return self._invalid(exc.message_dict if hasattr(exc, "error_dict") else
                                 {"__all__": exc.messages}, action)  # fmt: skip
        messages.success(request, text)
        return HttpResponseRedirect(f"/clients/{self.client.slug}/restore-tests/")

    def _act(self, action: str, data: dict[str, Any]) -> str:
        user = self.request.user
        if action == "rule":
            rule = services.save_restore_rule(
                max_age_days=data["max_age_days"], gate_waves=data["gate_waves"], actor=user
            )
            return f"Rule saved: {rule.max_age_days} days" + (
                ", waves wait for a passing restore test." if rule.gate_waves else "."
            )
        if action == "schedule":
            asset = Asset.objects.select_related("asset_class").filter(uuid=data["asset"]).first()
            if asset is None:
                raise ValidationError({"asset": "No such system."})
            test = services.schedule_restore_test(
                asset=asset, scheduled_for=data["scheduled_for"], what=data["what"], actor=user
            )
            return f"Restore test of {asset.hostname} scheduled for {test.scheduled_for}."
        test = RestoreTest.objects.select_related("asset").filter(uuid=data["test"]).first()
        if test is None:
            raise ValidationError({"test": "No such restore test."})
        services.record_restore_test(
            test=test,
            outcome=data["outcome"],
            performed_at=data["performed_at"],
            performed_by=data["performed_by"],
            evidence_url=data["evidence_url"],
            note=data.get("note", ""),
            actor=user,
        )
        return f"Restore test of {test.asset.hostname} recorded: {data['outcome']}."

    def _invalid(self, errors: Any, action: str):
        listed = {f: [str(m) for m in msgs] for f, msgs in dict(errors).items()}
        context = self.get_context_data(errors=listed, posted={"action": action})
        return self.render_to_response(context, status=400)
