"""HTML pages of the exceptions_register app, under /clients/<slug>/."""

app_name = "exceptions_register"
urlpatterns: list = []
