"""Every route of the portal, read from the URLconfs (and the OpenAPI document to cross-check).

``all_routes()`` walks the public URLconf (``PUBLIC_SCHEMA_URLCONF``) and the per-client URLconf
(``ROOT_URLCONF``, served by django-tenants under ``/clients/<slug>/``) and describes each
endpoint: its pattern as a path template (``clients/<slug>/api/v1/findings/<id>/``), the URL
parameters it takes, the HTTP methods it answers, whether it is an API endpoint, and the
capability the permission layer asks of each method. Nothing here names an app or a module, so
routes that move between apps keep their keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import get_converters
from rest_framework.views import APIView

from tenants.permissions import ClientAccess, ClientPageMixin

CLIENT_PREFIX = "clients/<slug>/"
IGNORED_METHODS = {"HEAD", "OPTIONS", "TRACE"}
SAFE_METHODS = ("GET",)


@dataclass(frozen=True)
class Route:
    key: str  # the path template, e.g. "clients/<slug>/api/v1/findings/<id>/"
    name: str  # the namespaced URL name (for messages only)
    in_client: bool  # under /clients/<slug>/ (a client's schema) or the public root
    is_api: bool
    params: tuple[str, ...]  # URL parameters after the client's slug, in order
    methods: tuple[str, ...]
    view: Any
    initkwargs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    actions: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return self.key

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m not in SAFE_METHODS)

    def segment_of(self, param: str) -> str:
        """The literal path segment naming the resource a parameter belongs to: ``findings``
        for ``findings/<id>/chain/``, ``snapshots`` for ``snapshots/<uuid>/<kind>/``."""
        before = self.key.split(f"<{param}>", 1)[0]
        if self.in_client:
            before = before[len(CLIENT_PREFIX) :]
        literals = [s for s in re.split(r"[/.]", before) if s and not s.startswith("<")]
        return literals[-1] if literals else ""

    def url(self, values: dict[str, str], *, slug: str = "") -> str:
        """The path with ``values`` (and the client's ``slug``) filled in."""
        path = "" if self.key == "/" else self.key
        if self.in_client:
            path = f"clients/{slug}/" + path[len(CLIENT_PREFIX) :]
        for param in self.params:
            path = path.replace(f"<{param}>", str(values[param]))
        return "/" + path

    def capability(self, method: str) -> Any:
        """What the permission layer asks of ``method`` here: outside a client, the MSP-wide
        capability a view declares (``msp_capability``), else None (any signed-in principal)."""
        if not self.in_client:
            return getattr(self.view, "msp_capability", None)
        request = SimpleNamespace(method=method)
        if self.is_api:
            view = SimpleNamespace(
                capabilities=getattr(self.view, "capabilities", {}),
                action=self.actions.get(method.lower()),
            )
            return ClientAccess.required_capability(request, view)
        if issubclass(self.view, ClientPageMixin):
            return self.view(**self.initkwargs).required_capability(request)
        return None


def _plain_parameter(match: re.Match) -> str:
    """``<uuid:pk>`` → ``<pk>``; a converter whose values start with a dot (DRF's format
    suffix) keeps the dot in the template: ``<drf_format_suffix:format>`` → ``.<format>``."""
    converter, name = match.groups()
    regex = get_converters()[converter].regex if converter else ""
    return f".<{name}>" if regex.startswith("\\.") else f"<{name}>"


def _group_end(regex: str, start: int) -> int:
    """Index just past the parenthesised group opening at ``regex[start]``."""
    depth, i, in_class = 0, start, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {regex!r}")


def template_of(pattern: Any) -> str:
    """A URL pattern (``path()`` or a router's regex) as a path template with ``<name>``s."""
    text = str(pattern)
    if not (text.startswith("^") or text.endswith("$") or "(?P<" in text):
        return re.sub(r"<(?:(\w+):)?(\w+)>", _plain_parameter, text)
    text = text.removeprefix("^").removesuffix("$")
    out, i = [], 0
    while i < len(text):
        if text.startswith("(?P<", i):
            name = text[i + 4 : text.index(">", i)]
            out.append(f"<{name}>")
            i = _group_end(text, i)
        elif text.startswith("/?", i):
            i += 2  # an optional trailing slash (format suffixes): written without it
        elif text[i] == "\\":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _methods(callback: Any, view: Any) -> tuple[str, ...]:
    allowed = getattr(view, "http_method_names", ["get", "post", "put", "patch", "delete"])
    actions = getattr(callback, "actions", None)
    if actions:
        found = {m.upper() for m in actions if m in allowed}
    else:
        found = {m.upper() for m in allowed if hasattr(view, m)}
    return tuple(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m in found)


def _walk(resolver: Any, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + template_of(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield prefix + template_of(entry.pattern), name, entry.callback


def _routes_of(urlconf: str, *, in_client: bool) -> list[Route]:
    routes = []
    for template, name, callback in _walk(get_resolver(urlconf)):
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
        is_api = isinstance(view, type) and issubclass(view, APIView)
        key = (CLIENT_PREFIX if in_client else "") + template or "/"  # the public home page
        routes.append(
            Route(
                key=key,
                name=name,
                in_client=in_client,
                is_api=is_api,
                params=tuple(re.findall(r"<(\w+)>", template)),
                methods=_methods(callback, view),
                view=view,
                initkwargs=dict(getattr(callback, "view_initkwargs", {}) or {}),
                actions=dict(getattr(callback, "actions", {}) or {}),
            )
        )
    return routes


def all_routes() -> list[Route]:
    """Every endpoint of the public URLconf and the per-client URLconf."""
    return _routes_of(settings.PUBLIC_SCHEMA_URLCONF, in_client=False) + _routes_of(
        settings.ROOT_URLCONF, in_client=True
    )


def schema_operations() -> set[tuple[str, str]]:
    """(path template, METHOD) of every operation in the OpenAPI document."""
    from drf_spectacular.generators import SchemaGenerator

    urlconf = settings.SPECTACULAR_SETTINGS["SERVE_URLCONF"]
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    operations = set()
    for path, item in schema["paths"].items():
        template = re.sub(r"\{(\w+)\}", r"<\1>", path.lstrip("/"))
        template = template.replace("clients/<client_slug>/", CLIENT_PREFIX, 1)
        for method in item:
            if method.upper() not in IGNORED_METHODS:
                operations.add((template, method.upper()))
    return operations
