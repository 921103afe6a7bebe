"""Table-driven tests of the counting rules (DOMAIN.md B)."""

import pytest

from voting.ballots.tally import (
    ABSTAIN,
    BASIC,
    MORE_THAN_HALF,
    NO,
    SATISFIED,
    TWO_THIRDS,
    UNSATISFIED,
    YES,
    Base,
    Threshold,
    Turnout,
    tally_choose,
    tally_per_item,
    tally_rating,
)


@pytest.mark.parametrize(
    ("threshold", "base", "required"),
    [
        (MORE_THAN_HALF, 300, 151),  # 全体代表的过半数: floor(N/2)+1
        (MORE_THAN_HALF, 301, 151),
        (MORE_THAN_HALF, 2977, 1489),
        (MORE_THAN_HALF, 0, 1),
        (TWO_THIRDS, 300, 200),  # 三分之二以上 includes 200
        (TWO_THIRDS, 301, 201),
        (TWO_THIRDS, 2977, 1985),
        (Threshold(3, 5, strict=False), 10, 6),
        (Threshold(3, 5, strict=True), 10, 7),
        (Threshold(1, 1, strict=False), 7, 7),
    ],
)
def test_required_votes(threshold, base, required):
    assert threshold.required(base) == required


@pytest.mark.parametrize("fraction", [(0, 2), (3, 2), (1, 0), (-1, 2)])
def test_threshold_must_be_a_fraction_up_to_one(fraction):
    with pytest.raises(ValueError):
        Threshold(*fraction)


def _per_item_ballots(spec):
    """spec: list of (count, {item: choice}) -> list of ballots."""
    return [dict(choices) for count, choices in spec for _ in range(count)]


def test_per_item_needs_more_than_half_of_all_expected_not_of_those_voting():
    # 10 expected, 7 present and voting: 5 yes is a majority of votes but not of all deputies.
    ballots = _per_item_ballots([(5, {"A": YES, "B": YES}), (1, {"A": NO, "B": YES}), (1, {"A": ABSTAIN})])
    result = tally_per_item(["A", "B"], ballots, Turnout(expected=10, present=7))
    a, b = result.items
    assert (result.required, result.valid, result.void) == (6, 7, 0)
    assert a.counts == {YES: 5, NO: 1, ABSTAIN: 1, "blank": 0} and not a.passed
    assert b.counts == {YES: 6, NO: 0, ABSTAIN: 0, "blank": 1} and b.passed


@pytest.mark.parametrize(
    ("base", "required", "a_passes"),
    [(Base.EXPECTED, 6, False), (Base.PRESENT, 4, True), (Base.CAST, 4, True)],
)
def test_per_item_denominator_setting(base, required, a_passes):
    ballots = _per_item_ballots([(5, {"A": YES}), (2, {"A": NO})])
    result = tally_per_item(["A"], ballots, Turnout(expected=10, present=7), Threshold(1, 2, True, base))
    assert result.required == required
    assert result.items[0].passed is a_passes


def test_per_item_voids_unknown_items_and_choices():
    ballots = [{"A": YES}, {"Z": YES}, {"A": "maybe"}, {"A": YES}]
    result = tally_per_item(["A"], ballots, Turnout(3, 3))
    assert (result.cast, result.valid, result.void) == (4, 2, 2)
    assert result.items[0].counts[YES] == 2 and result.items[0].passed


def _choose(counts, places, expected, threshold=MORE_THAN_HALF, extra=()):
    """Build ballots giving each item its vote count (each ballot ticks one item), plus extra ballots."""
    ballots = [[item] for item, n in counts.items() for _ in range(n)] + list(extra)
    return tally_choose(list(counts), places, ballots, Turnout(expected, expected), threshold)


@pytest.mark.parametrize(
    ("counts", "places", "expected", "adopted", "tied"),
    [
        # Clear top 2, both over half of 10.
        ({"A": 9, "B": 8, "C": 7}, 2, 10, {"A", "B"}, set()),
        # Only one clears the threshold: one place stays empty.
        ({"A": 9, "B": 5, "C": 2}, 2, 10, {"A"}, set()),
        # Tie at the boundary between 2nd and 3rd: neither adopted, both flagged; A adopted.
        ({"A": 9, "B": 7, "C": 7}, 2, 10, {"A"}, {"B", "C"}),
        # Three-way tie for 2 places: all flagged, none adopted.
        ({"A": 7, "B": 7, "C": 7}, 2, 10, set(), {"A", "B", "C"}),
        # A tie that does not straddle the boundary is not a tie to report.
        ({"A": 8, "B": 8, "C": 6}, 2, 10, {"A", "B"}, set()),
        # Tie below the threshold does not matter.
        ({"A": 9, "B": 8, "C": 3, "D": 3}, 2, 10, {"A", "B"}, set()),
        # A tied pair where only one place is left but the other candidate is below threshold.
        ({"A": 9, "B": 6, "C": 5}, 2, 10, {"A", "B"}, set()),
    ],
)
def test_choose_k_adoption_and_ties(counts, places, expected, adopted, tied):
    result = _choose(counts, places, expected)
    assert {r.item for r in result.items if r.passed} == adopted
    assert {r.item for r in result.items if r.tied} == tied
    assert set(result.tied_items) == tied


def test_choose_k_more_ticks_than_places_voids_the_whole_ballot():
    result = _choose({"A": 6, "B": 6, "C": 0}, 2, 10, extra=[["A", "B", "C"], ["A", "A"], ["X"]])
    assert (result.cast, result.valid, result.void) == (15, 12, 3)
    assert {r.item: r.counts["votes"] for r in result.items} == {"A": 6, "B": 6, "C": 0}


def test_choose_k_ranks_share_equal_votes():
    result = _choose({"A": 5, "B": 9, "C": 5, "D": 1}, 3, 20)
    assert {r.item: r.rank for r in result.items} == {"B": 1, "A": 2, "C": 2, "D": 4}


def test_choose_k_of_fifteen_counts_every_tick():
    items = [f"P{i}" for i in range(15)]
    ballots = [items[i % 15 :][:10] + items[: max(0, (i % 15) - 5)] for i in range(300)]
    ballots = [b[:10] for b in ballots]
    result = tally_choose(items, 10, ballots, Turnout(300, 300))
    assert sum(r.counts["votes"] for r in result.items) == 300 * 10
    assert result.void == 0


@pytest.mark.parametrize("places", [0, 4])
def test_choose_k_places_must_fit(places):
    with pytest.raises(ValueError):
        tally_choose(["A", "B", "C"], places, [], Turnout(1, 1))


@pytest.mark.parametrize(
    ("satisfied", "basic", "unsatisfied", "rating"),
    [
        (6, 2, 2, SATISFIED),  # 满意 > half of 10
        (5, 1, 4, BASIC),  # 满意 5 is not more than half; 满意+基本满意 6 is
        (5, 0, 5, UNSATISFIED),
        (3, 2, 0, UNSATISFIED),  # only 5 of 10 voted: not more than half of ALL deputies
    ],
)
def test_rating_rule(satisfied, basic, unsatisfied, rating):
    ballots = [{"R": SATISFIED}] * satisfied + [{"R": BASIC}] * basic + [{"R": UNSATISFIED}] * unsatisfied
    result = tally_rating(["R"], ballots, Turnout(expected=10, present=10))
    assert result.items[0].rating == rating
    assert result.items[0].counts[SATISFIED] == satisfied


def test_rating_voids_unknown_choice_and_counts_blank():
    result = tally_rating(["R", "S"], [{"R": SATISFIED}, {"R": "good"}], Turnout(3, 3))
    assert (result.valid, result.void) == (1, 1)
    assert result.items[1].counts["blank"] == 1
