"""Reading uploaded drafts: text encodings, .docx built here byte by byte, and hostile files."""

import io
import time
import zipfile
from xml.sax.saxutils import escape

import pytest

from voting.consultations import documents
from voting.consultations.documents import DocumentError, read_document, read_docx, read_text
from voting.consultations.splitter import split

NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)

DRAFT = (
    "杨浦区物业管理条例（草案）\n第一章 总则\n"
    "第一条 为了规范物业管理活动，制定本条例。\n第二条 本条例自公布之日起施行。\n"
)


def run(text):
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def para(*runs, style=None, num=None):
    ppr = ""
    if style or num:
        numpr = f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>' if num else ""
        pstyle = f'<w:pStyle w:val="{style}"/>' if style else ""
        ppr = f"<w:pPr>{pstyle}{numpr}</w:pPr>"
    return f"<w:p>{ppr}{''.join(r if r.startswith('<') else run(r) for r in runs)}</w:p>"


def docx(body, numbering=None, styles=None, extra=None):
    """Build a minimal .docx package in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {NS}><w:body>'
                                              f"{body}</w:body></w:document>")  # fmt: skip
        if numbering:
            archive.writestr("word/numbering.xml", f"<w:numbering {NS}>{numbering}</w:numbering>")
        if styles:
            archive.writestr("word/styles.xml", f"<w:styles {NS}>{styles}</w:styles>")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


# -- text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        DRAFT.encode("utf-8"),
        b"\xef\xbb\xbf" + DRAFT.encode("utf-8"),
        DRAFT.encode("gb18030"),
        DRAFT.encode("gbk"),
        DRAFT.encode("utf-16"),  # Notepad's "Unicode", with its BOM
        DRAFT.replace("\n", "\r\n").encode("gb18030"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "gbk", "utf16-bom", "gb18030-crlf"],
)
def test_text_in_every_common_encoding(data):
    text = read_document("草案.txt", data)
    assert text.replace("\r\n", "\n") == DRAFT
    assert [a.label for a in split(text).articles] == ["第一条", "第二条"]


def test_gb18030_characters_outside_gbk_survive():
    assert read_text("㐀 第一条 𠀀".encode("gb18030")) == "㐀 第一条 𠀀"


@pytest.mark.parametrize(
    "filename, data, code",
    [
        ("草案.txt", b"\x00\x01binary\x00", "binary"),
        ("草案.txt", b"\x81\x30", "unknown_encoding"),  # a cut-off GB18030 four-byte sequence
        ("草案.pdf", b"%PDF-1.7 ...", "unsupported_type"),
        ("草案.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old_word"),
        ("草案.docx", b"this is not a zip file", "not_docx"),
        ("草案.txt", b"x" * (documents.MAX_UPLOAD_BYTES + 1), "too_large"),
    ],
)
def test_unreadable_uploads_are_refused_with_a_reason(filename, data, code):
    with pytest.raises(DocumentError) as caught:
        read_document(filename, data)
    assert caught.value.code == code


# -- .docx -----------------------------------------------------------------------------------------


def test_docx_paragraphs_runs_tabs_breaks_tables_and_tracked_changes():
    body = "".join(
        [
            para("杨浦区物业管理条例", "（草案）"),
            para("第一", "条", "\u3000为了规范物业管理活动，", "<w:r><w:tab/></w:r>", "制定本条例。"),
            para("第二条 本条例适用于", '<w:del><w:r><w:delText>全市</w:delText></w:r></w:del>',
                 '<w:ins><w:r><w:t>本区</w:t></w:r></w:ins>', "。", "<w:r><w:br/></w:r>", "前款规定以外的，从其规定。"),
            para("第三条 ", '<w:hyperlink><w:r><w:t>链接文字</w:t></w:r></w:hyperlink>',
                 '<w:r><w:fldChar/><w:instrText> PAGE </w:instrText></w:r>', "。"),
            f"<w:tbl><w:tr><w:tc>{para('表格单元一')}</w:tc><w:tc>{para('表格单元二')}</w:tc></w:tr></w:tbl>",
            "<w:sdt><w:sdtContent>" + para("第四条 内容控件中的条文。") + "</w:sdtContent></w:sdt>",
            para(""),
        ]
    )  # fmt: skip
    text = read_document("draft.docx", docx(body))
    assert text.split("\n") == [
        "杨浦区物业管理条例（草案）",
        "第一条\u3000为了规范物业管理活动，\t制定本条例。",
        "第二条 本条例适用于本区。",
        "前款规定以外的，从其规定。",
        "第三条 链接文字。",
        "表格单元一",
        "表格单元二",
        "第四条 内容控件中的条文。",
    ]


ARTICLE_NUMBERING = """
<w:abstractNum w:abstractNumId="7">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1条"/>
    <w:suff w:val="space"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/>
    <w:suff w:val="nothing"/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="8">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCountingThousand"/><w:lvlText w:val="第%1章"/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="9">
  <w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/></w:lvl>
</w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="7"/></w:num>
<w:num w:numId="2"><w:abstractNumId w:val="8"/></w:num>
<w:num w:numId="3"><w:abstractNumId w:val="9"/></w:num>
<w:num w:numId="4"><w:abstractNumId w:val="7"/>
  <w:lvlOverride w:ilvl="0"><w:startOverride w:val="101"/></w:lvlOverride></w:num>
"""


def test_word_automatic_numbering_is_written_out_so_the_splitter_sees_articles():
    body = "".join(
        [
            para("杨浦区物业管理条例（草案）"),
            para("总则", num=(2, 0)),
            para("为了规范物业管理活动，制定本条例。", num=(1, 0)),
            para("业主享有下列权利：", num=(1, 0)),
            para("参加业主大会；", num=(1, 1)),
            para("监督业主委员会。", num=(1, 1)),
            para("不编号的说明。", num=(3, 0)),
            *[para(f"条文内容{n}。", num=(1, 0)) for n in range(3, 12)],
            para("附则", num=(2, 0)),
            para("本条例自公布之日起施行。", num=(4, 0)),
        ]
    )
    text = read_docx(docx(body, numbering=ARTICLE_NUMBERING))
    lines = text.split("\n")
    assert lines[:7] == [
        "杨浦区物业管理条例（草案）",
        "第一章 总则",  # the default suffix is a tab, written as a space
        "第一条 为了规范物业管理活动，制定本条例。",
        "第二条 业主享有下列权利：",
        "（一）参加业主大会；",
        "（二）监督业主委员会。",
        "不编号的说明。",
    ]
    assert lines[-4:] == ["第十条 条文内容10。", "第十一条 条文内容11。", "第二章 附则",
                          "第一百零一条 本条例自公布之日起施行。"]  # fmt: skip
    structure = split(text)
    assert [a.number for a in structure.articles] == [*range(1, 12), 101]
    assert structure.articles[1].paragraphs == [
        "业主享有下列权利：\n（一）参加业主大会；\n（二）监督业主委员会。",
        "不编号的说明。",
    ]


def test_numbering_through_a_paragraph_style():
    styles = """
    <w:style w:type="paragraph" w:styleId="Article"><w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>
    <w:style w:type="paragraph" w:styleId="ArticleBody"><w:basedOn w:val="Article"/></w:style>
    <w:style w:type="paragraph" w:styleId="LoopA"><w:basedOn w:val="LoopB"/></w:style>
    <w:style w:type="paragraph" w:styleId="LoopB"><w:basedOn w:val="LoopA"/></w:style>
    """
    body = (
        para("为了规范。", style="Article")
        + para("本条例施行。", style="ArticleBody")
        + para("普通段落", style="LoopA")
    )
    assert read_docx(docx(body, ARTICLE_NUMBERING, styles)).split("\n") == [
        "第一条 为了规范。", "第二条 本条例施行。", "普通段落",
    ]  # fmt: skip


def test_docx_without_a_document_part_is_refused():
    with pytest.raises(DocumentError) as caught:
        read_docx(docx("", extra={"word/other.xml": "<x/>"}).replace(b"word/document.xml", b"word/documenz.xml"))
    assert caught.value.code == "not_docx"


def test_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        f"<w:document {NS}><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", bomb)
    with pytest.raises(DocumentError) as caught:
        read_docx(buffer.getvalue())
    assert caught.value.code == "bad_xml"


def test_zip_bomb_is_refused_before_it_is_unpacked():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("word/document.xml", b" " * (documents.MAX_PART_BYTES + 1))
    data = buffer.getvalue()
    assert len(data) < 200_000  # 40 MB of spaces packs into a small upload
    started = time.perf_counter()
    with pytest.raises(DocumentError) as caught:
        read_document("bomb.docx", data)
    assert caught.value.code == "zip_bomb"
    assert time.perf_counter() - started < 0.5


def test_highly_compressed_part_below_the_size_cap_is_refused_too():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("word/document.xml", b"<a>" + b"\x00" * 5_000_000 + b"</a>")
    with pytest.raises(DocumentError) as caught:
        read_docx(buffer.getvalue())
    assert caught.value.code == "zip_bomb"


def test_too_many_entries_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(documents.MAX_ENTRIES + 1):
            archive.writestr(f"junk/{i}", b"")
    with pytest.raises(DocumentError) as caught:
        read_docx(buffer.getvalue())
    assert caught.value.code == "zip_bomb"


def test_part_larger_than_its_header_says_is_refused():
    data = bytearray(docx(para("第一条 为了规范物业管理活动，制定本条例。")))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo("word/document.xml").header_offset
    central = data.index(b"PK\x01\x02")
    while not data[central + 46 :].startswith(b"word/document.xml"):
        central = data.index(b"PK\x01\x02", central + 4)
    for offset in (local + 22, central + 24):  # the unpacked size in both headers claims 10 bytes
        data[offset : offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(DocumentError) as caught:
        read_docx(bytes(data))
    assert caught.value.code == "not_docx"  # zipfile stops at the claimed size and the CRC check fails
