"""HTML pages of the evidence app, under /clients/<slug>/."""

app_name = "evidence"
urlpatterns: list = []
