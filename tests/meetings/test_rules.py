"""Table-driven tests for voting.meetings.rules (quorum and attendance arithmetic)."""

import pytest

from voting.meetings.rules import Attendance, attendance, quorum_required


@pytest.mark.parametrize(
    "expected, required",
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 3),
        (5, 4),
        (6, 4),
        (7, 5),
        (9, 6),
        (10, 7),
        (100, 67),
        (300, 200),  # exactly 2/3: 以上 includes the number itself
        (301, 201),
        (2977, 1985),  # 2977 * 2 / 3 = 1984.67
        (2980, 1987),  # 2980 * 2 / 3 = 1986.67
        (2979, 1986),  # exactly 1986
    ],
)
def test_two_thirds_quorum(expected, required):
    assert quorum_required(expected) == required
    assert quorum_required(expected, 2, 3) == required


@pytest.mark.parametrize(
    "expected, numerator, denominator, required",
    [
        (0, 1, 2, 0),
        (1, 1, 2, 1),
        (4, 1, 2, 2),
        (5, 1, 2, 3),
        (301, 1, 2, 151),
        (300, 1, 2, 150),
        (10, 3, 4, 8),
        (12, 3, 4, 9),
        (7, 1, 1, 7),
        (10**12 + 1, 2, 3, 666_666_666_668),  # no float rounding on big numbers
        (3 * 10**17 + 1, 2, 3, 2 * 10**17 + 1),
    ],
)
def test_custom_fractions_round_up(expected, numerator, denominator, required):
    result = quorum_required(expected, numerator, denominator)
    assert result == required
    assert isinstance(result, int)


@pytest.mark.parametrize("expected", range(0, 200))
def test_quorum_is_smallest_count_at_least_two_thirds(expected):
    required = quorum_required(expected)
    assert 3 * required >= 2 * expected
    if required > 0:
        assert 3 * (required - 1) < 2 * expected


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((-1,), id="negative-expected"),
        pytest.param((-300, 2, 3), id="negative-expected-explicit"),
        pytest.param((10, 0, 3), id="zero-numerator"),
        pytest.param((10, -2, 3), id="negative-numerator"),
        pytest.param((10, 2, 0), id="zero-denominator"),
        pytest.param((10, 2, -3), id="negative-denominator"),
        pytest.param((10, -2, -3), id="both-negative"),
    ],
)
def test_invalid_inputs_raise_value_error(args):
    with pytest.raises(ValueError):
        quorum_required(*args)


@pytest.mark.parametrize(
    "expected, present, on_leave, absent, not_arrived",
    [
        (300, 250, 10, 50, 40),
        (300, 300, 0, 0, 0),
        (300, 0, 0, 300, 300),
        (300, 0, 300, 300, 0),
        (10, 7, 3, 3, 0),
        (0, 0, 0, 0, 0),
    ],
)
def test_absent_and_not_arrived(expected, present, on_leave, absent, not_arrived):
    figures = Attendance(expected, present, on_leave, quorum_required=0)
    assert figures.absent == absent  # 缺席 = 应到 - 实到, those on leave included
    assert figures.not_arrived == not_arrived  # 未到 = neither present nor on leave
    assert figures.absent - figures.not_arrived == on_leave


@pytest.mark.parametrize(
    "expected, present, quorum, met",
    [
        (300, 200, 200, True),  # exactly at quorum
        (300, 199, 200, False),  # one below
        (300, 201, 200, True),
        (300, 300, 200, True),
        (2977, 1985, 1985, True),
        (2977, 1984, 1985, False),
        (1, 1, 1, True),
        (1, 0, 1, False),
        (0, 0, 0, False),  # no one expected: no quorum
        (0, 5, 0, False),
    ],
)
def test_quorum_met(expected, present, quorum, met):
    assert Attendance(expected, present, 0, quorum).quorum_met is met


@pytest.mark.parametrize(
    "expected, present, on_leave, numerator, denominator, quorum, met",
    [
        (300, 200, 5, 2, 3, 200, True),
        (300, 199, 5, 2, 3, 200, False),
        (2977, 1985, 0, 2, 3, 1985, True),
        (2977, 1984, 12, 2, 3, 1985, False),
        (301, 151, 0, 1, 2, 151, True),
        (301, 150, 0, 1, 2, 151, False),
        (0, 0, 0, 2, 3, 0, False),
    ],
)
def test_attendance_builder(expected, present, on_leave, numerator, denominator, quorum, met):
    figures = attendance(expected, present, on_leave, numerator, denominator)
    assert figures == Attendance(expected, present, on_leave, quorum)
    assert figures.quorum_met is met
    assert figures.absent == expected - present
    assert figures.not_arrived == expected - present - on_leave


def test_attendance_defaults_to_two_thirds():
    assert attendance(300, 200, 0).quorum_required == 200
    assert attendance(300, 199, 0).quorum_met is False


def test_attendance_rejects_invalid_fraction():
    with pytest.raises(ValueError):
        attendance(300, 200, 0, 2, 0)
    with pytest.raises(ValueError):
        attendance(-1, 0, 0)


def test_attendance_is_frozen():
    figures = attendance(300, 200, 0)
    with pytest.raises(AttributeError):
        figures.present = 300
    assert figures.present == 200
