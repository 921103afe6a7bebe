"""Paper ballots (纸质票): each paper's two (or more) independent entries, and the paper's count.

WHO handed in a paper is a ``BallotParticipation`` with method "paper", written while the ballot
is open, exactly like a phone vote; its primary key makes phone and paper exclusive. WHAT a paper
says is entered only after the ballot closes, when the box is opened, keyed by the number the
tellers write on each paper, never by deputy. These tables therefore hold no deputy on a secret
ballot and no time at all: nothing in them pairs with a participation row.

A paper counts once two entries by two different people agree; it then becomes a ``CastBallot``
with a fresh random receipt, which the tellers write on the paper for any recount.
"""

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.accounts.models import User
from voting.extensions import db

MAX_PAPER_NUMBER = 99999


class PaperState(enum.StrEnum):
    ENTERED = "entered"  # one entry so far: waiting for a second person
    MISMATCH = "mismatch"  # entries disagree: not counted until resolved
    COUNTED = "counted"  # two entries agreed (or a third person settled it): a cast ballot exists

    @property
    def label(self):
        return {
            PaperState.ENTERED: _l("Waiting for the second entry"),
            PaperState.MISMATCH: _l("Entries differ"),
            PaperState.COUNTED: _l("Counted"),
        }[self]


class PaperBallot(db.Model):
    """One paper from the ballot box, by the number written on it."""

    __tablename__ = "paper_ballot"
    __table_args__ = (
        CheckConstraint("state IN ('entered', 'mismatch', 'counted')", name="state_known"),
        CheckConstraint(f"number > 0 AND number <= {MAX_PAPER_NUMBER}", name="number_range"),
        CheckConstraint("(state = 'counted') = (receipt IS NOT NULL AND valid IS NOT NULL)", name="counted_receipt"),
        # Named (记名) ballots only: one counted paper per deputy. NULLs (secret ballots) never collide.
        UniqueConstraint("ballot_id", "deputy_id", name="uq_paper_ballot_deputy"),
        {"sqlite_with_rowid": False},
    )

    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(10))
    # Set when counted: the cast ballot's receipt (write it on the paper) and whether it is valid.
    receipt: Mapped[str | None] = mapped_column(String(16))
    valid: Mapped[bool | None] = mapped_column(Boolean)
    # Who settled a mismatch by choosing an entry (a person who made none of them).
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Named ballots only: the deputy named on the counted paper. NULL on every secret ballot.
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("deputy.id", ondelete="SET NULL"))

    entries: Mapped[list["PaperEntry"]] = relationship(
        back_populates="paper", cascade="all, delete-orphan", order_by="PaperEntry.id", passive_deletes=True
    )
    resolved_by: Mapped[User | None] = relationship()

    @property
    def state_enum(self):
        return PaperState(self.state)


class PaperEntry(db.Model):
    """What one member of staff read on one paper; the same person enters a paper at most once."""

    __tablename__ = "paper_entry"
    __table_args__ = (
        ForeignKeyConstraint(
            ["ballot_id", "number"],
            ["paper_ballot.ballot_id", "paper_ballot.number"],
            name="fk_paper_entry_paper_ballot",
            ondelete="CASCADE",
        ),
        UniqueConstraint("ballot_id", "number", "user_id", name="uq_paper_entry_once_per_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int]
    number: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # Canonical JSON, as ``voting.ballots.operations.normalize_choices`` makes it.
    choices: Mapped[str] = mapped_column(Text)
    valid: Mapped[bool] = mapped_column(Boolean)
    # Named ballots only: the deputy whose name is on the paper.
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("deputy.id", ondelete="SET NULL"))

    paper: Mapped[PaperBallot] = relationship(back_populates="entries")
    user: Mapped[User] = relationship()
