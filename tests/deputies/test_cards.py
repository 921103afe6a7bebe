"""The activation-card PDF, checked with poppler's own tools as a reader would see it."""

import math
import re
import shutil
import subprocess
from html import unescape
from types import SimpleNamespace

import pytest

from voting import pdf
from voting.deputies import cards as layout
from voting.deputies.cards import build_activation_cards

LABELS = {
    "heading": "代表履职手机绑定卡",
    "number": "代表证号",
    "delegation": "代表团",
    "code": "激活码",
    "instructions": "请用本人手机扫描二维码（可用微信扫一扫），按提示绑定。此卡仅能使用一次，请妥善保管。",
    "page": "第 %(page)s 页",
}
TITLE = "第十八届人民代表大会 激活卡"


def _card(i, **overrides):
    card = {
        "name": f"王{'小明志强'[i % 4]}{i}",
        "number": f"2026{i:04d}",
        "delegation": "东城区代表团",
        "code": f"K7QX-2MNP-8RTV-{i:04d}".replace("0", "W"),
        "url": f"https://vote.example.gov.cn/activate/K7QX2MNP8RTV{i:04d}",
    }
    return {**card, **overrides}


def _poppler(tmp_path, tool, pdf_bytes, *args):
    """Run a poppler-utils tool on the PDF and return what it prints."""
    if not shutil.which(tool):
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    path = tmp_path / "cards.pdf"
    path.write_bytes(pdf_bytes)
    # pdftotext writes a file beside the PDF unless its output is named "-".
    output = ["-"] if tool == "pdftotext" else []
    return subprocess.run([tool, *args, str(path), *output], capture_output=True, check=True, text=True).stdout


def _info(tmp_path, pdf_bytes):
    out = _poppler(tmp_path, "pdfinfo", pdf_bytes)
    return dict(re.findall(r"^(\w[\w ]*):\s+(.*)$", out, re.M))


def _text(tmp_path, pdf_bytes, *args):
    """Return the PDF's text with all white space removed, as pdftotext reads it."""
    return re.sub(r"\s+", "", _poppler(tmp_path, "pdftotext", pdf_bytes, *args))


def _card_text(tmp_path, pdf_bytes, page, index):
    """Return the text inside one card's rectangle on ``page``."""
    x0, y0, x1, y1 = (round(v) for v in _cell(index))
    crop = ["-x", x0, "-y", y0, "-W", x1 - x0, "-H", y1 - y0, "-f", page, "-l", page]
    return _text(tmp_path, pdf_bytes, *map(str, crop))


@pytest.mark.parametrize("count", [1, 8, 9, 17])
def test_eight_cards_fill_an_a4_page(tmp_path, count):
    pdf_bytes = build_activation_cards([_card(i) for i in range(count)], title=TITLE, labels=LABELS)
    assert pdf_bytes.startswith(b"%PDF")
    info = _info(tmp_path, pdf_bytes)
    assert int(info["Pages"]) == math.ceil(count / 8)
    assert info["Page size"].startswith("595.276 x 841.89")
    assert info["Title"] == TITLE


def test_only_the_embedded_chinese_font_is_used(tmp_path):
    pdf_bytes = build_activation_cards([_card(1)], title=TITLE, labels=LABELS)
    rows = _poppler(tmp_path, "pdffonts", pdf_bytes).splitlines()[2:]
    assert rows and all("WenQuanYiMicroHei" in row for row in rows)
    # Columns: name, type, encoding, emb, sub, uni, object, generation.
    assert all(row.split()[-5] == "yes" for row in rows)


def test_each_card_carries_its_own_deputy_and_code(tmp_path):
    deck = [_card(i) for i in range(9)]
    pdf_bytes = build_activation_cards(deck, title=TITLE, labels=LABELS)
    for i, card in enumerate(deck):
        text = _card_text(tmp_path, pdf_bytes, i // 8 + 1, i % 8)
        assert text.startswith(LABELS["heading"] + card["name"])
        assert f"代表证号{card['number']}代表团东城区代表团激活码" in text
        # The code is printed two groups a line.
        assert card["code"].replace("-", "") in text.replace("-", "")
        assert text.endswith(LABELS["instructions"])
    text = _text(tmp_path, pdf_bytes)
    assert "第1页" in text and "第2页" in text


def test_cards_may_be_objects_and_a_generator(tmp_path):
    deck = (SimpleNamespace(**_card(i, number=i, delegation=None)) for i in range(3))
    text = _card_text(tmp_path, build_activation_cards(deck, title=TITLE, labels=LABELS), 1, 2)
    assert "王志2代表证号2激活码" in text


def _words(tmp_path, pdf_bytes):
    """Return (text, x0, y0, x1, y1) for every word of page 1, y measured down from the top."""
    html = _poppler(tmp_path, "pdftotext", pdf_bytes, "-bbox", "-f", "1", "-l", "1")
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [(unescape(t), float(a), float(b), float(c), float(d)) for a, b, c, d, t in re.findall(pattern, html)]


def _cell(index):
    """Return the card rectangle (x0, y0, x1, y1) of position ``index``, y measured down from the top."""
    column, row = index % layout.COLUMNS, index // layout.COLUMNS
    x0, y0 = layout.MARGIN_X + column * layout.CARD_WIDTH, layout.MARGIN_Y + row * layout.CARD_HEIGHT
    return x0, y0, x0 + layout.CARD_WIDTH, y0 + layout.CARD_HEIGHT


def _qr_square(index):
    x0, y0, _, _ = _cell(index)
    left, top = x0 + layout.PADDING, y0 + layout.PADDING + layout.HEADING_BLOCK[2]
    return left, top, left + layout.QR_SIZE, top + layout.QR_SIZE


def _overlaps(a, b, slack=0.5):
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


def _inside(word, box, slack=0.5):
    return (
        box[0] - slack <= word[0]
        and word[2] <= box[2] + slack
        and box[1] - slack <= word[1]
        and word[3] <= box[3] + slack
    )


def test_long_names_and_delegations_stay_inside_their_card(tmp_path):
    deck = [
        _card(0, name="阿卜杜热合曼·买买提明·阿不都热西提·艾合买提江", delegation="中国人民解放军和武装警察部队代表团"),
        _card(1, name="W" * 80, number="9" * 60, delegation="中" * 120),
        _card(2, name="Christopher Montgomery-Smithson", delegation="A delegation with a very long English name"),
        _card(3, code="WWWWMMMMWWWWMMMMWWWW"),
        *(_card(i) for i in range(4, 8)),
    ]
    pdf_bytes = build_activation_cards(deck, title=TITLE, labels=LABELS)
    words = _words(tmp_path, pdf_bytes)
    in_margin = [text for text, _, y0, _, _ in words if y0 > layout.PAGE_HEIGHT - layout.MARGIN_Y]
    assert "".join(in_margin) == "第1页"
    on_cards = [word for word in words if word[2] <= layout.PAGE_HEIGHT - layout.MARGIN_Y]
    assert len(on_cards) > 8 * 5
    for text, *box in on_cards:
        homes = [i for i in range(8) if _inside(box, _cell(i))]
        assert homes, f"{text!r} at {box} is not inside any card"
        assert not _overlaps(box, _qr_square(homes[0])), f"{text!r} at {box} covers the QR code"
    assert "…" in _text(tmp_path, pdf_bytes)


def test_font_registration_is_idempotent():
    assert pdf.register_cjk_font() == "WQY"
    assert pdf.register_cjk_font() == "WQY"


def test_missing_font_file_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "_registered", False)
    monkeypatch.setenv("VOTING_CJK_FONT", str(tmp_path / "missing.ttc"))
    with pytest.raises(RuntimeError, match="apt-get install fonts-wqy-microhei"):
        pdf.register_cjk_font()
