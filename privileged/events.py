"""Event kinds of the privileged account register (see ``evidence.contract``).

Account events carry the account's identity (``uuid``, ``kind``, ``name``, ``identifier``) and
never a secret (the register holds none). Overdue rotations and reviews are ``privileged_issue``
events; a leaver's checklist records one event per ticked item and one when it is complete.
"""

from __future__ import annotations

from evidence.contract import BOOL, DATE, INT, OBJECT, STR, UUID, declare, list_of, nullable

_ACCOUNT = {"uuid": UUID, "kind": STR, "name": STR, "identifier": STR}

declare(
    "privileged_account.created",
    subject="privileged_account",
    label="Privileged account registered",
    fields={
        **_ACCOUNT,
        "owner": STR,
        "mfa_state": STR,
        "systems": list_of(UUID),
        "rotation_interval_days": INT,
        "review_interval_days": INT,
    },
    summary=lambda p: f"{p['name']} ({p['kind'].replace('_', '-')}) registered, owner {p['owner']}",
)
declare(
    "privileged_account.changed",
    subject="privileged_account",
    label="Privileged account changed",
    fields={**_ACCOUNT, "changed": list_of(STR), "before": OBJECT, "after": OBJECT},
    summary=lambda p: f"{p['name']}: {', '.join(p['changed'])} changed",
)
declare(
    "privileged_account.rotated",
    subject="privileged_account",
    label="Privileged credential rotated",
    fields={**_ACCOUNT, "rotated_on": DATE, "previous": nullable(DATE), "note": STR},
    summary=lambda p: f"{p['name']}: credential rotated on {p['rotated_on']}",
)
declare(
    "privileged_account.reviewed",
    subject="privileged_account",
    label="Privileged account reviewed",
    fields={**_ACCOUNT, "reviewed_on": DATE, "previous": nullable(DATE), "note": STR},
    summary=lambda p: f"{p['name']}: access reviewed on {p['reviewed_on']}",
)
declare(
    "privileged_account.used",
    subject="privileged_account",
    label="Break-glass account used",
    fields={**_ACCOUNT, "used_on": DATE, "note": STR},
    summary=lambda p: f"{p['name']} used on {p['used_on']}: a rotation is due",
)
for _kind, _label, _verb in (
    ("privileged_account.disabled", "Privileged account disabled", "disabled"),
    ("privileged_account.enabled", "Privileged account enabled again", "enabled again"),
):
    declare(
        _kind,
        subject="privileged_account",
        label=_label,
        fields={**_ACCOUNT, "reason": STR},
        summary=lambda p, verb=_verb: f"{p['name']} {verb}: {p['reason']}",
    )

_ISSUE = {
    "uuid": UUID,
    "account": UUID,
    "account_name": STR,
    "issue": STR,
    "due_on": DATE,
    "resolve_by": DATE,
}
declare(
    "privileged_issue.opened",
    subject="privileged_issue",
    label="Privileged account overdue",
    fields={**_ISSUE, "grace_days": INT},
    summary=lambda p: (
        f"{p['account_name']}: {p['issue'].replace('_', ' ')} since {p['due_on']} "
        f"(resolve by {p['resolve_by']})"
    ),
)
declare(
    "privileged_issue.resolved",
    subject="privileged_issue",
    label="Privileged account overdue resolved",
    fields={**_ISSUE, "resolution": STR, "within_sla": BOOL},
    summary=lambda p: f"{p['account_name']}: {p['issue'].replace('_', ' ')} resolved",
)
declare(
    "privileged.grace_changed",
    subject="client",
    label="Grace days for overdue privileged accounts changed",
    fields={"grace_days": INT, "was": INT},
)

_CHECKLIST = {"uuid": UUID, "person_email": STR, "person_name": STR}
declare(
    "offboarding.started",
    subject="offboarding",
    label="Offboarding checklist started",
    fields={**_CHECKLIST, "source": STR, "left_on": DATE, "items": INT},
    summary=lambda p: f"Offboarding of {p['person_email']}: {p['items']} item(s) to do",
)
declare(
    "offboarding.item_done",
    subject="offboarding",
    label="Offboarding item done",
    fields={
        **_CHECKLIST,
        "action": STR,
        "account": nullable(UUID),
        "account_name": STR,
        "done_by": STR,
        "note": STR,
    },
    summary=lambda p: (
        f"Offboarding of {p['person_email']}: {p['action'].replace('_', ' ')} "
        f"{p['account_name']} done by {p['done_by']}"
    ),
)
declare(
    "offboarding.completed",
    subject="offboarding",
    label="Offboarding checklist completed",
    fields={**_CHECKLIST, "items": INT},
    summary=lambda p: f"Offboarding of {p['person_email']} complete ({p['items']} item(s))",
)
