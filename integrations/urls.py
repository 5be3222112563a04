"""HTML pages of the integrations app, under /clients/<slug>/."""

app_name = "integrations"
urlpatterns: list = []
