"""Ballots: create, open, vote, close, count, receipts and re-votes.

Operations flush and log organizer actions; they never commit. Casting a ballot is the one
exception to "log everything": the audit log is ordered and timestamped, so an entry per
vote would undo the secrecy the two vote tables keep (see ``voting.ballots.models``).
"""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from voting.audit.operations import actor_label, record
from voting.ballots import tally
from voting.ballots.models import Ballot, BallotItem, BallotParticipation, BallotState, CastBallot, VoteMethod
from voting.ballots.paper_models import PaperBallot, PaperState
from voting.deputies.models import Deputy, DeputyDevice
from voting.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from voting.extensions import db
from voting.meetings.models import MeetingMember
from voting.meetings.operations import attendance_of
from voting.timeutil import utcnow
from voting.tokens import token_hash

MAX_ITEMS = 100
MAX_TITLE = 200
MIN_COUNTDOWN, MAX_COUNTDOWN = 10, 24 * 3600
MAX_IDEMPOTENCY_KEY = 200

# A pasted list often keeps its numbering or bullets ("1、", "(2)", "- "); a number that is
# part of the title ("2024年", "1.5公里") is kept.
_LIST_MARKER = re.compile(r"^(?:[-*•·]\s+|[(（]\d{1,3}[)）]\s*|\d{1,3}(?:[、)）]|\.\s)\s*)")


def get_ballot(ballot_id):
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None:
        raise NotFound(_l("No such ballot."), code="ballot_not_found")
    return ballot


def list_ballots(meeting):
    return db.session.scalars(select(Ballot).where(Ballot.meeting_id == meeting.id).order_by(Ballot.id)).all()


# -- creating and changing a draft -------------------------------------------------------------


def parse_items(items):
    """Return item titles from a list or from pasted text, one item a line."""
    if isinstance(items, str):
        items = items.splitlines()
    titles = []
    for line in items or []:
        if not isinstance(line, str):
            raise Invalid(_l("Each item must be text."), code="invalid_item_title")
        title = _LIST_MARKER.sub("", line.replace("\u3000", " ").strip()).strip()
        if title:
            titles.append(title)
    return titles


def _clean_items(items):
    titles = parse_items(items)
    if not 1 <= len(titles) <= MAX_ITEMS:
        raise Invalid(
            _l("A ballot needs 1 to %(max)s items; this one has %(count)s.", max=MAX_ITEMS, count=len(titles)),
            code="invalid_items",
        )
    seen = {}
    for position, title in enumerate(titles, start=1):
        if len(title) > MAX_TITLE:
            raise Invalid(
                _l("Item %(position)s is longer than %(max)s characters.", position=position, max=MAX_TITLE),
                code="invalid_item_title",
            )
        if title in seen:
            raise Invalid(
                _l(
                    "Item %(position)s repeats item %(other)s: %(title)s.",
                    position=position,
                    other=seen[title],
                    title=title,
                ),
                code="duplicate_item",
            )
        seen[title] = position
    return titles


def _clean_settings(settings, item_count):
    """Validate a ballot's settings as a whole; return them cleaned."""
    clean = dict(settings)
    title = (clean.get("title") or "").strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise Invalid(_l("A title of 1 to 200 characters is required."), code="invalid_title")
    clean["title"] = title
    try:
        form = tally.Form(clean.get("form"))
    except ValueError:
        raise Invalid(_l("Unknown ballot form."), code="invalid_form") from None
    clean["form"] = form.value
    places = clean.get("places")
    if form == tally.Form.CHOOSE:
        if not isinstance(places, int) or isinstance(places, bool) or not 1 <= places <= item_count:
            raise Invalid(
                _l(
                    "The number of places must be between 1 and the number of candidates (%(count)s).", count=item_count
                ),
                code="invalid_places",
            )
    elif places is not None:
        raise Invalid(_l("Only a choose-K-of-M ballot has a number of places."), code="invalid_places")
    for name in ("secret", "last_submission_counts", "results_live", "threshold_strict"):
        if not isinstance(clean.get(name), bool):
            raise Invalid(_l("Choose yes or no for each setting of the ballot."), code="invalid_setting")
    countdown = clean.get("countdown_seconds")
    if countdown is not None and (not isinstance(countdown, int) or not MIN_COUNTDOWN <= countdown <= MAX_COUNTDOWN):
        raise Invalid(
            _l(
                "A countdown must be between %(min)s seconds and %(hours)s hours.",
                min=MIN_COUNTDOWN,
                hours=MAX_COUNTDOWN // 3600,
            ),
            code="invalid_countdown",
        )
    try:
        tally.Threshold(
            clean["threshold_numerator"],
            clean["threshold_denominator"],
            bool(clean["threshold_strict"]),
            tally.Base(clean["threshold_base"]),
        )
    except (ValueError, TypeError):
        raise Invalid(
            _l(
                "The adoption rule must be a fraction between 0 and 1 of all expected deputies, "
                "those present or the ballots cast."
            ),
            code="invalid_threshold",
        ) from None
    if clean["threshold_denominator"] > 100:
        raise Invalid(_l("The adoption rule's denominator may be at most 100."), code="invalid_threshold")
    return clean


_SETTINGS = (
    "title",
    "form",
    "places",
    "secret",
    "last_submission_counts",
    "results_live",
    "countdown_seconds",
    "threshold_numerator",
    "threshold_denominator",
    "threshold_strict",
    "threshold_base",
)

_DEFAULTS = {
    "places": None,
    "secret": True,
    "last_submission_counts": False,
    "results_live": False,
    "countdown_seconds": None,
    "threshold_numerator": 1,
    "threshold_denominator": 2,
    "threshold_strict": True,
    "threshold_base": tally.Base.EXPECTED.value,
}


def _replace_items(ballot, titles):
    # Delete first and flush: the unit of work would insert the new positions before deleting
    # the old ones and trip UNIQUE(ballot_id, position).
    if ballot.id is not None:
        db.session.execute(delete(BallotItem).where(BallotItem.ballot_id == ballot.id))
        db.session.expire(ballot, ["items"])
    ballot.items = [BallotItem(position=i, title=t) for i, t in enumerate(titles, start=1)]


def create_ballot(actor, meeting, title, form, items, **settings):
    """Create a draft ballot in a meeting; items are a list or pasted text, one a line."""
    unknown = set(settings) - set(_SETTINGS)
    if unknown:
        raise TypeError(f"unknown ballot settings: {sorted(unknown)}")
    titles = _clean_items(items)
    clean = _clean_settings({**_DEFAULTS, **settings, "title": title, "form": form}, len(titles))
    ballot = Ballot(meeting_id=meeting.id, state=BallotState.DRAFT.value, **clean)
    _replace_items(ballot, titles)
    db.session.add(ballot)
    db.session.flush()
    record(actor_label(actor), "ballot.create", "ballot", ballot.id, meeting_id=meeting.id, items=len(titles), **clean)
    return ballot


def update_ballot(actor, ballot, items=None, **changes):
    """Change a draft ballot's settings or items; once open, its rules cannot change."""
    if ballot.state != BallotState.DRAFT:
        raise Conflict(_l("The ballot is open or closed; its rules can no longer change."), code="invalid_state")
    unknown = set(changes) - set(_SETTINGS)
    if unknown:
        raise TypeError(f"unknown ballot settings: {sorted(unknown)}")
    titles = _clean_items(items) if items is not None else [item.title for item in ballot.items]
    current = {name: getattr(ballot, name) for name in _SETTINGS}
    clean = _clean_settings({**current, **changes}, len(titles))
    changed = {name: value for name, value in clean.items() if value != current[name]}
    for name, value in changed.items():
        setattr(ballot, name, value)
    if items is not None and titles != [item.title for item in ballot.items]:
        _replace_items(ballot, titles)
        changed["items"] = len(titles)
    db.session.flush()
    if changed:  # a save that changed nothing is not an action worth a line in the log
        record(actor_label(actor), "ballot.update", "ballot", ballot.id, **changed)
    return ballot


# -- opening and closing -------------------------------------------------------------------------


def _lock(ballot):
    """Reload the ballot with its row locked (PostgreSQL), so state changes and votes queue up."""
    db.session.refresh(ballot, with_for_update=True)


def open_ballot(actor, ballot):
    """Open the ballot for voting, if the quorum is met; an optional countdown sets the closing time."""
    _lock(ballot)
    counts = attendance_of(ballot.meeting)
    if ballot.state == BallotState.DRAFT and not counts.quorum_met:
        raise Conflict(
            _l(
                "The quorum is not met: %(present)s of %(expected)s expected deputies are present, "
                "%(required)s are required.",
                present=counts.present,
                expected=counts.expected,
                required=counts.quorum_required,
            ),
            code="quorum_not_met",
            details={"expected": counts.expected, "present": counts.present, "required": counts.quorum_required},
        )
    ballot.transition(BallotState.OPEN)
    ballot.opened_at = utcnow()
    if ballot.countdown_seconds:
        ballot.closes_at = ballot.opened_at + timedelta(seconds=ballot.countdown_seconds)
    db.session.flush()
    record(
        actor_label(actor),
        "ballot.open",
        "ballot",
        ballot.id,
        expected=counts.expected,
        present=counts.present,
        quorum_required=counts.quorum_required,
        closes_at=ballot.closes_at.isoformat() if ballot.closes_at else None,
    )
    return ballot


def close_ballot(actor, ballot):
    """Close the ballot, take the turnout as it stands and freeze the ballots cast."""
    _lock(ballot)
    ballot.transition(BallotState.CLOSED)
    ballot.closed_at = utcnow()
    counts = attendance_of(ballot.meeting)
    ballot.turnout_expected, ballot.turnout_present = counts.expected, counts.present
    # The UPDATE waits (PostgreSQL) for votes that hold the ballot's row; none can start after it.
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        _rewrite_vote_rows(ballot.id)
    figures = reconcile(ballot)
    record(
        actor_label(actor),
        "ballot.close",
        "ballot",
        ballot.id,
        expected=counts.expected,
        present=counts.present,
        voters=figures.voters,
        ballots=figures.ballots,
        valid=figures.valid,
        void=figures.void,
    )
    return ballot


def _rewrite_vote_rows(ballot_id):
    """Write a ballot's participation and cast-ballot rows again in one transaction, in key order.

    Heap order and xmin of the original rows follow the order and transactions of voting, in
    both tables alike; afterwards every row of both has this transaction's xmin and a place
    in the heap set by its key (the deputy id; the random key of the cast ballot).
    """
    for model, order in ((BallotParticipation, BallotParticipation.deputy_id), (CastBallot, CastBallot.id)):
        table = model.__table__
        rows = db.session.execute(select(table).where(table.c.ballot_id == ballot_id).order_by(order)).mappings().all()
        if rows:
            db.session.execute(delete(table).where(table.c.ballot_id == ballot_id))
            db.session.execute(insert(table), [dict(row) for row in rows])


# -- voting ------------------------------------------------------------------------------------


_RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes
RECEIPT_LENGTH = 10


def receipt_for(device_token, ballot_id):
    """Return this phone's receipt for a ballot, e.g. ``K7QX2-MNP8R``.

    An HMAC keyed with the phone's device token: the same phone always gets the same receipt
    (a retry is recognised), while the database, which holds only the token's hash, can
    neither compute nor match it.
    """
    digest = hmac.new(device_token.encode("utf-8"), f"ballot-receipt:{ballot_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    symbols = []
    for _ in range(RECEIPT_LENGTH):
        number, index = divmod(number, len(_RECEIPT_ALPHABET))
        symbols.append(_RECEIPT_ALPHABET[index])
    half = RECEIPT_LENGTH // 2
    return "".join(symbols[:half]) + "-" + "".join(symbols[half:])


def _malformed():
    return Invalid(
        _l("The ballot paper is not valid for this ballot. Please reload the ballot and vote again."),
        code="invalid_choices",
    )


def _item_id(key, item_ids):
    if isinstance(key, bool):
        raise _malformed()
    if isinstance(key, str) and key.isascii() and key.isdigit():
        key = int(key)
    if not isinstance(key, int) or key not in item_ids:
        raise _malformed()
    return key


def normalize_choices(ballot, choices):
    """Check a ballot paper against the ballot; return its canonical JSON and whether it is valid.

    Choose-K-of-M: a list of ticked item ids; more than K ticks is a void paper (废票), stored
    and counted as invalid. Per item and rating: item id -> choice; an item left out is not
    voted on. Anything else (unknown items or choices, repeated ticks) is refused.
    """
    return _normalize(ballot.form, ballot.places, {item.id for item in ballot.items}, choices)


def _normalize(form, places, item_ids, choices):
    if form == tally.Form.CHOOSE:
        if not isinstance(choices, list | tuple):
            raise _malformed()
        ticked = [_item_id(key, item_ids) for key in choices]
        if len(set(ticked)) != len(ticked):
            raise _malformed()
        return json.dumps(sorted(ticked), separators=(",", ":")), len(ticked) <= places
    allowed = tally.PER_ITEM_CHOICES if form == tally.Form.PER_ITEM else tally.RATING_CHOICES
    if not isinstance(choices, dict):
        raise _malformed()
    paper = {}
    for key, choice in choices.items():
        item_id = _item_id(key, item_ids)
        if item_id in paper or not isinstance(choice, str) or choice not in allowed:
            raise _malformed()
        paper[item_id] = choice
    return json.dumps({str(k): paper[k] for k in sorted(paper)}, separators=(",", ":")), True


@dataclass(frozen=True)
class CastResult:
    receipt: str
    valid: bool
    repeated: bool = False  # a retry of a ballot already counted
    replaced: bool = False  # "last submission counts": this paper replaced the earlier one


def _check_idempotency_key(key):
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        raise Invalid(
            _l("The Idempotency-Key header must be 1 to 200 printable ASCII characters."),
            code="invalid_idempotency_key",
        )


def _open_now(ballot_id, now):
    return exists().where(
        Ballot.id == ballot_id,
        Ballot.state == BallotState.OPEN.value,
        (Ballot.closes_at.is_(None)) | (Ballot.closes_at > now),
    )


def _hold_open_ballot(ballot_id):
    """On PostgreSQL, share-lock the ballot's row: closing waits for this vote, and a vote after close sees it."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Ballot.id).where(Ballot.id == ballot_id).with_for_update(read=True))


@dataclass(frozen=True)
class _Rules:
    """What a ballot paper is checked against. Frozen once the ballot opens (``update_ballot`` refuses)."""

    ballot_id: int
    meeting_id: int
    opened_at: datetime | None
    form: str
    places: int | None
    secret: bool
    item_ids: frozenset

    @classmethod
    def of(cls, ballot):
        return cls(
            ballot.id,
            ballot.meeting_id,
            ballot.opened_at,
            ballot.form,
            ballot.places,
            ballot.secret,
            frozenset(item.id for item in ballot.items),
        )


# The rules of ballots that have opened, per process, keyed by ballot id: a phone's vote then reads
# neither the ballot nor its items. An entry is used only with its ``opened_at``, which the vote's
# INSERT checks against the ballot row (so a stale entry can never admit a paper), and an entry is
# checked again before its rules refuse a paper. Rules only: nothing about any vote.
_OPEN_RULES = {}
_OPEN_RULES_MAX = 256


def _cached_rules(ballot_id):
    """Return (rules, whether they came from the cache); NotFound if there is no such ballot."""
    rules = _OPEN_RULES.get(ballot_id)
    if rules is not None:
        return rules, True
    rules = _Rules.of(get_ballot(ballot_id))
    if rules.opened_at is not None:
        if len(_OPEN_RULES) >= _OPEN_RULES_MAX:
            _OPEN_RULES.clear()
        _OPEN_RULES[ballot_id] = rules
    return rules, False


_OPENED_AT = select(Ballot.__table__.c.opened_at).where(Ballot.__table__.c.id == bindparam("ballot_id"))


def _rules_are_stale(rules):
    """Whether cached rules are not (or no longer) those of the ballot in this database."""
    opened_at = db.session.connection().execute(_OPENED_AT, {"ballot_id": rules.ballot_id}).first()
    if opened_at is not None and opened_at[0] == rules.opened_at:
        return False
    _OPEN_RULES.pop(rules.ballot_id, None)
    return True


def _vote_statement():
    """INSERT the participation row of the phone's deputy; RETURNING the deputy id, or nothing.

    Authenticates the phone (a live binding of an active deputy, by its token's hash) and checks
    that the ballot is open now, was opened when ``rules`` say, and that the deputy is signed in
    to its meeting, all in the one statement (on PostgreSQL holding the ballot's row as
    ``_hold_open_ballot`` does). Built once: building it per vote cost more than
    running it (docs/BENCHMARKS.md).
    """
    device, deputy = DeputyDevice.__table__, Deputy.__table__
    ballot, member = Ballot.__table__, MeetingMember.__table__
    participation = BallotParticipation.__table__
    now = bindparam("now", type_=ballot.c.closes_at.type)
    ballot_id = bindparam("ballot_id", type_=ballot.c.id.type)
    return (
        insert(participation)
        .from_select(
            ["ballot_id", "deputy_id", "method"],
            select(ballot_id, device.c.deputy_id, bindparam("method", type_=participation.c.method.type))
            .join_from(device, deputy, deputy.c.id == device.c.deputy_id)
            .where(
                device.c.token_hash == bindparam("token_hash"),
                device.c.revoked_at.is_(None),
                device.c.expires_at > now,
                deputy.c.active.is_(True),
                # PostgreSQL share-locks the ballot's row (FOR SHARE; SQLite has no row locks and
                # one writer at a time): closing waits for this vote, and a vote after close sees it.
                select(ballot.c.id)
                .where(
                    ballot.c.id == ballot_id,
                    ballot.c.state == BallotState.OPEN.value,
                    ballot.c.closes_at.is_(None) | (ballot.c.closes_at > now),
                    ballot.c.opened_at == bindparam("opened_at", type_=ballot.c.opened_at.type),
                )
                .with_for_update(read=True)
                .exists(),
                exists().where(
                    member.c.meeting_id == bindparam("meeting_id"),
                    member.c.deputy_id == device.c.deputy_id,
                    member.c.checked_in_at.is_not(None),
                ),
            ),
        )
        .returning(participation.c.deputy_id)
    )


_VOTE = _vote_statement()
_PAPER = insert(CastBallot.__table__)


def cast_ballot(ballot, device, device_token, choices, idempotency_key=None):
    """Record a deputy's ballot paper from their phone; return the receipt.

    One INSERT records that the deputy voted, conditional on the phone being live, the ballot
    being open and the deputy being signed in to its meeting; its primary key refuses a second
    ballot under any race. The paper itself goes into a separate row in the same transaction.
    A repeated submission from the same phone (same receipt) with the same choices gets the
    same receipt back, so an ``Idempotency-Key`` retry is safe; the receipt is the retry's
    identity, so the key itself is checked but never stored (storing it would be a link).
    ``device`` is the phone's binding as the caller found it; the INSERT checks it again by its
    token, so a phone revoked in between cannot vote.
    """
    return _cast(_Rules.of(ballot), token_hash(device_token), device_token, choices, idempotency_key)


def cast_ballot_by_token(ballot_id, device_token, choices, idempotency_key=None, device_token_hash=None):
    """``cast_ballot`` for a phone known only by its token (the API): nothing is read before the INSERT.

    The ballot's rules come from this process's cache of opened ballots (see ``_OPEN_RULES``) and
    the phone is authenticated by the INSERT itself; an unknown or revoked phone gets 401
    ``token_invalid``, as everywhere.
    """
    rules, cached = _cached_rules(ballot_id)
    hashed = device_token_hash or token_hash(device_token)
    try:
        return _cast(rules, hashed, device_token, choices, idempotency_key, cached)
    except _StaleRules:
        return _cast(_cached_rules(ballot_id)[0], hashed, device_token, choices, idempotency_key)


class _StaleRules(Exception):
    """Cached rules turned out not to be the ballot's: read them again and start over."""


def _cast(rules, hashed, device_token, choices, idempotency_key, cached=False):
    _check_idempotency_key(idempotency_key)
    try:
        payload, valid = _normalize(rules.form, rules.places, rules.item_ids, choices)
    except Invalid:
        if cached and _rules_are_stale(rules):
            raise _StaleRules from None
        raise
    ballot_id = rules.ballot_id
    receipt = receipt_for(device_token, ballot_id)
    now = utcnow()
    connection = db.session.connection()
    try:
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... SELECT.
        deputy_id = connection.execute(
            _VOTE,
            {
                "ballot_id": ballot_id,
                "method": VoteMethod.PHONE.value,
                "token_hash": hashed,
                "now": now,
                "opened_at": rules.opened_at,
                "meeting_id": rules.meeting_id,
            },
        ).scalar()
        if deputy_id is None:
            if cached and _rules_are_stale(rules):
                raise _StaleRules
            _explain_refused_vote(ballot_id, rules.meeting_id, _deputy_of(hashed).deputy_id, now)
        connection.execute(
            _PAPER,
            {
                "id": secrets.token_hex(16),
                "ballot_id": ballot_id,
                "receipt": receipt,
                "choices": payload,
                "valid": valid,
                "deputy_id": None if rules.secret else deputy_id,
            },
        )
    except IntegrityError:
        # This request did nothing else, so the whole transaction can go; the second look
        # below runs in a fresh one and sees the ballot that won the race.
        db.session.rollback()
        return _repeat_vote(ballot_id, _deputy_of(hashed).deputy_id, receipt, payload, valid, now)
    return CastResult(receipt, valid)


def _deputy_of(hashed):
    """The live device of a token hash, or 401 ``token_invalid``."""
    from voting.deputies.operations import device_for_token_hash

    device = device_for_token_hash(hashed)
    if device is None:
        raise Unauthorized(_l("Unknown or revoked device token."), code="token_invalid")
    return device


def _repeat_vote(ballot_id, deputy_id, receipt, payload, valid, now):
    """Answer a second submission: the same receipt for a retry, a replacement, or 409."""
    ballot = get_ballot(ballot_id)
    participation = db.session.get(BallotParticipation, (ballot_id, deputy_id))
    if participation is None:
        # Not a second vote: another phone's receipt collided with this one (about 1 in 10^15).
        raise Conflict(
            _l("Your vote could not be recorded. Please ask the staff for a paper ballot."), code="receipt_collision"
        )
    earlier = db.session.scalar(
        select(CastBallot).where(CastBallot.ballot_id == ballot_id, CastBallot.receipt == receipt)
    )
    if earlier is not None and earlier.choices == payload:
        return CastResult(receipt, earlier.valid, repeated=True)
    if earlier is None and participation.method == VoteMethod.PAPER:
        raise Conflict(
            _l("The staff have recorded your paper ballot for this ballot, so you cannot also vote by phone."),
            code="voted_on_paper",
        )
    if earlier is None or not ballot.last_submission_counts:
        # earlier is None: this deputy voted from another phone.
        raise Conflict(_l("You have already voted on this ballot."), code="already_voted")
    _hold_open_ballot(ballot_id)
    changed = db.session.execute(
        update(CastBallot)
        .where(CastBallot.id == earlier.id, _open_now(ballot_id, now))
        .values(choices=payload, valid=valid)
        .returning(CastBallot.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        _explain_refused_vote(ballot_id, ballot.meeting_id, deputy_id, now)
    return CastResult(receipt, valid, replaced=True)


def _explain_refused_vote(ballot_id, meeting_id, deputy_id, now):
    ballot = db.session.get(Ballot, ballot_id, populate_existing=True)
    if ballot.state == BallotState.DRAFT:
        raise Conflict(_l("Voting on this ballot has not opened yet."), code="ballot_not_open")
    if ballot.state == BallotState.CLOSED:
        raise Conflict(_l("Voting on this ballot has closed."), code="ballot_closed")
    if ballot.closes_at is not None and ballot.closes_at <= now:
        raise Conflict(_l("The time for voting on this ballot is up."), code="ballot_time_up")
    member = db.session.get(MeetingMember, (meeting_id, deputy_id), populate_existing=True)
    if member is None:
        raise Forbidden(
            _l("You are not expected at this meeting, so you cannot vote on this ballot."), code="not_a_member"
        )
    if member.checked_in_at is None:
        raise Forbidden(_l("Sign in to the meeting first; only deputies who signed in may vote."), code="not_signed_in")
    raise Conflict(_l("Your vote did not go through. Please try again."), code="vote_failed")


# -- counting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    """Counts that must agree: receipts = ballots = voters (DOMAIN.md B).

    Paper ballots handed in but not yet counted (entered once, or with differing entries) are
    ``papers_pending``: they are among the voters and not among the ballots, so the counts
    agree only once every paper is counted.
    """

    voters: int
    ballots: int
    receipts: int
    valid: int
    void: int
    paper_voters: int = 0  # deputies who handed in a paper (among ``voters``)
    paper_ballots: int = 0  # papers counted (among ``ballots``)
    paper_mismatches: int = 0  # papers whose two entries differ, waiting to be settled

    @property
    def papers_pending(self):
        return max(self.paper_voters - self.paper_ballots, 0)


def _paper_counts(ballot_id):
    paper_voters = db.session.scalar(
        select(func.count())
        .select_from(BallotParticipation)
        .where(BallotParticipation.ballot_id == ballot_id, BallotParticipation.method == VoteMethod.PAPER.value)
    )
    states = dict(
        db.session.execute(
            select(PaperBallot.state, func.count())
            .where(PaperBallot.ballot_id == ballot_id)
            .group_by(PaperBallot.state)
        ).all()
    )
    return paper_voters, states.get(PaperState.COUNTED.value, 0), states.get(PaperState.MISMATCH.value, 0)


def reconcile(ballot):
    """Count voters, ballots (valid and void), receipts and the papers still to count of a ballot."""
    voters = db.session.scalar(
        select(func.count()).select_from(BallotParticipation).where(BallotParticipation.ballot_id == ballot.id)
    )
    by_validity = dict(
        db.session.execute(
            select(CastBallot.valid, func.count()).where(CastBallot.ballot_id == ballot.id).group_by(CastBallot.valid)
        ).all()
    )
    receipts = db.session.scalar(
        select(func.count(func.distinct(CastBallot.receipt))).where(CastBallot.ballot_id == ballot.id)
    )
    valid, void = by_validity.get(True, 0), by_validity.get(False, 0)
    return Reconciliation(voters, valid + void, receipts, valid, void, *_paper_counts(ballot.id))


def count_voters(ballot):
    """Return how many deputies have voted so far (never how)."""
    return db.session.scalar(
        select(func.count()).select_from(BallotParticipation).where(BallotParticipation.ballot_id == ballot.id)
    )


@dataclass(frozen=True)
class BallotResults:
    ballot: Ballot
    result: tally.Result
    turnout: tally.Turnout
    voters: int
    did_not_vote: int  # 未按: present deputies who cast no ballot
    final: bool  # False while the ballot is open (live results) or papers handed in are not all counted
    papers_pending: int = 0  # paper ballots handed in and not yet counted: not in ``result``


def threshold_of(ballot):
    return tally.Threshold(
        ballot.threshold_numerator,
        ballot.threshold_denominator,
        ballot.threshold_strict,
        tally.Base(ballot.threshold_base),
    )


def _papers(ballot):
    """Read the ballot's papers as ``tally`` takes them.

    Every paper is one JSON document, so all of them are parsed at once as one array: for
    3,000 papers that takes 40% less CPU than parsing them one by one (bench/ballot_report.py).
    """
    stored = db.session.scalars(select(CastBallot.choices).where(CastBallot.ballot_id == ballot.id)).all()
    papers = json.loads("[" + ",".join(stored) + "]")
    if ballot.form == tally.Form.CHOOSE:
        return papers
    return [{int(key): choice for key, choice in paper.items()} for paper in papers]


def results(ballot):
    """Count the ballot: after close, or while open when its results are live."""
    state = ballot.state_enum
    if not (state == BallotState.CLOSED or (state == BallotState.OPEN and ballot.results_live)):
        raise Conflict(_l("Results are shown after the ballot closes."), code="results_hidden")
    if state == BallotState.CLOSED:
        turnout = tally.Turnout(ballot.turnout_expected, ballot.turnout_present)
    else:
        counts = attendance_of(ballot.meeting)
        turnout = tally.Turnout(counts.expected, counts.present)
    papers = _papers(ballot)
    item_ids = [item.id for item in ballot.items]
    threshold = threshold_of(ballot)
    if ballot.form == tally.Form.PER_ITEM:
        result = tally.tally_per_item(item_ids, papers, turnout, threshold)
    elif ballot.form == tally.Form.CHOOSE:
        result = tally.tally_choose(item_ids, ballot.places, papers, turnout, threshold)
    else:
        result = tally.tally_rating(item_ids, papers, turnout, threshold)
    voters = count_voters(ballot)
    paper_voters, paper_ballots, _ = _paper_counts(ballot.id)
    pending = max(paper_voters - paper_ballots, 0)
    return BallotResults(
        ballot,
        result,
        turnout,
        voters,
        max(turnout.present - voters, 0),
        final=state == BallotState.CLOSED and not pending,
        papers_pending=pending,
    )


def list_receipts(ballot):
    """Return the receipts of a closed ballot, sorted so their order reveals nothing."""
    if ballot.state != BallotState.CLOSED:
        raise Conflict(_l("Receipt codes are published after the ballot closes."), code="ballot_not_closed")
    return db.session.scalars(
        select(CastBallot.receipt).where(CastBallot.ballot_id == ballot.id).order_by(CastBallot.receipt)
    ).all()


# -- re-votes ----------------------------------------------------------------------------------


def start_revote(actor, ballot, item_ids=None):
    """Start a draft re-vote among items tied at the adoption boundary, for the places left."""
    if ballot.state != BallotState.CLOSED:
        raise Conflict(_l("A re-vote can only follow a closed ballot."), code="ballot_not_closed")
    if ballot.form != tally.Form.CHOOSE:
        raise Conflict(_l("Only a choose-K-of-M ballot can end in a tie for the last places."), code="no_tie")
    counting = results(ballot)
    if counting.papers_pending:
        raise Conflict(
            _l(
                "Count every paper ballot before starting a re-vote: %(count)s still to count.",
                count=counting.papers_pending,
            ),
            code="papers_pending",
        )
    counted = counting.result
    tied = list(counted.tied_items)
    if not tied:
        raise Conflict(_l("No items are tied at the adoption boundary."), code="no_tie")
    chosen = tied if item_ids is None else list(dict.fromkeys(item_ids))
    places = ballot.places - sum(1 for item in counted.items if item.passed)
    if not set(chosen) <= set(tied) or len(chosen) <= places:
        raise Invalid(
            _l("Choose more than %(places)s of the tied items for the re-vote.", places=places),
            code="invalid_revote_items",
        )
    titles = {item.id: item.title for item in ballot.items}
    settings = {name: getattr(ballot, name) for name in _SETTINGS if name not in ("title", "form", "places")}
    revote = create_ballot(
        actor,
        ballot.meeting,
        str(_l("%(title)s (re-vote)", title=ballot.title))[:MAX_TITLE],
        ballot.form,
        [titles[i] for i in chosen],
        places=places,
        **settings,
    )
    revote.revote_of_id = ballot.id
    db.session.flush()
    record(
        actor_label(actor),
        "ballot.start_revote",
        "ballot",
        ballot.id,
        revote_id=revote.id,
        items=[titles[i] for i in chosen],
        places=places,
    )
    return revote
