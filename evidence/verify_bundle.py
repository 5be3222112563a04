#!/usr/bin/env python3
"""Offline verifier of a PatchOps evidence bundle. Standard library only.

Usage:
    python verify_bundle.py BUNDLE.zip        # check a bundle archive
    python verify_bundle.py [DIRECTORY]       # an extracted bundle (default: this folder)

Checks that every file listed in manifest.json has the recorded SHA-256 and size, that no file
was added, that the included events agree with every chain head an earlier report witnessed
(manifest "checkpoints"), and recomputes the hash chain of the included evidence events:
    hash = sha256(prev_hash + canonical_json(content))
where canonical_json is JSON with sorted keys, no spaces, UTF-8 kept, and content holds uuid,
sequence, occurred_at, kind, actor, subject_type, subject_id and payload. Exit status 0 when
everything matches, 1 when anything does not (each problem is printed), 2 on unusable input.
"""

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
    if events_path:
        try:
            raw = reader.read(events_path).decode("utf-8")
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except (KeyError, OSError, ValueError) as exc:
            problems.append(f"{events_path}: unreadable ({exc})")
        else:
            problems.extend(check_chain(lines, events_info, manifest.get("checkpoints")))
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
    print("OK: every file matches manifest.json and the evidence chain recomputes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
