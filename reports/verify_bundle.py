#!/usr/bin/env python3
"""Offline verifier of a PatchOps evidence bundle. Standard library, plus the `cryptography`
package for passkey signatures (pip install cryptography).

Usage:
    python verify_bundle.py BUNDLE.zip        # check a bundle archive
    python verify_bundle.py [DIRECTORY]       # an extracted bundle (default: this folder)

Checks that every file listed in manifest.json has the recorded SHA-256 and size, that no file
was added, that the included events agree with every chain head an earlier report witnessed
(manifest "checkpoints"), and recomputes the hash chain of the included evidence events:
    hash = sha256(prev_hash + canonical_json(content))
where canonical_json is JSON with sorted keys, no spaces, UTF-8 kept, and content holds uuid,
sequence, occurred_at, kind, actor, subject_type, subject_id and payload.

Then every exception signature in evidence/signatures.jsonl: the SHA-256 of the signed text,
and for a passkey signature the WebAuthn assertion itself, with the credential's public key
kept with it (COSE_Key; ES256 = ECDSA P-256 with SHA-256, EdDSA = Ed25519, RS256 = RSA
PKCS#1 v1.5 with SHA-256): clientDataJSON has type "webauthn.get" and its challenge is the
SHA-256 of the signed text; authenticatorData begins with SHA-256 of the relying party ID and
has the user-present and user-verified flags; the signature verifies over
authenticatorData || SHA-256(clientDataJSON). Each signature's method, text hash and public key
agree with the exception.signed event of the chain (and with the passkey.registered event, when
the registration lies in the bundle's stretch), and every passkey signature the chain records is
there.

Exit status 0 when everything matches, 1 when anything does not (each problem is printed),
2 on unusable input.
"""

import base64
import hashlib
import json
import os
import sys
import zipfile

CONTENT_KEYS = (
    "uuid",
    "sequence",
    "occurred_at",
    "kind",
    "actor",
    "subject_type",
    "subject_id",
    "payload",
)
MANIFEST = "manifest.json"


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event):
    content = {key: event[key] for key in CONTENT_KEYS}
    return hashlib.sha256(
        (event["prev_hash"] + canonical_json(content)).encode("utf-8")
    ).hexdigest()


class _Zip:
    def __init__(self, path):
        self.archive = zipfile.ZipFile(path)

    def names(self):
        return [n for n in self.archive.namelist() if not n.endswith("/")]

    def read(self, name):
        return self.archive.read(name)


class _Dir:
    def __init__(self, path):
        self.root = os.path.abspath(path)

    def names(self):
        found = []
        for folder, _dirs, files in os.walk(self.root):
            for f in files:
                full = os.path.join(folder, f)
                found.append(os.path.relpath(full, self.root).replace(os.sep, "/"))
        return found

    def read(self, name):
        with open(os.path.join(self.root, *name.split("/")), "rb") as fh:
            return fh.read()


def check_chain(lines, expected, checkpoints=None):
    """Problems with the events (list of dicts) against the manifest's ``events`` entry and the
    chain heads earlier reports witnessed (``checkpoints``)."""
    problems = []
    if len(lines) != expected.get("count", 0):
        problems.append(
            f"events: {len(lines)} events found, manifest says {expected.get('count', 0)}"
        )
    prev = None
    for _number, event in enumerate(lines, start=1):
        label = "event #{} ({})".format(event.get("sequence"), event.get("uuid"))
        missing = [k for k in CONTENT_KEYS + ("prev_hash", "hash") if k not in event]
        if missing:
            problems.append("{}: missing fields {}".format(label, ", ".join(missing)))
            return problems
        if prev is None:
            if event["sequence"] != expected.get("first_sequence"):
                problems.append(
                    "{}: first sequence should be {}".format(label, expected.get("first_sequence"))
                )
            if event["prev_hash"] != expected.get("first_prev_hash"):
                problems.append(f"{label}: prev_hash differs from the manifest's anchor")
        else:
            if event["sequence"] != prev["sequence"] + 1:
                problems.append("{}: sequence gap after #{}".format(label, prev["sequence"]))
            if event["prev_hash"] != prev["hash"]:
                problems.append(f"{label}: prev_hash does not link to the previous event")
        computed = event_hash(event)
        if computed != event["hash"]:
            problems.append(f"{label}: content does not match its hash (computed {computed})")
        prev = event
    by_sequence = {event.get("sequence"): event for event in lines}
    for checkpoint in checkpoints or []:
        event = by_sequence.get(checkpoint.get("sequence"))
        where = "checkpoint #{} ({})".format(checkpoint.get("sequence"), checkpoint.get("source"))
        if event is None:
            problems.append(f"{where}: the events end before it (events were removed)")
        elif event.get("hash") != checkpoint.get("hash"):
            problems.append(f"{where}: the event there has another hash than was witnessed")
    if prev is not None:
        if prev["hash"] != expected.get("last_hash"):
            problems.append("events: last hash differs from the manifest")
        if prev["sequence"] != expected.get("last_sequence"):
            problems.append("events: last sequence differs from the manifest")
    return problems


def b64url_decode(value):
    value = value or ""
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def cbor_decode(data):
    """Decode one CBOR item (the subset a COSE_Key uses: integers, byte and text strings,
    arrays, maps). Returns (value, bytes used)."""

    def item(pos):
        if pos >= len(data):
            raise ValueError("CBOR data ends early")
        initial = data[pos]
        major, info = initial >> 5, initial & 0x1F
        pos += 1
        if info < 24:
            arg = info
        elif info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            if pos + size > len(data):
                raise ValueError("CBOR data ends early")
            arg = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        else:
            raise ValueError("indefinite or reserved CBOR length")
        if major == 0:
            return arg, pos
        if major == 1:
            return -1 - arg, pos
        if major in (2, 3):
            if pos + arg > len(data):
                raise ValueError("CBOR string ends early")
            raw = bytes(data[pos : pos + arg])
            return (raw if major == 2 else raw.decode("utf-8")), pos + arg
        if major == 4:
            out = []
            for _ in range(arg):
                value, pos = item(pos)
                out.append(value)
            return out, pos
        if major == 5:
            out = {}
            for _ in range(arg):
                key, pos = item(pos)
                value, pos = item(pos)
                out[key] = value
            return out, pos
        raise ValueError(f"unsupported CBOR major type {major}")

    return item(0)


def cose_public_key(cose):
    """(algorithm, verify(signature, data)) for a COSE_Key, with `cryptography`."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    key, _used = cbor_decode(cose)
    if not isinstance(key, dict):
        raise ValueError("the public key is not a COSE_Key map")
    kty, alg = key.get(1), key.get(3)
    if kty == 2 and alg == -7 and key.get(-1) == 1:  # EC2, ES256, P-256
        x, y = key.get(-2), key.get(-3)
        if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == 32):
            raise ValueError("bad P-256 coordinates")
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
        return "ES256", lambda sig, data: public.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    if kty == 1 and alg == -8 and key.get(-1) == 6:  # OKP, EdDSA, Ed25519
        public = ed25519.Ed25519PublicKey.from_public_bytes(key.get(-2))
        return "EdDSA", lambda sig, data: public.verify(sig, data)
    if kty == 3 and alg == -257:  # RSA, RS256
        n, e = key.get(-1), key.get(-2)
        public = rsa.RSAPublicNumbers(
            int.from_bytes(e, "big"), int.from_bytes(n, "big")
        ).public_key()
        return "RS256", lambda sig, data: public.verify(
            sig, data, padding.PKCS1v15(), hashes.SHA256()
        )
    raise ValueError(f"unsupported COSE key (kty {kty}, alg {alg})")


def check_passkey_assertion(line, rp_ids):
    """Problems with one passkey signature line (empty when its assertion verifies)."""
    from cryptography.exceptions import InvalidSignature

    problems = []
    text_digest = hashlib.sha256(line["signed_text"].encode("utf-8")).digest()
    try:
        authenticator_data = b64url_decode(line["authenticator_data"])
        client_data_raw = b64url_decode(line["client_data_json"])
        signature = b64url_decode(line["signature"])
        cose = b64url_decode(line["credential_public_key"])
    except (KeyError, ValueError, TypeError) as exc:
        return [f"assertion fields unreadable ({exc})"]
    try:
        client_data = json.loads(client_data_raw.decode("utf-8"))
    except ValueError:
        return ["clientDataJSON is not JSON"]
    if client_data.get("type") != "webauthn.get":
        problems.append(
            "clientDataJSON type is {!r}, not 'webauthn.get'".format(client_data.get("type"))
        )
    try:
        challenge = b64url_decode(client_data.get("challenge"))
    except (ValueError, TypeError):
        challenge = b""
    if challenge != text_digest:
        problems.append("the assertion's challenge is not the SHA-256 of the signed text")
    if len(authenticator_data) < 37:
        problems.append("authenticatorData is too short")
        return problems
    rp_id = line.get("rp_id") or ""
    if authenticator_data[:32] != hashlib.sha256(rp_id.encode("utf-8")).digest():
        problems.append(f"authenticatorData is not for the relying party {rp_id!r}")
    if rp_ids and rp_id not in rp_ids:
        problems.append(f"relying party {rp_id!r} is not one the manifest names")
    flags = authenticator_data[32]
    if not flags & 0x01:
        problems.append("the authenticator did not record the user as present")
    if not flags & 0x04:
        problems.append("the authenticator did not record the user as verified")
    try:
        _alg, verify_signature = cose_public_key(cose)
    except (ValueError, TypeError) as exc:
        problems.append(f"credential public key unusable ({exc})")
        return problems
    try:
        verify_signature(signature, authenticator_data + hashlib.sha256(client_data_raw).digest())
    except InvalidSignature:
        problems.append("the passkey signature does not verify with the credential's public key")
    except (ValueError, TypeError) as exc:
        problems.append(f"the passkey signature is malformed ({exc})")
    return problems


def check_signatures(lines, expected, events):
    """Problems with the signatures (list of dicts) against the manifest's ``signatures`` entry
    and the exception.signed events of the chain."""
    problems = []
    if len(lines) != expected.get("count", 0):
        problems.append(f"signatures: {len(lines)} found, manifest says {expected.get('count', 0)}")
    signed_events = {
        e.get("subject_id"): e.get("payload") or {}
        for e in events
        if e.get("kind") == "exception.signed"
    }
    registered = {
        (e.get("payload") or {}).get("credential_id"): (e.get("payload") or {}).get(
            "public_key_sha256"
        )
        for e in events
        if e.get("kind") == "passkey.registered"
    }
    rp_ids = expected.get("rp_ids") or []
    crypto_missing = False
    seen = set()
    for line in lines:
        label = "signature of exception {} v{}".format(line.get("exception"), line.get("version"))
        missing = [
            k for k in ("exception", "method", "signed_text", "text_sha256") if k not in line
        ]
        if missing:
            problems.append("{}: missing fields {}".format(label, ", ".join(missing)))
            continue
        seen.add(line["exception"])
        digest = hashlib.sha256(line["signed_text"].encode("utf-8")).hexdigest()
        if digest != line["text_sha256"]:
            problems.append(f"{label}: the signed text does not match its SHA-256")
        event = signed_events.get(line["exception"])
        if event is not None:
            if event.get("text_sha256") != line["text_sha256"]:
                problems.append(f"{label}: the chain's exception.signed event names another text")
            if event.get("method", "password") != line["method"]:
                problems.append(
                    "{}: method {!r}, the chain's event says {!r}".format(
                        label, line["method"], event.get("method", "password")
                    )
                )
        if line["method"] != "passkey":
            continue
        try:
            key_digest = hashlib.sha256(
                b64url_decode(line.get("credential_public_key"))
            ).hexdigest()
        except (ValueError, TypeError):
            key_digest = ""
        if event is not None and event.get("public_key_sha256") not in (None, key_digest):
            problems.append(f"{label}: the public key differs from the one the chain recorded")
        if registered.get(line.get("credential_id")) not in (None, key_digest):
            problems.append(f"{label}: the public key differs from the passkey's registration")
        try:
            import cryptography  # noqa: F401
        except ImportError:
            crypto_missing = True
            continue
        problems.extend(f"{label}: {p}" for p in check_passkey_assertion(line, rp_ids))
    for subject, payload in signed_events.items():
        if payload.get("method") == "passkey" and subject not in seen:
            problems.append(
                f"exception {subject}: the chain records a passkey signature that "
                "evidence/signatures.jsonl lacks"
            )
    if crypto_missing:
        problems.append(
            "passkey signatures could not be checked: install the 'cryptography' package"
        )
    return problems


def verify(source):
    """List of problems (empty when the bundle verifies)."""
    reader = _Zip(source) if os.path.isfile(source) else _Dir(source)
    try:
        manifest = json.loads(reader.read(MANIFEST).decode("utf-8"))
    except (KeyError, OSError, ValueError) as exc:
        return [f"manifest.json unreadable: {exc}"]
    problems = []
    listed = {}
    for entry in manifest.get("files", []):
        listed[entry["path"]] = entry
        try:
            data = reader.read(entry["path"])
        except (KeyError, OSError):
            problems.append("{}: listed in the manifest but missing".format(entry["path"]))
            continue
        if len(data) != entry["size"]:
            problems.append(f"{entry['path']}: size {len(data)}, manifest says {entry['size']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append("{}: SHA-256 does not match the manifest".format(entry["path"]))
    for name in reader.names():
        if name != MANIFEST and name not in listed:
            problems.append(f"{name}: present but not listed in the manifest")
    events_info = manifest.get("events") or {}
    events_path = events_info.get("file")
    lines = []
    if events_path:
        try:
            raw = reader.read(events_path).decode("utf-8")
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except (KeyError, OSError, ValueError) as exc:
            problems.append(f"{events_path}: unreadable ({exc})")
        else:
            problems.extend(check_chain(lines, events_info, manifest.get("checkpoints")))
    signatures_info = manifest.get("signatures") or {}
    signatures_path = signatures_info.get("file")
    if signatures_path:
        try:
            raw = reader.read(signatures_path).decode("utf-8")
            signature_lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except (KeyError, OSError, ValueError) as exc:
            problems.append(f"{signatures_path}: unreadable ({exc})")
        else:
            problems.extend(check_signatures(signature_lines, signatures_info, lines))
    return problems


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    if not os.path.exists(source):
        print(f"no such bundle: {source}", file=sys.stderr)
        return 2
    problems = verify(source)
    if problems:
        for problem in problems:
            print("FAIL " + problem)
        print(
            f"bundle does NOT verify ({len(problems)} problem{'' if len(problems) == 1 else 's'})"
        )
        return 1
    print(
        "OK: every file matches manifest.json, the evidence chain recomputes and every passkey "
        "signature verifies"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
