"""Every model, imported in one place for migrations and tests."""

from voting.accounts.models import ApiToken, User, UserSession
from voting.audit.models import AuditEntry, AuditHead
from voting.ballots.models import Ballot, BallotItem, BallotParticipation, CastBallot
from voting.consultations.models import Article, ContactPoint, Draft, DraftSection, Opinion, OpinionContact
from voting.deputies.models import Deputy, DeputyDevice
from voting.meetings.models import Meeting, MeetingMember

__all__ = ["ApiToken", "AuditEntry", "AuditHead", "Ballot", "BallotItem", "BallotParticipation", "CastBallot",
           "Deputy", "DeputyDevice", "Meeting", "MeetingMember", "User", "UserSession",
           "Article", "ContactPoint", "Draft", "DraftSection", "Opinion", "OpinionContact"]
