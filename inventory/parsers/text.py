"""Reading a file's bytes as text, whatever encoding the tool that wrote it chose."""

from __future__ import annotations

import codecs

from .errors import ParseError


def decode_text(data: bytes, *, fallback: str = "cp1252") -> str:
    """Text of a file: BOM-marked UTF-8/16/32, else UTF-8, else ``fallback``."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(f"The file is not valid {encoding}: {exc.reason}.") from exc
    if len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        try:
            return data.decode("utf-16-le")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(fallback)
    except UnicodeDecodeError as exc:
        raise ParseError(
            "The file's encoding cannot be read (tried UTF-8, UTF-16 and "
            f"{fallback}): {exc.reason}."
        ) from exc
