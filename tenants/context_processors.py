from typing import Any

from django.http import HttpRequest

from tenants.permissions import current_client, role_in, visible_clients


def portal(request: HttpRequest) -> dict[str, Any]:
    """The current client (only when the user may see it) and, for staff, the client switcher."""
    user = getattr(request, "user", None)
    client = current_client(request)
    if client is not None and role_in(user, client) is None:
        client = None  # a 404 page must not reveal the name of a client the user cannot see
    switcher = []
    if user is not None and user.is_authenticated and getattr(user, "staff_role", ""):
        switcher = visible_clients(user).only("slug", "name")
    return {"current_client": client, "switcher_clients": switcher}
