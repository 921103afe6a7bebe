"""Staff sign-in and sign-out through the real forms, forced password change, ``next=`` and roles."""

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from voting.accounts.models import UserSession
from voting.extensions import db

PASSWORD = "correct horse battery"


def location_path(response):
    return urlsplit(response.headers["Location"]).path


def test_login_page_has_real_labels(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.text
    assert '<label for="username">' in html and '<label for="password">' in html
    assert 'autocomplete="current-password"' in html


def test_login_and_logout_through_the_forms(browser, organizer, audit_count):
    client = browser()
    before = audit_count()
    response = client.post("/login", data={"username": "organizer", "password": PASSWORD})
    assert response.status_code == 302 and location_path(response) == "/"
    assert audit_count() == before + 1  # session.start
    page = client.get("/meetings")
    assert page.status_code == 200
    assert "Test organizer" in page.text  # the sign-out button names who is signed in

    response = client.post("/logout")
    assert response.status_code == 302 and location_path(response) == "/login"
    assert client.get("/meetings").status_code == 302
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == organizer.id)).all()
    assert len(rows) == 1 and rows[0].revoked_at is not None


def test_a_copied_session_cookie_dies_with_logout(browser, organizer, login):
    client = browser()
    login(organizer, target=client)
    stolen = client.get_cookie("voting_session").value
    client.post("/logout")
    thief = browser()
    thief.set_cookie("voting_session", stolen)
    response = thief.get("/meetings")
    assert response.status_code == 302 and location_path(response) == "/login"


@pytest.mark.parametrize(
    "username, password",
    [
        ("organizer", "wrong password 123"),
        ("nobody-by-this-name", PASSWORD),
        ("organizer", ""),
    ],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
def test_failed_login_says_so_and_leaks_nothing(browser, organizer, audit_count, username, password):
    client = browser()
    before = audit_count()
    response = client.post("/login", data={"username": username, "password": password})
    html = response.text
    if password:
        assert response.status_code == 401
        assert "Wrong username or password." in html
    else:
        assert response.status_code == 400  # the form itself is incomplete
        assert 'aria-invalid="true"' in html
    assert password == "" or password not in html
    assert "Set-Cookie" not in response.headers or "sid" not in response.headers.get("Set-Cookie", "")
    assert client.get("/meetings").status_code == 302
    assert audit_count() == before


def test_unknown_user_and_wrong_password_look_the_same(browser, organizer):
    wrong = browser().post("/login", data={"username": "organizer", "password": "not the password"})
    unknown = browser().post("/login", data={"username": "someone-else", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401

    def without_echo(response, username):
        return response.text.replace(username, "USERNAME")

    assert without_echo(wrong, "organizer").count("Wrong username or password.") == 1
    assert without_echo(unknown, "someone-else").count("Wrong username or password.") == 1


def test_inactive_account_cannot_sign_in(browser, make_user):
    user = make_user("organizer", "retired")
    user.active = False
    db.session.commit()
    response = browser().post("/login", data={"username": "retired", "password": PASSWORD})
    assert response.status_code == 401


def test_must_change_password_comes_first(browser, make_user):
    make_user("organizer", "newcomer", must_change_password=True)
    client = browser()
    response = client.post("/login", data={"username": "newcomer", "password": PASSWORD})
    assert location_path(response) == "/account/password"
    for path in ("/meetings", "/deputies", "/audit"):
        response = client.get(path)
        assert response.status_code == 302 and location_path(response) == "/account/password", path
    page = client.get("/account/password")
    assert page.status_code == 200 and "Please choose your own password" in page.text

    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": "short", "confirm": "short"}
    )
    assert response.status_code == 400
    response = client.post(
        "/account/password",
        data={
            "current_password": "not it at all",
            "new_password": "a much longer secret",
            "confirm": "a much longer secret",
        },
    )
    assert response.status_code == 400 and "The current password is wrong." in response.text
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "a much longer secret", "confirm": "a much longer secret"},
    )
    assert response.status_code == 302
    assert client.get("/meetings").status_code == 200
    # The old password no longer works; the new one does.
    assert browser().post("/login", data={"username": "newcomer", "password": PASSWORD}).status_code == 401
    assert (
        browser().post("/login", data={"username": "newcomer", "password": "a much longer secret"}).status_code == 302
    )


@pytest.mark.parametrize("target", ["/deputies", "/meetings?status=present", "/audit"])
def test_next_follows_a_local_path(browser, organizer, target):
    response = browser().post(
        "/login?next=" + target.replace("?", "%3F").replace("=", "%3D"),
        data={"username": "organizer", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(target)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "//evil.com/meetings",
        "http://evil.com",
        "https://evil.com/login",
        "/\\evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "/\t/evil.com",
        "https:evil.com",
        "javascript:alert(1)",
        "evil.com",
        "///evil.com",
    ],
)
def test_next_never_leaves_the_site(browser, organizer, target):
    from urllib.parse import quote

    response = browser().post(
        "/login?next=" + quote(target, safe=""), data={"username": "organizer", "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost"), location
    assert "evil" not in location and "\\" not in location and "javascript" not in location
    assert parts.path == "/"


def test_anonymous_is_sent_to_login_with_next(client, make_deputies, make_meeting):
    make_deputies(3)
    meeting = make_meeting()
    response = client.get(f"/meetings/{meeting.id}")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [f"/meetings/{meeting.id}"]


@pytest.fixture
def objects(make_deputies, make_meeting, organizer):
    deputies = make_deputies(3)
    meeting = make_meeting()
    return {"meeting": meeting.id, "deputy": deputies[0].id, "user": organizer.id}


MEETING_PAGES = [
    "/meetings",
    "/meetings/new",
    "/meetings/{meeting}",
    "/meetings/{meeting}/screen",
    "/meetings/{meeting}/screen.json",
    "/deputies",
    "/deputies/new",
    "/deputies/{deputy}",
    "/deputies/import",
    "/deputies/cards",
    "/audit",
]

MEETING_POSTS = [
    "/meetings/{meeting}/signin/close",
    "/meetings/{meeting}/manual-checkin",
    "/deputies/{deputy}/activation-code",
    "/deputies/cards",
]


@pytest.mark.parametrize("role", ["contact_staff", "department"])
@pytest.mark.parametrize("path", MEETING_PAGES)
def test_other_roles_are_refused_meeting_and_roster_pages(signed_in, make_user, objects, role, path):
    client = signed_in(make_user(role))
    response = client.get(path.format(**objects))
    assert response.status_code == 403
    if not path.endswith(".json"):
        assert "Your role does not allow this." in response.text


@pytest.mark.parametrize("role", ["contact_staff", "department"])
@pytest.mark.parametrize("path", MEETING_POSTS)
def test_other_roles_cannot_post_either(signed_in, make_user, objects, db_dump, role, path):
    client = signed_in(make_user(role))
    before = db_dump()
    response = client.post(path.format(**objects), data={"deputy_id": objects["deputy"], "reason": "x", "scope": "all"})
    assert response.status_code == 403
    assert db_dump() == before


@pytest.mark.parametrize("path", MEETING_PAGES)
def test_anonymous_is_redirected_from_every_staff_page(client, objects, path):
    response = client.get(path.format(**objects))
    assert response.status_code == 302
    assert location_path(response) == "/login"


@pytest.mark.parametrize("role, status", [("admin", 200), ("organizer", 403), ("contact_staff", 403)])
def test_only_administrators_manage_accounts(signed_in, make_user, role, status):
    response = signed_in(make_user(role)).get("/admin/users")
    assert response.status_code == status


@pytest.mark.parametrize("role", ["contact_staff", "department"])
def test_other_roles_may_change_their_own_password(signed_in, make_user, role):
    assert signed_in(make_user(role)).get("/account/password").status_code == 200


def test_a_bound_phone_is_no_organizer(phone, make_deputies, make_meeting):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    client = phone(deputy)
    for path in (f"/meetings/{meeting.id}", "/deputies", "/audit"):
        response = client.get(path)
        assert response.status_code == 302 and location_path(response) == "/login", path
