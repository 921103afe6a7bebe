"""Time helpers: the database stores naive UTC; people see Asia/Shanghai (or the configured zone)."""

from datetime import UTC, datetime


def utcnow():
    """Return the current UTC time without tzinfo, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat_utc(value):
    """Format a stored UTC time for the API (RFC 3339 with Z), or None."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() + "Z"
