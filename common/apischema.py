"""The OpenAPI document's finishing pass: every operation gets a summary and an example.

A view's own ``extend_schema(summary=…, examples=…)`` wins. Otherwise the summary is made
from the method and the path (``GET /findings/`` → "List findings", ``POST
/rollouts/{id}/halt/`` → "Halt a rollout"), and each JSON request and response body gets an
example built from its schema (enums give their first value, formats a typical value). An
operation with no JSON body at all (a download, a delete) gets examples on its path
parameters. Registered as a drf-spectacular postprocessing hook.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["complete_operations", "example_of", "summary_of"]

METHODS = ("get", "post", "put", "patch", "delete")
FORMATS: dict[str, Any] = {
    "date-time": "2026-01-05T09:30:00Z",
    "date": "2026-01-05",
    "time": "09:30:00",
    "uuid": "6f1c2a3e-8d4b-4c7a-9e2f-1b3c5d7e9f01",
    "email": "owner@example.com",
    "uri": "https://portal.example.com/",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "binary": "(file contents)",
    "decimal": "7.50",
}
PATH_EXAMPLES = {
    "client_slug": "northwind",
    "slug": "northwind",
    "cve": "CVE-2024-3400",
}
MAX_DEPTH = 6
# Action names that are nouns: the phrase their operation's summary reads as ({a}: "a rollout",
# {owner}: the collection, e.g. "rings").
ACTION_PHRASES = {
    "result": "Report the result of {a}",
    "results": "Report deployment results for {a}",
    "rollback-results": "Report rollback results for {a}",
    "runbook": "Record the runbook checks of {a}",
    "inbound": "Receive a PSA call for {a}",
    "test": "Send a test event to {a}",
    "download": "Download {a}",
    "verify": "Verify the {owner} chain",
    "export": "Export {owner}",
    "by-risk": "{owner} by risk",
}


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _human(segment: str) -> str:
    return segment.replace("-", " ").replace("_", " ")


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def summary_of(method: str, path: str, *, is_list: bool) -> str:
    """A short summary from the method and the path (after ``/api/v1/``)."""
    tail = path.split("/api/v1/", 1)[-1]
    parts = [p for p in tail.split("/") if p]
    is_param = [p.startswith("{") for p in parts]
    if not parts:
        return method.upper()
    if is_param[-1]:  # /things/{id}/
        thing = _human(_singular(parts[-2])) if len(parts) > 1 else "item"
        verb = {"get": "Get", "put": "Replace", "patch": "Update", "delete": "Delete"}.get(
            method, "Act on"
        )
        return f"{verb} {_article(thing)}"
    if len(parts) >= 3 and is_param[-2]:  # /things/{id}/action/
        thing = _human(_singular(parts[-3]))
        action = _human(parts[-1])
        if parts[-1] in ACTION_PHRASES:
            return ACTION_PHRASES[parts[-1]].format(a=_article(thing), owner=_human(parts[-3]))
        if method == "get":
            return f"{action.capitalize()} of {_article(thing)}"
        return f"{action.capitalize()} {_article(thing)}"
    resource = _human(parts[-1])
    if len(parts) >= 2 and not is_param[-2]:  # /things/action/
        owner = _human(parts[-2])
        if parts[-1] in ACTION_PHRASES:
            phrase = ACTION_PHRASES[parts[-1]].format(a=_article(owner), owner=owner)
            return phrase[:1].upper() + phrase[1:]
        if method == "get":
            return f"{resource.capitalize()} of {owner}" if not is_list else f"List {resource}"
        return f"{resource.capitalize()} {owner}"
    if method == "get":
        return f"List {resource}" if is_list else f"Get the {resource}"
    if method == "post":
        return f"Create {_article(_singular(resource))}"
    if method == "put":
        return f"Replace the {resource}"
    if method == "patch":
        return f"Update the {resource}"
    return f"Delete the {resource}"


def example_of(node: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A value that fits the JSON schema ``node``."""
    if depth > MAX_DEPTH:
        return None
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return example_of(components.get(name, {}), components, depth + 1)
    for key in ("allOf", "oneOf", "anyOf"):
        if node.get(key):
            options = [o for o in node[key] if o.get("type") != "null"] or node[key]
            return example_of(options[0], components, depth + 1)
    if "example" in node:
        return node["example"]
    if node.get("enum"):
        values = [v for v in node["enum"] if v not in (None, "")]
        return values[0] if values else node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        value = {
            name: example_of(child, components, depth + 1)
            for name, child in properties.items()
            if not child.get("writeOnly") or depth == 0
        }
        if not properties and isinstance(node.get("additionalProperties"), dict):
            value = {"key": example_of(node["additionalProperties"], components, depth + 1)}
        return value
    if kind == "array":
        item = example_of(node.get("items", {}), components, depth + 1)
        return [] if item is None else [item]
    if kind == "integer":
        return max(int(node.get("minimum", 1) or 1), 1)
    if kind == "number":
        return 7.5
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = node.get("format", "")
        if fmt in FORMATS:
            return FORMATS[fmt]
        if node.get("pattern") and re.fullmatch(r"\^?-?\\d.*", node["pattern"]):
            return "7.50"
        return "string"
    return None


def _has_examples(content: dict[str, Any]) -> bool:
    return any("examples" in media or "example" in media for media in content.values())


def _add_example(content: dict[str, Any], components: dict[str, Any], label: str) -> bool:
    media = content.get("application/json")
    if media is None or "schema" not in media:
        return False
    if "examples" not in media and "example" not in media:
        media["examples"] = {
            "Example": {"value": example_of(media["schema"], components), "summary": label}
        }
    return True


def _is_list(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    body = (
        operation.get("responses", {})
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    )
    while "$ref" in body:
        body = components.get(body["$ref"].rsplit("/", 1)[-1], {})
    return body.get("type") == "array" or "results" in body.get("properties", {})


def complete_operations(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: a summary and an example on every operation."""
    components = result.get("components", {}).get("schemas", {})
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if not operation.get("summary"):
                operation["summary"] = summary_of(
                    method, path, is_list=_is_list(operation, components)
                )
            found = False
            body = operation.get("requestBody", {}).get("content", {})
            if body:
                found |= _has_examples(body) or _add_example(body, components, "A request")
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if content:
                    found |= _has_examples(content) or _add_example(
                        content, components, f"A {code} answer"
                    )
            if not found:
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path" and "example" not in parameter:
                        fmt = parameter.get("schema", {}).get("format", "")
                        parameter["example"] = PATH_EXAMPLES.get(
                            parameter["name"], FORMATS.get(fmt, "1")
                        )
                        found = True
    return result
