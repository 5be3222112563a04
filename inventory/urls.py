"""HTML pages of the inventory app, under /clients/<slug>/."""

app_name = "inventory"
urlpatterns: list = []
