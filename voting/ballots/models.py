"""Ballots, their items, who voted and what was voted.

Secrecy (DOMAIN.md B): WHO voted (``BallotParticipation``) and WHAT was voted (``CastBallot``)
live in two tables that share nothing but the ballot id. Neither has a timestamp; a cast
ballot's key is random and its receipt is an HMAC keyed with the phone's device token, which
the database never stores in plain text, so reading every row cannot pair a deputy with a
choice. Named (记名) ballots carry ``deputy_id`` on the cast ballot on purpose.

Insertion order is the remaining link:

- SQLite: both tables are WITHOUT ROWID, so rows are stored in primary-key order (the
  random key for cast ballots, the deputy id for participation), not in the order of voting.
  Freed pages and the WAL file may still hold older page images until a checkpoint
  overwrites them; run with ``PRAGMA secure_delete`` and checkpoint after close if the
  database file itself is handed to someone.
- PostgreSQL: heap order (ctid) and the writing transaction id (xmin) of rows written in
  one transaction would pair a participation row with its cast ballot. Closing a ballot
  therefore rewrites all of its participation and cast-ballot rows in one transaction, in
  key order (copy out, delete, insert again), so every one of them then has the same xmin
  and a physical order unrelated to the voting order. The dead tuples stay on disk until
  VACUUM reclaims them. Until the ballot is closed, and in
  write-ahead log archives, the link exists; so does any live observer of the server
  process. The guarantee covers reading the stored data after close.
"""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.ballots.tally import Base as ThresholdBase
from voting.ballots.tally import Form
from voting.errors import Conflict
from voting.extensions import db
from voting.meetings.models import Meeting
from voting.timeutil import utcnow


class BallotState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self):
        return {
            BallotState.DRAFT: _l("Draft"),
            BallotState.OPEN: _l("Open for voting"),
            BallotState.CLOSED: _l("Closed"),
        }[self]


_TRANSITIONS = {
    BallotState.DRAFT: {BallotState.OPEN},
    BallotState.OPEN: {BallotState.CLOSED},
    BallotState.CLOSED: set(),
}


class VoteMethod(enum.StrEnum):
    PHONE = "phone"
    PAPER = "paper"


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Ballot(db.Model):
    """One vote of a meeting: its form, its rules and its state."""

    __tablename__ = "ballot"
    __table_args__ = (
        CheckConstraint(_in("form", Form), name="form_known"),
        CheckConstraint(_in("state", BallotState), name="state_known"),
        CheckConstraint(_in("threshold_base", ThresholdBase), name="threshold_base_known"),
        CheckConstraint(
            "threshold_numerator > 0 AND threshold_numerator <= threshold_denominator", name="threshold_fraction"
        ),
        CheckConstraint("(form = 'choose') = (places IS NOT NULL)", name="places_for_choose"),
        CheckConstraint("places IS NULL OR places > 0", name="places_positive"),
        CheckConstraint("countdown_seconds IS NULL OR countdown_seconds > 0", name="countdown_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(10))
    places: Mapped[int | None]  # K of "choose up to K of M"
    secret: Mapped[bool] = mapped_column(default=True)
    last_submission_counts: Mapped[bool] = mapped_column(default=False)
    results_live: Mapped[bool] = mapped_column(default=False)
    countdown_seconds: Mapped[int | None]
    # Default rule: more than half of ALL expected deputies (全体代表的过半数).
    threshold_numerator: Mapped[int] = mapped_column(default=1)
    threshold_denominator: Mapped[int] = mapped_column(default=2)
    threshold_strict: Mapped[bool] = mapped_column(default=True)
    threshold_base: Mapped[str] = mapped_column(String(10), default=ThresholdBase.EXPECTED)
    state: Mapped[str] = mapped_column(String(10), default=BallotState.DRAFT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    revote_of_id: Mapped[int | None] = mapped_column(ForeignKey("ballot.id", ondelete="SET NULL"))
    # 应到/实到 as they stood when the ballot closed; the tally's base from then on.
    turnout_expected: Mapped[int | None]
    turnout_present: Mapped[int | None]

    meeting: Mapped[Meeting] = relationship()
    items: Mapped[list["BallotItem"]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan", order_by="BallotItem.position"
    )

    @property
    def state_enum(self):
        return BallotState(self.state)

    def transition(self, target):
        """Move to ``target`` or raise Conflict if the current state does not allow it."""
        current = BallotState(self.state)
        if target not in _TRANSITIONS[current]:
            raise Conflict(
                _l(
                    "Cannot change the ballot from “%(current)s” to “%(target)s”.",
                    current=current.label,
                    target=target.label,
                ),
                code="invalid_state",
            )
        self.state = target


class BallotItem(db.Model):
    """An item, candidate or person a ballot asks about."""

    __tablename__ = "ballot_item"
    __table_args__ = (UniqueConstraint("ballot_id", "position", name="uq_ballot_item_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"))
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))

    ballot: Mapped[Ballot] = relationship(back_populates="items")


class BallotParticipation(db.Model):
    """That a deputy voted on a ballot, and how: WHO, never WHAT.

    The primary key makes one ballot per deputy a database invariant. No timestamp, no
    receipt and no key of the cast ballot, on purpose.
    """

    __tablename__ = "ballot_participation"
    __table_args__ = (
        CheckConstraint(_in("method", VoteMethod), name="method_known"),
        {"sqlite_with_rowid": False},
    )

    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputy.id", ondelete="CASCADE"), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))


class CastBallot(db.Model):
    """What one ballot paper says: WHAT, and (secret ballots) never WHO.

    The whole paper is one row of JSON: one row per ballot is several times cheaper to write
    than a row per choice (PERF_FLOORS.md). ``valid`` is false for a void paper (废票), which
    is stored and counted as invalid, not refused.
    """

    __tablename__ = "cast_ballot"
    __table_args__ = (
        UniqueConstraint("ballot_id", "receipt", name="uq_cast_ballot_receipt"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 128 random bits, hex
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"))
    receipt: Mapped[str] = mapped_column(String(16))
    choices: Mapped[str] = mapped_column(Text)
    valid: Mapped[bool] = mapped_column(Boolean)
    # Only for named (记名) ballots; NULL on every secret one.
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("deputy.id", ondelete="SET NULL"))
