"""Pages of the notifications: each user's own preferences, the MSP's chat channels."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.generic import TemplateView

from tenants.permissions import Capability, MspPageMixin

from . import services
from .forms import ChatWebhookForm, PreferencesForm
from .models import ChatWebhook


class PreferencesPage(LoginRequiredMixin, TemplateView):
    """The signed-in user's notification preferences (nobody edits anyone else's)."""

    template_name = "notifications/preferences.html"

    def initial(self) -> dict[str, Any]:
        user = self.request.user
        hour, zone = services.digest_time_of(user)
        initial: dict[str, Any] = {"digest_hour": hour, "time_zone": zone}
        for kind, delivery in services.preferences_of(user).items():
            initial[f"kind_{kind}"] = delivery
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or PreferencesForm(initial=self.initial())
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PreferencesForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        services.save_preferences(
            user=request.user,
            deliveries=form.deliveries(),
            digest_hour=form.cleaned_data["digest_hour"],
            time_zone=form.cleaned_data["time_zone"],
        )
        messages.success(request, "Your notification preferences are saved.")
        return HttpResponseRedirect("/accounts/notifications/")


class ChatWebhooksPage(MspPageMixin, TemplateView):
    """MSP admins add and remove the chat channels that receive the engineer alerts."""

    template_name = "notifications/chat_webhooks.html"
    msp_capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["webhooks"] = list(ChatWebhook.objects.all())
        context["form"] = kwargs.get("form") or ChatWebhookForm()
        context["error"] = kwargs.get("error", "")
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "remove" in request.POST:
            removed = services.remove_chat_webhook(uuid=request.POST.get("remove", ""))
            if not removed:
                error = "No such chat channel (it may have been removed already)."
                return self.render_to_response(self.get_context_data(error=error), status=400)
            messages.success(request, "Chat channel removed.")
            return HttpResponseRedirect("/notifications/chat-webhooks/")
        form = ChatWebhookForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        webhook = form.save(commit=False)
        webhook.created_by = request.user.email
        webhook.save()
        messages.success(request, f"Chat channel “{webhook.name}” added.")
        return HttpResponseRedirect("/notifications/chat-webhooks/")
