"""Random secrets that are shown once and stored only as hashes."""

import hashlib
import hmac
import secrets
import unicodedata


def new_token(prefix, nbytes=24):
    """Return a new random bearer token, e.g. ``vtd_...``."""
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token):
    """Hash a token for storage and lookup (tokens are random, so one SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# Activation codes are typed by hand from a card: upper-case letters and digits without
# look-alikes (0/O, 1/I/L), in groups of four. 16 symbols of 31 = about 79 bits.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_activation_code():
    """Return a new activation code like ``K7QX-2MNP-8RTV-4WHZ``."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalize_activation_code(code):
    """Normalize a typed activation code: case, spaces and dashes do not matter."""
    # NFKC folds full-width letters typed with a Chinese input method (ｋ７ｑｘ) to ASCII.
    folded = unicodedata.normalize("NFKC", code or "").upper()
    cleaned = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


def constant_time_equal(a, b):
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
