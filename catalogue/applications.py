"""Third-party applications: installed programs normalised to a CPE vendor and product.

An installed program arrives as Windows shows it (``Mozilla Firefox (x64 en-US)``,
``7-Zip 23.01 (x64)``, ``Java 8 Update 391 (64-bit)``), as a macOS app (``zoom.us``) or as a
Homebrew formula or cask (``google-chrome``). ``normalise_name`` reduces a name to the words
that name the product: Unicode-normalised, case-folded, without trademark signs, architecture
and locale tags, version numbers or repeated spaces. ``identify`` then looks the normalised name
up in the curated mapping (``catalogue/data/applications.json``: the applications MSPs patch
most, each with its NVD CPE ``vendor:product``), and otherwise in the CPE products NVD
records name, where the program's publisher must name the CPE vendor too. Each identification
says why (which rule matched), and the version is put in the form NVD's ranges use (Oracle
Java 8's ``8.0.3910.13`` is ``1.8.0`` update 391).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "Application",
    "Identified",
    "curated_applications",
    "normalise_name",
    "normalise_version",
    "identify",
    "cpe_product_candidates",
]

DATA = Path(__file__).resolve().parent / "data" / "applications.json"

_MARKS = re.compile(r"[®™©]|\((?:r|tm|c)\)", re.IGNORECASE)
_ARCH_WORDS = (
    r"x64|x86|x86_64|amd64|arm64|aarch64|ia64|win64|win32|64[- ]?bits?|32[- ]?bits?|"
    r"64 bit|32 bit|universal|intel|apple silicon"
)
_LOCALE = r"[a-z]{2}[-_][a-z]{2,4}"  # en-us, pt_br (a bare "dc" is a word, not a locale)
_LANG = r"[a-z]{2}"  # inside a tag: (x64 de)
_PAREN = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_TAG_WORDS = re.compile(
    rf"^(?:(?:{_ARCH_WORDS}|{_LOCALE}|{_LANG}|mui|remove only|user|machine|per user|"
    rf"per machine|\s|,|-)+)$",
    re.IGNORECASE,
)
_VERSION = r"(?<![\w+])v?\d+(?:[.,_]\d+)+[a-z]?\d*(?:\+[\w.]+)?(?!\w)|(?<![\w+])v\d+(?![\w+])"
_VERSIONISH = re.compile(_VERSION)
# "Program 4.2 build", "Tool 2024 release": the word after a version (or a bare number) that
# follows the product's words. A name that is or ends in such a word keeps it ("build",
# "putty release").
_WORD_AFTER_VERSION = re.compile(rf"(?<=\S)(\s+(?:{_VERSION}|\d+))\s+(?:version|release|build)$")
_TRAILING = re.compile(rf"(?:\s+(?:{_ARCH_WORDS}|{_LOCALE}))+$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_DASH_SUFFIX = re.compile(
    rf"\s+-\s+(?:english|deutsch|français|francais|español|espanol|{_LOCALE}|{_ARCH_WORDS})\s*$"
)


def _drop_tag(m: re.Match[str]) -> str:
    inner = m.group(1) if m.group(1) is not None else m.group(2) or ""
    return " " if _TAG_WORDS.match(inner) or _VERSIONISH.fullmatch(inner.strip()) else m.group(0)


def normalise_name(name: str) -> str:
    """The words that name a product, for matching: ``"Mozilla Firefox (x64 en-US)"`` →
    ``"mozilla firefox"``, ``"7-Zip 23.01 (x64)"`` → ``"7-zip"``, ``"Notepad++ (64-bit x64)"``
    → ``"notepad++"``, ``"Adobe® Acrobat® Reader DC - English"`` → ``"adobe acrobat reader dc"``.

    Idempotent; case, trademark signs, architecture/locale tags and version numbers never
    change the result. Digits that are part of the name stay (``7-zip``, ``java 8 update``).
    """
    text, previous = name or "", None
    for _ in range(8):  # to a fixed point: stripping one tag can expose another
        if text == previous:
            break
        previous, text = text, _normalise_once(text)
    return text


def _normalise_once(name: str) -> str:
    # Trademark signs go first: NFKC would spell "™" as "TM".
    text = unicodedata.normalize("NFKC", _MARKS.sub(" ", name))
    text = _MARKS.sub(" ", text).casefold()
    text = text.replace("\u2013", "-").replace("\u2014", "-")
    # Parenthesised tags: (x64 en-US), (64-bit), (remove only), [MUI]
    text = _PAREN.sub(_drop_tag, text)
    text = _DASH_SUFFIX.sub(" ", text)  # " - English", " - en-us", " - 64 bit"
    text = _WORD_AFTER_VERSION.sub(r"\1", text.strip())
    text = _VERSIONISH.sub(" ", text)
    text = re.sub(r"(?<=[a-z+)])\s+\d{1,4}$", " ", text.strip())  # "teamviewer 15", "java 8"
    text = _SPACES.sub(" ", text).strip(" -_.,:;")
    text = _TRAILING.sub("", text)
    text = _SPACES.sub(" ", text).strip(" -_.,:;")
    return text


@dataclass(frozen=True)
class Application:
    key: str
    name: str
    vendor: str
    product: str
    category: str
    names: tuple[re.Pattern[str], ...]
    macos: tuple[str, ...]
    homebrew: tuple[str, ...]
    linux: tuple[str, ...]
    publisher: str

    @property
    def cpe(self) -> str:
        return f"cpe:2.3:a:{self.vendor}:{self.product}"


@dataclass(frozen=True)
class Identified:
    """A program recognised as a CPE product, with the version to compare and the reason."""

    vendor: str
    product: str
    version: str
    update: str
    application: str  # display name
    reason: str
    curated: bool


@lru_cache(maxsize=1)
def curated_applications() -> tuple[Application, ...]:
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    apps = []
    for entry in doc["applications"]:
        vendor, product = entry["cpe"].split(":", 1)
        apps.append(
            Application(
                key=entry["key"],
                name=entry["name"],
                vendor=vendor,
                product=product,
                category=entry["category"],
                names=tuple(re.compile(p) for p in entry["names"]),
                macos=tuple(normalise_name(n) for n in entry.get("macos", [])),
                homebrew=tuple(n.lower() for n in entry.get("homebrew", [])),
                linux=tuple(n.lower() for n in entry.get("linux", [])),
                publisher=entry.get("publisher", ""),
            )
        )
    return tuple(apps)


def kind_is_package(version: str) -> bool:
    """A deb/rpm version (``1:120.0.6099.129-1``): epoch and package revision are dropped."""
    return bool(re.match(r"^(\d+:)?\d[\w.+~]*-[\w.+~]+$", version or ""))


JAVA_KEYS = ("oracle-java", "oracle-jdk")
_JAVA_NAMED = re.compile(r"\b([5-8]) update (\d{1,3})\b")
_JAVA_UNDERSCORE = re.compile(r"^(?:1\.)?([5-8])\.0_(\d{1,3})(?:\b|-)")  # java -version
_JAVA_DISPLAY = re.compile(r"^([5-8])\.0\.(\d{1,4})(?:\.\d+)?$")  # registry DisplayVersion
_JAVA_BUNDLE = re.compile(r"^1\.([5-8])\.(\d{2,3})\.\d+$")  # macOS plug-in CFBundleVersion


def java_update(version: str, name: str = "") -> tuple[str, str] | None:
    """Oracle Java 5–8 as NVD's CPEs write it: version ``1.8.0``, update ``update381``.

    Java 8 Update 381 shows up as the program name ``Java 8 Update 381 (64-bit)`` (or
    ``Java SE Development Kit 8 Update 381``), as ``java -version``'s ``1.8.0_381``, as the
    registry DisplayVersion ``8.0.3810.9`` (the update times ten, then the build: update 51 is
    ``8.0.510.16``) and as the macOS plug-in's bundle version ``1.8.381.09``. None for any other
    version (Java 9 and later are plain ``17.0.9``)."""
    named = _JAVA_NAMED.search(_MARKS.sub(" ", name or "").casefold())
    if named:
        return f"1.{named.group(1)}.0", f"update{int(named.group(2))}"
    text = (version or "").strip()
    m = _JAVA_UNDERSCORE.match(text)
    if m:
        return f"1.{m.group(1)}.0", f"update{int(m.group(2))}"
    m = _JAVA_DISPLAY.match(text)
    if m:
        field = m.group(2)
        update = int(field) // 10 if len(field) > 1 and field.endswith("0") else int(field)
        return f"1.{m.group(1)}.0", f"update{update}"
    m = _JAVA_BUNDLE.match(text)
    if m:
        return f"1.{m.group(1)}.0", f"update{int(m.group(2))}"
    return None


def normalise_version(app_key: str, version: str, name: str = "") -> tuple[str, str]:
    """(version, update) as NVD's CPEs for the product write them."""
    version = (version or "").strip()
    if kind_is_package(version):
        version = re.sub(r"^\d+:", "", version).rsplit("-", 1)[0]
    if app_key in JAVA_KEYS:
        java = java_update(version, name)
        if java is not None:
            return java
    if app_key == "7-zip":
        m = re.match(r"^(\d+)\.(\d+)", version)
        if m:
            return f"{int(m.group(1))}.{m.group(2)}", ""
    if app_key == "putty":
        m = re.search(r"(\d+\.\d+)", version)
        if m:
            return m.group(1), ""
    return version, ""


def _curated_match(kind: str, normalised: str, raw: str, publisher: str) -> Application | None:
    apps = curated_applications()
    if kind in ("deb", "rpm"):
        base = re.sub(r":[a-z0-9_]+$", "", raw.strip().lower())
        return next((a for a in apps if base in a.linux), None)
    if kind == "homebrew":
        base = raw.strip().lower().split("@")[0] if "@esr" not in raw.lower() else raw.lower()
        return next((a for a in apps if base in a.homebrew or raw.lower() in a.homebrew), None)
    if kind == "app":
        found = [a for a in apps if normalised in a.macos]
        if not found:
            found = [a for a in apps if any(p.fullmatch(normalised) for p in a.names)]
    else:
        found = [a for a in apps if any(p.fullmatch(normalised) for p in a.names)]
    if len(found) > 1 and publisher:
        by_publisher = [a for a in found if a.publisher and a.publisher in publisher.casefold()]
        found = by_publisher or found
    return found[0] if found else None


def cpe_product_candidates(normalised: str) -> set[str]:
    """CPE product spellings a normalised name may stand for: ``foo bar`` → ``foo_bar``, and
    without its first word (the vendor, as in ``acme foo_bar``), or its first word alone
    (``mysql server`` → ``mysql``)."""
    words = normalised.split()
    if not words:
        return set()
    out = {"_".join(words), words[0]}
    if len(words) > 1:
        out.add("_".join(words[1:]))
    return out


def identify(
    kind: str,
    name: str,
    version: str,
    publisher: str = "",
    *,
    nvd_products: dict[str, set[str]] | None = None,
) -> Identified | None:
    """What product an installed program is, or None.

    ``kind`` is the inventory kind (program, app, homebrew). ``nvd_products`` maps a CPE
    product to the vendors NVD names it with, for programs outside the curated mapping: such a
    program is identified only when its publisher (or the first word of its name) is one of
    those vendors.
    """
    normalised = normalise_name(name)
    if not normalised or not version:
        return None
    app = _curated_match(kind, normalised, name, publisher)
    if app is not None:
        v, update = normalise_version(app.key, version, name)
        where = {
            "homebrew": "Homebrew package",
            "app": "macOS app",
            "deb": "Debian package",
            "rpm": "RPM package",
        }.get(kind, "Windows program")
        return Identified(
            vendor=app.vendor,
            product=app.product,
            version=v,
            update=update,
            application=app.name,
            reason=f'{where} "{name}" is {app.name} (curated mapping "{app.key}")',
            curated=True,
        )
    if not nvd_products or kind in ("deb", "rpm"):
        return None
    publisher_words = set(normalise_name(publisher).replace(",", " ").split())
    first = normalised.split()[0]
    for product in sorted(cpe_product_candidates(normalised)):
        vendors = nvd_products.get(product) or set()
        for vendor in sorted(vendors):
            vendor_words = set(vendor.replace("_", " ").replace("-", " ").split())
            if vendor_words & publisher_words or vendor == first:
                return Identified(
                    vendor=vendor,
                    product=product,
                    version=version.strip(),
                    update="",
                    application=name,
                    reason=(
                        f'"{name}" (publisher "{publisher}") names NVD product {vendor}:{product}'
                    ),
                    curated=False,
                )
    return None


def describe(app: Any) -> str:  # pragma: no cover - used in admin and shell sessions
    return f"{app.name} → {app.cpe}"
