"""Pages of the automatic patch policies: a client's policies (list, create, edit with the
runs and the next occurrence in the client's zone) and the MSP-wide templates."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.generic import TemplateView

from evidence.services import actor_label
from policytemplates.models import PolicyTemplate
from policytemplates.services import save_template
from tenants.permissions import (
    Capability,
    ClientPageMixin,
    MspPageMixin,
    has_capability,
    visible_clients,
)

from . import selectors, services
from .forms import ApplyTemplateForm, PatchPolicyForm, PolicyTemplateForm
from .models import PatchPolicy


def _field_errors(form: Any, exc: ValidationError) -> None:
    """A service's field errors onto the form (unknown fields as form-wide errors)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _policy_data(form: PatchPolicyForm) -> dict[str, Any]:
    return {k: v for k, v in form.cleaned_data.items() if k in services.POLICY_FIELDS}


def _uuid_or_404(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404("No such object.") from exc


class PolicyListView(ClientPageMixin, TemplateView):
    """The client's patch policies: what each patches, when it runs next (client's zone) and
    how its latest run went."""

    template_name = "rings/patchpolicy_list.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        policies = list(selectors.visible_patch_policies())
        context.update(
            rows=[(p, services.next_policy_occurrence(p, now)) for p in policies],
            can_operate=has_capability(self.request.user, self.client, Capability.OPERATE),
        )
        return context


class PolicyCreateView(ClientPageMixin, TemplateView):
    """A new policy: the form, and on POST the policy or the form with its errors (400)."""

    template_name = "rings/patchpolicy_form.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", kwargs.get("form") or PatchPolicyForm())
        return context

    def post(self, request, **kwargs):
        form = PatchPolicyForm(request.POST)
        if form.is_valid():
            try:
                policy = services.save_policy(data=_policy_data(form), actor=request.user)
            except ValidationError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, f"Policy “{policy.name}” added.")
                return HttpResponseRedirect(
                    f"/clients/{self.client.slug}/patch-policies/{policy.uuid}/"
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PolicyDetailView(ClientPageMixin, TemplateView):
    """One policy: its rule in words, the next occurrence, the open findings it would take now,
    its runs (each with its rollout, "nothing to patch" or the error) and the edit form."""

    template_name = "rings/patchpolicy_detail.html"
    capability = Capability.VIEW

    def required_capability(self, request):
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def policy(self) -> PatchPolicy:
        return get_object_or_404(selectors.visible_patch_policies(), uuid=self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        policy = kwargs.get("policy") or self.policy()
        can_operate = has_capability(self.request.user, self.client, Capability.OPERATE)
        context.update(
            policy=policy,
            next_at=services.next_policy_occurrence(policy),
            matching=services.policy_findings(policy).count(),
            runs=list(selectors.visible_policy_runs(policy)[:50]),
            can_operate=can_operate,
            form=kwargs.get("form") or (PatchPolicyForm(instance=policy) if can_operate else None),
        )
        return context

    def post(self, request, **kwargs):
        policy = self.policy()
        back = HttpResponseRedirect(f"/clients/{self.client.slug}/patch-policies/")
        if "delete" in request.POST:
            services.delete_policy(policy=policy, actor=request.user)
            messages.success(request, f"Policy “{policy.name}” removed.")
            return back
        form = PatchPolicyForm(request.POST, instance=self.policy())
        if form.is_valid():
            try:
                services.save_policy(data=_policy_data(form), actor=request.user, policy=policy)
            except ValidationError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, f"Policy “{policy.name}” saved.")
                return HttpResponseRedirect(request.path)
        context = self.get_context_data(policy=self.policy(), form=form)
        return self.render_to_response(context, status=400)


# --- MSP-wide templates (public pages) ------------------------------------------------------


def _template_data(form: PolicyTemplateForm) -> dict[str, Any]:
    return dict(form.cleaned_data)


class TemplateListView(MspPageMixin, TemplateView):
    """MSP admins define policy templates once and apply them to many clients."""

    template_name = "rings/policytemplate_list.html"
    msp_capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            templates=list(selectors.visible_policy_templates(self.request.user)),
            form=kwargs.get("form") or PolicyTemplateForm(),
        )
        return context

    def post(self, request, **kwargs):
        form = PolicyTemplateForm(request.POST)
        if form.is_valid():
            try:
                template = save_template(
                    data=_template_data(form), actor_label=actor_label(request.user)
                )
            except ValidationError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, f"Template “{template.name}” added.")
                return HttpResponseRedirect(f"/patch-policy-templates/{template.uuid}/")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TemplateDetailView(MspPageMixin, TemplateView):
    """One template: edit it, and apply it to clients (creating or updating each client's
    policy from it)."""

    template_name = "rings/policytemplate_detail.html"
    msp_capability = Capability.ADMINISTER

    def template(self) -> PolicyTemplate:
        return get_object_or_404(
            selectors.visible_policy_templates(self.request.user),
            uuid=_uuid_or_404(self.kwargs["pk"]),
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        template = kwargs.get("template_obj") or self.template()
        clients = visible_clients(self.request.user)
        context.update(
            template_obj=template,
            form=kwargs.get("form") or PolicyTemplateForm(instance=template),
            apply_form=kwargs.get("apply_form") or ApplyTemplateForm(clients=clients),
            results=kwargs.get("results"),
        )
        return context

    def post(self, request, **kwargs):
        template = self.template()
        if "apply" in request.POST:
            apply_form = ApplyTemplateForm(request.POST, clients=visible_clients(request.user))
            if not apply_form.is_valid():
                context = self.get_context_data(template_obj=template, apply_form=apply_form)
                return self.render_to_response(context, status=400)
            try:
                results = services.apply_template(
                    template=template,
                    clients=list(apply_form.cleaned_data["clients"]),
                    actor=request.user,
                )
            except services.TemplateNotApplied as exc:
                apply_form.add_error(None, "Nothing was applied: " + "; ".join(exc.messages))
                context = self.get_context_data(
                    template_obj=template, apply_form=apply_form, results=exc.results
                )
                return self.render_to_response(context, status=400)
            context = self.get_context_data(template_obj=template, results=results)
            return self.render_to_response(context)
        form = PolicyTemplateForm(request.POST, instance=self.template())
        if form.is_valid():
            try:
                save_template(
                    data=_template_data(form),
                    actor_label=actor_label(request.user),
                    template=template,
                )
            except ValidationError as exc:
                _field_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Template “{template.name}” saved. Apply it again to update the clients' "
                    "policies.",
                )
                return HttpResponseRedirect(request.path)
        context = self.get_context_data(template_obj=self.template(), form=form)
        return self.render_to_response(context, status=400)
