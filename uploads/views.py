"""Upload pages: a client's inventory files (engineers) and the MSP's catalogue files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from common.dependencies import QueueUnavailable, enqueue_on
from common.pagination import page_of
from tenants.permissions import Capability, ClientPageMixin, may_import_catalogues

from . import services
from .forms import CatalogueUploadForm, InventoryUploadForm
from .models import FileUpload, UploadTarget
from .tasks import read_upload


def queue_upload(upload: FileUpload) -> None:
    enqueue_on(settings.UPLOADS_QUEUE, read_upload, upload=str(upload.uuid))


def status_of(upload: FileUpload) -> dict[str, Any]:
    """What the upload page polls: state, progress while reading, and the outcome."""
    return {
        "id": str(upload.uuid),
        "state": upload.state,
        "state_display": upload.get_state_display(),
        "progress": services.progress_of(upload),
        "summary": upload.summary,
        "error": upload.error,
    }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


class _Uploads(TemplateView):
    """The list, the form and the POST that accepts a file (JSON for the page's script)."""

    target: str = ""
    form_class: type = InventoryUploadForm
    namespace: str = ""

    def client_or_none(self) -> Any:
        return None

    def accept(self, form: Any) -> FileUpload:
        raise NotImplementedError

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = page_of(
            self.request,
            services.visible_uploads(target=self.target, client=self.client_or_none()),
        )
        context.update(
            form=kwargs.get("form") or self.form_class(),
            page_obj=page,
            uploads=page.object_list,
            max_mb=services.max_upload_bytes() // 2**20,
            namespace=self.namespace,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.form_class(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = self.accept(form)
            except services.UploadRejected as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except QueueUnavailable as exc:
                form.add_error(None, str(exc))
            else:
                url = reverse(f"{self.namespace}:detail", kwargs={"uuid": upload.uuid})
                if _wants_json(request):
                    return JsonResponse({"url": url, **status_of(upload)}, status=201)
                return redirect(url)
        if _wants_json(request):
            errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
            return JsonResponse({"errors": errors}, status=400)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class _UploadDetail(TemplateView):
    target: str = ""
    namespace: str = ""
    as_json: bool = False

    def client_or_none(self) -> Any:
        return None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        upload = (
            services.visible_uploads(target=self.target, client=self.client_or_none())
            .filter(uuid=kwargs["uuid"])
            .first()
        )
        if upload is None:
            raise Http404("No such upload.")
        if self.as_json:
            return JsonResponse(status_of(upload))
        return self.render_to_response(
            self.get_context_data(
                upload=upload, status=status_of(upload), namespace=self.namespace, **kwargs
            )
        )


class InventoryUploadsPage(ClientPageMixin, _Uploads):
    template_name = "uploads/inventory_uploads.html"
    capability = Capability.OPERATE
    target = UploadTarget.INVENTORY
    form_class = InventoryUploadForm
    namespace = "uploads"

    def client_or_none(self) -> Any:
        return self.client

    def accept(self, form: Any) -> FileUpload:
        return services.accept_inventory_upload(
            client=self.client,
            uploaded=form.cleaned_data["file"],
            fmt=form.cleaned_data["format"],
            hostname=form.cleaned_data["hostname"],
            actor=self.request.user,
            queue=queue_upload,
        )


class InventoryUploadDetail(ClientPageMixin, _UploadDetail):
    template_name = "uploads/upload_detail.html"
    capability = Capability.OPERATE
    target = UploadTarget.INVENTORY
    namespace = "uploads"

    def client_or_none(self) -> Any:
        return self.client


class CatalogueAccessMixin(AccessMixin):
    """Catalogue uploads: signed-in MSP admins and engineers (``may_import_catalogues``)."""

    # The MSP-wide capability these pages need: operating every client's catalogue data.
    msp_capability = Capability.OPERATE

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not may_import_catalogues(request.user):
            raise PermissionDenied("Only MSP admins and engineers upload catalogue files.")
        return super().dispatch(request, *args, **kwargs)


class CatalogueUploadsPage(CatalogueAccessMixin, _Uploads):
    template_name = "uploads/catalogue_uploads.html"
    target = UploadTarget.CATALOGUE
    form_class = CatalogueUploadForm
    namespace = "catalogue-uploads"

    def accept(self, form: Any) -> FileUpload:
        return services.accept_catalogue_upload(
            uploaded=form.cleaned_data["file"],
            kind=form.cleaned_data["kind"],
            actor=self.request.user,
            queue=queue_upload,
        )


class CatalogueUploadDetail(CatalogueAccessMixin, _UploadDetail):
    template_name = "uploads/upload_detail.html"
    target = UploadTarget.CATALOGUE
    namespace = "catalogue-uploads"
