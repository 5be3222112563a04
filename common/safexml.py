"""The one way PatchOps parses XML (Nmap scans, MSRC CVRF documents): with ``defusedxml``.

``defusedxml`` refuses entity declarations (entity-expansion bombs), external entities and
external DTDs, so an uploaded or downloaded file can never expand or fetch anything.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

__all__ = ["UnsafeOrInvalidXml", "parse_xml"]

MAX_XML_BYTES = 64 * 1024 * 1024


class UnsafeOrInvalidXml(ValueError):
    """The bytes are not well-formed XML, too large, or declare entities or external refs."""


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> ET.Element:
    """Parse XML bytes into an ElementTree root, refusing DTD entities and external references."""
    if not isinstance(data, bytes | bytearray):
        raise UnsafeOrInvalidXml("expected the file's bytes")
    if len(data) > max_bytes:
        raise UnsafeOrInvalidXml(f"the XML file is larger than {max_bytes // (1024 * 1024)} MB")
    try:
        return fromstring(bytes(data), forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UnsafeOrInvalidXml(
            "the XML declares entities or external references, which are refused for safety"
        ) from None
    except ET.ParseError as exc:
        raise UnsafeOrInvalidXml(f"not well-formed XML ({exc})") from None
