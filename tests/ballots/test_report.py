"""The tally report's rows and the ballot-paper sheet, built from plain values (no app), and gathered
from a real closed ballot of each form."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from voting.ballots import report, tally
from voting.ballots.tally import ABSTAIN, BASIC, NO, SATISFIED, UNSATISFIED, YES, Threshold, Turnout

TITLES = {1: "老旧小区加装电梯", 2: "社区食堂", 3: "口袋公园", 4: "道路整治", 5: "停车场"}


def figures_of(result, form, turnout, *, places=None, rule=tally.MORE_THAN_HALF, voters=None, receipts=None):
    """Figures as the app gathers them, from a pure tally result over items 1..n."""
    voters = result.cast if voters is None else voters
    return report.Figures(
        meeting="第十七届人大第三次会议",
        title="2027年区民生实事项目票决",
        form=form,
        places=places,
        secret=True,
        rule=rule,
        expected=turnout.expected,
        present=turnout.present,
        voters=voters,
        did_not_vote=turnout.present - voters,
        cast=result.cast,
        valid=result.valid,
        void=result.void,
        receipts=result.cast if receipts is None else receipts,
        base_count=result.base_count,
        required=result.required,
        items=tuple(
            report.ItemFigures(r.item, TITLES[r.item], r.counts, r.passed, r.tied, r.rank, r.rating)
            for r in result.items
        ),
        opened_at=datetime(2027, 1, 10, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        closed_at=datetime(2027, 1, 10, 10, 5, 30, tzinfo=timezone(timedelta(hours=8))),
    )


def figure(rep, label):
    return dict(rep.figures)[label]


def fact(rep, label):
    return dict(rep.facts)[label]


def test_per_item_report():
    ballots = [{1: YES, 2: YES, 3: NO}] * 6 + [{1: YES, 2: NO, 3: ABSTAIN}] * 2 + [{1: NO}]
    turnout = Turnout(expected=15, present=11)
    result = tally.tally_per_item([1, 2, 3], ballots, turnout)
    rep = report.build_report(figures_of(result, "per_item", turnout))
    assert rep.title == "Tally report" and rep.ballot == "2027年区民生实事项目票决"
    assert rep.meeting == "Meeting: 第十七届人大第三次会议"
    assert rep.headers == ["No.", "Item", "In favour", "Against", "Abstain", "Blank", "Result"]
    # More than half of all 15 expected deputies: 8 votes; item 2 has 6 and fails although most voters said yes.
    assert rep.rows == [
        [1, "老旧小区加装电梯", 8, 1, 0, 0, "Passed"],
        [2, "社区食堂", 6, 2, 0, 1, "Not passed"],
        [3, "口袋公园", 0, 6, 2, 1, "Not passed"],
    ]
    assert rep.marks == [report.PASSED, "", ""]
    assert [
        figure(rep, k) for k in ("Expected deputies (N)", "Deputies present", "Deputies who voted", "Did not vote")
    ] == [
        15,
        11,
        9,
        2,
    ]
    assert [figure(rep, k) for k in ("Ballots cast", "Valid ballots", "Void ballots", "Votes needed")] == [9, 9, 0, 8]
    assert fact(rep, "Adoption rule") == (
        "An item passes when its yes votes reach more than 1/2 of all 15 expected deputies: 8 or more."
    )
    assert fact(rep, "Kind of ballot") == "Secret ballot"
    assert fact(rep, "Voting opened") == "2027-01-10 10:00:00 (UTC+08:00)"
    assert fact(rep, "Voting closed") == "2027-01-10 10:05:30 (UTC+08:00)"
    assert rep.notes == ["Receipts, ballot papers and deputies who voted agree: 9 each."]
    assert rep.signatures == ["Scrutineers:", "Tellers:", "Date:"]
    assert rep.title_column == 1


def test_choose_report_with_void_and_tie():
    # 4 candidates, 2 places; candidate 1 clears, 2 and 3 tie for the last place, one paper ticks 3 (void).
    ballots = [[1, 2]] * 3 + [[1, 3]] * 3 + [[1]] + [[4]] + [[1, 2, 3]]
    turnout = Turnout(expected=10, present=10)
    result = tally.tally_choose([1, 2, 3, 4], 2, ballots, turnout, Threshold(1, 5, strict=False))
    rep = report.build_report(
        figures_of(result, "choose", turnout, places=2, rule=Threshold(1, 5, strict=False), receipts=8)
    )
    assert rep.headers == ["Rank", "No.", "Candidate", "Votes", "Result"]
    assert rep.rows == [
        [1, 1, "老旧小区加装电梯", 7, "Adopted"],
        [2, 2, "社区食堂", 3, "Tied"],
        [2, 3, "口袋公园", 3, "Tied"],
        [4, 4, "道路整治", 1, "Not adopted"],
    ]
    assert rep.marks == [report.PASSED, report.TIED, report.TIED, ""]
    assert rep.title_column == 2
    assert [figure(rep, k) for k in ("Ballots cast", "Valid ballots", "Void ballots", "Votes needed")] == [9, 8, 1, 2]
    assert fact(rep, "Form of vote") == ("Choose up to 2 of 4 candidates (more candidates than places)")
    assert "the first 2 that reach at least 1/5 of all 10 expected deputies (2 or more votes) are adopted" in fact(
        rep, "Adoption rule"
    )
    tie, void, mismatch = rep.notes
    assert "(3 each): 2. 社区食堂; 3. 口袋公园" in tie and "None of them is adopted" in tie
    assert void == "Void ballot papers (more than 2 candidates ticked): 1. They are not counted."
    # 8 receipts against 9 papers: the report says so rather than hiding it.
    assert mismatch.startswith("Receipts (8), ballot papers (9) and deputies who voted (9) do not agree")


def test_rating_report():
    ballots = [{1: SATISFIED, 2: BASIC, 3: UNSATISFIED}] * 3 + [{1: SATISFIED, 2: SATISFIED, 3: BASIC}] * 2
    turnout = Turnout(expected=8, present=6)
    result = tally.tally_rating([1, 2, 3], ballots, turnout)
    rep = report.build_report(figures_of(result, "rating", turnout))
    assert rep.headers == ["No.", "Item", "Satisfied", "Basically satisfied", "Unsatisfied", "Blank", "Result"]
    # 5 needed (more than half of 8): 满意 5 -> satisfied; 满意 2 + 基本满意 3 -> basically; 0 + 2 -> unsatisfied.
    assert rep.rows == [
        [1, "老旧小区加装电梯", 5, 0, 0, 0, "Satisfied"],
        [2, "社区食堂", 2, 3, 0, 0, "Basically satisfied"],
        [3, "口袋公园", 0, 2, 3, 0, "Unsatisfied"],
    ]
    assert rep.marks == [report.PASSED, report.PASSED, ""]
    assert figure(rep, "Did not vote") == 1
    assert fact(rep, "Adoption rule").startswith("Satisfied when the satisfied votes reach more than 1/2")


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (Threshold(2, 3, strict=False), "at least 2/3 of all 30 expected deputies"),
        (Threshold(1, 2, strict=True, base=tally.Base.PRESENT), "more than 1/2 of the 30 deputies present"),
        (Threshold(1, 2, strict=True, base=tally.Base.CAST), "more than 1/2 of the 0 valid ballots"),
    ],
)
def test_rule_text_names_the_base(rule, text):
    result = tally.tally_per_item([1], [], Turnout(30, 30), rule)
    figures = figures_of(result, "per_item", Turnout(30, 30), rule=rule)
    assert text in report.rule_text(figures)


def test_labels_come_through_the_given_gettext():
    calls = []

    def gettext(message, **variables):
        calls.append(message)
        return "«" + (message % variables if variables else message) + "»"

    result = tally.tally_per_item([1], [{1: YES}], Turnout(1, 1))
    rep = report.build_report(figures_of(result, "per_item", Turnout(1, 1)), gettext)
    assert rep.title == "«Tally report»" and rep.headers[2] == "«In favour»"
    assert rep.rows[0][-1] == "«Passed»" and rep.page_label == "«Page %(page)s of %(pages)s»"
    assert "An item passes when its yes votes reach %(threshold)s: %(required)s or more." in calls


def test_provisional_report_says_so():
    result = tally.tally_per_item([1], [], Turnout(3, 3))
    figures = figures_of(result, "per_item", Turnout(3, 3))
    rep = report.build_report(report.Figures(**{**figures.__dict__, "final": False, "opened_at": None}))
    assert rep.notes[0].startswith("Provisional")
    assert fact(rep, "Voting opened") == "—"


def test_paper_ballots_still_to_count_make_the_report_provisional():
    result = tally.tally_per_item([1], [{1: YES}], Turnout(3, 3))
    figures = figures_of(result, "per_item", Turnout(3, 3), voters=2)
    rep = report.build_report(report.Figures(**{**figures.__dict__, "final": False, "papers_pending": 1}))
    assert rep.notes[0] == (
        "Provisional: paper ballots handed in but not counted yet: 1. The counts change once they are."
    )
    assert "do not agree" in rep.notes[-1]


def test_format_time_shows_the_offset():
    assert report.format_time(datetime(2027, 1, 10, 2, 0, tzinfo=UTC)) == "2027-01-10 02:00:00 (UTC+00:00)"
    assert report.format_time(None) == "—"


# -- the ballot-paper sheet ----------------------------------------------------------------------

ITEMS = [(11, 1, "甲"), (12, 2, "=乙"), (13, 3, "丙")]


def test_choose_sheet_has_one_row_per_paper_and_ticks_as_numbers():
    papers = [report.Paper(True, [11, 13]), report.Paper(False, [11, 12, 13]), report.Paper(True, [])]
    sheet = report.ballot_sheet("choose", ITEMS, papers)
    assert sheet.headers == ["Ballot no.", "Valid or void", "1. 甲", "2. =乙", "3. 丙"]
    assert sheet.rows == [[1, "Valid", 1, 0, 1], [2, "Void", 1, 1, 1], [3, "Valid", 0, 0, 0]]


def test_per_item_and_rating_sheets_use_the_choice_labels():
    per_item = report.ballot_sheet("per_item", ITEMS, [report.Paper(True, {11: YES, 13: ABSTAIN})])
    assert per_item.rows == [[1, "Valid", "In favour", "", "Abstain"]]
    rating = report.ballot_sheet("rating", ITEMS, [report.Paper(True, {11: BASIC, 12: UNSATISFIED})])
    assert rating.rows == [[1, "Valid", "Basically satisfied", "Unsatisfied", ""]]


def test_only_a_named_sheet_names_deputies():
    papers = [report.Paper(True, [11], ("A001", "张三"))]
    secret = report.ballot_sheet("choose", ITEMS, [report.Paper(True, [11])])
    named = report.ballot_sheet("choose", ITEMS, papers, named=True)
    assert "Deputy name" not in secret.headers and "Deputy number" not in secret.headers
    assert named.headers[:4] == ["Ballot no.", "Deputy number", "Deputy name", "Valid or void"]
    assert named.rows == [[1, "A001", "张三", "Valid", 1, 0, 0]]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("甲=乙", "甲=乙"),
        (3, 3),
        ("", ""),
    ],
)
def test_text_cells_never_start_a_formula(value, cell):
    from voting.exports import text_cell

    assert text_cell(value) == cell


# -- gathered from a real ballot -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "places", "votes", "void", "rows"),
    [
        (
            "per_item",
            None,
            [{"0": "yes", "1": "no"}, {"0": "yes"}, {"0": "yes", "1": "abstain"}, {"0": "no", "1": "yes"}],
            0,
            [[1, "项目甲", 3, 1, 0, 0, "Passed"], [2, "项目乙", 1, 1, 1, 1, "Not passed"]],
        ),
        (
            "choose",
            1,
            [[0], [0], [0], [0, 1]],
            1,
            [[1, 1, "项目甲", 3, "Adopted"], [2, 2, "项目乙", 0, "Not adopted"]],
        ),
        (
            "rating",
            None,
            [{"0": "satisfied"}, {"0": "satisfied", "1": "basic"}, {"0": "satisfied", "1": "basic"}, {"1": "basic"}],
            0,
            [[1, "项目甲", 3, 0, 0, 1, "Satisfied"], [2, "项目乙", 0, 3, 0, 1, "Basically satisfied"]],
        ),
    ],
)
def test_gather_from_a_closed_ballot(app, hall, api, form, places, votes, void, rows):
    from voting.ballots.exports import gather
    from voting.ballots.operations import get_ballot

    h = hall(expected=5, present=5)
    ballot = api.create(h.meeting, title="表决", form=form, places=places, items=["项目甲", "项目乙"])
    ids = [item["id"] for item in ballot["items"]]
    api.open(ballot)
    for phone, choices in zip(h.phones, votes, strict=False):
        if isinstance(choices, list):
            choices = [ids[i] for i in choices]
        else:
            choices = {str(ids[int(k)]): v for k, v in choices.items()}
        assert api.vote(ballot, phone, choices).status_code == 200
    api.close(ballot)
    figures = gather(get_ballot(ballot["id"]))
    assert (figures.expected, figures.present, figures.voters, figures.did_not_vote) == (5, 5, 4, 1)
    assert (figures.cast, figures.valid, figures.void, figures.receipts) == (4, 4 - void, void, 4)
    assert figures.required == 3 and figures.meeting == h.meeting.title and figures.final
    assert figures.opened_at.utcoffset() == timedelta(hours=8)  # Asia/Shanghai, the configured zone
    assert figures.opened_at <= figures.closed_at
    assert report.build_report(figures).rows == rows
