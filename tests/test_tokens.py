"""Tests for voting.tokens: bearer tokens, their hashes and hand-typed activation codes."""

import hashlib
import re
import string

import pytest

from voting.tokens import (
    constant_time_equal,
    new_activation_code,
    new_token,
    normalize_activation_code,
    token_hash,
)

LOOK_ALIKES = set("01OIL")
ALPHABET = set(string.ascii_uppercase + string.digits) - LOOK_ALIKES
CODE_RE = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")


# --- activation codes -----------------------------------------------------------------------


def test_activation_code_format():
    for _ in range(200):
        code = new_activation_code()
        assert CODE_RE.match(code), code
        assert len(code) == 19
        assert set(code.replace("-", "")) <= ALPHABET, code
        assert not LOOK_ALIKES & set(code), code


def test_activation_codes_use_the_whole_alphabet_and_differ():
    codes = [new_activation_code() for _ in range(1000)]
    seen = set("".join(codes).replace("-", ""))
    # 16,000 draws from 31 symbols: every symbol shows up (missing one has p < 1e-200).
    assert seen == ALPHABET
    assert len(ALPHABET) == 31
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("K7QX-2MNP-8RTV-4WHZ", "K7QX-2MNP-8RTV-4WHZ"),
        ("k7qx-2mnp-8rtv-4whz", "K7QX-2MNP-8RTV-4WHZ"),
        ("K7QX2MNP8RTV4WHZ", "K7QX-2MNP-8RTV-4WHZ"),
        ("k7qx2mnp8rtv4whz", "K7QX-2MNP-8RTV-4WHZ"),
        ("k7qx 2mnp 8rtv 4whz", "K7QX-2MNP-8RTV-4WHZ"),
        ("  K7QX-2MNP 8RTV4WHZ \n", "K7QX-2MNP-8RTV-4WHZ"),
        ("K7-QX-2M-NP-8R-TV-4W-HZ", "K7QX-2MNP-8RTV-4WHZ"),
        ("K7QX--2MNP--8RTV--4WHZ", "K7QX-2MNP-8RTV-4WHZ"),
        ("K7QX\t2MNP\u30008RTV_4WHZ", "K7QX-2MNP-8RTV-4WHZ"),
        ("k7qx", "K7QX"),
        ("k7qx2", "K7QX-2"),
        ("", ""),
        (None, ""),
        ("- - -", ""),
    ],
)
def test_normalize_activation_code(typed, expected):
    assert normalize_activation_code(typed) == expected


def test_normalize_round_trips_generated_codes():
    for _ in range(100):
        code = new_activation_code()
        assert normalize_activation_code(code) == code
        assert normalize_activation_code(code.lower()) == code
        assert normalize_activation_code(code.replace("-", "")) == code
        assert normalize_activation_code(code.replace("-", " ").lower()) == code


def test_normalize_full_width_input():
    assert normalize_activation_code("ｋ７ｑｘ－２ｍｎｐ－８ｒｔｖ－４ｗｈｚ") == "K7QX-2MNP-8RTV-4WHZ"


# --- bearer tokens --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["vtd_", "vto_", "", "x"])
def test_new_token_prefix(prefix):
    token = new_token(prefix)
    assert token.startswith(prefix)
    body = token[len(prefix) :]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", body), body
    assert len(body) == 32  # 24 random bytes, urlsafe base64 without padding


@pytest.mark.parametrize("nbytes, length", [(16, 22), (24, 32), (32, 43)])
def test_new_token_length(nbytes, length):
    assert len(new_token("t_", nbytes)) == len("t_") + length


def test_new_tokens_differ():
    tokens = {new_token("vtd_") for _ in range(500)}
    assert len(tokens) == 500


@pytest.mark.parametrize(
    "token, expected",
    [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
def test_token_hash_known_values(token, expected):
    # Published SHA-256 test vectors.
    assert token_hash(token) == expected


@pytest.mark.parametrize("token", ["vtd_abc", "vto_" + "x" * 100, "代表-令牌", "K7QX-2MNP-8RTV-4WHZ"])
def test_token_hash_is_stable_hex(token):
    digest = token_hash(token)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == token_hash(token)
    assert digest == hashlib.sha256(token.encode("utf-8")).hexdigest()
    assert digest != token_hash(token + " ")
    assert digest != token_hash(token.upper()) or token == token.upper()


def test_token_hash_of_new_tokens():
    first, second = new_token("vtd_"), new_token("vtd_")
    assert token_hash(first) != token_hash(second)
    assert token_hash(first) != first


@pytest.mark.parametrize(
    "a, b, equal",
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("abc", "ab", False),
        ("", "", True),
        ("令牌", "令牌", True),
        ("令牌", "令", False),
    ],
)
def test_constant_time_equal(a, b, equal):
    assert constant_time_equal(a, b) is equal
