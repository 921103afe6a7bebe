"""The draft-law splitter on real-world-shaped drafts (tests/consultations/drafts/*.txt) and on the
messy details one at a time."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voting.consultations.splitter import (
    CHAPTER,
    PART,
    SECTION,
    check,
    chinese_number,
    ends_sentence,
    parse_chinese_number,
    split,
)

DRAFTS = Path(__file__).parent / "drafts"


def labels(structure):
    return [(a.label, a.title, len(a.paragraphs)) for a in structure.articles]


def headings(structure):
    return [f"{h.label} {h.title}".strip() for h in structure.headings]


def article(structure, label):
    (found,) = [a for a in structure.articles if a.label == label]
    return found


def under(structure):
    """Article label -> title of the innermost heading it stands under."""
    return {a.label: structure.headings[a.heading].title for a in structure.articles if a.heading is not None}


# -- ten and more drafts, each asserted in full ----------------------------------------------------


@dataclass
class Draft:
    file: str
    title: str
    articles: list
    headings: list = field(default_factory=list)
    preamble: list = field(default_factory=list)
    texts: dict = field(default_factory=dict)  # label -> every paragraph, exactly
    under: dict = field(default_factory=dict)  # label -> heading title
    warnings: list = field(default_factory=list)
    style: str = "article"


def plain(*numbers_and_counts):
    """(1, 1), (2, 2) -> [("第一条", None, 1), ("第二条", None, 2)]."""
    return [(f"第{chinese_number(n)}条", None, count) for n, count in numbers_and_counts]


DRAFT_CASES = [
    Draft(
        "01_district_regulation.txt",
        title="上海市杨浦区住宅小区物业管理若干规定（草案征求意见稿）",
        preamble=["（2024年9月10日杨浦区人民代表大会常务委员会主任会议讨论通过，向社会公开征求意见）"],
        headings=[
            "第一章 总则",
            "第二章 业主、业主大会和业主委员会",
            "第三章 物业服务",
            "第四章 法律责任",
            "第五章 附则",
        ],
        articles=plain(
            (1, 1), (2, 2), (3, 4), (4, 1), (5, 1), (6, 2), (7, 2), (8, 1), (9, 2), (10, 1), (11, 1), (12, 1), (13, 1)
        ),  # fmt: skip
        texts={
            "第四条": [
                "业主在物业管理活动中，享有下列权利：\n（一）按照物业服务合同的约定，接受物业服务企业提供的服务；\n"
                "（二）提议召开业主大会会议，并就物业管理的有关事项提出建议；\n（三）参加业主大会会议，行使投票权；\n"
                "（四）选举业主委员会委员，并享有被选举权；\n（五）监督业主委员会的工作；\n（六）法律、法规规定的其他权利。"
            ],
            "第九条": [
                "物业服务企业不得有下列行为：\n（一）擅自扩大收费范围、提高收费标准或者重复收费；\n"
                "（二）擅自改变物业共用部位、共用设施设备的用途；\n（三）以停止供水、供电、供气等方式催交物业服务费用。",
                "违反前款规定的，由区房屋管理部门责令改正，给予警告。",
            ],
            "第十三条": ["本规定自2025年1月1日起施行。"],
        },
        under={"第三条": "总则", "第四条": "业主、业主大会和业主委员会", "第十二条": "法律责任", "第十三条": "附则"},
    ),
    Draft(
        "02_decision_without_chapters.txt",
        title="杨浦区人民代表大会常务委员会关于加强生活垃圾分类管理工作的决定（草案）",
        preamble=[
            "为了加强本区生活垃圾分类管理，提升城区精细化管理水平，根据有关法律、法规，结合本区实际，作出如下决定："
        ],
        articles=plain((1, 1), (2, 2), (3, 1), (4, 1), (5, 2), (6, 1), (7, 1)),
        texts={
            "第二条": [
                "区绿化市容部门是本区生活垃圾分类管理的主管部门，负责组织、协调、指导和监督管理工作。",
                "街道办事处、镇人民政府负责本辖区内生活垃圾分类的日常管理工作。",
            ],
            "第六条": ["违反本决定第三条规定的，依照《上海市生活垃圾管理条例》的规定予以处罚。"],
        },
    ),
    Draft(
        "03_measures_with_sections.txt",
        title="杨浦区基层立法联系点工作办法（征求意见稿）",
        headings=[
            "第一章 总则",
            "第二章 职责和工作方式",
            "第一节 工作职责",
            "第二节 工作方式",
            "第三节 工作保障",
            "第三章 附则",
        ],
        articles=plain((1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 1), (7, 1), (8, 1), (9, 1)),
        under={"第二条": "总则", "第三条": "工作职责", "第五条": "工作方式", "第七条": "工作保障", "第八条": "附则"},
        texts={
            "第五条": [
                "基层立法联系点可以通过座谈会、论证会、实地走访、网络征询等方式征求意见。",
                "征求意见可以在采集点进行。采集点由基层立法联系点根据工作需要设立。",
            ]
        },
    ),
    Draft(
        "04_with_table_of_contents.txt",
        title="杨浦区历史风貌保护条例（草案）",
        headings=[
            "第一章 总则",
            "第二章 保护名录",
            "第三章 保护措施",
            "第一节 一般规定",
            "第二节 修缮与利用",
            "第四章 附则",
        ],
        articles=plain(*[(n, 1) for n in range(1, 12)]),
        under={
            "第一条": "总则",
            "第六条": "保护名录",
            "第七条": "一般规定",
            "第十条": "修缮与利用",
            "第十一条": "附则",
        },
        texts={"第十一条": ["本条例自2025年3月1日起施行。"]},
    ),
    Draft(
        "05_traditional_characters.txt",
        title="澳門特別行政區社區服務條例（草案）",
        headings=["第一章 總則", "第二章 服務提供", "第三章 附則"],
        articles=plain((1, 1), (2, 1), (3, 1), (4, 2), (5, 1), (6, 1), (7, 1)),
        texts={
            "第三条": ["社區服務遵循下列原則：\n（一）以居民需求為導向；\n（二）政府主導與社會參與相結合。"],
            "第四条": [
                "社區服務中心應當公佈服務項目和收費標準。",
                "依照第二條規定設立的服務站，由社區服務中心統一管理。",
            ],
            "第五条": ["為鼓勵志願服務，有關部門應當建立志願者登記制度。"],
            "第六条": ["違反本條例第四條規定的，由主管部門責令改正。"],
        },
        under={"第一条": "總則", "第七条": "附則"},
    ),
    Draft(
        "06_pdf_copy_hard_breaks.txt",
        title="杨浦区电动自行车停放充电安全管理规定（草案）",
        headings=["第一章 总则", "第二章 停放和充电", "第三章 附则"],
        articles=plain((1, 1), (2, 1), (3, 2), (4, 1), (5, 1), (6, 1), (7, 1)),
        texts={
            "第一条": [
                "为了加强本区电动自行车停放、充电安全管理，预防和减少火灾事故，保护人民群众生命财产安全，根据"
                "《中华人民共和国消防法》等法律、法规，结合本区实际，制定本规定。"
            ],
            # A full line ending in 。 without indentation after it: the same paragraph goes on.
            # 第十二条 at the start of a broken line is a cross-reference.
            "第三条": [
                "区人民政府统一领导本区电动自行车停放充电安全管理工作。区消防救援机构负责监督管理。"
                "对电动自行车停放充电消防安全实施监督检查。",
                "街道办事处、镇人民政府应当依照本规定第十二条规定，组织开展安全检查。居民委员会、村民委员会协助做好"
                "宣传教育工作，发现隐患及时报告。",
            ],
            # 。 alone on a line, and 第四条 on a line of its own inside a sentence
            "第四条": ["禁止在建筑物的公共门厅、疏散走道、楼梯间、安全出口停放电动自行车或者为电动自行车充电。"],
            "第五条": [
                "住宅小区应当按照有关技术标准设置电动自行车集中停放场所和充电设施。设置充电设施的，应当符合本规定"
                "第四条的安全要求。"
            ],
            "第六条": [
                "电动自行车集中充电设施的运营单位应当履行下列义务：\n（一）定期对充电设施进行检查、维护；\n"
                "（二）建立安全管理制度，明确安全管理人员，配备必要的消防器材；\n（三）发现安全隐患及时处置。"
            ],
            "第七条": ["本规定自2025年5月1日起施行。"],  # the page number "— 2 —" is gone
        },
    ),
    Draft(
        "07_bracketed_titles.txt",
        title="杨浦区养老服务促进条例（草案）",
        headings=["第一章 总则", "第二章 服务供给", "第三章 附则"],
        articles=[
            ("第一条", "立法目的", 1),
            ("第二条", "适用范围", 2),
            ("第三条", "政府职责", 1),
            ("第四条", "部门职责", 2),
            ("第五条", "社区嵌入式服务", 1),
            ("第六条", "助餐服务", 1),
            ("第七条", "家庭照护床位", 1),
            ("第八条", "服务质量、安全与监督", 1),
            ("第九条", "施行日期", 1),
        ],
        texts={
            "第一条": [
                "为了促进本区养老服务发展，满足老年人多样化、多层次养老服务需求，根据有关法律、法规，结合本区实际，制定本条例。"
            ],
            "第二条": [
                "本区行政区域内养老服务及其监督管理活动，适用本条例。",
                "本条例所称养老服务，包括居家养老服务、社区养老服务和机构养老服务。",
            ],
            "第四条": [
                "区民政部门负责本区养老服务工作的统筹规划、指导协调和监督管理。",
                "区卫生健康、医疗保障、人力资源社会保障等部门按照各自职责，做好养老服务相关工作。",
            ],
            "第七条": ["本区推进家庭照护床位建设。具体办法由区民政部门制定。"],
        },  # fmt: skip
    ),
    Draft(
        "09_cross_references.txt",
        title="杨浦区公共场所控制吸烟条例（修订草案）",
        headings=["第一章 总则", "第二章 禁止吸烟场所", "第三章 附则"],
        articles=plain((1, 1), (2, 1), (3, 2), (4, 2), (5, 2), (6, 1), (7, 2), (8, 2), (9, 1)),
        texts={
            "第四条": [
                "下列公共场所的室内区域禁止吸烟：\n（一）托儿所、幼儿园、中小学校；\n（二）医疗卫生机构；\n（三）文化娱乐场所。",
                "前款规定以外的场所，经营者可以划定吸烟区，但应当符合本条例第七条规定的条件。",
            ],
            "第五条": [
                "禁止吸烟场所的经营者或者管理者应当履行下列职责：\n（一）设置醒目的禁止吸烟标识；\n（二）劝阻吸烟者停止吸烟。",
                "本法第二十条另有规定的，从其规定。",
            ],
            "第六条": [
                "在禁止吸烟场所吸烟的，由所在场所的经营者或者管理者依照本条例第十二条规定予以劝阻；不听劝阻的，依照"
                "第十八条 的规定处理。"
            ],
            "第七条": [
                "吸烟区应当符合下列条件：远离人员密集区域；设置明显的引导标识。按照第三条的规定，由区卫生健康部门组织验收。",
                "第四条第一款第三项所列场所的吸烟区，应当与非吸烟区物理隔离。",
            ],
        },
    ),
    Draft(
        "10_inserted_articles.txt",
        title="杨浦区人民代表大会代表建议、批评和意见办理办法（修正草案）",
        articles=[
            ("第一条", None, 1),
            ("第二条", None, 1),
            ("第二条之一", None, 2),
            ("第二条之二", None, 1),
            ("第三条", None, 1),
            ("第三条之一", None, 1),
            ("第四条", None, 1),
        ],
        texts={"第二条之一": ["代表建议的交办，应当在大会闭会后十五日内完成。", "重点督办建议由主任会议确定。"]},
    ),
    Draft(
        "11_unnumbered_headings.txt",
        title="杨浦区社区公共空间管理规定（草案）",
        headings=["总则", "使用管理", "附则"],
        articles=plain((1, 1), (2, 1), (3, 1), (4, 1), (5, 1)),
        under={"第一条": "总则", "第二条": "总则", "第三条": "使用管理", "第四条": "使用管理", "第五条": "附则"},
        texts={"第五条": ["本规定自二〇二五年七月一日起施行。"]},
    ),
    Draft(
        "12_glued_and_run_together.txt",
        title="杨浦区志愿服务促进办法（草案）",
        articles=[*plain((1, 1), (2, 1), (3, 1), (4, 1)), ("第五条", "激励", 1), *plain((6, 1))],
        texts={
            "第一条": ["为了弘扬志愿精神，规范志愿服务活动，促进志愿服务事业发展，制定本办法。"],
            "第三条": ["区精神文明建设委员会负责统筹协调本区志愿服务工作。区民政部门负责志愿服务行政管理工作。"],
            "第四条": ["街道办事处、镇人民政府应当为志愿服务活动提供场地等便利条件。"],
            "第五条": ["区人民政府对表现突出的志愿者给予表彰。"],
        },
    ),
    Draft(
        "13_decision_numbered_points.txt",
        title="杨浦区人民代表大会常务委员会关于全面推行民生实事项目人大代表票决制的决定（草案）",
        preamble=[
            "为了推进民生实事项目决策的科学化、民主化、法治化，根据《中华人民共和国地方各级人民代表大会和地方各级人民政府"
            "组织法》等有关法律规定，结合本区实际，作出如下决定："
        ],
        articles=[("一、", None, 1), ("二、", None, 2), ("三、", None, 1), ("四、", None, 1), ("五、", None, 1)],
        texts={
            "四、": [
                "区人民代表大会常务委员会应当组织代表对正式项目的实施情况进行监督，主要方式包括：\n"
                "（一）听取和审议专项工作报告；\n（二）组织代表视察；\n（三）开展满意度测评。"
            ]
        },
        style="point",
    ),
    Draft(
        "14_numbering_problems.txt",
        title="杨浦区河道管理条例（草案）",
        headings=["第一章 总则", "第三章 河道保护"],
        articles=[
            *plain((1, 1), (2, 1), (4, 1), (4, 1), (3, 1), (6, 1)),
            ("第七条", "河道蓝线", 0),
            ("第七条之二", None, 1),
            *plain((8, 1)),
        ],  # fmt: skip
        warnings=[
            "第3条 missing",
            "duplicate 第4条",
            "第3条 out of order (after 第4条)",
            "第5条 missing",
            "第7条 has no text",
            "第7条之1 missing before 第7条之2",
            "第2章 missing",
        ],
    ),
    Draft(
        "15_title_lines_and_explanation.txt",
        title="杨浦区户外招牌设置管理规定（草案）",
        articles=[("第一条", "立法目的", 1), ("第二条", "适用范围", 1), ("第三条", None, 1)],
        texts={"第一条": ["为了加强户外招牌设置管理，提升城市容貌品质，制定本规定。"]},
        warnings=[
            "text after the last article kept as an attachment, shown after the articles: "
            "关于《杨浦区户外招牌设置管理规定（草案）》的说明"
        ],
    ),
]


@pytest.mark.parametrize("case", DRAFT_CASES, ids=lambda case: case.file.removesuffix(".txt"))
def test_real_world_drafts(case):
    structure = split((DRAFTS / case.file).read_text(encoding="utf-8"))
    assert structure.style == case.style
    assert structure.title == case.title
    assert structure.preamble == case.preamble
    assert headings(structure) == case.headings
    assert labels(structure) == case.articles
    for label, paragraphs in case.texts.items():
        assert article(structure, label).paragraphs == paragraphs, label
    for label, heading_title in case.under.items():
        assert under(structure)[label] == heading_title, label
    assert [w.message for w in check(structure)] == case.warnings


def test_over_one_hundred_articles_in_parts_chapters_and_sections():
    structure = split((DRAFTS / "08_over_one_hundred_articles.txt").read_text(encoding="utf-8"))
    assert [(a.number, a.suffix) for a in structure.articles] == [(n, 0) for n in range(1, 211)]
    assert [a.label for a in structure.articles[99:111]] == [
        "第一百条", "第一百零一条", "第一百零二条", "第一百零三条", "第一百零四条", "第一百零五条", "第一百零六条",
        "第一百零七条", "第一百零八条", "第一百零九条", "第一百一十条", "第一百一十一条",
    ]  # fmt: skip
    assert article(structure, "第一百零一条").paragraphs == [
        "排放污染物的企业事业单位，应当建立环境保护责任制度，明确单位负责人和相关人员的责任。",
        "重点排污单位应当按照国家有关规定和监测规范安装使用监测设备。",
    ]
    assert article(structure, "第二百条").paragraphs == [
        "本条例所称重点排污单位，是指依照国家和本市有关规定确定的排污单位。"
    ]
    assert article(structure, "第二百一十条").paragraphs == ["本条例自2026年1月1日起施行。"]
    assert [(h.level, h.label, h.title) for h in structure.headings if h.level == PART] == [
        (PART, "第一编", "总则"),
        (PART, "第二编", "污染防治"),
        (PART, "第三编", "法律责任和附则"),
    ]
    sections = [h for h in structure.headings if h.level == SECTION]
    assert [(h.label, h.title, structure.headings[h.parent].title) for h in sections] == [
        ("第一节", "一般规定", "水污染防治"),
        ("第二节", "饮用水水源保护", "水污染防治"),
    ]
    chapter_three = structure.headings[4]
    assert (chapter_three.label, structure.headings[chapter_three.parent].label) == ("第三章", "第二编")
    assert under(structure)["第一百一十条"] == "法律责任"
    assert under(structure)["第七十五条"] == "饮用水水源保护"
    # Chapters run on through the parts (第三章 under 第二编): not a numbering problem.
    assert check(structure) == []


# -- numerals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("一", 1), ("十", 10), ("十一", 11), ("二十", 20), ("二十九", 29), ("九十九", 99), ("一百", 100),
        ("一百零一", 101), ("一百一十", 110), ("一百一十一", 111), ("一百二十", 120), ("二百", 200),
        ("二百零五", 205), ("两百", 200), ("九百九十九", 999), ("一千", 1000), ("一千零一", 1001),
        ("一千零一十", 1010), ("一万零一百", 10100), ("一〇一", 101), ("〇", 0), ("壹佰零壹", 101), ("拾", 10),
        ("12", 12), ("１０１", 101), (" 十 二 ", 12),
    ],
)  # fmt: skip
def test_parse_chinese_number(text, value):
    assert parse_chinese_number(text) == value


@pytest.mark.parametrize("text", ["", "  ", "十百", "一二十", "零十", "条", "12a", "一百百", "万"])
def test_parse_chinese_number_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_chinese_number(text)


def test_chinese_number_round_trips():
    assert [chinese_number(n) for n in (1, 10, 11, 20, 101, 110, 200, 1001, 1010, 10100)] == [
        "一", "十", "十一", "二十", "一百零一", "一百一十", "二百", "一千零一", "一千零一十", "一万零一百",
    ]  # fmt: skip
    for n in range(0, 3000):
        assert parse_chinese_number(chinese_number(n)) == n


# -- one messy detail at a time --------------------------------------------------------------------


def test_ends_sentence_looks_past_closing_quotes_and_brackets():
    assert ends_sentence("本条例自公布之日起施行。")
    assert ends_sentence("作出如下决定：")
    assert ends_sentence("即“先分类、后投放。”")
    assert not ends_sentence("依照本条例")
    assert not ends_sentence("物业管理条例（草案）")


@pytest.mark.parametrize(
    "text, expected",
    [
        # letter-spaced heading, title on the next line, Arabic and full-width numbers
        ("第 一 章\n总则\n第1条 为了规范管理，制定本规定。\n第２条 本规定自公布之日起施行。",
         (["第一章 总则"], [("第一条", 1), ("第二条", 1)])),
        # an article marker alone on its line, its text below
        ("第一条\n为了规范管理，制定本规定。\n第二条\n本规定自公布之日起施行。", ([], [("第一条", 1), ("第二条", 1)])),
        # an article whose last line lost its 。: the next article still starts
        ("第一条 为了规范管理，制定本规定\n第二条 本规定自公布之日起施行。", ([], [("第一条", 1), ("第二条", 1)])),
        # a chapter named in the middle of a broken sentence is a cross-reference
        ("第一条 依照本条例\n第三章的规定处理。\n第二条 本规定施行。", ([], [("第一条", 1), ("第二条", 1)])),
        # CR line ends (old Mac export) and zero-width spaces from a web page
        ("第一条\u200b 为了规范管理，制定本规定。\r第二条 本规定施行。\r", ([], [("第一条", 1), ("第二条", 1)])),
    ],
)  # fmt: skip
def test_small_texts(text, expected):
    structure = split(text)
    assert (headings(structure), [(a.label, len(a.paragraphs)) for a in structure.articles]) == expected


def test_colon_after_the_article_marker_of_an_informal_draft():
    structure = split("第一条：为了规范管理，制定本规定。\n第二条:\n本规定自公布之日起施行。")
    assert [(a.label, a.paragraphs) for a in structure.articles] == [
        ("第一条", ["为了规范管理，制定本规定。"]),
        ("第二条", ["本规定自公布之日起施行。"]),
    ]


def test_running_header_repeated_at_page_breaks_is_dropped_but_the_title_is_kept():
    header = "杨浦区物业管理规定（草案）"
    text = f"{header}\n第一条 为了规范\n\n- 1 -\n{header}\n管理，制定本规定。\n\n- 2 -\n{header}\n第二条 施行。"
    structure = split(text)
    assert structure.title == header
    assert [a.paragraphs for a in structure.articles] == [["为了规范管理，制定本规定。"], ["施行。"]]


def test_cross_reference_at_the_start_of_a_broken_line_is_not_an_article():
    structure = split("第一条 违反本条例\n第五条规定的，责令改正。\n第二条 依照\n第一条 的规定执行。")
    assert [a.label for a in structure.articles] == ["第一条", "第二条"]
    assert structure.articles[0].paragraphs == ["违反本条例第五条规定的，责令改正。"]
    assert structure.articles[1].paragraphs == ["依照第一条 的规定执行。"]


def test_the_expected_next_article_starts_even_in_a_broken_sentence():
    # Without 。 the line is unfinished, but 第二条 followed by a space is exactly the next article.
    structure = split("第一条 本规定适用于本区\n第二条 本规定自公布之日起施行。")
    assert [a.paragraphs for a in structure.articles] == [["本规定适用于本区"], ["本规定自公布之日起施行。"]]


def test_a_paragraph_may_open_with_a_cross_reference():
    structure = split("第一条 责令改正。\n第五条第二款规定的情形，从其规定。\n第二条 施行。")
    assert structure.articles[0].paragraphs == ["责令改正。", "第五条第二款规定的情形，从其规定。"]


def test_quoted_articles_in_an_amendment_are_text():
    text = "一、将第十条修改为：\n“第十条 区人民政府应当加强领导。”\n二、本决定自公布之日起施行。"
    structure = split(text)
    assert structure.style == "point"
    assert [a.paragraphs for a in structure.articles] == [
        ["将第十条修改为：", "“第十条 区人民政府应当加强领导。”"],
        ["本决定自公布之日起施行。"],
    ]


def test_page_numbers_of_every_common_shape_are_dropped():
    text = "第一条 为了规范管理，\n- 3 -\n制定本规定。\n第 4 页 共 10 页\n第二条 施行。\n5/10\n—6—"
    structure = split(text)
    assert [a.paragraphs for a in structure.articles] == [["为了规范管理，制定本规定。"], ["施行。"]]


def test_items_stay_inside_their_paragraph_one_a_line():
    structure = split(
        "第一条 禁止下列行为：\n（一）乱扔垃圾；\n(二)占用\n通道；\n1. 其他行为。\n违反前款规定的，处罚款。"
    )
    assert structure.articles[0].paragraphs == [
        "禁止下列行为：\n（一）乱扔垃圾；\n(二)占用通道；\n1. 其他行为。",
        "违反前款规定的，处罚款。",
    ]


def test_latin_words_broken_across_lines_keep_their_space():
    structure = split("第一条 适用 GB\n50016 标准。")
    assert structure.articles[0].paragraphs == ["适用 GB 50016 标准。"]


def test_table_of_contents_without_a_repeated_heading_is_reported():
    structure = split("目录\n第一章 总则\n第二章 附则\n第一条 为了规范管理，制定本规定。")
    assert structure.toc == ["第一章总则", "第二章附则"]
    assert structure.headings == []
    assert [w.code for w in check(structure)] == ["toc_mismatch", "toc_mismatch"]


def test_traditional_table_of_contents_matches_its_headings():
    structure = split("目錄\n第一章 總則\n附 則\n第一章 總則\n第一條 為了規範管理，制定本條例。\n附　則\n第二條 施行。")
    assert structure.toc == ["第一章總則", "附則"]
    assert headings(structure) == ["第一章 總則", "附則"]
    assert check(structure) == []


def test_text_between_a_heading_and_its_first_article_is_kept_and_reported():
    structure = split("第一条 为了规范管理，制定本规定。\n第二章 管理\n本章适用于公共区域。\n第二条 施行。")
    assert structure.headings[0].notes == ["本章适用于公共区域。"]
    assert "stray_text" in [w.code for w in check(structure)]


def test_no_articles():
    structure = split("")
    assert structure.articles == [] and structure.title is None
    assert [w.code for w in check(split("这是一段没有条文的文字。"))] == ["no_articles"]


def test_bracketed_item_after_an_article_marker_is_not_a_title():
    structure = split("第一条 施行。\n第五条（一）项规定的，从其规定。")
    assert [a.label for a in structure.articles] == ["第一条"]


def test_to_dict_carries_labels_for_the_correction_screen():
    data = split("第一章 总则\n第一条之一【目的】为了规范。").to_dict()
    assert data["headings"][0]["label"] == "第一章" and data["headings"][0]["level"] == CHAPTER
    assert data["articles"][0] | {} == {
        "number": 1, "suffix": 1, "title": "目的", "paragraphs": ["为了规范。"], "heading": 0, "line": 2,
        "style": "article", "label": "第一条之一",
    }  # fmt: skip


def test_a_long_draft_splits_quickly():
    import time

    bodies = [a.text for a in split((DRAFTS / "08_over_one_hundred_articles.txt").read_text(encoding="utf-8")).articles]
    text = "\n".join(f"　　第{chinese_number(n)}条　{bodies[n % len(bodies)]}" for n in range(1, 2001))
    started = time.perf_counter()
    structure = split(text)
    assert [a.number for a in structure.articles] == list(range(1, 2001))
    assert time.perf_counter() - started < 2.0
