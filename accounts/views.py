"""Account pages: a client's People page, accepting an invitation, password reset and change,
and one's own signed-in sessions. Thin: the work is in ``accounts.people`` and
``accounts.sessions``; permission checks in ``tenants.permissions``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from common.pagination import page_of
from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, User
from tenants.permissions import Capability, ClientPageMixin

from . import audit, people
from .forms import (
    AcceptInvitationForm,
    HousePasswordResetForm,
    InviteForm,
    MemberActionForm,
    StaffActionForm,
    StaffInviteForm,
)
from .sessions import end_sessions, rekey, sessions_of

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _messages_of(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- a client's people ----------------------------------------------------------------------------


class PeoplePage(ClientPageMixin, TemplateView):
    """Members with their role, open invitations, and the forms that change them."""

    template_name = "accounts/people.html"
    capability = Capability.PEOPLE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        invitations = list(people.open_invitations_of(self.client))
        for invitation in invitations:
            invitation.expired = invitation.is_expired(at=now)
        context.update(
            members=list(people.members_of(self.client)),
            invitations=invitations,
            form=kwargs.get("form") or InviteForm(),
            roles=MembershipRole.choices,
            may_deactivate=people.may_deactivate(self.request.user),
            me=self.request.user.pk,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        here = people.people_path(self.client)
        action = request.POST.get("action", "invite")
        if action == "invite":
            form = InviteForm(request.POST)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(form=form), status=400)
            try:
                sent = people.invite(
                    client=self.client,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    request=request,
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
                return self.render_to_response(self.get_context_data(form=form), status=400)
            self._done(sent, f"Invitation sent to {sent.obj.email}.")
            return HttpResponseRedirect(here)
        form = MemberActionForm(request.POST)
        if not form.is_valid():
            errors = [e for field_errors in form.errors.values() for e in field_errors]
            messages.error(request, " ".join(errors) or "Nothing was changed.")
            return HttpResponseRedirect(here)
        data = form.cleaned_data
        try:
            sent, text = self._act(data)
        except ValidationError as exc:
            messages.error(request, _messages_of(exc))
            return HttpResponseRedirect(here)
        self._done(sent, text)
        return HttpResponseRedirect(here)

    def _act(self, data: dict[str, Any]) -> tuple[people.Sent, str]:
        request, client = self.request, self.client
        action = data["action"]
        if action == "withdraw":
            sent = people.withdraw_invitation(
                client=client,
                invitation_uuid=data["invitation"],
                actor=request.user,
                request=request,
            )
            return sent, f"The invitation of {sent.obj.email} was withdrawn."
        if action == "role":
            sent = people.change_role(
                client=client,
                user_uuid=data["user"],
                role=data["role"],
                actor=request.user,
                request=request,
            )
            return sent, f"{sent.obj.user.email} is now {sent.obj.get_role_display()}."
        if action == "remove":
            sent = people.remove_member(
                client=client, user_uuid=data["user"], actor=request.user, request=request
            )
            return sent, f"{sent.obj.user.email} was removed from {client.name}."
        # deactivate: an MSP admin's action, on a member of this client
        if not people.may_deactivate(request.user):
            raise PermissionDenied("Only MSP admins deactivate accounts.")
        member = people.members_of(client).filter(user__uuid=data["user"]).first()
        if member is None:
            raise ValidationError("This person is not a member of this client.")
        sent = people.deactivate_user(user=member.user, actor=request.user, request=request)
        return sent, (
            f"{member.user.email} was deactivated: {sent.detail['sessions_ended']} session(s) "
            f"ended, {sent.detail['tokens_revoked']} API token(s) revoked."
        )

    def _done(self, sent: people.Sent, text: str) -> None:
        messages.success(self.request, text)
        if sent.mail_failed:
            messages.warning(
                self.request, "The change is recorded, but some e-mail could not be sent."
            )


# --- accepting an invitation ----------------------------------------------------------------------


class AcceptInvitation(View):
    """The invitee's link: a new account sets its own password; an existing client user signs
    in first and joins with one click. Invalid, used, withdrawn or expired links say so."""

    template_name = "accounts/invitation_accept.html"

    def _invitation(self, token: str) -> Any:
        try:
            return people.find_invitation(token)
        except people.InvitationInvalid as exc:
            return exc

    def _page(self, request: HttpRequest, invitation: Any, **extra: Any) -> HttpResponse:
        status = extra.pop("status", 200)
        if isinstance(invitation, people.InvitationInvalid):
            return render(
                request, "accounts/invitation_invalid.html", {"reason": str(invitation)}, status=410
            )
        existing = User.objects.filter(email__iexact=invitation.email).first()
        if invitation.is_staff_invitation and existing is not None:
            return render(
                request,
                "accounts/invitation_invalid.html",
                {"reason": "This address already has an account: ask an MSP admin."},
                status=410,
            )
        labels = people.STAFF_ROLE_LABELS if invitation.is_staff_invitation else people.ROLE_LABELS
        context = {
            "invitation": invitation,
            "client": invitation.client,
            "joining": invitation.client.name if invitation.client else "the MSP's staff",
            "role": labels.get(invitation.role, invitation.role),
            "existing": existing,
            "signed_in_as_invitee": existing is not None and request.user.pk == existing.pk,
            "login_url": f"{reverse('login')}?next={request.path}",
            **extra,
        }
        if existing is None and "form" not in context:
            context["form"] = AcceptInvitationForm(email=invitation.email)
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._page(request, self._invitation(token))

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._invitation(token)
        if isinstance(invitation, people.InvitationInvalid):
            return self._page(request, invitation)
        existing = User.objects.filter(email__iexact=invitation.email).first()
        form = None
        if existing is None:
            form = AcceptInvitationForm(request.POST, email=invitation.email)
            if not form.is_valid():
                return self._page(request, invitation, form=form, status=400)
        try:
            member = people.accept_invitation(
                token=token,
                user=request.user if request.user.is_authenticated else None,
                password=form.cleaned_data["password1"] if form else None,
                full_name=form.cleaned_data.get("full_name", "") if form else "",
                request=request,
            )
        except people.InvitationInvalid as exc:
            return self._page(request, exc)
        except PermissionDenied as exc:
            return self._page(request, invitation, error=str(exc), status=403)
        except ValidationError as exc:
            return self._page(request, invitation, form=form, error=_messages_of(exc), status=400)
        if request.user.pk != member.pk:
            login(request, member, backend=BACKEND)
        if invitation.client is None:
            messages.success(request, "Welcome to the MSP's staff.")
            return HttpResponseRedirect(reverse("home"))
        messages.success(request, f"Welcome to {invitation.client.name}.")
        return HttpResponseRedirect(invitation.client.get_absolute_url())


# --- passwords ------------------------------------------------------------------------------------


class PasswordReset(auth_views.PasswordResetView):
    """Ask for a reset link by e-mail; the answer is the same whether the address exists."""

    form_class = HousePasswordResetForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        audit.record(
            "password.reset_requested", actor_label=email, request=self.request, target=email
        )
        return super().form_valid(form)


class PasswordResetDone(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """The link of the mail: works once (the token covers the password hash and the last
    sign-in) and until PASSWORD_RESET_TIMEOUT. Setting the password ends every session."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        ended = end_sessions(user=user)
        audit.record(
            "password.reset_completed",
            actor=user,
            request=self.request,
            target=user.email,
            sessions_ended=ended,
        )
        return response


class PasswordResetComplete(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChange(auth_views.PasswordChangeView):
    """Change one's own password (the old one first); the other sessions end."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change")

    def form_valid(self, form: Any) -> HttpResponse:
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # keeps this session under a new key
        rekey(old=old_key, new=self.request.session.session_key)
        ended = end_sessions(user=self.request.user, keep=self.request.session.session_key)
        audit.record(
            "password.changed",
            actor=self.request.user,
            request=self.request,
            target=self.request.user.email,
            sessions_ended=ended,
        )
        messages.success(self.request, "Your password was changed; your other sessions ended.")
        return response


# --- the MSP's users (offboarding) ----------------------------------------------------------------


class UsersPage(LoginRequiredMixin, TemplateView):
    """Every account, staff and client users: invite staff, change a staff role, choose an
    account manager's clients, deactivate (MSP admins only)."""

    template_name = "accounts/users.html"
    # The MSP-wide capability the page needs: administering the MSP's accounts.
    msp_capability = Capability.ADMINISTER

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated and not people.may_deactivate(request.user):
            raise PermissionDenied("Only MSP admins manage accounts.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = page_of(self.request, people.all_users())
        now = timezone.now()
        invitations = list(people.open_staff_invitations())
        for invitation in invitations:
            invitation.expired = invitation.is_expired(at=now)
        context.update(
            page_obj=page,
            users=page.object_list,
            me=self.request.user.pk,
            staff_form=kwargs.get("staff_form") or StaffInviteForm(),
            staff_invitations=invitations,
            staff_roles=StaffRole.choices,
            clients=list(Client.objects.exclude(schema_name="public").order_by("name")),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        here = reverse("accounts:users")
        action = request.POST.get("action", "")
        if action == "invite":
            form = StaffInviteForm(request.POST)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(staff_form=form), status=400)
            try:
                sent = people.invite_staff(
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    request=request,
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
                return self.render_to_response(self.get_context_data(staff_form=form), status=400)
            messages.success(request, f"Invitation sent to {sent.obj.email}.")
            if sent.mail_failed:
                messages.warning(request, "The invitation is recorded, but its mail failed.")
            return HttpResponseRedirect(here)
        form = StaffActionForm(request.POST)
        if not form.is_valid():
            errors = [e for field_errors in form.errors.values() for e in field_errors]
            messages.error(request, " ".join(errors) or "Nothing was changed.")
            return HttpResponseRedirect(here)
        try:
            text = self._act(form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, _messages_of(exc))
            return HttpResponseRedirect(here)
        messages.success(request, text)
        return HttpResponseRedirect(here)

    def _act(self, data: dict[str, Any]) -> str:
        request, action = self.request, data["action"]
        if action == "withdraw":
            sent = people.withdraw_staff_invitation(
                invitation_uuid=data["invitation"], actor=request.user, request=request
            )
            return f"The invitation of {sent.obj.email} was withdrawn."
        if action == "staff_role":
            sent = people.change_staff_role(
                user_uuid=data["user"], role=data["role"], actor=request.user, request=request
            )
            return f"{sent.obj.email} is now {sent.obj.get_staff_role_display()}."
        if action == "clients":
            sent = people.set_managed_clients(
                user_uuid=data["user"],
                clients=list(data["clients"]),
                actor=request.user,
                request=request,
            )
            added, removed = sent.detail["added"], sent.detail["removed"]
            if not added and not removed:
                return f"{sent.obj.email}'s clients are unchanged."
            return (
                f"{sent.obj.email}'s clients changed: {len(added)} added, {len(removed)} removed."
            )
        user = User.objects.filter(uuid=data["user"]).first()
        if user is None:
            raise ValidationError("No such user.")
        sent = people.deactivate_user(user=user, actor=request.user, request=request)
        return (
            f"{user.email} was deactivated: {sent.detail['sessions_ended']} session(s) ended, "
            f"{sent.detail['tokens_revoked']} API token(s) revoked."
        )


# --- one's own sessions ---------------------------------------------------------------------------


class SessionsPage(LoginRequiredMixin, TemplateView):
    """The signed-in user's sessions, and "log out other sessions"."""

    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sessions"] = sessions_of(self.request.user)
        context["current_key"] = self.request.session.session_key
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ended = end_sessions(user=request.user, keep=request.session.session_key)
        audit.record(
            "sessions.ended",
            actor=request.user,
            request=request,
            target=request.user.email,
            sessions_ended=ended,
        )
        messages.success(request, f"{ended} other session(s) signed out.")
        return HttpResponseRedirect(reverse("accounts:sessions"))
