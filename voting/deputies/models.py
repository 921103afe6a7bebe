"""Deputies (the roster) and the phones bound to them."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.extensions import db
from voting.timeutil import utcnow


class Deputy(db.Model):
    """A deputy of the congress: one row of the roster."""

    __tablename__ = "deputy"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    delegation: Mapped[str] = mapped_column(String(100), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    # The printed card's code, stored as a hash. Re-issuing replaces it, so the old card stops working.
    activation_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    activation_issued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    devices: Mapped[list["DeputyDevice"]] = relationship(back_populates="deputy", cascade="all, delete-orphan")

    @property
    def active_device_count(self):
        return sum(1 for d in self.devices if d.revoked_at is None)


class DeputyDevice(db.Model):
    """A phone bound to a deputy by scanning their activation card."""

    __tablename__ = "deputy_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("deputy.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    deputy: Mapped[Deputy] = relationship(back_populates="devices")
