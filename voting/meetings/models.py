"""Meetings, who is expected at them, and who signed in."""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.errors import Conflict
from voting.extensions import db
from voting.timeutil import utcnow


class MeetingState(enum.StrEnum):
    PLANNED = "planned"
    SIGNIN_OPEN = "signin_open"
    SIGNIN_CLOSED = "signin_closed"

    @property
    def label(self):
        return {
            MeetingState.PLANNED: _l("Sign-in not yet open"),
            MeetingState.SIGNIN_OPEN: _l("Sign-in open"),
            MeetingState.SIGNIN_CLOSED: _l("Sign-in closed"),
        }[self]


# Allowed transitions: closing and reopening sign-in (late sign-in) as often as needed.
_TRANSITIONS = {
    MeetingState.PLANNED: {MeetingState.SIGNIN_OPEN},
    MeetingState.SIGNIN_OPEN: {MeetingState.SIGNIN_CLOSED},
    MeetingState.SIGNIN_CLOSED: {MeetingState.SIGNIN_OPEN},
}


class CheckinMethod(enum.StrEnum):
    SCAN = "scan"
    MANUAL = "manual"


class Meeting(db.Model):
    """One sitting (a session day of the 人代会, or a standing-committee meeting)."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint("quorum_numerator > 0 AND quorum_denominator > 0", name="quorum_positive"),
        CheckConstraint("quorum_numerator <= quorum_denominator", name="quorum_at_most_all"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default=MeetingState.PLANNED)
    # Bumped every time sign-in opens: QR codes of an earlier opening stop working.
    signin_epoch: Mapped[int] = mapped_column(default=0)
    quorum_numerator: Mapped[int] = mapped_column(default=2)
    quorum_denominator: Mapped[int] = mapped_column(default=3)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signin_opened_at: Mapped[datetime | None]
    signin_closed_at: Mapped[datetime | None]

    members: Mapped[list["MeetingMember"]] = relationship(back_populates="meeting", cascade="all, delete-orphan")

    @property
    def state_enum(self):
        return MeetingState(self.state)

    def transition(self, target):
        """Move to ``target`` or raise Conflict if the current state does not allow it."""
        current = MeetingState(self.state)
        if target not in _TRANSITIONS[current]:
            raise Conflict(
                _l("Cannot change the meeting from “%(current)s” to “%(target)s”.", current=current.label,
                   target=target.label),
                code="invalid_state",
            )
        self.state = target


class MeetingMember(db.Model):
    """A deputy expected at a meeting (应到), with leave and sign-in recorded on the same row.

    Signing in is one conditional UPDATE of this row (``checked_in_at IS NULL``), so two phones
    of one deputy racing each other record one sign-in on every database.
    """

    __tablename__ = "meeting_member"
    __table_args__ = (
        CheckConstraint(
            "(checked_in_at IS NULL AND checkin_method IS NULL) OR "
            "(checked_in_at IS NOT NULL AND checkin_method IS NOT NULL)",
            name="checkin_complete",
        ),
        Index("ix_meeting_member_counts", "meeting_id", "checked_in_at", "on_leave"),
    )

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputy.id", ondelete="CASCADE"), primary_key=True)
    on_leave: Mapped[bool] = mapped_column(default=False)
    leave_reason: Mapped[str] = mapped_column(String(200), default="")
    checked_in_at: Mapped[datetime | None]
    checkin_method: Mapped[str | None] = mapped_column(String(10))
    checkin_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    checkin_reason: Mapped[str] = mapped_column(String(200), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="members")
    deputy: Mapped["Deputy"] = relationship()  # noqa: F821


from voting.deputies.models import Deputy  # noqa: E402,F401  (resolve the relationship target)
