"""Counting rules for the three ballot forms. Pure: plain values in, plain values out.

A ballot's choices arrive as plain Python values (see each ``tally_*`` function); the rule
says which head count the threshold is taken of (all expected deputies, those present, or
ballots cast) and what fraction must be reached. Ties at the adoption boundary are reported,
never broken.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class Base(StrEnum):
    EXPECTED = "expected"  # 全体代表 (应到): the default
    PRESENT = "present"  # 出席代表
    CAST = "cast"  # 有效票 (valid ballots cast)


class Form(StrEnum):
    PER_ITEM = "per_item"  # 逐项表决: 赞成/反对/弃权
    CHOOSE = "choose"  # 差额票决: tick at most K of M
    RATING = "rating"  # 满意度测评: 满意/基本满意/不满意


YES, NO, ABSTAIN = "yes", "no", "abstain"
SATISFIED, BASIC, UNSATISFIED = "satisfied", "basic", "unsatisfied"
PER_ITEM_CHOICES = (YES, NO, ABSTAIN)
RATING_CHOICES = (SATISFIED, BASIC, UNSATISFIED)


@dataclass(frozen=True)
class Threshold:
    """Pass when votes are more than (strict) or at least numerator/denominator of the base."""

    numerator: int = 1
    denominator: int = 2
    strict: bool = True  # 过半数 is strict; 三分之二以上 is not (以上 includes the number)
    base: Base = Base.EXPECTED

    def __post_init__(self):
        if self.numerator <= 0 or self.denominator <= 0 or self.numerator > self.denominator:
            raise ValueError("the threshold must be a fraction in (0, 1]")

    def required(self, base_count):
        """Return the smallest vote count that passes, given the base head count."""
        if base_count < 0:
            raise ValueError("base_count must be >= 0")
        product = base_count * self.numerator
        if self.strict:
            return product // self.denominator + 1
        return -(-product // self.denominator)


MORE_THAN_HALF = Threshold(1, 2, strict=True)
TWO_THIRDS = Threshold(2, 3, strict=False)


@dataclass(frozen=True)
class Turnout:
    expected: int
    present: int


@dataclass
class ItemResult:
    item: object
    counts: dict
    passed: bool = False
    tied: bool = False
    rank: int | None = None
    rating: str | None = None


@dataclass
class Result:
    form: Form
    base_count: int
    required: int
    cast: int
    valid: int
    void: int
    items: list = field(default_factory=list)
    tied_items: list = field(default_factory=list)


def _base_count(threshold, turnout, valid):
    return {Base.EXPECTED: turnout.expected, Base.PRESENT: turnout.present, Base.CAST: valid}[threshold.base]


def _count_choices(items, ballots, choices):
    """Count each item's choices over ballots mapping item -> choice; return (counts, valid, void).

    An item left out counts as "blank"; a ballot naming an unknown item or choice is void.
    """
    known = set(items)
    counts = {item: dict.fromkeys((*choices, "blank"), 0) for item in items}
    valid = void = 0
    for ballot in ballots:
        if not set(ballot) <= known or any(choice not in choices for choice in ballot.values()):
            void += 1
            continue
        valid += 1
        for item in items:
            counts[item][ballot.get(item, "blank")] += 1
    return counts, valid, void


def tally_per_item(items, ballots, turnout, threshold=MORE_THAN_HALF):
    """Count 赞成/反对/弃权 per item; an item passes when 赞成 reaches the threshold.

    Each ballot maps item -> "yes" | "no" | "abstain"; an item left out counts as not voted.
    A ballot naming an unknown item or choice is void.
    """
    counts, valid, void = _count_choices(items, ballots, PER_ITEM_CHOICES)
    base_count = _base_count(threshold, turnout, valid)
    required = threshold.required(base_count)
    result = Result(Form.PER_ITEM, base_count, required, valid + void, valid, void)
    for item in items:
        result.items.append(ItemResult(item, counts[item], passed=counts[item][YES] >= required))
    return result


def tally_choose(items, places, ballots, turnout, threshold=MORE_THAN_HALF):
    """Count ticks; the top ``places`` candidates that reach the threshold are adopted.

    Each ballot is a collection of ticked items. Ticking more than ``places`` (or an unknown
    item, or the same item twice) voids the ballot (废票). Candidates tied across the boundary
    are all marked tied and none of them adopted; the organizer decides (e.g. a re-vote).
    """
    if not 0 < places <= len(items):
        raise ValueError("places must be between 1 and the number of candidates")
    known = set(items)
    votes = dict.fromkeys(items, 0)
    valid = void = 0
    for ballot in ballots:
        ticked = list(ballot)
        if len(ticked) > places or len(set(ticked)) != len(ticked) or not set(ticked) <= known:
            void += 1
            continue
        valid += 1
        for item in ticked:
            votes[item] += 1
    base_count = _base_count(threshold, turnout, valid)
    required = threshold.required(base_count)
    result = Result(Form.CHOOSE, base_count, required, valid + void, valid, void)
    ranked = sorted(items, key=lambda item: -votes[item])
    by_item = {}
    for item in ranked:
        # Competition ranking: equal votes share a rank (1, 2, 2, 4).
        rank = 1 + sum(1 for other in items if votes[other] > votes[item])
        by_item[item] = ItemResult(item, {"votes": votes[item]}, rank=rank)
    eligible = [item for item in ranked if votes[item] >= required]
    if len(eligible) > places and votes[eligible[places - 1]] == votes[eligible[places]]:
        boundary = votes[eligible[places - 1]]
        tied = [item for item in eligible if votes[item] == boundary]
        for item in eligible:
            if votes[item] > boundary:
                by_item[item].passed = True
        for item in tied:
            by_item[item].tied = True
        result.tied_items = tied
    else:
        for item in eligible[:places]:
            by_item[item].passed = True
    result.items = [by_item[item] for item in items]
    return result


def tally_rating(items, ballots, turnout, threshold=MORE_THAN_HALF):
    """Rate each item: 满意 if 满意 reaches the threshold, else 基本满意 if 满意 + 基本满意 does, else 不满意.

    Each ballot maps item -> "satisfied" | "basic" | "unsatisfied"; unknown items or choices void it.
    """
    counts, valid, void = _count_choices(items, ballots, RATING_CHOICES)
    base_count = _base_count(threshold, turnout, valid)
    required = threshold.required(base_count)
    result = Result(Form.RATING, base_count, required, valid + void, valid, void)
    for item in items:
        c = counts[item]
        if c[SATISFIED] >= required:
            rating = SATISFIED
        elif c[SATISFIED] + c[BASIC] >= required:
            rating = BASIC
        else:
            rating = UNSATISFIED
        result.items.append(ItemResult(item, c, passed=rating != UNSATISFIED, rating=rating))
    return result
