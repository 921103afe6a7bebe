"""Attendance arithmetic. Pure: numbers in, numbers out."""

from dataclasses import dataclass


def quorum_required(expected, numerator=2, denominator=3):
    """Return the smallest head count that is 以上 (at least) numerator/denominator of expected."""
    if expected < 0 or numerator <= 0 or denominator <= 0:
        raise ValueError("expected must be >= 0 and the fraction positive")
    return -(-expected * numerator // denominator)  # ceil without floats


@dataclass(frozen=True)
class Attendance:
    """应到/实到/请假/缺席 for one meeting.

    ``absent`` is 缺席 as the law counts it (应到 - 实到, those on leave included);
    ``not_arrived`` is 未到 as the big screen shows it (neither present nor on leave).
    """

    expected: int
    present: int
    on_leave: int
    quorum_required: int

    @property
    def absent(self):
        return self.expected - self.present

    @property
    def not_arrived(self):
        return self.expected - self.present - self.on_leave

    @property
    def quorum_met(self):
        return self.expected > 0 and self.present >= self.quorum_required


def attendance(expected, present, on_leave_not_present, numerator=2, denominator=3):
    """Build the attendance figures; on_leave counts deputies on leave who have not signed in."""
    return Attendance(expected, present, on_leave_not_present, quorum_required(expected, numerator, denominator))
