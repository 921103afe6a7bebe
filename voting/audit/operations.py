"""Write to and verify the audit log."""

import hashlib
import hmac
import json

from flask import current_app
from sqlalchemy import select, update

from voting.audit.models import AuditEntry, AuditHead
from voting.extensions import db
from voting.timeutil import utcnow

GENESIS_HASH = "0" * 64


def _audit_key():
    key = current_app.config.get("AUDIT_KEY") or current_app.config["SECRET_KEY"]
    return hmac.new(key.encode("utf-8"), b"audit-log", hashlib.sha256).digest()


def _entry_digest(key, prev_hash, seq, created_at, actor, action, object_type, object_id, details):
    payload = json.dumps(
        [seq, created_at.isoformat(), actor, action, object_type, object_id, details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key, (prev_hash + "\n" + payload).encode("utf-8"), hashlib.sha256).hexdigest()


def record(actor, action, object_type, object_id, **details):
    """Append an entry to the audit log in the current transaction (flushes, never commits)."""
    # Taking the head row first serialises concurrent writers on both databases.
    seq = db.session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1).returning(AuditHead.seq)
    ).scalar_one()
    prev_hash = db.session.execute(select(AuditHead.last_hash).where(AuditHead.id == 1)).scalar_one()
    created_at = utcnow().replace(microsecond=0)
    details_json = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditEntry(
        seq=seq,
        created_at=created_at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details_json,
        prev_hash=prev_hash,
    )
    entry.entry_hash = _entry_digest(
        _audit_key(), prev_hash, seq, created_at, actor, action, object_type, str(object_id), details_json
    )
    db.session.add(entry)
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.entry_hash))
    db.session.flush()
    return entry


def verify(anchor=None):
    """Check the whole chain; return a list of problems (empty when the log is intact).

    The chain alone cannot show that its newest entries were cut off together with the head row.
    ``anchor`` (seq, entry hash), noted down from an earlier check, closes that gap: that entry
    must still be there, unchanged.
    """
    key = _audit_key()
    problems = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    anchor_found = False
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in rows:
        if anchor is not None and entry.seq == anchor[0]:
            anchor_found = True
            if not hmac.compare_digest(entry.entry_hash, anchor[1]):
                problems.append(f"entry {entry.seq}: differs from the noted hash")
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next entry found is {entry.seq})")
        if entry.prev_hash != expected_prev:
            problems.append(f"entry {entry.seq}: does not follow the entry before it")
        digest = _entry_digest(
            key, entry.prev_hash, entry.seq, entry.created_at, entry.actor, entry.action,
            entry.object_type, entry.object_id, entry.details,
        )
        if not hmac.compare_digest(digest, entry.entry_hash):
            problems.append(f"entry {entry.seq}: content was changed")
        expected_prev = entry.entry_hash
        expected_seq = entry.seq + 1
    if anchor is not None and not anchor_found:
        problems.append(f"entry {anchor[0]} (the noted entry) is missing")
    head = db.session.get(AuditHead, 1)
    if head is None:
        problems.append("the chain head is missing")
    else:
        if head.seq != expected_seq - 1:
            problems.append(f"the log should have {head.seq} entries but has {expected_seq - 1}")
        if head.last_hash != expected_prev:
            problems.append("the last entry is not the one the chain head recorded")
    return problems


def actor_label(user):
    """Name an organizer for the log."""
    return f"user:{user.username}" if user is not None else "system"
