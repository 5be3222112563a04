"""HTML pages of the rings app, under /clients/<slug>/."""

app_name = "rings"
urlpatterns: list = []
