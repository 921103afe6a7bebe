"""The organizer's corrections to a split, as pure edits of Structure.to_dict(): no app, no database."""

import pytest

from voting.consultations import corrections, splitter

TEXT = """某某条例
第一编 总则
第一章 一般规定
第一条 甲。
第二节 适用
第二条 乙
第三条规定的情形除外。
第二章 附则
第三条 丙。
第四条 丁。
戊。
"""


@pytest.fixture
def data():
    return splitter.split(TEXT).to_dict()


def shape(data):
    headings = [(h["level"], h["number"], h["title"], h["parent"]) for h in data["headings"]]
    articles = [(a["number"], a["suffix"], a["heading"], a["paragraphs"]) for a in data["articles"]]
    return headings, articles


def test_the_fixture_split(data):
    headings, articles = shape(data)
    assert headings == [(1, 1, "总则", None), (2, 1, "一般规定", 0), (3, 2, "适用", 1), (2, 2, "附则", 0)]
    assert articles == [
        (1, 0, 1, ["甲。"]),
        (2, 0, 2, ["乙第三条规定的情形除外。"]),
        (3, 0, 3, ["丙。"]),
        (4, 0, 3, ["丁。", "戊。"]),
    ]


def test_edits_return_a_new_split_and_leave_the_old_one(data):
    before = shape(data)
    corrections.merge_into_previous(data, 1)
    corrections.split_article(data, 3, 1)
    corrections.remove_heading(data, 0)
    assert shape(data) == before


def test_merge_brings_the_marker_back_as_text(data):
    merged = corrections.merge_into_previous(data, 3)
    assert shape(merged)[1][2] == (3, 0, 3, ["丙。", "第四条 丁。", "戊。"])


def test_merge_after_an_unfinished_sentence_joins_the_sentence(data):
    data["articles"][0]["paragraphs"] = ["依照本条例"]
    data["articles"][1]["title"] = None
    merged = corrections.merge_into_previous(data, 1)
    assert merged["articles"][0]["paragraphs"] == ["依照本条例第二条乙第三条规定的情形除外。"]


def test_merge_keeps_a_bracketed_title_and_an_inserted_number(data):
    data["articles"][3].update(suffix=1, title="施行", paragraphs=["丁。"])
    merged = corrections.merge_into_previous(data, 3)
    assert merged["articles"][2]["paragraphs"] == ["丙。", "第四条之一【施行】丁。"]


def test_split_takes_the_next_number_or_the_one_written_in_the_paragraph(data):
    plain = corrections.split_article(data, 3, 1)
    assert shape(plain)[1][3:] == [(4, 0, 3, ["丁。"]), (5, 0, 3, ["戊。"])]
    data["articles"][3]["paragraphs"] = ["丁。", "第四条之一（过渡）戊。", "己。"]
    inserted = corrections.split_article(data, 3, 1)
    assert shape(inserted)[1][4] == (4, 1, 3, ["戊。", "己。"]) and inserted["articles"][4]["title"] == "过渡"
    data["articles"][3]["paragraphs"] = ["丁。", "第五条规定的除外。"]  # a cross-reference, not a marker
    reference = corrections.split_article(data, 3, 1)
    assert shape(reference)[1][4] == (5, 0, 3, ["第五条规定的除外。"])


def test_changing_a_level_rebuilds_the_tree(data):
    promoted = corrections.edit_heading(data, 2, level=2, number=2, title=" 适 用 ")
    assert shape(promoted)[0] == [(1, 1, "总则", None), (2, 1, "一般规定", 0), (2, 2, "适 用", 0), (2, 2, "附则", 0)]
    part = corrections.edit_heading(data, 3, level=1, number=2, title="附则")
    assert shape(part)[0][3] == (1, 2, "附则", None)


def test_removing_a_heading_moves_its_articles_to_the_heading_before(data):
    without_section = corrections.remove_heading(data, 2)
    headings, articles = shape(without_section)
    assert headings == [(1, 1, "总则", None), (2, 1, "一般规定", 0), (2, 2, "附则", 0)]
    assert [a[2] for a in articles] == [1, 1, 2, 2]
    without_part = corrections.remove_heading(data, 0)
    headings, articles = shape(without_part)
    assert headings == [(2, 1, "一般规定", None), (3, 2, "适用", 0), (2, 2, "附则", None)]
    assert [a[2] for a in articles] == [0, 1, 2, 2]
    first = corrections.remove_heading(without_part, 0)
    assert [a[2] for a in shape(first)[1]] == [None, 0, 1, 1]


def test_removing_a_heading_keeps_its_notes(data):
    data["preamble"] = ["序言。"]
    for i, heading in enumerate(data["headings"]):
        heading["notes"] = [f"说明{i}。"]
    without_section = corrections.remove_heading(data, 2)  # its notes follow those of the heading before it
    assert [h["notes"] for h in without_section["headings"]] == [["说明0。"], ["说明1。", "说明2。"], ["说明3。"]]
    assert without_section["preamble"] == ["序言。"]
    without_part = corrections.remove_heading(data, 0)  # no heading before it: they follow the preamble
    assert without_part["preamble"] == ["序言。", "说明0。"]
    assert [h["notes"] for h in without_part["headings"]] == [["说明1。"], ["说明2。"], ["说明3。"]]
    bare = corrections.remove_heading(splitter.split(TEXT).to_dict(), 0)  # nothing to keep: nothing added
    assert bare["preamble"] == [] and all(h["notes"] == [] for h in bare["headings"])


def test_other_corrections_keep_the_notes_and_the_trailer(data):
    data["headings"][1]["notes"] = ["本章说明。"]
    data["trailer"] = ["附件：表格"]
    for corrected in (
        corrections.merge_into_previous(data, 1),
        corrections.split_article(data, 3, 1),
        corrections.edit_heading(data, 1, level=3, number=1, title="一般"),
        corrections.edit_article(data, 0, number=1, suffix=0, title="", paragraphs=["甲。"], heading=3),
    ):
        assert corrected["headings"][1]["notes"] == ["本章说明。"] and corrected["trailer"] == ["附件：表格"]


@pytest.mark.parametrize(
    "edit, code",
    [
        (lambda d: corrections.merge_into_previous(d, 0), "first_article"),
        (lambda d: corrections.merge_into_previous(d, 4), "no_such_article"),
        (lambda d: corrections.split_article(d, 0, 1), "no_such_paragraph"),
        (lambda d: corrections.split_article(d, 3, 0), "no_such_paragraph"),
        (lambda d: corrections.remove_heading(d, 4), "no_such_heading"),
        (lambda d: corrections.edit_heading(d, -1, level=2, number=1, title=""), "no_such_heading"),
        (lambda d: corrections.edit_article(d, 0, number=1, suffix=0, title="", paragraphs=[], heading=9),
         "no_such_heading"),
    ],
)  # fmt: skip
def test_corrections_that_do_not_apply(data, edit, code):
    with pytest.raises(corrections.CorrectionError) as caught:
        edit(data)
    assert caught.value.code == code


def test_text_and_paragraphs_round_trip():
    text = " 第一款。\r\n\r\n（一）甲；\n（二）乙。\n\n\n\n第三款。 "
    paragraphs = corrections.paragraphs_from_text(text)
    assert paragraphs == ["第一款。", "（一）甲；\n（二）乙。", "第三款。"]
    assert corrections.paragraphs_from_text(corrections.text_from_paragraphs(paragraphs)) == paragraphs


def test_the_fingerprint_changes_with_what_the_organizer_sees(data):
    print_ = corrections.fingerprint(data)
    assert corrections.fingerprint(splitter.split(TEXT).to_dict()) == print_
    data["articles"][0]["line"] = 99  # where it came from is not what it says
    assert corrections.fingerprint(data) == print_
    data["articles"][0]["paragraphs"] = ["甲！"]
    assert corrections.fingerprint(data) != print_


def test_the_fingerprint_changes_with_heading_notes_and_the_trailer(data):
    print_ = corrections.fingerprint(data)
    # Empty ones count as none: a split stored before they were kept has the fingerprint it had.
    older = {**data, "headings": [{k: v for k, v in h.items() if k != "notes"} for h in data["headings"]]}
    del older["trailer"]
    assert corrections.fingerprint(older) == print_
    data["headings"][1]["notes"] = ["本章说明。"]
    with_note = corrections.fingerprint(data)
    assert with_note != print_
    data["trailer"] = ["附件：表格"]
    assert corrections.fingerprint(data) not in (print_, with_note)


def test_warnings_point_at_articles_and_headings():
    structure = splitter.split("某规定\n第一章 总则\n第一条 甲。\n第一条 乙。\n第三章 附则\n第三条 丙。")
    found = [(w.code, kind, index) for w, kind, index in corrections.anchored_warnings(structure)]
    assert found == [("duplicate", "article", 1), ("missing", "article", 2), ("missing_heading", "heading", 1)]
    assert [w.code for w, _, _ in corrections.anchored_warnings(splitter.Structure())] == ["no_articles"]
