"""Logos uploaded for reports: PNG or JPEG only, decoded in full before they are kept.

SVG is refused (it can carry scripts and external references); so is anything whose bytes are
not the picture its name says, a file that does not decode to the end (truncated, corrupt), and
one whose pixel count could exhaust memory when it is drawn.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

__all__ = ["LogoRejected", "CheckedLogo", "check_logo", "LOGO_TYPES", "MAX_LOGO_PIXELS"]

LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
MAX_LOGO_PIXELS = 4096 * 4096


class LogoRejected(ValueError):
    """The file is no logo the reports can print; nothing was kept."""


@dataclass(frozen=True)
class CheckedLogo:
    data: bytes
    content_type: str
    width: int
    height: int


def check_logo(data: bytes, *, name: str = "the file", max_bytes: int) -> CheckedLogo:
    """The logo ``data`` (named ``name`` in messages) if it is a PNG or JPEG of at most
    ``max_bytes`` that decodes completely; ``LogoRejected`` with the reason otherwise."""
    if not data:
        raise LogoRejected(f"{name} is empty; choose a PNG or JPEG logo.")
    if len(data) > max_bytes:
        raise LogoRejected(
            f"{name} is {len(data) // 1024} KB; a logo may be at most {max_bytes // 1024} KB."
        )
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) or b"<svg" in head:
        raise LogoRejected(f"{name} is an SVG image; upload the logo as PNG or JPEG.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                if kind not in LOGO_TYPES:
                    raise LogoRejected(
                        f"{name} is a {kind or 'unknown'} image; a logo must be PNG or JPEG."
                    )
                if width * height > MAX_LOGO_PIXELS:
                    raise LogoRejected(
                        f"{name} is {width}×{height} pixels; a logo may have at most "
                        f"{MAX_LOGO_PIXELS:,} pixels (e.g. 4096×4096)."
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as picture:
                picture.load()  # decode every pixel: a truncated file fails here
    except LogoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LogoRejected(f"{name} is not a PNG or JPEG image this portal can read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise LogoRejected(f"{name} could not be decoded ({exc}); upload it again.") from None
    return CheckedLogo(data=data, content_type=LOGO_TYPES[kind], width=width, height=height)
