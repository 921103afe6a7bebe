"""Table-driven tests for the rotating sign-in code (voting.meetings.checkin_codes)."""

import hashlib
import hmac

import pytest

from voting.meetings.checkin_codes import (
    CheckinCode,
    CodeError,
    current_window,
    derive_key,
    make_code,
    valid_until,
    verify_code,
)

PERIOD = 15
WINDOWS = 2
KEY = derive_key("test-secret")
OTHER_KEY = derive_key("another-secret")
T0 = 15 * 113_333_333  # 1_699_999_995, the first second of a window
MEETING = 7
EPOCH = 3


def _signature_has_dash(code):
    return code.count("-") != 3


def fresh(now, key=KEY, meeting=MEETING, epoch=EPOCH, period=PERIOD):
    """Return (code, now) for the first window at or after ``now`` whose signature has no '-'.

    About 22 % of signatures contain '-' (urlsafe base64) and are refused as malformed, see
    test_every_fresh_code_verifies; the other tests step past those windows so they test what
    they are about. ``now`` keeps its offset inside the window.
    """
    for step in range(50):
        moment = now + step * period
        code, _ = make_code(key, meeting, epoch, moment, period)
        if not _signature_has_dash(code):
            return code, moment
    raise AssertionError("no dash-free signature in 50 windows")


def reason(code, now, key=KEY, period=PERIOD, windows=WINDOWS):
    with pytest.raises(CodeError) as info:
        verify_code(key, code, now, period, windows)
    return info.value.reason


# --- windows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, period, window",
    [
        (0, 15, 0),
        (14, 15, 0),
        (14.999, 15, 0),
        (15, 15, 1),
        (1000, 15, 66),
        (1005, 15, 67),
        (1_700_000_000, 15, 113_333_333),
        (1_700_000_000.5, 30, 56_666_666),
        (59, 60, 0),
        (60, 60, 1),
    ],
)
def test_current_window(now, period, window):
    assert current_window(now, period) == window


@pytest.mark.parametrize(
    "now, window, shown_until",
    [
        (990, 66, 1005),  # first second of window 66
        (1000, 66, 1005),
        (1004.9, 66, 1005),
        (1005, 67, 1020),
    ],
)
def test_make_code_shape_and_shown_until(now, window, shown_until):
    code, until = make_code(KEY, MEETING, EPOCH, now, PERIOD)
    assert until == shown_until
    assert code.startswith(f"{MEETING}-{EPOCH}-{window}-")
    signature = code[len(f"{MEETING}-{EPOCH}-{window}-") :]
    assert len(signature) == 20  # 80 bits of HMAC in hex
    assert set(signature) <= set("0123456789abcdef")


def test_make_code_is_deterministic_and_distinct():
    assert make_code(KEY, MEETING, EPOCH, 1000, PERIOD) == make_code(KEY, MEETING, EPOCH, 1001, PERIOD)
    codes = {
        make_code(KEY, MEETING, EPOCH, 1000, PERIOD)[0],
        make_code(KEY, MEETING, EPOCH, 1005, PERIOD)[0],  # next window
        make_code(KEY, MEETING + 1, EPOCH, 1000, PERIOD)[0],
        make_code(KEY, MEETING, EPOCH + 1, 1000, PERIOD)[0],
        make_code(OTHER_KEY, MEETING, EPOCH, 1000, PERIOD)[0],
    }
    assert len(codes) == 5


# --- freshness ------------------------------------------------------------------------------


@pytest.mark.parametrize("made_at", [T0, T0 + 7.5, T0 + 14.999], ids=["window-start", "mid-window", "window-end"])
@pytest.mark.parametrize(
    "later, accepted",
    [
        (0, True),  # same instant
        (1, True),
        (15, True),  # next window (age 1)
        (29.999, None),  # age 1 or 2 depending on the offset inside the window
        (30, False),  # always age 2
        (45, False),
        (3600, False),
    ],
)
def test_code_is_valid_between_15_and_30_seconds(made_at, later, accepted):
    code, made_at = fresh(made_at)
    now = made_at + later
    window_age = current_window(now, PERIOD) - current_window(made_at, PERIOD)
    if accepted is None:
        accepted = window_age < WINDOWS
    if accepted:
        assert verify_code(KEY, code, now, PERIOD, WINDOWS) == CheckinCode(
            MEETING, EPOCH, current_window(made_at, PERIOD)
        )
    else:
        assert reason(code, now) == "expired"


@pytest.mark.parametrize(
    "age, accepted",
    [(-2, False), (-1, False), (0, True), (1, True), (2, False), (3, False), (1000, False)],
)
def test_window_age(age, accepted):
    code, made_at = fresh(1_700_000_000)
    now = made_at + age * PERIOD
    if accepted:
        assert verify_code(KEY, code, now, PERIOD, WINDOWS).window == current_window(made_at, PERIOD)
    else:
        assert reason(code, now) == "expired"


def test_code_from_the_future_is_refused():
    code, made_at = fresh(T0 + PERIOD)  # made at the first instant of its window
    assert verify_code(KEY, code, made_at, PERIOD, WINDOWS).meeting_id == MEETING
    assert reason(code, made_at - 0.001) == "expired"
    assert reason(code, made_at - PERIOD) == "expired"


@pytest.mark.parametrize("windows, last_ok_age", [(1, 0), (2, 1), (4, 3)])
def test_windows_parameter(windows, last_ok_age):
    code, made_at = fresh(1_700_000_000)
    assert verify_code(KEY, code, made_at + last_ok_age * PERIOD, PERIOD, windows).meeting_id == MEETING
    assert reason(code, made_at + (last_ok_age + 1) * PERIOD, windows=windows) == "expired"


def test_valid_until():
    code, made_at = fresh(1_700_000_000)
    parsed = verify_code(KEY, code, made_at, PERIOD, WINDOWS)
    until = valid_until(parsed, PERIOD, WINDOWS)
    assert until == (current_window(made_at, PERIOD) + 2) * PERIOD
    assert verify_code(KEY, code, until - 0.001, PERIOD, WINDOWS) == parsed
    assert reason(code, until) == "expired"


def test_every_fresh_code_verifies():
    failures = []
    for window in range(300):
        now = window * PERIOD
        code, _ = make_code(KEY, MEETING, EPOCH, now, PERIOD)
        try:
            verify_code(KEY, code, now, PERIOD, WINDOWS)
        except CodeError as error:
            failures.append((code, error.reason))
    assert failures == []


def test_signatures_never_contain_the_field_separator():
    for window in range(1000):
        code, _ = make_code(KEY, MEETING, EPOCH, window * PERIOD, PERIOD)
        assert code.count("-") == 3, code
        verify_code(KEY, code, window * PERIOD, PERIOD, WINDOWS)


# --- authenticity ---------------------------------------------------------------------------


def _split(code):
    meeting, epoch, window, signature = code.split("-", 3)
    return meeting, epoch, window, signature


def _flip(char):
    return "A" if char != "A" else "B"


def _tampered_variants():
    code, now = fresh(1_700_000_000)
    meeting, epoch, window, sig = _split(code)
    other_code, _ = fresh(now, meeting=MEETING + 1)
    other_sig = _split(other_code)[3]
    return now, [
        pytest.param(f"{meeting}-{epoch}-{window}-{sig[:-1]}{_flip(sig[-1])}", id="last-char"),
        pytest.param(f"{meeting}-{epoch}-{window}-{_flip(sig[0])}{sig[1:]}", id="first-char"),
        pytest.param(f"{meeting}-{epoch}-{window}-{sig.swapcase()}", id="case"),
        pytest.param(f"{meeting}-{epoch}-{window}-{sig[:-1]}", id="truncated"),
        pytest.param(f"{meeting}-{epoch}-{window}-{sig}A", id="extended"),
        pytest.param(f"{int(meeting) + 1}-{epoch}-{window}-{sig}", id="other-meeting-same-sig"),
        pytest.param(f"{meeting}-{int(epoch) + 1}-{window}-{sig}", id="other-epoch-same-sig"),
        pytest.param(f"{meeting}-{epoch}-{int(window) + 1}-{sig}", id="next-window-same-sig"),
        pytest.param(f"{meeting}-{epoch}-{int(window) - 1}-{sig}", id="previous-window-same-sig"),
        pytest.param(f"{meeting}-{epoch}-{int(window) + 100}-{sig}", id="far-future-window-same-sig"),
        pytest.param(f"{meeting}-{epoch}-{window}-{other_sig}", id="signature-of-other-meeting"),
    ]


TAMPER_NOW, TAMPERED = _tampered_variants()


@pytest.mark.parametrize("code", TAMPERED)
def test_tampered_codes(code):
    assert reason(code, TAMPER_NOW) == "tampered"


def test_code_signed_with_another_key_is_tampered():
    code, now = fresh(1_700_000_000, key=OTHER_KEY)
    assert verify_code(OTHER_KEY, code, now, PERIOD, WINDOWS).meeting_id == MEETING
    assert reason(code, now, key=KEY) == "tampered"


def test_signature_checked_before_freshness():
    # An expired forgery is reported as tampered, not expired.
    code, now = fresh(1_700_000_000)
    meeting, epoch, window, sig = _split(code)
    assert reason(code, now + 10 * PERIOD) == "expired"
    assert reason(f"{meeting}-{epoch}-{window}-{_flip(sig[0])}{sig[1:]}", now + 10 * PERIOD) == "tampered"


# --- malformed input ------------------------------------------------------------------------

VALID_CODE, VALID_NOW = fresh(1_700_000_000)
M, E, W, S = _split(VALID_CODE)

MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param(None, id="none"),
    pytest.param("hello", id="word"),
    pytest.param("-", id="dash"),
    pytest.param("---", id="dashes"),
    pytest.param(f"{M}-{E}-{W}", id="three-parts"),
    pytest.param(f"{M}-{E}-{W}{S}", id="missing-dash"),
    pytest.param(f"-{M}-{E}-{W}-{S}", id="leading-dash"),
    pytest.param(f"{M}--{E}-{W}-{S}", id="double-dash"),
    pytest.param(f"-{M}-{W}-{S}", id="negative-meeting"),
    pytest.param(f"x{M}-{E}-{W}-{S}", id="letter-in-meeting"),
    pytest.param(f"{M}-{E}e0-{W}-{S}", id="exponent-epoch"),
    pytest.param(f"{M}-{E}-{W}.0-{S}", id="decimal-window"),
    pytest.param(f"+{M}-{E}-{W}-{S}", id="plus-sign"),
    pytest.param(f" {M}-{E}-{W}-{S}", id="leading-space"),
    pytest.param(f"{M}-{E}- {W}-{S}", id="inner-space"),
    pytest.param(f"0x{M}-{E}-{W}-{S}", id="hex"),
    pytest.param("1" * 10_000, id="very-long-digits"),
    pytest.param("9" * 100 + f"-{E}-{W}-{S}", id="huge-meeting-id"),
    pytest.param(f"{M}-{E}-{W}-" + "A" * 100, id="very-long-signature"),
    pytest.param("-" * 10_000, id="very-many-dashes"),
]

MALFORMED_UNICODE = [
    pytest.param(
        f"１２-{E}-{W}-{S}",
        id="full-width-digits",
    ),
    pytest.param(
        f"{M}-٣-{W}-{S}",
        id="arabic-indic-digit",
    ),
    pytest.param(
        f"²-{E}-{W}-{S}",
        id="superscript-digit",
    ),
    pytest.param(
        f"{M}-{E}-①-{S}",
        id="circled-digit",
    ),
]


@pytest.mark.parametrize("code", MALFORMED + MALFORMED_UNICODE)
def test_malformed_codes(code):
    assert reason(code, VALID_NOW) == "malformed"


def test_full_width_spelling_of_a_genuine_code_is_refused():
    full_width = M.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with pytest.raises(CodeError):
        verify_code(KEY, f"{full_width}-{E}-{W}-{S}", VALID_NOW, PERIOD, WINDOWS)


def test_genuine_code_with_trailing_junk_is_refused():
    for suffix in ("-", "-x", " ", "\n"):
        with pytest.raises(CodeError):
            verify_code(KEY, VALID_CODE + suffix, VALID_NOW, PERIOD, WINDOWS)
    assert verify_code(KEY, VALID_CODE, VALID_NOW, PERIOD, WINDOWS).meeting_id == MEETING


# --- keys -----------------------------------------------------------------------------------


def test_derive_key():
    key = derive_key("s3cret")
    assert isinstance(key, bytes)
    assert len(key) == 32
    assert key == derive_key("s3cret")
    assert key != derive_key("s3cret ")
    assert key != derive_key("other")
    # Domain-separated: not the secret itself and not a plain hash of it.
    assert key != b"s3cret"
    assert key != hashlib.sha256(b"s3cret").digest()
    assert key == hmac.new(b"s3cret", b"checkin-codes", hashlib.sha256).digest()


def test_derive_key_accepts_unicode_secret():
    assert derive_key("密钥") == hmac.new("密钥".encode(), b"checkin-codes", hashlib.sha256).digest()
