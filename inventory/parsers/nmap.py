"""Nmap XML (``-oX``) from nmap 5 to 7: the hosts a subnet scan found.

The XML is read with ``defusedxml`` (``common.safexml``): any DTD entity declaration or external
reference is refused, so an entity expansion bomb or an external entity in an uploaded file is
an error, never expanded or fetched.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from common.safexml import UnsafeOrInvalidXml, parse_xml

from .errors import ParseError

__all__ = ["looks_like_nmap", "parse_nmap"]


def safe_xml_root(data: bytes) -> ET.Element:
    """Parse XML bytes into an ElementTree root, refusing DTD entities and external references."""
    try:
        return parse_xml(data)
    except UnsafeOrInvalidXml as exc:
        raise ParseError(str(exc)) from None


def looks_like_nmap(data: bytes) -> bool:
    """True when the bytes are XML whose root is ``<nmaprun>``."""
    head = bytes(data[:4096]) if isinstance(data, bytes | bytearray) else b""
    if b"<nmaprun" not in head:
        return False
    try:
        return safe_xml_root(data).tag == "nmaprun"
    except ParseError:
        return False


def parse_nmap(data: bytes) -> list[dict[str, Any]]:
    """One dict per ``<host>``: status, addresses, hostnames, OS guesses and open ports."""
    root = safe_xml_root(data)
    if root.tag != "nmaprun":
        raise ParseError(
            f"not an Nmap XML report: the root element is <{root.tag}>, "
            "expected <nmaprun> (nmap -oX)"
        )
    return [_host(host) for host in root.iter("host")]


def _host(host: ET.Element) -> dict[str, Any]:
    status = host.find("status")
    state = status.get("state") if status is not None else None
    result: dict[str, Any] = {
        "status": "up" if state == "up" else "down",
        "ip": None,
        "ipv6": None,
        "mac": None,
        "mac_vendor": None,
        "hostnames": [],
        "os_guesses": [],
        "open_ports": [],
    }
    for address in host.findall("address"):
        kind, addr = address.get("addrtype"), address.get("addr")
        if not addr:
            continue
        if kind == "ipv4" and result["ip"] is None:
            result["ip"] = addr
        elif kind == "ipv6" and result["ipv6"] is None:
            result["ipv6"] = addr
        elif kind == "mac" and result["mac"] is None:
            result["mac"] = addr.upper()
            result["mac_vendor"] = address.get("vendor") or None
    for hostname in host.findall("hostnames/hostname"):
        name = (hostname.get("name") or "").strip()
        if name and name not in result["hostnames"]:
            result["hostnames"].append(name)
    for match in host.findall("os/osmatch"):
        name = (match.get("name") or "").strip()
        if name:
            result["os_guesses"].append({"name": name, "accuracy": _int(match.get("accuracy"))})
    result["os_guesses"].sort(key=lambda guess: -guess["accuracy"])
    for port in host.findall("ports/port"):
        port_state = port.find("state")
        if port_state is None or port_state.get("state") != "open":
            continue
        number = _int(port.get("portid"), default=-1)
        if not 0 <= number <= 65535:
            continue
        service = port.find("service")
        entry: dict[str, Any] = {
            "port": number,
            "protocol": port.get("protocol") or "tcp",
            "service": (service.get("name") if service is not None else None) or "",
        }
        if service is not None:
            entry["product"] = service.get("product") or None
            entry["version"] = service.get("version") or None
            entry["cpes"] = [cpe.text.strip() for cpe in service.findall("cpe") if cpe.text]
        else:
            entry.update(product=None, version=None, cpes=[])
        result["open_ports"].append(entry)
    return result


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
