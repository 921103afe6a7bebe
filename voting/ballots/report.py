"""The official tally report (计票结果报告) and the sheet of raw ballot papers, as plain rows.

Pure: plain values in, plain values out. ``build_report`` turns a closed ballot's figures into
titled sections, a table of items and the lines the scrutineers and tellers sign;
``ballot_sheet`` turns the ballot papers into one row each for an independent recount. The PDF,
XLSX and CSV renderers in ``voting.ballots.exports`` only lay these out.

Labels come through the ``gettext`` passed in (flask_babel's, in the app), so a report follows
its reader's language; without one the English source text is used.
"""

from dataclasses import dataclass, field
from datetime import datetime

from voting.ballots import tally

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Row marks for the renderers: an adopted item and an item tied at the boundary are highlighted.
PASSED, TIED = "passed", "tied"


def _plain(message, **variables):
    """Stand in for gettext: the English source, formatted."""
    return message % variables if variables else message


@dataclass(frozen=True)
class ItemFigures:
    """One item's counts and result. ``counts`` as ``voting.ballots.tally`` gives them."""

    position: int
    title: str
    counts: dict
    passed: bool
    tied: bool = False
    rank: int | None = None
    rating: str | None = None


@dataclass(frozen=True)
class Figures:
    """Everything the report states about one ballot, as plain values."""

    meeting: str
    title: str
    form: str  # tally.Form
    places: int | None
    secret: bool
    rule: tally.Threshold
    expected: int  # 应到, N
    present: int  # 实到
    voters: int  # deputies recorded as having voted
    did_not_vote: int  # 未按: present deputies who cast no ballot
    cast: int  # ballot papers: valid + void
    valid: int
    void: int
    receipts: int
    base_count: int  # the head count the rule's fraction is taken of
    required: int  # votes an item needs
    items: tuple  # of ItemFigures, in ballot order
    opened_at: datetime | None = None  # aware, in the reader's time zone
    closed_at: datetime | None = None
    final: bool = True  # False for live results of an open ballot, or while paper ballots wait to be counted
    papers_pending: int = 0  # paper ballots handed in and not yet counted: not in the counts


@dataclass
class Report:
    """The report's parts, in reading order."""

    title: str  # 计票结果报告
    ballot: str  # the ballot's own title
    meeting: str  # "Meeting: ..."
    facts: list  # (label, text): form, secrecy, rule, times
    figures: list  # (label, number): N, present, voters, did not vote, ballots, valid, void, needed
    headers: list
    rows: list  # cells: str or int
    marks: list  # per row: PASSED, TIED or ""
    title_column: int = 1  # the column of the items' titles
    notes: list = field(default_factory=list)
    signatures: list = field(default_factory=list)  # "Scrutineers:", "Tellers:", "Date:" before a line each
    page_label: str = "Page %(page)s of %(pages)s"  # for the PDF footer; %-formatted with page and pages


@dataclass
class Sheet:
    """A table: headers and rows."""

    headers: list
    rows: list


def format_time(value):
    """Show an aware local time with its UTC offset: ``2027-01-10 10:00:00 (UTC+08:00)``."""
    if value is None:
        return "—"
    offset = value.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    return value.strftime(TIME_FORMAT) + zone


# -- the report ----------------------------------------------------------------------------------


def build_report(figures, gettext=None):
    """Build the 计票结果报告 of a ballot from its figures."""
    _ = gettext or _plain
    headers, rows, marks = _item_table(figures, _)
    return Report(
        title=_("Tally report"),
        ballot=figures.title,
        meeting=_("Meeting: %(title)s", title=figures.meeting),
        facts=[
            (_("Form of vote"), _form_text(figures, _)),
            (_("Kind of ballot"), _("Secret ballot") if figures.secret else _("Named ballot")),
            (_("Adoption rule"), rule_text(figures, _)),
            (_("Voting opened"), format_time(figures.opened_at)),
            (_("Voting closed"), format_time(figures.closed_at)),
        ],
        figures=[
            (_("Expected deputies (N)"), figures.expected),
            (_("Deputies present"), figures.present),
            (_("Deputies who voted"), figures.voters),
            (_("Did not vote"), figures.did_not_vote),
            (_("Ballots cast"), figures.cast),
            (_("Valid ballots"), figures.valid),
            (_("Void ballots"), figures.void),
            (_("Votes needed"), figures.required),
        ],
        headers=headers,
        rows=rows,
        marks=marks,
        title_column=2 if figures.form == tally.Form.CHOOSE else 1,
        notes=_notes(figures, _),
        signatures=[_("Scrutineers:"), _("Tellers:"), _("Date:")],
        page_label=_("Page %(page)s of %(pages)s"),
    )


def _form_text(figures, _):
    if figures.form == tally.Form.PER_ITEM:
        return _("Per item: yes, no or abstain")
    if figures.form == tally.Form.CHOOSE:
        return _(
            "Choose up to %(places)s of %(count)s candidates (more candidates than places)",
            places=figures.places,
            count=len(figures.items),
        )
    return _("Satisfaction rating: satisfied, basically satisfied or unsatisfied")


def rule_text(figures, _=None):
    """Say the adoption rule in words, with the head count it is taken of and the votes it needs."""
    _ = _ or _plain
    rule = figures.rule
    fraction = f"{rule.numerator}/{rule.denominator}"
    base = {
        tally.Base.EXPECTED: _("all %(count)s expected deputies", count=figures.base_count),
        tally.Base.PRESENT: _("the %(count)s deputies present", count=figures.base_count),
        tally.Base.CAST: _("the %(count)s valid ballots", count=figures.base_count),
    }[tally.Base(rule.base)]
    if rule.strict:
        threshold = _("more than %(fraction)s of %(base)s", fraction=fraction, base=base)
    else:
        threshold = _("at least %(fraction)s of %(base)s", fraction=fraction, base=base)
    if figures.form == tally.Form.PER_ITEM:
        return _(
            "An item passes when its yes votes reach %(threshold)s: %(required)s or more.",
            threshold=threshold,
            required=figures.required,
        )
    if figures.form == tally.Form.CHOOSE:
        return _(
            "Candidates are ranked by votes; the first %(places)s that reach %(threshold)s (%(required)s or more "
            "votes) are adopted. A tie for the last place is reported, not decided.",
            places=figures.places,
            threshold=threshold,
            required=figures.required,
        )
    return _(
        "Satisfied when the satisfied votes reach %(threshold)s (%(required)s or more); otherwise basically "
        "satisfied when satisfied and basically satisfied votes together reach it; otherwise unsatisfied.",
        threshold=threshold,
        required=figures.required,
    )


def _item_table(figures, _):
    """Return the headers, rows and row marks of the items table for the ballot's form."""
    items = list(figures.items)
    if figures.form == tally.Form.CHOOSE:
        # Ranked, so the first places read from the top; ballot order breaks ties of rank.
        items.sort(key=lambda item: (item.rank if item.rank is not None else len(items), item.position))
        headers = [_("Rank"), _("No."), _("Candidate"), _("Votes"), _("Result")]
        rows = [
            [item.rank, item.position, item.title, item.counts.get("votes", 0), _choose_result(item, _)]
            for item in items
        ]
    elif figures.form == tally.Form.PER_ITEM:
        headers = [_("No."), _("Item"), _("In favour"), _("Against"), _("Abstain"), _("Blank"), _("Result")]
        rows = [
            [
                item.position,
                item.title,
                *(item.counts.get(key, 0) for key in (*tally.PER_ITEM_CHOICES, "blank")),
                _("Passed") if item.passed else _("Not passed"),
            ]
            for item in items
        ]
    else:
        headers = [
            _("No."),
            _("Item"),
            _("Satisfied"),
            _("Basically satisfied"),
            _("Unsatisfied"),
            _("Blank"),
            _("Result"),
        ]
        rows = [
            [
                item.position,
                item.title,
                *(item.counts.get(key, 0) for key in (*tally.RATING_CHOICES, "blank")),
                rating_label(item.rating, _),
            ]
            for item in items
        ]
    marks = [TIED if item.tied else PASSED if item.passed else "" for item in items]
    return headers, rows, marks


def _choose_result(item, _):
    if item.tied:
        return _("Tied")
    return _("Adopted") if item.passed else _("Not adopted")


def rating_label(rating, _=None):
    _ = _ or _plain
    return {
        tally.SATISFIED: _("Satisfied"),
        tally.BASIC: _("Basically satisfied"),
        tally.UNSATISFIED: _("Unsatisfied"),
    }.get(rating, "")


def _notes(figures, _):
    notes = []
    if figures.papers_pending:
        notes.append(
            _(
                "Provisional: paper ballots handed in but not counted yet: %(count)s. The counts change once they are.",
                count=figures.papers_pending,
            )
        )
    elif not figures.final:
        notes.append(_("Provisional: voting is still open, these counts may change."))
    tied = [item for item in figures.items if item.tied]
    if tied:
        notes.append(
            _(
                "Tied for the last place, with equal votes (%(votes)s each): %(items)s. None of them is adopted; "
                "a re-vote among them can decide.",
                votes=tied[0].counts.get("votes", 0),
                items="; ".join(f"{item.position}. {item.title}" for item in tied),
            )
        )
    if figures.void:
        if figures.form == tally.Form.CHOOSE:
            notes.append(
                _(
                    "Void ballot papers (more than %(places)s candidates ticked): %(void)s. They are not counted.",
                    void=figures.void,
                    places=figures.places,
                )
            )
        else:
            notes.append(_("Void ballot papers: %(void)s. They are not counted.", void=figures.void))
    if figures.receipts == figures.cast == figures.voters:
        notes.append(
            _(
                "Receipts, ballot papers and deputies who voted agree: %(count)s each.",
                count=figures.cast,
            )
        )
    else:
        notes.append(
            _(
                "Receipts (%(receipts)s), ballot papers (%(ballots)s) and deputies who voted (%(voters)s) do not "
                "agree: check before signing.",
                receipts=figures.receipts,
                ballots=figures.cast,
                voters=figures.voters,
            )
        )
    return notes


# -- the raw ballot papers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Paper:
    """One ballot paper: valid or void, its choices as ``tally`` takes them, and (named ballots) who cast it."""

    valid: bool
    choices: object  # choose: the ticked item ids; otherwise item id -> choice
    deputy: tuple | None = None  # (number, name), only for named ballots


def ballot_sheet(form, items, papers, gettext=None, named=False):
    """One row per ballot paper, numbered in the order given, for an independent recount.

    ``items`` are (item id, position, title); ``papers`` are ``Paper``s, never in voting order.
    Choose K of M: 1 for a tick, 0 for none; per item and rating: the choice's label, empty if
    left blank. A secret ballot's sheet has no column that names a deputy.
    """
    _ = gettext or _plain
    headers = [_("Ballot no.")]
    if named:
        headers += [_("Deputy number"), _("Deputy name")]
    headers += [_("Valid or void"), *(f"{position}. {title}" for _item, position, title in items)]
    ids = [item[0] for item in items]
    valid, void = _("Valid"), _("Void")
    labels = choice_labels(form, _)
    rows = []
    for number, paper in enumerate(papers, start=1):
        row = [number]
        if named:
            row += list(paper.deputy or ("", ""))
        row.append(valid if paper.valid else void)
        if form == tally.Form.CHOOSE:
            ticked = set(paper.choices)
            row += [1 if item_id in ticked else 0 for item_id in ids]
        else:
            row += [labels.get(paper.choices.get(item_id), "") for item_id in ids]
        rows.append(row)
    return Sheet(headers, rows)


def choice_labels(form, _=None):
    """Return choice -> label for a per-item or rating ballot."""
    _ = _ or _plain
    if form == tally.Form.PER_ITEM:
        return {tally.YES: _("In favour"), tally.NO: _("Against"), tally.ABSTAIN: _("Abstain")}
    if form == tally.Form.RATING:
        return {key: rating_label(key, _) for key in tally.RATING_CHOICES}
    return {}
