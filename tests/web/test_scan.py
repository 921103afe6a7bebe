"""The deputy's phone: binding it with the activation card, then signing in by scanning the big screen."""

import re
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from voting.deputies.models import DeputyDevice
from voting.deputies.operations import issue_activation_code, revoke_devices
from voting.extensions import db
from voting.meetings.models import MeetingMember
from voting.meetings.operations import close_sign_in

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/116.0.0.0 Mobile Safari/537.36"
)
USER_AGENTS = pytest.mark.parametrize("user_agent", [ANDROID_UA, WECHAT_UA], ids=["phone-browser", "wechat"])


def ticket_of(html):
    match = re.search(r'name="ticket" value="([^"]+)"', html)
    assert match, "no sign-in form on the page"
    return match.group(1)


def member_of(meeting, deputy):
    db.session.expire_all()
    return db.session.get(MeetingMember, (meeting.id, deputy.id))


def device_cookie(response):
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie(header)
        if "voting_device" in cookie:
            return cookie["voting_device"], header
    return None, None


@pytest.fixture
def card(app):
    """Issue an activation card for a deputy and return its code."""

    def issue(deputy):
        code = issue_activation_code(None, deputy)
        db.session.commit()
        return code

    return issue


@USER_AGENTS
def test_the_whole_journey(browser, card, make_deputies, make_meeting, clock, db_dump, user_agent):
    deputy = make_deputies(3)[0]
    code = card(deputy)
    client = browser(user_agent)

    before = db_dump()
    page = client.get(f"/a/{code}")
    assert page.status_code == 200
    assert deputy.name in page.text and deputy.number in page.text
    assert f'action="/a/{code}"' in page.text
    assert device_cookie(page) == (None, None)
    assert db_dump() == before, "opening the card's link must not bind the phone"

    response = client.post(f"/a/{code}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/me")
    cookie, header = device_cookie(response)
    assert cookie is not None and cookie.value.startswith("vtd_")
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert int(cookie["max-age"]) >= 7 * 24 * 3600, "a phone stays signed in for the whole congress"
    assert cookie["path"] == "/"
    me = client.get("/me")
    assert me.status_code == 200 and f"Welcome, {deputy.name}" in me.text
    device = db.session.scalar(select(DeputyDevice).where(DeputyDevice.deputy_id == deputy.id))
    assert device.user_agent == user_agent

    meeting = make_meeting()
    screen_code = clock.fresh_code(meeting)
    before = db_dump()
    page = client.get(f"/c/{screen_code}")
    assert page.status_code == 200
    assert deputy.name in page.text and meeting.title in page.text
    assert db_dump() == before, "scanning must not sign in by itself"
    assert member_of(meeting, deputy).checked_in_at is None

    clock.advance(5)  # the deputy reads the page, then taps
    response = client.post(f"/c/{screen_code}", data={"ticket": ticket_of(page.text)})
    assert response.status_code == 200
    assert f"{deputy.name}, you are signed in" in response.text
    member = member_of(meeting, deputy)
    assert member.checked_in_at is not None and member.checkin_method == "scan"

    again = client.get(f"/c/{screen_code}")
    assert again.status_code == 200 and "already signed in" in again.text
    assert 'name="ticket"' not in again.text
    response = client.post(f"/c/{screen_code}", data={"ticket": ticket_of(page.text)})
    assert response.status_code == 200 and "already signed in" in response.text
    assert member_of(meeting, deputy).checked_in_at == member.checked_in_at


@USER_AGENTS
def test_a_card_binds_one_phone_only(browser, card, make_deputies, user_agent):
    deputy = make_deputies(2)[0]
    code = card(deputy)
    assert browser(user_agent).post(f"/a/{code}").status_code == 302
    second = browser(user_agent)
    for response in (second.post(f"/a/{code}"), second.get(f"/a/{code}")):
        assert response.status_code == 404
        assert "This activation code is not valid" in response.text
        assert device_cookie(response) == (None, None)
    assert db.session.scalar(select(DeputyDevice.id).where(DeputyDevice.deputy_id == deputy.id)) is not None
    assert len(db.session.scalars(select(DeputyDevice)).all()) == 1


def test_a_typed_code_finds_the_card(browser, card, make_deputies, db_dump):
    deputy = make_deputies(2)[1]
    code = card(deputy)
    client = browser()
    form = client.get("/a")
    assert form.status_code == 200 and '<label for="code">' in form.text
    typed = code.lower().replace("-", " ")
    before = db_dump()
    page = client.post("/a", data={"code": typed})
    assert page.status_code == 200 and deputy.name in page.text
    assert db_dump() == before, "looking the card up binds nothing"
    bind = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    assert client.post(bind).status_code == 302
    assert f"Welcome, {deputy.name}" in client.get("/me").text


@pytest.mark.parametrize(
    "typed, status, message",
    [
        # WTForms' own messages come in the page's language: look for the field's error instead.
        ("", 400, 'id="code-error" role="alert">'),
        ("x" * 41, 400, 'id="code-error" role="alert">'),
        ("AAAA-BBBB-CCCC-DDDD", 404, "This activation code is not valid"),
        ("AAAA", 404, "This activation code is not valid"),
    ],
)
def test_a_wrong_typed_code_is_refused(browser, make_deputies, db_dump, typed, status, message):
    make_deputies(1)
    before = db_dump()
    response = browser().post("/a", data={"code": typed})
    assert response.status_code == status
    assert message in response.text
    assert 'role="alert"' in response.text
    assert "Bind this phone</button>" not in response.text
    assert db_dump() == before


def test_reissuing_a_card_kills_the_old_card_and_phone(browser, card, make_deputies, phone, make_meeting, clock):
    deputy = make_deputies(2)[0]
    old_code = card(deputy)
    client = phone(deputy)  # binds with a card of its own
    card(deputy)
    assert browser().get(f"/a/{old_code}").status_code == 404
    meeting = make_meeting()
    response = client.get(f"/c/{clock.fresh_code(meeting)}")
    assert response.status_code == 401


@USER_AGENTS
@pytest.mark.parametrize("waited, status", [(28, 200), (29, 400), (600, 400)])
def test_a_code_is_good_for_about_thirty_seconds(
    phone, make_deputies, make_meeting, clock, db_dump, user_agent, waited, status
):
    deputy = make_deputies(2)[0]
    client = phone(deputy, user_agent)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)  # one second into the code's first window
    clock.advance(waited)
    before = db_dump()
    response = client.get(f"/c/{code}")
    assert response.status_code == status
    if status == 400:
        assert "This sign-in code has expired" in response.text
        assert 'name="ticket"' not in response.text
    assert db_dump() == before


def test_a_scan_must_be_confirmed_within_the_ticket_time(phone, make_deputies, make_meeting, clock, app):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    ticket = ticket_of(client.get(f"/c/{code}").text)
    clock.advance(app.config["CHECKIN_TICKET_SECONDS"] + 1)
    response = client.post(f"/c/{code}", data={"ticket": ticket})
    assert response.status_code == 400 and "Too much time has passed" in response.text
    assert member_of(meeting, deputy).checked_in_at is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda code: "not-a-code",
        lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"),
        lambda code: "9" + code,  # another meeting id under the same signature
        lambda code: code.rsplit("-", 1)[0] + "-",
        lambda code: "-".join(code.split("-")[:3]),
        lambda code: code + "x" * 100,
        lambda code: "１" + code,  # a full-width digit
    ],
    ids=["garbage", "changed-signature", "other-meeting-id", "no-signature", "three-parts", "too-long", "full-width"],
)
def test_a_forged_code_is_refused(phone, make_deputies, make_meeting, clock, db_dump, forge):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    forged = forge(clock.fresh_code(meeting))
    before = db_dump()
    response = client.get(f"/c/{forged}")
    assert response.status_code == 400
    assert re.search(r'<p class="error big" role="alert">[^<]*(not genuine|not a sign-in code)', response.text)
    assert 'name="ticket"' not in response.text
    assert db_dump() == before


def test_a_forged_ticket_is_refused(phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    ticket = ticket_of(client.get(f"/c/{code}").text)
    for forged in ("", "garbage", ticket[:-2] + "xx"):
        response = client.post(f"/c/{code}", data={"ticket": forged})
        assert response.status_code == 400 and "not genuine" in response.text
    assert member_of(meeting, deputy).checked_in_at is None


def test_a_meeting_the_deputy_is_not_expected_at(phone, make_deputies, make_meeting, clock, db_dump):
    deputies = make_deputies(3)  # delegations: 代表1 -> 第2, 代表2 -> 第3, 代表3 -> 第1
    client = phone(deputies[0])
    meeting = make_meeting("第一代表团全体会议", delegations=["第1代表团"])
    before = db_dump()
    response = client.get(f"/c/{clock.fresh_code(meeting)}")
    assert response.status_code == 403
    assert "You are not expected at this meeting (第一代表团全体会议)" in response.text
    assert 'name="ticket"' not in response.text
    assert db_dump() == before


def test_an_unbound_phone_is_sent_to_the_card(browser, make_deputies, make_meeting, clock, db_dump):
    make_deputies(2)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    before = db_dump()
    for client in (browser(), browser(WECHAT_UA)):
        response = client.get(f"/c/{code}")
        assert response.status_code == 401
        assert "This phone is not bound to a deputy yet" in response.text
        assert 'href="/a"' in response.text, "the page links to entering the card's code"
        response = client.post(f"/c/{code}", data={"ticket": "anything"})
        assert response.status_code == 401 and 'href="/a"' in response.text
    assert db_dump() == before


@pytest.mark.parametrize("cookie", ["", "garbage", "vtd_" + "A" * 32, "vto_organizer-token"])
def test_an_unknown_device_cookie_counts_as_unbound(browser, make_deputies, make_meeting, clock, cookie):
    make_deputies(2)
    meeting = make_meeting()
    client = browser()
    client.set_cookie("voting_device", cookie)
    assert client.get(f"/c/{clock.fresh_code(meeting)}").status_code == 401


def test_a_revoked_phone_is_unbound(phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    ticket = ticket_of(client.get(f"/c/{code}").text)
    revoke_devices(None, deputy)
    db.session.commit()
    response = client.post(f"/c/{code}", data={"ticket": ticket})
    assert response.status_code == 401
    assert member_of(meeting, deputy).checked_in_at is None


def test_a_ticket_from_another_phone_is_refused(phone, make_deputies, make_meeting, clock):
    alice, bob = make_deputies(2)
    alice_phone, bob_phone = phone(alice), phone(bob, WECHAT_UA)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    alice_ticket = ticket_of(alice_phone.get(f"/c/{code}").text)
    response = bob_phone.post(f"/c/{code}", data={"ticket": alice_ticket})
    assert response.status_code == 400 and "belongs to another phone" in response.text
    assert member_of(meeting, alice).checked_in_at is None
    assert member_of(meeting, bob).checked_in_at is None


def test_binding_a_new_card_signs_the_old_phone_out(phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    first, second = phone(deputy), phone(deputy, WECHAT_UA)
    assert "This phone is not bound" in first.get("/me").text
    assert f"Welcome, {deputy.name}" in second.get("/me").text
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    response = second.post(f"/c/{code}", data={"ticket": ticket_of(second.get(f"/c/{code}").text)})
    assert "you are signed in" in response.text


def test_sign_in_closed_between_scan_and_tap(phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    ticket = ticket_of(client.get(f"/c/{code}").text)
    close_sign_in(None, meeting)
    db.session.commit()
    response = client.post(f"/c/{code}", data={"ticket": ticket})
    assert response.status_code == 409 and "Sign-in for this meeting is closed" in response.text
    assert member_of(meeting, deputy).checked_in_at is None


def test_a_ticket_cannot_be_moved_to_another_meeting(phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    first, second = make_meeting("上午会议"), make_meeting("下午会议")
    first_code = clock.fresh_code(first)
    ticket = ticket_of(client.get(f"/c/{first_code}").text)
    second_code = clock.fresh_code(second)
    client.post(f"/c/{second_code}", data={"ticket": ticket})
    assert member_of(first, deputy).checked_in_at is not None  # the ticket names its own meeting
    assert member_of(second, deputy).checked_in_at is None


@pytest.fixture
def rate_limited(app_config):
    """Turn rate limits on, tight enough to reach in a test (request this before ``app``)."""
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_CHECKIN="3 per minute", RATELIMIT_ACTIVATION="3 per minute")


def test_check_in_limits_count_per_phone_not_per_hall(rate_limited, phone, make_deputies, make_meeting, clock):
    # A whole hall reaches the server from one NAT address; one phone's retries must not lock out the rest.
    deputies = make_deputies(6)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    for deputy in deputies[:5]:
        client = phone(deputy, WECHAT_UA)
        response = client.post(f"/c/{code}", data={"ticket": ticket_of(client.get(f"/c/{code}").text)})
        assert response.status_code == 200, deputy.name
    greedy = phone(deputies[5])
    ticket = ticket_of(greedy.get(f"/c/{code}").text)
    statuses = [greedy.post(f"/c/{code}", data={"ticket": ticket}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_activation_limits_count_per_card_not_per_hall(rate_limited, browser, card, make_deputies):
    deputies = make_deputies(5)
    for deputy in deputies[:4]:
        assert browser(WECHAT_UA).post(f"/a/{card(deputy)}").status_code == 302, deputy.name
    code = card(deputies[4])
    statuses = [browser().post(f"/a/{code}").status_code for _ in range(4)]
    assert statuses == [302, 404, 404, 429]


def test_a_code_of_an_earlier_round_is_refused_before_the_tap(staff, phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    staff.post(f"/meetings/{meeting.id}/signin/close")
    closed = client.get(f"/c/{code}")
    assert closed.status_code == 409 and "Sign-in for this meeting is closed" in closed.text
    assert 'name="ticket"' not in closed.text
    staff.post(f"/meetings/{meeting.id}/signin/open")  # late arrivals: a new round, new codes
    earlier = client.get(f"/c/{code}")
    assert earlier.status_code == 400 and "from an earlier sign-in round" in earlier.text
    assert 'name="ticket"' not in earlier.text
    assert member_of(meeting, deputy).checked_in_at is None
    fresh = client.get(f"/c/{clock.fresh_code(meeting)}")
    assert fresh.status_code == 200 and 'name="ticket"' in fresh.text


def test_a_signed_in_deputy_hears_so_even_after_sign_in_closes(staff, phone, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    client = phone(deputy)
    meeting = make_meeting()
    code = clock.fresh_code(meeting)
    client.post(f"/c/{code}", data={"ticket": ticket_of(client.get(f"/c/{code}").text)})
    staff.post(f"/meetings/{meeting.id}/signin/close")
    response = client.get(f"/c/{code}")
    assert response.status_code == 200 and "already signed in" in response.text
