"""HTML pages of the patch core (findings, compliance), under /clients/<slug>/.

(``patchops/urls.py`` is the project's per-client URLconf, which includes this module.)
"""

app_name = "patchops"
urlpatterns: list = []
