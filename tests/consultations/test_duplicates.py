"""Table-driven tests for voting.consultations.duplicates on realistic Chinese opinions (pure, no app).

The pairs below are the labelled set the choice of method was measured on (see the module's doc):
exact copies that differ in punctuation, width or spaces; copy-paste campaign texts with small
edits; light paraphrases; and different opinions on the same article, several of which look
almost the same character for character (删除/保留, 十五日/六十日, 同意/不同意).
"""

import random

import pytest

from voting.consultations import duplicates
from voting.consultations.duplicates import Item, alike, normalize, similarity, suggest

SAME = [
    # exact once normalised
    ("建议将第十二条中的“三十日”改为“十五日”。", '建议将第12条中的"30日"改为"15日"'),
    ("建议增加电动自行车集中充电设施的规定！", "建议增加电动自行车集中充电设施的规定 ！"),
    ("ＡＢＣ小区物业费太高，建议公开收支。", "abc小区物业费太高,建议公开收支"),
    ("建议第三十条罚款提高到一万元", "建议第30条罚款提高到10000元。"),
    # copy-paste campaigns with small edits
    (
        "坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！",
        "我是阳光小区业主，坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！",
    ),
    (
        "坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！",
        "坚决反对在我们小区旁建设垃圾中转站，严重影响居民的生活，恳请重新选址。",
    ),
    (
        "强烈要求物业公司每半年公示一次公共收益收支情况，接受全体业主监督。",
        "强烈要求物业公司每半年公示一次公共收益收支情况，接受全体业主监督。——3号楼王女士",
    ),
    (
        "强烈要求物业公司每半年公示一次公共收益收支情况，接受全体业主监督。",
        "强烈要求物业服务企业每半年公示一次公共收益的收支情况,接受全体业主的监督",
    ),
    # light paraphrases: the same demand, a few words changed or moved
    (
        "建议第二十条增加规定：业主委员会委员应当每年向业主大会报告履职情况。",
        "建议在第二十条增加：业主委员会委员应当每年向业主大会报告履职情况",
    ),
    (
        "物业服务企业应当在小区显著位置公示收费项目和收费标准。",
        "建议物业服务企业在小区的显著位置公示收费项目及收费标准。",
    ),
    ("禁止在楼道内停放电动自行车，也禁止在楼道内充电。", "严禁在楼道内停放电动自行车，也禁止在楼道内充电。"),
]

DIFFERENT = [
    # opposite wording that looks alike character by character
    ("建议删除第十二条。", "建议保留第十二条。"),
    ("同意本条规定，物业费应当由业主大会决定。", "不同意本条规定，物业费应当由业主大会决定。"),
    ("建议应当设立业主委员会。", "建议不应当设立业主委员会。"),
    ("电动自行车应当允许在楼道内停放。", "电动自行车应当禁止在楼道内停放。"),
    ("建议提高违规装修的罚款标准。", "建议降低违规装修的罚款标准。"),
    ("建议延长业主委员会的任期至五年。", "建议缩短业主委员会的任期至三年。"),
    ("停车位应当优先出租给本小区业主使用。", "停车位应当优先出售给本小区业主使用。"),
    ("建议物业费实行政府指导价。", "建议物业费实行市场调节价。"),
    ("公共收益应当用于补充专项维修资金。", "公共收益不得用于补充专项维修资金。"),
    # the same sentence with a different number is a different proposal
    ("建议将第十二条中的“三十日”改为“十五日”。", "建议将第十二条中的“三十日”改为“六十日”。"),
    ("建议第三十条的罚款上限由五千元提高到一万元。", "建议第三十条的罚款上限由五千元提高到两万元。"),
    # different points on the same article
    (
        "物业服务企业应当公示收费标准，建议增加公示期限的规定。",
        "物业服务企业应当公开维修资金使用情况，建议增加审计的规定。",
    ),
    ("建议明确小区公共停车位的收费由业主大会决定。", "建议明确小区公共停车位的收益归全体业主所有。"),
    ("本条规定的物业服务合同期限过短，建议延长。", "本条对业主大会的召开程序规定不明确，建议细化。"),
    ("建议增加对老旧小区加装电梯的补贴规定。", "建议增加对老旧小区停车难问题的解决办法。"),
    # heavy rewording is beyond string similarity: left for the organizer to see on the article's page
    ("建议将第十二条中的“三十日”改为“十五日”，时间太长了。", "第十二条规定的三十日期限过长，建议改成十五日。"),
    (
        "物业费调整应当经业主大会表决通过，不能由物业公司单方面决定。",
        "物业公司不能自己决定涨物业费，必须经过业主大会表决同意。",
    ),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_duplicates_are_recognised(a, b):
    assert alike(normalize(a), normalize(b)) is not None
    groups = suggest([Item(1, a, 7), Item(2, b, 7)])
    assert [[m.id for m in g.members] for g in groups] == [[1, 2]]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_opinions_are_not_grouped(a, b):
    assert alike(normalize(a), normalize(b)) is None
    assert suggest([Item(1, a, 7), Item(2, b, 7)]) == []
    assert suggest([Item(1, a, 7), Item(2, b, 7)], exhaustive=0) == []


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("建议将第十二条中的“三十日”改为“十五日”。", "建议将第12条中的30日改为15日"),
        ("ＡＢＣ　小区", "abc小区"),
        ("罚款一万元", "罚款10000元"),
        ("统一规定", "统一规定"),  # 一 not before a unit stays a word
        ("", ""),
    ],
)
def test_normalize(text, normalised):
    assert normalize(text) == normalised


def test_exact_copies_form_one_group_and_many_are_a_campaign():
    items = [Item(i, "同意。" if i % 2 else "同意", None) for i in range(1, 13)]
    items.append(Item(99, "不同意", None))
    (group,) = suggest(items)
    assert group.representative == 1 and group.size == 12 and group.people == 12
    assert group.exact and group.campaign and group.similarity == 100
    assert 99 not in [m.id for m in group.members]


@pytest.mark.parametrize("exhaustive", [duplicates.EXHAUSTIVE, 0], ids=["every-pair", "lsh"])
def test_a_campaign_with_small_edits_is_one_group(exhaustive):
    template = "电动自行车不得在楼道内停放和充电，建议小区统一建设集中充电设施，费用由公共收益承担。"
    rng = random.Random(4)
    items = []
    for i in range(1, 41):
        chars = list(template)
        for _ in range(rng.randint(0, 3)):
            position = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[position]
            else:
                chars.insert(position, rng.choice("的了，。！"))
        items.append(Item(i, "".join(chars) + rng.choice(["", "——5号楼居民", "，谢谢！"]), 12))
    items += [Item(100, "建议增加对老旧小区加装电梯的补贴规定。", 12), Item(101, "电动自行车可以在楼道内停放。", 12)]
    (group,) = suggest(items, exhaustive=exhaustive)
    assert sorted(m.id for m in group.members) == list(range(1, 41))
    assert group.campaign and not group.exact
    assert group.similarity >= duplicates.DEFAULT_THRESHOLD


def test_groups_stay_within_their_article():
    text = "建议明确业主委员会委员的任职条件和罢免程序。"
    groups = suggest([Item(1, text, 3), Item(2, text, 4), Item(3, text, 4), Item(4, text, None)])
    assert [(g.article, [m.id for m in g.members]) for g in groups] == [(4, [2, 3])]


def test_a_handled_opinion_represents_its_group_and_is_not_a_merge_source():
    text = "建议增加电动自行车集中充电设施的规定。"
    items = [Item(1, text, 2), Item(2, text, 2), Item(3, text + "谢谢", 2, people=4, preferred=True)]
    (group,) = suggest(items)
    assert group.representative == 3
    assert [(m.id, m.handled) for m in group.members][0] == (3, True)
    assert group.people == 6


def test_every_member_is_similar_to_the_representative_not_only_to_a_neighbour():
    # A chain: each text a small step from the last, the ends far apart.
    base = "建议物业服务企业每季度公示公共收益收支情况并接受业主监督"
    chain = [base]
    for word in ("每年", "在小区公告栏", "和维修资金使用情况", "由业主委员会审核", "报街道备案"):
        chain.append(chain[-1] + word)
    groups = suggest([Item(i, t, 1) for i, t in enumerate(chain, start=1)])
    for group in groups:
        rep = next(t for i, t in enumerate(chain, start=1) if i == group.representative)
        for member in group.members:
            assert similarity(normalize(rep), normalize(chain[member.id - 1])) >= duplicates.DEFAULT_THRESHOLD


def test_the_result_does_not_depend_on_the_order_of_the_opinions():
    items = [Item(i, t, 5) for i, (a, b) in enumerate(SAME, start=1) for t in (a, b)]
    items = [Item(i, it.text, it.article) for i, it in enumerate(items, start=1)]
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)

    def shape(groups):
        return sorted(sorted(m.id for m in g.members) for g in groups)

    assert shape(suggest(items)) == shape(suggest(shuffled))


def test_opinions_are_grouped_before_compared_never_all_pairs(monkeypatch):
    rng = random.Random(9)
    subjects = ["物业服务企业", "业主委员会", "街道办事处", "建设单位", "居民委员会", "房屋管理部门"]
    objects = ["公共收益收支情况", "维修资金使用情况", "收费标准", "电梯维护记录", "停车位租售方案", "绿化改造计划"]
    tails = ["，接受业主监督。", "，建议明确期限。", "，否则承担责任。", "，并报街道备案。"]
    items = [
        Item(i, f"{rng.choice(subjects)}应当公示{rng.choice(objects)}和{rng.choice(objects)}{rng.choice(tails)}{i}", 1)
        for i in range(3000)
    ]
    calls = {"n": 0}
    original = duplicates.alike

    def counting(a, b, threshold=duplicates.DEFAULT_THRESHOLD):
        calls["n"] += 1
        return original(a, b, threshold)

    monkeypatch.setattr(duplicates, "alike", counting)
    suggest(items)
    # Linear in the number of opinions; all pairs would be 4.5 million comparisons.
    assert calls["n"] <= len(items) * duplicates.BANDS * duplicates.MAX_LEADERS
    assert calls["n"] < len(items) * (len(items) - 1) / 2 / 20
