"""The agent's side of the PatchOps API: JSON over HTTPS with the agent token."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from patchops_agent.base import EXIT_USAGE, AgentError, __version__


def base_url(url: str | None) -> str:
    if not url:
        raise AgentError(
            "no server URL: give --url (e.g. https://portal/clients/acme/)", EXIT_USAGE
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AgentError(f"bad --url {url!r}: expected http(s)://host/clients/<slug>/", EXIT_USAGE)
    return url if url.endswith("/") else url + "/"


def request_json(method: str, url: str, token: str, body: Any = None, timeout: float = 60) -> Any:
    """Send a JSON request with the agent token; AgentError on HTTP errors or network failure."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": f"patchops-agent/{__version__}",
    }
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        hint = {
            401: " (the token is missing, wrong or revoked)",
            403: " (the token may not do this: an agent token is needed)",
            404: " (check the client slug in --url)",
            413: " (the payload is too large)",
        }.get(exc.code, "")
        raise AgentError(f"{method} {url} failed: HTTP {exc.code}{hint}{detail}") from None
    except urllib.error.URLError as exc:
        raise AgentError(f"cannot reach {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise AgentError(f"cannot reach {url}: {exc}") from None
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise AgentError(f"{method} {url}: the server did not answer JSON") from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()[:2000]
    except OSError:
        return ""
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", errors="replace").strip()
        return f": {text[:200]}" if text else ""
    if isinstance(body, dict) and "detail" in body:
        return f": {body['detail']}"
    return f": {json.dumps(body)[:300]}"


def push(payload: dict[str, Any], base: str, token: str, timeout: float) -> Any:
    return request_json("POST", base + "api/v1/discovery/", token, payload, timeout)


def fetch_jobs(base: str, token: str, agent: str, timeout: float) -> list[dict[str, Any]]:
    url = base + "api/v1/agent-jobs/?" + urllib.parse.urlencode({"agent_id": agent})
    jobs: list[dict[str, Any]] = []
    pages = 0
    while url and pages < 50:
        body = request_json("GET", url, token, timeout=timeout)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise AgentError(f"GET {url}: expected a JSON object with 'results'")
        jobs.extend(job for job in body["results"] if isinstance(job, dict))
        url = body.get("next") or ""
        pages += 1
    return jobs


def fetch_agent_config(base: str, token: str, agent: str, timeout: float) -> dict[str, Any]:
    """The client's settings for a resident agent (``api/v1/agent-config/``): its discovery
    schedule (enabled, slots, jitter window)."""
    url = base + "api/v1/agent-config/"
    if agent:
        url += "?" + urllib.parse.urlencode({"agent_id": agent})
    body = request_json("GET", url, token, timeout=timeout)
    if not isinstance(body, dict) or not isinstance(body.get("discovery"), dict):
        raise AgentError(f"GET {url}: expected a JSON object with 'discovery'")
    return body
