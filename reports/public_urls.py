"""Public-schema pages of the reports app: the MSP's report branding."""

from django.urls import path

from .views import MspReportBrandingView

app_name = "report-branding"
urlpatterns = [path("", MspReportBrandingView.as_view(), name="msp-branding")]
