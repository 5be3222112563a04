"""Windows ``systeminfo`` and ``wmic qfe`` exports, as found on real machines.

Both commands print in the console's language and code page, and the files people export are
UTF-16 (with or without a byte-order mark), UTF-8 or a legacy code page (cp850, cp1252, cp866,
cp1251…). ``decode_text`` finds the encoding; the parsers then read the text:

* ``systeminfo`` in its LIST form (``Host Name:   DESKTOP-1``) or CSV form (``/FO CSV``), in
  English, French, German, Spanish, Italian, Portuguese, Dutch, Polish, Russian, Ukrainian,
  Chinese (Simplified and Traditional), Japanese or Korean, including the East Asian console
  code pages (GBK/CP936, Big5/CP950, Shift-JIS/CP932, EUC-KR/CP949).
  Where a heading is not recognised the fixed field order of ``systeminfo`` is used instead
  (host name, OS name and OS version are always the first three fields, and the hotfix field is
  the one listing ``[nn]: KBnnnnnnn``).
* ``wmic qfe`` as a fixed-width table, ``/format:list`` or ``/format:csv``, and PowerShell
  ``Get-HotFix`` as a table or ``Format-List``.

Each parser returns discovery payloads (one per host found) in the shape of the design's
discovery payload: ``agent_id`` (``systeminfo:<hostname>``), ``system_info``, ``os_version`` and
``patches``."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from typing import Any

from patchops_agent.parsers.errors import ParseError

__all__ = ["decode_text", "looks_like_systeminfo", "parse_systeminfo", "parse_systeminfo_csv"]


# Legacy code pages tried when the bytes are neither UTF-16 nor UTF-8, in order of preference
# on a tie: console (OEM) pages first, since ``systeminfo > file`` writes in the OEM page.
LEGACY_ENCODINGS = (
    "cp850",
    "cp437",
    "cp1252",
    "cp866",
    "cp1251",
    "cp852",
    "cp1250",
    "cp737",
    "cp1253",
    "cp857",
    "cp1254",
    # East Asian console code pages (double-byte): Simplified Chinese (GBK), Traditional
    # Chinese (Big5), Japanese (Shift-JIS), Korean (EUC-KR / Unified Hangul).
    "cp936",
    "cp950",
    "cp932",
    "cp949",
)


# systeminfo headings per language, normalised by ``_norm_label``. Keys are the fields we use.
SYSTEMINFO_LABELS: dict[str, tuple[str, ...]] = {
    "hostname": (
        "host name",
        "nom de l'hôte",
        "hostname",
        "nombre de host",
        "nome host",
        "nome do host",
        "hostnaam",
        "nazwa hosta",
        "имя узла",
        "ім'я вузла",
        "ім'я хоста",
        "主机名",
        "主機名稱",
        "ホスト名",
        "호스트 이름",
    ),
    "os_name": (
        "os name",
        "nom du système d'exploitation",
        "betriebssystemname",
        "nombre del sistema operativo",
        "nome so",
        "nome do sistema operacional",
        "naam besturingssysteem",
        "nazwa systemu operacyjnego",
        "название ос",
        "назва ос",
        "os 名称",
        "作業系統名稱",
        "os 名",
        "os 이름",
    ),
    "os_version": (
        "os version",
        "version du système",
        "betriebssystemversion",
        "versión del sistema operativo",
        "versione so",
        "versão do sistema operacional",
        "versie besturingssysteem",
        "wersja systemu operacyjnego",
        "версия ос",
        "версія ос",
        "os 版本",
        "作業系統版本",
        "os バージョン",
        "os 버전",
    ),
    "system_manufacturer": (
        "system manufacturer",
        "fabricant du système",
        "systemhersteller",
        "fabricante del sistema",
        "produttore sistema",
        "fabricante do sistema",
        "systeemfabrikant",
        "producent systemu",
        "изготовитель системы",
        "виробник системи",
        "系统制造商",
        "系統製造商",
        "システム製造元",
        "시스템 제조업체",
    ),
    "system_model": (
        "system model",
        "modèle du système",
        "systemmodell",
        "modelo el sistema",
        "modelo del sistema",
        "modello sistema",
        "modelo do sistema",
        "systeemmodel",
        "model systemu",
        "модель системы",
        "модель системи",
        "系统型号",
        "系統型號",
        "システム モデル",
        "시스템 모델",
    ),
    "system_type": (
        "system type",
        "type du système",
        "systemtyp",
        "tipo de sistema",
        "tipo sistema",
        "systeemtype",
        "typ systemu",
        "тип системы",
        "тип системи",
        "系统类型",
        "系統類型",
        "システムの種類",
        "시스템 종류",
    ),
    "processors": (
        "processor(s)",
        "processeur(s)",
        "prozessor(en)",
        "procesador(es)",
        "processore(i)",
        "processador(es)",
        "procesory",
        "процессор(ы)",
        "процесор(и)",
        "处理器",
        "處理器",
        "プロセッサ",
        "프로세서",
    ),
    "domain": (
        "domain",
        "domaine",
        "domäne",
        "dominio",
        "domínio",
        "domein",
        "domena",
        "домен",
        "域",
        "網域",
        "ドメイン",
        "도메인",
    ),
    "hotfixes": (
        "hotfix(s)",
        "hotfix(es)",
        "correctif(s)",
        "revisión(es)",
        "aggiornamenti rapidi",
        "poprawki",
        "исправление(я)",
        "виправлення",
        "修补程序",
        "hotfix",
        "ホットフィックス",
        "핫픽스",
    ),
}


_LABEL_TO_KEY = {label: key for key, labels in SYSTEMINFO_LABELS.items() for label in labels}


# The order systeminfo prints its first fields in, whatever the language.
_STRUCTURAL_ORDER = ("hostname", "os_name", "os_version")


# A hotfix id, with the revision suffix Microsoft gives re-released updates (KB2536276-v2).
_KB_RE = re.compile(r"\bKB\s?(\d{4,8})(-v\d+)?\b", re.IGNORECASE)


_HOTFIX_LINE_RE = re.compile(r"^\s*\[\d+\]\s*:\s*(.*?)\s*$")


_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


_WINDOWS_NAME_RE = re.compile(r"windows", re.IGNORECASE)


# Windows 10/11 and Server builds → the release name Windows shows (DisplayVersion).
_DISPLAY_VERSIONS = {
    10240: "1507",
    10586: "1511",
    14393: "1607",
    15063: "1703",
    16299: "1709",
    17134: "1803",
    17763: "1809",
    18362: "1903",
    18363: "1909",
    19041: "2004",
    19042: "20H2",
    19043: "21H1",
    19044: "21H2",
    19045: "22H2",
    20348: "21H2",
    22000: "21H2",
    22621: "22H2",
    22631: "23H2",
    26100: "24H2",
}


# How much of a file the looks_like_* checks read.
_SNIFF_BYTES = 64 * 1024


_ARCHES = {"x64": "x86_64", "x86": "x86", "arm64": "arm64", "arm": "arm", "ia64": "ia64"}


def decode_text(data: bytes) -> str:
    """Decode a Windows text export: BOM, BOM-less UTF-16, UTF-8, else the likeliest code page."""
    if not isinstance(data, (bytes, bytearray)):
        raise ParseError("expected the file's bytes")
    data = bytes(data)
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    sample = data[:8000]
    half = len(sample) // 2
    if half >= 4:
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        if odd_nuls >= 0.2 * half and even_nuls <= 0.02 * half:
            return data.decode("utf-16-le", errors="replace")
        if even_nuls >= 0.2 * half and odd_nuls <= 0.02 * half:
            return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best_text, best_score = data.decode("latin-1"), None
    for encoding in LEGACY_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _plausibility(text)
        if best_score is None or score > best_score:
            best_text, best_score = text, score
    return best_text


def _plausibility(text: str) -> int:
    """Higher for text that reads like a real export: known headings, letters, few symbols."""
    sample = text[:20000]
    score = 0
    folded = sample.casefold()
    for label in _LABEL_TO_KEY:
        if not label.isascii() and label in folded:
            score += 50
    for ch in sample:
        if ch.isascii():
            continue
        if ch.isalpha() or ch == "\u00a0":
            score += 1
        else:
            score -= 3
    return score


def _norm_label(label: str) -> str:
    label = label.replace("\u2019", "'").replace("\u00a0", " ").replace("\u3000", " ")
    label = label.replace("\uff1a", ":").strip().rstrip(":").strip()
    return re.sub(r"\s+", " ", label).casefold()


def _lines(text: str) -> list[str]:
    text = text.replace("\x00", "").replace("\uff1a", ":")  # full-width colons (CJK consoles)
    return [line.rstrip("\r\n\x00").rstrip() for line in text.splitlines()]


def looks_like_systeminfo(data: bytes) -> bool:
    """True when the bytes read as ``systeminfo`` output (any supported language or form)."""
    try:
        return bool(_systeminfo_records(decode_text(data[:_SNIFF_BYTES])))
    except (ParseError, TypeError):
        return False


def parse_systeminfo(data: bytes) -> list[dict[str, Any]]:
    """Parse ``systeminfo`` output (LIST or CSV form) into one discovery payload per host."""
    text = decode_text(data)
    records = _systeminfo_records(text)
    if not records:
        raise ParseError(
            "not systeminfo output: expected 'Host Name:', 'OS Name:' and 'OS Version:' fields "
            "(or their translation) followed by the hotfix list"
        )
    return [_systeminfo_payload(record) for record in records]


def parse_systeminfo_csv(text: str) -> dict[str, Any]:
    """The agent's reading of ``systeminfo /FO CSV`` on a machine without PowerShell: host name,
    ``os_version`` and ``patches`` of the one host, by the parser the portal uses for uploaded
    files (any language); empty when the output cannot be read."""
    try:
        record = parse_systeminfo(text.encode("utf-8"))[0]
    except (ParseError, IndexError):
        return {}
    return {
        "hostname": record["system_info"]["hostname"] or "",
        "os_version": record["os_version"],
        "patches": record["patches"],
    }


def _systeminfo_records(text: str) -> list[dict[str, Any]]:
    lines = [line for line in _lines(text) if line.strip()]
    if not lines:
        return []
    first = lines[0].lstrip()
    if first.startswith('"') and '","' in first:
        fields_per_host = _csv_fields(text)
    else:
        fields_per_host = _list_fields(lines)
    records = []
    for fields in fields_per_host:
        record = _interpret_fields(fields)
        if record is not None:
            records.append(record)
    return records


def _value_column(lines: list[str]) -> int | None:
    """The column values start at: systeminfo pads every heading to the same width."""
    starts: Counter[int] = Counter()
    for line in lines:
        if line[:1].isspace():
            stripped = line.lstrip()
            if stripped.startswith("["):
                starts[len(line) - len(stripped)] += 3
            continue
        for match in re.finditer(r":( +)\S", line):
            starts[match.end() - 1] += 1
    if not starts:
        return None
    column, count = starts.most_common(1)[0]
    return column if count >= 2 else None


def _list_fields(lines: list[str]) -> list[list[tuple[str, str, list[str]]]]:
    """Split LIST-form output into hosts, each a list of (heading, value, continuation lines)."""
    column = _value_column(lines)
    hosts: list[list[tuple[str, str, list[str]]]] = []
    fields: list[tuple[str, str, list[str]]] = []
    for line in lines:
        if line[:1].isspace():
            if fields:
                fields[-1][2].append(line.strip())
            continue
        label, value = _split_field(line, column)
        if label is None:
            continue
        if _LABEL_TO_KEY.get(_norm_label(label)) == "hostname" and any(
            _LABEL_TO_KEY.get(_norm_label(f[0])) == "hostname" for f in fields
        ):
            hosts.append(fields)
            fields = []
        fields.append((label, value, []))
    if fields:
        hosts.append(fields)
    return hosts


def _split_field(line: str, column: int | None) -> tuple[str | None, str]:
    if column is not None:
        head = line[:column]
        if head.rstrip().endswith(":") and (len(line) <= column or line[column - 1] == " "):
            return head.rstrip()[:-1].strip(), line[column:].strip()
    match = re.match(r"^(.+?)\s*:\s+(.*)$", line) or re.match(r"^(.+?)\s*:$", line)
    if match is None:
        return None, ""
    value = match.group(2) if match.lastindex and match.lastindex >= 2 else ""
    return match.group(1).strip(), value.strip()


def _csv_fields(text: str) -> list[list[tuple[str, str, list[str]]]]:
    rows = [row for row in csv.reader(io.StringIO(text.replace("\x00", ""))) if any(row)]
    if len(rows) < 2:
        return []
    header = rows[0]
    hosts = []
    for row in rows[1:]:
        if row == header:
            continue
        fields = []
        for label, value in zip(header, row):
            parts = [part.strip() for part in value.split(",")]
            fields.append((label, parts[0] if parts else "", parts[1:]))
        hosts.append(fields)
    return hosts


def _interpret_fields(fields: list[tuple[str, str, list[str]]]) -> dict[str, Any] | None:
    found: dict[str, Any] = {}
    hotfix_lines: list[str] | None = None
    for label, value, more in fields:
        key = _LABEL_TO_KEY.get(_norm_label(label))
        if key == "hotfixes":
            hotfix_lines = more
        elif key and key not in found:
            found[key] = value if key != "processors" else (more[0] if more else value)
    # Structural fallback: the first three fields are always host, OS name and OS version.
    for index, key in enumerate(_STRUCTURAL_ORDER):
        if key not in found and index < len(fields):
            found[key] = fields[index][1]
    if hotfix_lines is None:
        for _label, _value, more in fields:
            if more and any(_KB_RE.search(line) for line in more):
                hotfix_lines = more
                break
    hostname = (found.get("hostname") or "").strip()
    version = found.get("os_version") or ""
    if not hostname or " " in hostname or not _VERSION_RE.search(version):
        return None
    if not _WINDOWS_NAME_RE.search(found.get("os_name") or "") and hotfix_lines is None:
        return None
    found["hostname"] = hostname
    found["hotfixes"] = _kb_list(hotfix_lines or [])
    return found


def _kb_list(lines: list[str]) -> list[str]:
    kbs: list[str] = []
    for line in lines:
        match = _HOTFIX_LINE_RE.match(line)
        entry = match.group(1) if match else line
        kb = _KB_RE.search(entry)
        if kb:
            hotfix_id = _hotfix_id(kb)
            if hotfix_id not in kbs:
                kbs.append(hotfix_id)
    return kbs


def _hotfix_id(match: re.Match[str]) -> str:
    """``KB2536276`` or, for a re-released update, ``KB2536276-v2`` (the suffix is kept)."""
    return f"KB{match.group(1)}{(match.group(2) or '').lower()}"


def _os_version(name: str, version_text: str, system_type: str | None) -> dict[str, Any]:
    name = " ".join(name.split())  # exports may hold no-break spaces
    os_version: dict[str, Any] = {"name": name or None, "platform": "windows"}
    match = _VERSION_RE.search(version_text)
    if match:
        major, minor, build = (int(part) for part in match.groups())
        os_version.update(
            version=match.group(0),
            major=major,
            minor=minor,
            patch=build,
            build=str(build),
        )
        if major == 10 and build in _DISPLAY_VERSIONS:
            os_version["display_version"] = _DISPLAY_VERSIONS[build]
    if system_type:
        prefix = system_type.split("-")[0].strip().casefold()
        if prefix in _ARCHES:
            os_version["arch"] = _ARCHES[prefix]
    return os_version


def _agent_id(hostname: str | None) -> str | None:
    return f"systeminfo:{hostname.casefold()}" if hostname else None


def _systeminfo_payload(record: dict[str, Any]) -> dict[str, Any]:
    hostname = record["hostname"]
    system_info = {
        "hostname": hostname,
        "computer_name": hostname,
        "hardware_vendor": record.get("system_manufacturer") or None,
        "hardware_model": record.get("system_model") or None,
        "cpu_brand": _cpu_brand(record.get("processors")),
    }
    domain = record.get("domain")
    if domain:
        system_info["domain"] = domain
    return {
        "agent_id": _agent_id(hostname),
        "source": "systeminfo",
        "system_info": system_info,
        "os_version": _os_version(
            record.get("os_name") or "", record["os_version"], record.get("system_type")
        ),
        "patches": [
            {"hotfix_id": kb, "description": None, "installed_on": None, "installed_by": None}
            for kb in record["hotfixes"]
        ],
    }


def _cpu_brand(value: str | None) -> str | None:
    if not value:
        return None
    match = _HOTFIX_LINE_RE.match(value)
    return (match.group(1) if match else value).strip() or None
