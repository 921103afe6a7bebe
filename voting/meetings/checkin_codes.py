"""The rotating sign-in code shown on the big screen.

Pure: a code names the meeting, the sign-in opening (epoch) and the time window, signed with
a key. A new code appears every ``period`` seconds and is accepted for ``windows`` periods,
so a photo forwarded to someone outside the hall is useless half a minute later. The code
identifies nothing about the deputy: the phone's own binding does that.
"""

import hashlib
import hmac
from dataclasses import dataclass


class CodeError(Exception):
    """The code is not acceptable; ``reason`` is one of malformed, tampered, expired."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckinCode:
    meeting_id: int
    epoch: int
    window: int


def _signature(key, meeting_id, epoch, window):
    message = f"checkin:{meeting_id}:{epoch}:{window}".encode()
    # Hex keeps the code free of "-", the field separator (80 bits are plenty for a 30 s code).
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


def current_window(now, period):
    """Return the number of the time window that ``now`` (a Unix time) falls in."""
    return int(now // period)


def make_code(key, meeting_id, epoch, now, period):
    """Return the code for the window containing ``now`` and the Unix time it stops being shown."""
    window = current_window(now, period)
    code = f"{meeting_id}-{epoch}-{window}-{_signature(key, meeting_id, epoch, window)}"
    return code, (window + 1) * period


def valid_until(code, period, windows):
    """Return the Unix time after which a (well-formed) code is refused."""
    return (code.window + windows) * period


def verify_code(key, code, now, period, windows):
    """Return the CheckinCode if ``code`` is authentic and fresh, else raise CodeError."""
    parts = (code or "").split("-")
    if len(code or "") > 80 or len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts[:3]):
        raise CodeError("malformed")
    meeting_id, epoch, window = (int(p) for p in parts[:3])
    expected = _signature(key, meeting_id, epoch, window)
    if not hmac.compare_digest(expected.encode(), parts[3].encode()):
        raise CodeError("tampered")
    age = current_window(now, period) - window
    if age < 0 or age >= windows:
        raise CodeError("expired")
    return CheckinCode(meeting_id, epoch, window)


def derive_key(secret):
    """Derive the code-signing key from the application's secret key."""
    return hmac.new(secret.encode("utf-8"), b"checkin-codes", hashlib.sha256).digest()
