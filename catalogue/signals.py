"""Signals of the catalogue. ``catalogue_changed`` is sent after an import that created or
updated rows has committed (``record`` is the ``CatalogueImport``); findings are re-matched then."""

from django.dispatch import Signal

catalogue_changed = Signal()
