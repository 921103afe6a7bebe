"""The resident's pages: drafts by poster link, an article, an opinion, a tracking code, its status.

Browsers here read English (a ``lang`` cookie) so that a better Chinese translation breaks no
test; one test checks that a newcomer gets Chinese.
"""

import gzip
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from voting.consultations import operations as ops
from voting.consultations.models import (
    MAX_OPINION_CHARS,
    Channel,
    Opinion,
    OpinionContact,
    OpinionStatus,
    SubmitterType,
    format_tracking_code,
)
from voting.consultations.public_views import MAX_OPINION_BODY
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
SCRIPT = "<script>alert(1)</script>"
NONCE = "n" * 22


def draft_text(name):
    return (DRAFTS / name).read_text(encoding="utf-8")


@pytest.fixture
def browser(app):
    """A new browser (cookie jar) that reads English: browser(language="en")."""

    def make(language="en", remote_addr="203.0.113.7"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = remote_addr
        if language:
            client.set_cookie("lang", language)
        return client

    return make


@pytest.fixture
def resident(browser):
    return browser()


@pytest.fixture
def publish(app, organizer):
    """Create and publish a draft from one of tests/consultations/drafts: publish(name, **fields)."""

    def make(name="01_district_regulation.txt", **fields):
        draft, _ = ops.create_draft(organizer, draft_text(name), **fields)
        ops.publish_draft(organizer, draft)
        db.session.commit()
        return draft

    return make


@pytest.fixture
def published(publish):
    return publish(explanation="为了规范住宅小区物业管理活动，起草本规定。\n第二段说明。")


@pytest.fixture
def network(app, organizer):
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道基层立法联系点", "point", district)
    db.session.commit()
    return district, point


def opinions():
    return db.session.scalars(select(Opinion).order_by(Opinion.id)).all()


def count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def opinion_url(draft, article=None, p=None):
    query = "&".join(f"{k}={v}" for k, v in (("article", article and article.id), ("p", p)) if v)
    return f"/c/drafts/{draft.id}/opinion" + (f"?{query}" if query else "")


def form_fields(html):
    """The hidden fields of the opinion form."""
    return dict(re.findall(r'<input[^>]*name="(nonce|p|csrf_token)"[^>]*value="([^"]*)"', html))


def send(client, draft, text, article=None, p=None, **fields):
    page = client.get(opinion_url(draft, article, p))
    assert page.status_code == 200, page.text
    data = {**form_fields(page.text), "text": text, **fields}
    return client.post(opinion_url(draft, article, p), data=data)


def tracking_code(html):
    match = re.search(r'class="consult-code"[^>]*><span class="receipt-code" translate="no">([A-Z0-9-]+)<', html)
    assert match, html
    return match.group(1)


def links(html):
    return re.findall(r'href="([^"]+)"', html)


# -- drafts ----------------------------------------------------------------------------------------


def test_the_poster_link_lists_open_drafts_and_welcomes_through_its_point(app, organizer, publish, network, resident):
    _, point = network
    open_draft = publish()
    closing = publish("03_measures_with_sections.txt")
    ops.close_draft(organizer, closing)
    preparing, _ = ops.create_draft(organizer, draft_text("02_decision_without_chapters.txt"))
    db.session.commit()
    page = resident.get(f"/c?p={point.code.lower()}")
    assert page.status_code == 200
    html = page.text
    assert "Welcome! You came through 殷行街道基层立法联系点." in html
    assert f'href="/c/drafts/{open_draft.id}?p={point.code}"' in html
    assert "Comment period over" in html and f'href="/c/drafts/{closing.id}?p={point.code}"' in html
    assert preparing.title not in html and f"/c/drafts/{preparing.id}" not in html
    assert f"/c/track?p={point.code}" in html
    assert resident.get(f"/c/drafts/{preparing.id}").status_code == 404


def test_a_newcomer_reads_chinese_and_gets_an_anonymous_client_cookie(app, browser, published):
    client = browser(language=None)
    page = client.get("/c")
    assert 'lang="zh-CN"' in page.text and "立法" in page.text
    cookie = client.get_cookie(app.config["CLIENT_COOKIE_NAME"])
    assert cookie is not None and re.fullmatch(r"[A-Za-z0-9_-]{22}", cookie.value)
    assert cookie.http_only and cookie.same_site == "Lax"
    again = client.get(f"/c/drafts/{published.id}")
    assert app.config["CLIENT_COOKIE_NAME"] not in again.headers.get("Set-Cookie", ""), "kept, not renewed"


def test_the_draft_page_shows_contents_explanation_and_every_article(app, publish, network, resident):
    _, point = network
    draft = publish("03_measures_with_sections.txt", explanation="起草说明第一段。\n起草说明第二段。")
    html = resident.get(f"/c/drafts/{draft.id}?p={point.code}").text
    assert f"<h1>{draft.title}</h1>" in html
    assert "Comments until" in html and ("29 days left" in html or "30 days left" in html)
    assert "<p>起草说明第一段。</p>" in html and "<p>起草说明第二段。</p>" in html
    # The contents: chapters and sections fold away without JavaScript, articles link into the text.
    toc = html[html.index('class="consult-box consult-toc"') : html.index('class="consult-text"')]
    assert len(draft.articles) == 9 and "Contents (9 articles)" in toc
    assert "<summary>第一章 总则</summary>" in toc and "<summary>第一节 工作职责</summary>" in toc
    assert toc.index("第二章 职责和工作方式") < toc.index("第一节 工作职责") < toc.index("第三章 附则")
    assert [f"#a{a.id}" for a in draft.articles] == [h for h in links(toc) if h.startswith("#")]
    # The text: headings in order, each article with its paragraphs and its own "Comment" link.
    text = html[html.index('class="consult-text"') :]
    assert text.index("第二章 职责和工作方式") < text.index("第一节 工作职责") < text.index("第三条")
    third = draft.articles[2]
    assert f'<section id="a{third.id}"><h3>第三条</h3>' in text
    for paragraph in third.paragraphs:
        assert f"<p>{paragraph}</p>" in text
    comment_links = [h for h in links(text) if "/opinion" in h]
    assert comment_links[: len(draft.articles)] == [
        f"/c/drafts/{draft.id}/opinion?article={a.id}&amp;p={point.code}" for a in draft.articles
    ]
    assert f"/c/drafts/{draft.id}/opinion?p={point.code}" in links(html), "comment on the whole draft"
    assert "<script" not in html, "the article page needs no script"


def test_bracketed_article_titles_are_shown(publish, resident):
    draft = publish("07_bracketed_titles.txt")
    titled = next(a for a in draft.articles if a.title)
    assert f"【{titled.title}】</h3>" in resident.get(f"/c/drafts/{draft.id}").text


# A chapter's opening sentence (kept as a note of 第二章) and an attachment after the last article.
NOTED = f"""某某区物业管理规定
第一章 总则
第一条 为了规范物业管理，制定本规定。
第二章 物业服务
本章规定物业服务的一般要求。{SCRIPT}
第二条 物业服务企业应当公示收费标准。
第三条 本规定自2025年1月1日起施行。
附件：物业服务收费标准{SCRIPT}
一、收费项目。
"""
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def noted(app, organizer):
    draft, _ = ops.create_draft(organizer, NOTED)
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


def test_the_attachment_after_the_last_article_is_shown_after_the_articles(noted, resident, browser):
    html = resident.get(f"/c/drafts/{noted.id}").text
    assert SCRIPT not in html
    text = html[html.index('class="consult-text"') :]
    last, heading = text.index("本规定自2025年1月1日起施行。"), text.index(">Attachments and notes</h2>")
    assert last < heading < text.index(f'<p class="consult-note">附件：物业服务收费标准{ESCAPED}</p>')
    assert '<p class="consult-note">一、收费项目。</p>' in text
    assert ">附件及说明</h2>" in browser(language="zh").get(f"/c/drafts/{noted.id}").text
    without, _ = ops.create_draft(None, NOTED.partition("附件")[0])
    ops.publish_draft(None, without)
    db.session.commit()
    assert "Attachments and notes" not in resident.get(f"/c/drafts/{without.id}").text


def test_a_heading_note_is_shown_under_its_heading(noted, resident):
    html = resident.get(f"/c/drafts/{noted.id}").text
    assert SCRIPT not in html
    text = html[html.index('class="consult-text"') :]
    note = text.index(f'<p class="consult-note">本章规定物业服务的一般要求。{ESCAPED}</p>')
    assert text.index("第二章 物业服务</h2>") < note < text.index("<h3>第二条</h3>")


@pytest.mark.parametrize("path", ["/c/drafts/999", "/c/drafts/999/opinion"])
def test_unknown_drafts(resident, path):
    response = resident.get(path)
    assert response.status_code == 404 and "No such draft." in response.text
    assert "/login" not in response.text, "a resident is never sent to the staff sign-in"


def test_track_is_not_taken_for_a_meeting_code(app):
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/c/track")[0] == "public_consult.track"
    assert adapter.match("/c")[0] == "public_consult.index"


# -- the opinion form ------------------------------------------------------------------------------


def test_the_form_quotes_the_article_and_says_who_keeps_what_and_for_how_long(app, published, network, resident):
    app.config.update(CONSULTATION_COLLECTOR="杨浦区人大常委会办公室", CONSULTATION_CONTACT_RETENTION_DAYS=180)
    _, point = network
    article = published.articles[8]
    page = resident.get(opinion_url(published, article, point.code))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.text
    assert "Your opinion on 第九条" in html
    quote = html[html.index('<blockquote class="consult-quote">') : html.index("</blockquote>")]
    assert all(f"<p>{paragraph}</p>" in quote for paragraph in article.paragraphs)
    assert f"At most {MAX_OPINION_CHARS} characters." in html and f'data-max="{MAX_OPINION_CHARS}"' in html
    assert "Collected by: 杨浦区人大常委会办公室." in html
    assert "contact details are deleted 180 days after you send them" in html
    assert "Your contact details (optional)" in html and "You may leave these empty" in html
    assert html.index("About your personal information") < html.index('type="submit"'), "the notice comes first"
    fields = form_fields(html)
    assert fields["p"] == point.code and re.fullmatch(r"[A-Za-z0-9_-]{22}", fields["nonce"])
    assert form_fields(resident.get(opinion_url(published, article)).text)["nonce"] != fields["nonce"]
    assert "js/consult.js" in html


def test_the_default_collector_is_named(published, resident):
    assert "Collected by: the office of the People's Congress Standing Committee." in resident.get(
        opinion_url(published)
    ).text.replace("&#39;", "'")


def test_an_opinion_through_a_poster_gets_a_tracking_code(published, network, resident):
    _, point = network
    article = published.articles[2]
    response = send(resident, published, "  建议增加公示义务。\r\n第二行。 ", article, point.code.lower(),
                    contact_name=" 张 三 ", contact_phone="138-1234 5678")  # fmt: skip
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    code = tracking_code(response.text)
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code)
    assert "Take a screenshot" in response.text and "Copy the tracking code" in response.text
    assert f'href="/c/track?code={code}&amp;p={point.code}"' in response.text
    (opinion,) = opinions()
    assert (opinion.draft_id, opinion.article_id, opinion.text) == (
        published.id,
        article.id,
        "建议增加公示义务。\n第二行。",
    )
    assert opinion.contact_point_id == point.id and opinion.channel == Channel.POSTER
    assert opinion.submitter_type == SubmitterType.RESIDENT and opinion.deputy_id is None
    assert (opinion.contact.name, opinion.contact.phone) == ("张 三", "13812345678")
    assert format_tracking_code(opinion.tracking_code) == code


def test_an_opinion_on_the_whole_draft_by_the_public_link(published, resident):
    response = send(resident, published, "总体赞成。")
    assert response.status_code == 200 and "the whole draft" in response.text
    (opinion,) = opinions()
    assert opinion.article_id is None and opinion.channel == Channel.LINK and opinion.contact_point_id is None
    assert opinion.contact is None, "no contact details given, none kept"


def test_a_double_tap_stores_one_opinion_and_shows_the_same_code(published, resident):
    page = resident.get(opinion_url(published, published.articles[0]))
    data = {**form_fields(page.text), "text": "建议修改。"}
    first = resident.post(opinion_url(published, published.articles[0]), data=data)
    second = resident.post(opinion_url(published, published.articles[0]), data=data)
    assert tracking_code(first.text) == tracking_code(second.text)
    assert "already been received" in second.text and "already been received" not in first.text
    assert len(opinions()) == 1
    # Back to the same page, a changed text is a new opinion, not the first one's code again.
    third = resident.post(opinion_url(published, published.articles[0]), data={**data, "text": "另一条意见。"})
    assert tracking_code(third.text) != tracking_code(first.text) and len(opinions()) == 2
    # The same nonce from another browser is another person's opinion.
    other = resident.application.test_client()
    fourth = other.post(opinion_url(published, published.articles[0]), data=data)
    assert tracking_code(fourth.text) != tracking_code(first.text) and len(opinions()) == 3


@pytest.mark.parametrize(
    "text, status, message",
    [
        ("", 400, "Write your opinion before sending it."),
        (" \n\u3000\t ", 400, "Write your opinion before sending it."),
        ("a" * 100_000, 400, f"at most {MAX_OPINION_CHARS} characters long; this one has 100000"),
        ("长" * 100_000, 413, f"far too long to be sent: an opinion can be at most {MAX_OPINION_CHARS} characters"),
        ("长" * (MAX_OPINION_CHARS + 1), 400, f"this one has {MAX_OPINION_CHARS + 1}"),
    ],
    ids=["empty", "whitespace", "100000-ascii", "100000-chinese", "one-too-many"],
)
def test_bad_opinions_are_refused_with_a_clear_message_and_nothing_stored(published, resident, text, status, message):
    response = send(resident, published, text, published.articles[0], contact_name="张三")
    assert response.status_code == status
    assert message in response.text
    assert count(Opinion) == 0 and count(OpinionContact) == 0
    if status == 400:
        assert "张三" in response.text, "the form comes back filled in"
        assert 'aria-invalid="true"' in response.text


def test_the_body_limit_fits_the_longest_opinion(published, resident):
    longest = "长" * MAX_OPINION_CHARS
    assert len(urlencode({"text": longest})) < MAX_OPINION_BODY / 10
    response = send(resident, published, longest, contact_name="名" * 100, contact_phone="1" * 20)
    assert response.status_code == 200, response.text
    assert len(opinions()[0].text) == MAX_OPINION_CHARS


def test_a_bad_contact_phone_is_refused_on_its_field(published, resident):
    response = send(resident, published, "建议。", contact_phone="abc")
    assert response.status_code == 400
    assert re.search(r'id="contact_phone-error"[^>]*>The phone number is not valid.', response.text)
    assert "建议。" in response.text and count(Opinion) == 0


@pytest.mark.parametrize("article", ["999999", "abc", "-1", "１", "99999999999999999999"])
def test_an_article_that_does_not_exist_is_refused(published, resident, article):
    for method in ("get", "post"):
        response = getattr(resident, method)(f"/c/drafts/{published.id}/opinion?article={article}",
                                             data={"text": "意见。"})  # fmt: skip
        assert response.status_code == 404, (method, article)
        assert "This draft has no such article." in response.text
    assert count(Opinion) == 0


def test_an_article_of_another_draft_is_refused(publish, published, resident):
    other = publish("03_measures_with_sections.txt")
    url = opinion_url(published) + f"?article={other.articles[0].id}"
    assert resident.get(url).status_code == 404
    response = resident.post(url, data={"text": "意见。", "nonce": NONCE})
    assert response.status_code == 404 and "This draft has no such article." in response.text
    assert f'href="/c/drafts/{published.id}"' in response.text, "back to the draft that was open"
    assert count(Opinion) == 0


def test_past_the_deadline_the_draft_is_read_only(app, published, resident):
    form = resident.get(opinion_url(published, published.articles[0]))
    published.deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    html = resident.get(f"/c/drafts/{published.id}").text
    assert "The comment period for this draft ended on" in html
    assert "/opinion" not in html, "no comment link left"
    assert all(f"<p>{p}</p>" in html for p in published.articles[0].paragraphs), "still readable"
    refused = resident.get(opinion_url(published, published.articles[0]))
    assert refused.status_code == 409 and "The comment period for this draft ended on" in refused.text
    data = {**form_fields(form.text), "text": "晚到的意见。"}
    late = resident.post(opinion_url(published, published.articles[0]), data=data)
    assert late.status_code == 409 and "ended on" in late.text
    assert count(Opinion) == 0


def test_a_closed_draft_refuses_opinions(organizer, published, resident):
    ops.close_draft(organizer, published)
    db.session.commit()
    response = resident.post(opinion_url(published), data={"text": "意见。", "nonce": NONCE})
    assert response.status_code == 409 and count(Opinion) == 0
    assert "ended on" in resident.get(f"/c/drafts/{published.id}").text


def test_the_deadline_reads_as_people_say_it(app, publish, resident):
    # 2099-03-31 16:00 UTC is midnight in Shanghai: the last day is the 31st, until 24:00.
    from datetime import datetime

    draft = publish(deadline=datetime(2099, 3, 31, 16, 0))
    html = resident.get(f"/c/drafts/{draft.id}").text
    assert "Comments until March 31, 2099 24:00" in html
    zh = resident.application.test_client().get(f"/c/drafts/{draft.id}").text
    assert "2099年3月31日 24:00" in zh


# -- poster codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["FORGED99", "<script>", "x" * 300, "问卷"])
def test_a_forged_or_unknown_poster_code_keeps_the_opinion_unattributed(published, network, resident, code):
    response = send(resident, published, "意见。", published.articles[0], code)
    assert response.status_code == 200
    (opinion,) = opinions()
    assert opinion.contact_point_id is None and opinion.text == "意见。"
    assert "<script>" not in response.text


def test_a_retired_point_keeps_the_opinion_unattributed(organizer, published, network, resident):
    _, point = network
    point.active = False
    db.session.commit()
    assert "Welcome!" not in resident.get(f"/c?p={point.code}").text
    send(resident, published, "意见。", p=point.code)
    assert opinions()[0].contact_point_id is None


def test_the_poster_code_rides_along_every_link_and_the_form(published, network, resident):
    _, point = network
    pages = [
        f"/c?p={point.code}",
        f"/c/drafts/{published.id}?p={point.code}",
        opinion_url(published, published.articles[0], point.code),
        f"/c/track?p={point.code}",
    ]
    for path in pages:
        html = resident.get(path).text
        own = [h for h in links(html) if h.startswith("/c") and "lang=" not in h]
        assert own, path
        for href in own:
            assert parse_qs(urlsplit(href.replace("&amp;", "&")).query).get("p") == [point.code], (path, href)
    assert form_fields(resident.get(pages[2]).text)["p"] == point.code
    # Sent without the query string, the hidden field alone still attributes the opinion.
    page = resident.get(pages[2])
    resident.post(opinion_url(published, published.articles[0]), data={**form_fields(page.text), "text": "意见。"})
    assert opinions()[0].contact_point_id == point.id


# -- escaping --------------------------------------------------------------------------------------


def test_markup_is_shown_escaped_everywhere(organizer, publish, network, resident):
    district, _ = network
    district.name = "<b>点</b>" + SCRIPT
    draft = publish(title="条例" + SCRIPT, explanation="说明" + SCRIPT)
    draft.articles[0].paragraphs = ["第一款" + SCRIPT]
    draft.articles[0].title = "<i>题</i>"
    db.session.commit()
    p = district.code
    pages = [f"/c?p={p}", f"/c/drafts/{draft.id}?p={p}", opinion_url(draft, draft.articles[0], p)]
    for path in pages:
        html = resident.get(path).text
        assert SCRIPT not in html and "<i>题</i>" not in html and "<b>点</b>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    sent = send(resident, draft, "意见" + SCRIPT, draft.articles[0], p, contact_name=SCRIPT)
    assert SCRIPT not in sent.text
    opinion = opinions()[0]
    opinion.transition(OpinionStatus.NOT_ADOPTED)
    opinion.handled_at, opinion.reply = utcnow(), "答复" + SCRIPT
    db.session.commit()
    html = resident.get(f"/c/track?code={opinion.tracking_code}").text
    assert SCRIPT not in html and "答复&lt;script&gt;" in html and "意见&lt;script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resident.get(f"/c/track?code={SCRIPT}").text


# -- tracking --------------------------------------------------------------------------------------


def test_the_tracking_page_shows_status_and_reply_but_nothing_personal(published, resident):
    sent = send(resident, published, "请联系13812345678，身份证110101199001011234。", published.articles[1],
                contact_name="王五", contact_phone="13987654321")  # fmt: skip
    code = tracking_code(sent.text)
    page = resident.get(f"/c/track?code={code.lower().replace('-', ' ')}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Received" in page.text and "being studied" in page.text
    opinion = opinions()[0]
    opinion.transition(OpinionStatus.PARTLY_ADOPTED)
    opinion.handled_at, opinion.reply = utcnow(), "已部分吸收。如有疑问请致电021-65432100。"
    db.session.commit()
    html = resident.get(f"/c/track?code={code}").text
    assert "Partly adopted" in html and "Your opinion was partly adopted." in html
    assert "已部分吸收。如有疑问请致电021-****2100。" in html
    assert "138****5678" in html and "110***********1234" in html
    for personal in ("王五", "13987654321", "139****4321", "13812345678", "110101199001011234", "65432100"):
        assert personal not in html


def test_a_merged_opinion_shows_the_handling_of_the_item_it_joined(published, resident):
    first = tracking_code(send(resident, published, "建议甲。", published.articles[0]).text)
    second = tracking_code(send(resident, published, "建议甲，同上。", published.articles[0]).text)
    kept, joined = opinions()
    joined.transition(OpinionStatus.MERGED)
    joined.merged_into_id = kept.id
    kept.people_count = 2
    kept.transition(OpinionStatus.ADOPTED)
    kept.handled_at, kept.reply = utcnow(), "已采纳，修改了第一条。"
    db.session.commit()
    html = resident.get(f"/c/track?code={second}").text
    assert "Adopted" in html and "2 people raised it" in html and "已采纳，修改了第一条。" in html
    assert "建议甲，同上。" in html, "the opinion shown is the one this code names"
    assert "raised it" not in resident.get(f"/c/track?code={first}").text


@pytest.mark.parametrize("code", ["", "   "])
def test_the_tracking_page_without_a_code_asks_for_one(resident, code):
    page = resident.get(f"/c/track?code={code}")
    assert page.status_code == 200 and 'name="code"' in page.text and 'role="alert"' not in page.text


@pytest.mark.parametrize("code", ["ZZZZZ-ZZZZZ", "abc", "x" * 500])
def test_an_unknown_tracking_code(published, resident, code):
    page = resident.get(f"/c/track?code={code}")
    assert page.status_code == 404
    assert "No opinion has this tracking code." in page.text and 'aria-invalid="true"' in page.text


# -- deputies --------------------------------------------------------------------------------------


def test_a_deputy_phone_sends_as_the_deputy(app, published, network, browser, make_deputies, bind_phone):
    deputy = make_deputies(1)[0]
    phone = browser()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], bind_phone(deputy))
    _, point = network
    form = phone.get(opinion_url(published, published.articles[0], point.code)).text
    assert "This phone belongs to deputy 代表1: your opinion is sent as a deputy's." in form
    assert 'name="contact_phone"' not in form, "a deputy is known; no contact details asked"
    sent = send(phone, published, "代表意见。", published.articles[0], point.code, contact_phone="13812345678")
    assert "It was recorded as the opinion of deputy 代表1." in sent.text
    (opinion,) = opinions()
    assert (opinion.submitter_type, opinion.deputy_id, opinion.channel) == (SubmitterType.DEPUTY, deputy.id,
                                                                             Channel.DEPUTY)  # fmt: skip
    assert opinion.contact_point_id == point.id and opinion.contact is None
    assert "代表1" not in phone.get(f"/c/track?code={opinion.tracking_code}").text, "the deputy is not published"


# -- rate limits -----------------------------------------------------------------------------------


@pytest.fixture
def limited(app):
    app.config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_OPINION="3 per minute", RATELIMIT_OPINION_ADDRESS="8 per minute"
    )
    return app


def test_a_flood_from_one_client_is_limited_while_its_neighbours_go_through(limited, published, browser):
    flooder, neighbour = browser(), browser()  # one hall: the same address
    flooder.get("/c")
    neighbour.get("/c")
    statuses = [send(flooder, published, f"意见{i}。").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = send(flooder, published, "再来一条。")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "You have sent many opinions in a short time. Please wait 1 min" in refused.text
    assert "the opinions you already sent are saved" in refused.text
    assert send(neighbour, published, "邻居的意见。").status_code == 200
    assert count(Opinion) == 4
    json = flooder.post(opinion_url(published), data={"text": "x"}, headers={"Accept": "application/json"})
    assert json.status_code == 429 and json.get_json()["error"]["code"] == "rate_limited"


def test_the_address_ceiling_stops_a_script_that_drops_its_cookies(limited, published, browser):
    statuses = []
    for i in range(10):
        client = browser()  # a fresh cookie jar each time
        statuses.append(client.post(opinion_url(published), data={"text": f"脚本{i}", "nonce": NONCE}).status_code)
    assert statuses == [200] * 8 + [429] * 2
    assert browser(remote_addr="198.51.100.1").post(opinion_url(published), data={"text": "别处"}).status_code == 200


def test_reading_is_not_limited(limited, published, resident):
    assert all(resident.get(f"/c/drafts/{published.id}").status_code == 200 for _ in range(12))


# -- CSRF and GET ----------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_the_form_needs_its_csrf_token(csrf_on, published, resident, browser):
    url = opinion_url(published, published.articles[0])
    page = resident.get(url)
    fields = form_fields(page.text)
    assert fields["csrf_token"]
    for token in (None, "forged"):
        data = {"text": "我的意见。", "nonce": fields["nonce"], "contact_name": "张三"}
        if token:
            data["csrf_token"] = token
        refused = resident.post(url, data=data)
        assert refused.status_code == 400
        assert "This form has expired or was not sent from this site." in refused.text
        assert "我的意见。" in refused.text and "张三" in refused.text, "nothing typed is lost"
        assert form_fields(refused.text)["csrf_token"], "a fresh token to send again with"
    foreign = form_fields(browser().get(url).text)["csrf_token"]
    assert resident.post(url, data={"text": "x", "csrf_token": foreign}).status_code == 400
    assert count(Opinion) == 0
    accepted = resident.post(url, data={**fields, "text": "我的意见。"})
    assert accepted.status_code == 200 and count(Opinion) == 1


def test_csrf_refusal_elsewhere_is_a_plain_message(csrf_on, resident):
    response = resident.post("/c/drafts/999/opinion", data={"text": "x"})
    assert response.status_code == 400 and "This form has expired" in response.text


def dump():
    """Every committed row of every table, read on a connection of its own."""
    with db.engine.connect() as connection:
        return {
            table.name: connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables
        }


def test_no_get_changes_anything(app, published, network, resident, make_deputies, bind_phone):
    _, point = network
    code = tracking_code(send(resident, published, "意见。", published.articles[0], point.code).text)
    phone = app.test_client()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], bind_phone(make_deputies(1)[0]))
    before = dump()
    paths = [
        "/c",
        f"/c?p={point.code}",
        f"/c/drafts/{published.id}",
        f"/c/drafts/{published.id}?p={point.code}",
        opinion_url(published),
        opinion_url(published, published.articles[0], point.code),
        opinion_url(published, published.articles[0], point.code) + "&text=x&nonce=" + NONCE,
        f"/c/track?code={code}",
        "/c/track?code=nothing",
        f"/api/v1/opinions/tracking/{code}",
    ]
    for client in (resident, phone, app.test_client()):
        for path in paths:
            assert client.get(path).status_code < 500, path
    assert dump() == before


# -- weight ----------------------------------------------------------------------------------------


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.urls.append(attrs["href"])
        elif tag in ("script", "img", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.urls.append(attrs["src"])


def transfer(client, response):
    """Bytes of the page and everything it loads, gzip-compressed as a server would send them."""
    parser = Assets()
    parser.feed(response.text)
    sizes = {"page": len(gzip.compress(response.data, 6))}
    for url in parser.urls:
        parts = urlsplit(url)
        assert parts.netloc == "", f"{url}: a phone may not reach other hosts"
        asset = client.get(parts.path)
        assert asset.status_code == 200, url
        sizes[parts.path] = len(gzip.compress(asset.data, 6))
        asset.close()
    return sizes


def own_text(draft):
    """The draft's own words as the page shows them: title, preamble, explanation, headings, articles, trailer."""
    parts = [draft.title, *draft.preamble, draft.explanation]
    for section in draft.sections:
        parts += [section.title, *section.notes]
    for article in draft.articles:
        parts += [article.title or "", *article.paragraphs]
    parts += draft.trailer
    return "\n".join(parts).encode()


def test_the_article_page_weighs_at_most_60_kb_apart_from_the_draft_text(publish, network, resident, capsys):
    _, point = network
    draft = publish("08_over_one_hundred_articles.txt", explanation="起草说明。" * 200)
    assert len(draft.articles) == 210
    response = resident.get(f"/c/drafts/{draft.id}?p={point.code}")
    sizes = transfer(resident, response)
    text = len(gzip.compress(own_text(draft), 6))
    overhead = sum(sizes.values()) - text
    with capsys.disabled():
        print(f"\narticle page, 210 articles: {sum(sizes.values())} bytes gzip {sizes}, draft text alone {text}, "
              f"the rest {overhead}; page {len(response.data)} bytes raw")  # fmt: skip
    assert overhead <= 60 * 1024, sizes
    for path in (opinion_url(draft, draft.articles[100], point.code), f"/c?p={point.code}", "/c/track"):
        page = resident.get(path)
        assert sum(transfer(resident, page).values()) <= 60 * 1024, path
