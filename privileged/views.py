"""HTML pages of the privileged account register, under /clients/<slug>/privileged-accounts/.

Everyone who sees the client reads the register; engineers and MSP admins change it (OPERATE),
MSP admins set the grace days (ADMINISTER).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView

from common.pagination import page_of
from evidence import contract
from evidence.models import EvidenceEvent
from tenants.choices import StaffRole
from tenants.permissions import ROLE_CAPABILITIES, Capability, ClientPageMixin

from . import services
from .choices import IssueState
from .filters import AccountFilterSet
from .forms import (
    AccountForm,
    DatedActionForm,
    GraceForm,
    LeaverForm,
    ReasonForm,
    TickForm,
)
from .models import OffboardingChecklist, OffboardingItem, PrivilegedAccount
from .selectors import identity_mfa, open_issues, register_counts


def _detail_url(account: PrivilegedAccount) -> str:
    return reverse("privileged:account_detail", kwargs={"uuid": account.uuid})


def _checklist_url(checklist: OffboardingChecklist) -> str:
    return reverse("privileged:checklist_detail", kwargs={"uuid": checklist.uuid})


def _timeline(events: Any) -> list[EvidenceEvent]:
    out = list(events)
    for event in out:
        event.text = contract.summary_of(event) or contract.label_of(event.kind)
    return out


ACTIONS = [
    ("rotate", "Record a rotation"),
    ("review", "Record a review"),
    ("use", "Record a break-glass use"),
    ("disable", "Disable"),
    ("enable", "Enable again"),
]


def _actions_for(account: PrivilegedAccount) -> list[tuple[str, str]]:
    wanted = {"rotate", "review", "disable" if account.is_active else "enable"}
    if account.rotate_after_use:
        wanted.add("use")
    return [(action, label) for action, label in ACTIONS if action in wanted]


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


class AccountListView(ClientPageMixin, TemplateView):
    template_name = "privileged/account_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        queryset = PrivilegedAccount.objects.annotate(
            open_issue_count=Count("issues", filter=Q(issues__state=IssueState.OPEN)),
            system_count=Count("systems", distinct=True),
        ).order_by("-is_active", "name", "pk")
        filterset = AccountFilterSet(self.request.GET or None, queryset=queryset)
        page = page_of(self.request, filterset.qs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filterset=filterset,
            page_obj=page,
            accounts=page.object_list,
            counts=register_counts(),
            identity_mfa=identity_mfa(self.client),
            # Who lacks a factor: MSP staff's names to MSP staff; the client's people's to those
            # who manage them (owners, MSP admins) and the engineers; counts to everyone.
            show_staff_without=self.role in StaffRole.values,
            show_people_without=self.role in StaffRole.values
            or Capability.PEOPLE in ROLE_CAPABILITIES[self.role],
            issues=list(open_issues().order_by("resolve_by", "pk")[:20]),
            checklists=list(OffboardingChecklist.objects.order_by("-created_at", "-pk")[:10]),
            leaver_form=LeaverForm(),
            grace=services.register_settings().grace_days,
            query=query.urlencode(),
        )
        return context


class AccountFormView(ClientPageMixin, TemplateView):
    template_name = "privileged/account_form.html"
    capability = Capability.OPERATE
    mode = "create"

    def get_account(self) -> PrivilegedAccount | None:
        if self.mode == "create":
            return None
        return get_object_or_404(PrivilegedAccount, uuid=self.kwargs["uuid"])

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = self.get_account()
        initial = AccountForm.initial_for(account) if account else {}
        form = AccountForm(initial=initial, client=self.client)
        return self.render_to_response(self.get_context_data(form=form, account=account))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = self.get_account()
        form = AccountForm(request.POST, client=self.client)
        if form.is_valid():
            try:
                if account is None:
                    account = services.create_account(
                        client=self.client, actor=request.user, data=form.to_input()
                    )
                    messages.success(request, "Account registered.")
                else:
                    account = services.update_account(
                        client=self.client, account=account, actor=request.user,
                        data=form.to_input(),
                    )  # fmt: skip
                    messages.success(request, "Account updated.")
                return redirect(_detail_url(account))
            except ValidationError as error:
                form.add_service_errors(error)
        context = self.get_context_data(form=form, account=account)
        return self.render_to_response(context, status=400)


class AccountDetailView(ClientPageMixin, TemplateView):
    template_name = "privileged/account_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        account = get_object_or_404(
            PrivilegedAccount.objects.prefetch_related("systems"), uuid=self.kwargs["uuid"]
        )
        history = EvidenceEvent.objects.filter(
            subject_type="privileged_account", subject_id=str(account.uuid)
        ).order_by("-sequence")
        context.update(
            account=account,
            history=_timeline(history[:100]),
            actions=_actions_for(account),
            issues=list(account.issues.order_by("-opened_at", "-pk")),
            dated_form=DatedActionForm(),
            reason_form=ReasonForm(),
        )
        return context


class AccountActionView(ClientPageMixin, TemplateView):
    """Record a rotation, a review, a use; disable or enable the account."""

    capability = Capability.OPERATE
    http_method_names = ["post"]
    action = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = get_object_or_404(PrivilegedAccount, uuid=self.kwargs["uuid"])
        dated = self.action in ("rotate", "review", "use")
        form = DatedActionForm(request.POST) if dated else ReasonForm(request.POST)
        if not form.is_valid():
            problems = [f"{k.replace('_', ' ')}: {' '.join(v)}" for k, v in form.errors.items()]
            messages.error(request, " ".join(problems))
            return redirect(_detail_url(account))
        d = form.cleaned_data
        try:
            if self.action == "rotate":
                services.record_rotation(
                    account=account, actor=request.user, on=d["on"], note=d["note"]
                )
                messages.success(request, "Rotation recorded.")
            elif self.action == "review":
                services.record_review(
                    account=account, actor=request.user, on=d["on"], note=d["note"]
                )
                messages.success(request, "Review recorded.")
            elif self.action == "use":
                services.record_use(account=account, actor=request.user, on=d["on"], note=d["note"])
                messages.success(request, "Use recorded.")
            elif self.action == "disable":
                services.disable_account(account=account, actor=request.user, reason=d["reason"])
                messages.success(request, "Account disabled.")
            else:
                services.enable_account(account=account, actor=request.user, reason=d["reason"])
                messages.success(request, "Account enabled again.")
        except ValidationError as error:
            messages.error(request, _errors(error))
        return redirect(_detail_url(account))


class GraceView(ClientPageMixin, TemplateView):
    capability = Capability.ADMINISTER
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = GraceForm(request.POST)
        if form.is_valid():
            services.set_grace_days(
                client=self.client, actor=request.user, grace_days=form.cleaned_data["grace_days"]
            )
            messages.success(request, "Grace days saved.")
        else:
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect(reverse("privileged:account_list"))


class LeaverView(ClientPageMixin, TemplateView):
    """A person leaves: their offboarding checklist is generated."""

    capability = Capability.OPERATE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = LeaverForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                checklist = services.start_offboarding(
                    actor=request.user, email=d["email"], name=d["name"], left_on=d["left_on"]
                )
                messages.success(request, "Offboarding checklist ready.")
                return redirect(_checklist_url(checklist))
            except ValidationError as error:
                messages.error(request, _errors(error))
        else:
            messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect(reverse("privileged:account_list"))


class ChecklistDetailView(ClientPageMixin, TemplateView):
    template_name = "privileged/checklist_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        items = OffboardingItem.objects.select_related("account")
        checklist = get_object_or_404(
            OffboardingChecklist.objects.prefetch_related(Prefetch("items", queryset=items)),
            uuid=self.kwargs["uuid"],
        )
        history = EvidenceEvent.objects.filter(
            subject_type="offboarding", subject_id=str(checklist.uuid)
        ).order_by("sequence")
        context.update(
            checklist=checklist,
            items=list(checklist.items.all()),
            history=_timeline(history),
            tick_form=TickForm(),
        )
        return context


class TickView(ClientPageMixin, TemplateView):
    capability = Capability.OPERATE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        checklist = get_object_or_404(OffboardingChecklist, uuid=self.kwargs["uuid"])
        item = get_object_or_404(checklist.items, uuid=self.kwargs["item"])
        form = TickForm(request.POST)
        if form.is_valid():
            try:
                services.tick_item(item=item, actor=request.user, note=form.cleaned_data["note"])
                messages.success(request, "Item done.")
            except ValidationError as error:
                messages.error(request, _errors(error))
        else:
            messages.error(request, "Say what was done (a note is required).")
        return redirect(_checklist_url(checklist))
