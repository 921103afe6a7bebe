"""Masking personal data in published text: what residents type is masked, what laws say is not."""

import time

import pytest

from voting.consultations.masking import mask_personal_data, mask_phone

MASKED = [
    # mobile numbers, as people write them
    ("我的手机13812345678，欢迎联系。", "我的手机138****5678，欢迎联系。"),
    ("电话13912345678", "电话139****5678"),
    ("138 1234 5678", "138 **** 5678"),
    ("138-1234-5678", "138-****-5678"),
    ("+86 13812345678", "+86 138****5678"),
    ("+8613812345678", "+86138****5678"),
    ("0086-138-1234-5678", "0086-138-****-5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits keep their width
    ("13812345678、13912345678", "138****5678、139****5678"),
    ("tel:19912345678.", "tel:199****5678."),
    # landlines with an area code, and local numbers that say they are phone numbers
    ("021-65432100", "021-****2100"),
    ("(021)65432100", "(021)****2100"),
    ("（０２１）６５４３２１００", "（０２１）****２１００"),
    ("010 62345678", "010 ****5678"),
    ("0571-8888888", "0571-***8888"),
    ("010-12345678转123", "010-****5678转123"),
    ("02165432100", "021****2100"),
    ("电话：62345678", "电话：****5678"),
    ("联系电话 6234567", "联系电话 ***4567"),
    ("座机是62345678", "座机是****5678"),
    # ID numbers (18 and 15 digits) and other long digit runs (bank cards)
    ("身份证号110101199001011234", "身份证号110***********1234"),
    ("11010119900101123X", "110***********123X"),
    ("11010119900101123x。", "110***********123x。"),
    ("110101 19900101 1234", "110*** ******** 1234"),
    ("110101900101123", "110********1123"),
    ("卡号6222021234567890123", "卡号622************0123"),
    ("１１０１０１１９９００１０１１２３４", "１１０***********１２３４"),
    # e-mail, QQ and WeChat
    ("邮箱zhang.san@example.com谢谢", "邮箱z********@example.com谢谢"),
    ("12345678@qq.com", "1*******@qq.com"),
    ("a@b.cn", "*@b.cn"),
    ("QQ：12345678", "QQ：12****78"),
    ("qq 87654321", "qq 87****21"),
    ("微信号：wxid_abc123", "微信号：wx*******23"),
    ("加我微信 zhangsan88", "加我微信 zh******88"),
    # several kinds in one opinion, markup left as it is (escaping is the page's job)
    (
        "<b>张三</b> 13812345678 / 021-65432100 / 110101199001011234",
        "<b>张三</b> 138****5678 / 021-****2100 / 110***********1234",
    ),
]

UNCHANGED = [
    "第一百零一条",
    "第十二条第三款第（一）项",
    "第12条第3款",
    "依照本条例第十二条规定",
    "第10-12条",
    "2024年9月10日",
    "2024-09-10 10:30:00",
    "2024/09/10",
    "2024.09.10",
    "20240910",
    "10:30-11:30",
    "罚款10000元以上50000元以下",
    "处1000000元罚款",
    "13800000000元",  # an amount that looks like a mobile number
    "¥13812345678",
    "投资13812345678万元",
    "人口13512345678人",
    "邮编200433",
    "GB 50016-2014",
    "GB/T 50378-2019",
    "沪府发〔2024〕12号",
    "3.1415926535897932",
    "比例不低于0.5%",
    "统一社会信用代码91310000MA1FL0000X",
    "400-820-8820",  # a service hotline
    "12345678",  # a bare number that does not say it is a phone
    "面积不少于1000平方米",
    "7×24小时",
    "电话会议",
    "QQ音乐",
    "",
    "   ",
    "一二三四五六七八九十",
]


@pytest.mark.parametrize("text, expected", MASKED, ids=[t for t, _ in MASKED])
def test_personal_data_in_text_is_masked(text, expected):
    assert mask_personal_data(text) == expected
    assert mask_personal_data(expected) == expected, "masking masked text changes nothing"


@pytest.mark.parametrize("text", UNCHANGED, ids=[t or "empty" for t in UNCHANGED])
def test_numbers_about_laws_are_not_masked(text):
    assert mask_personal_data(text) == text


def test_none_passes_through():
    assert mask_personal_data(None) is None


def test_masked_text_keeps_its_length_and_other_characters():
    text = "建议第十条增加：物业应公示电话。我的电话13812345678，身份证110101199001011234。"
    masked = mask_personal_data(text)
    assert len(masked) == len(text)
    assert [a for a, b in zip(text, masked, strict=True) if a != b] == list("1234") + list("10119900101")
    assert "13812345678" not in masked and "110101199001011234" not in masked


@pytest.mark.parametrize(
    "phone, expected",
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("8613812345678", "86138****5678"),
        ("008613812345678", "0086138****5678"),
        ("02165432100", "021****2100"),
        ("057188888888", "057*****8888"),
        ("6543210", "*****10"),
        ("12345", "***45"),
        ("138-1234-5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(phone, expected):
    assert mask_phone(phone) == expected


def test_a_long_opinion_without_numbers_is_masked_quickly():
    """Exports mask every opinion: 300,000 of them must not take minutes."""
    texts = ["建议明确物业服务企业的公示义务，并规定业主大会的召开程序和表决方式。" * 3] * 20_000
    texts += ["我的手机13812345678，建议第十二条增加公示电话021-65432100。"] * 2_000
    started = time.perf_counter()
    masked = [mask_personal_data(t) for t in texts]
    elapsed = time.perf_counter() - started
    assert masked[0] == texts[0] and "138****5678" in masked[-1]
    # 22,000 opinions; about 0.1 s here. Generous for a loaded machine.
    assert elapsed < 2.0, elapsed
