from typing import Any

from django.http import HttpRequest

from tenants.permissions import current_client, visible_clients


def portal(request: HttpRequest) -> dict[str, Any]:
    """The current client and, for staff, the client switcher entries."""
    user = getattr(request, "user", None)
    switcher = []
    if user is not None and user.is_authenticated and getattr(user, "staff_role", ""):
        switcher = visible_clients(user).only("slug", "name")
    return {"current_client": current_client(request), "switcher_clients": switcher}
