"""CSRF on every state-changing form, no state change on any GET, and people's text shown escaped."""

import io
import re

import pytest

from voting.deputies.models import Deputy
from voting.deputies.operations import issue_activation_code
from voting.extensions import db
from voting.meetings.operations import create_meeting, open_sign_in

CSRF_MESSAGE = "This form has expired or was not sent from this site."


def csrf_token_of(html):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_data_for(rule, site):
    """Plausible form fields for each form, so that only the missing token can stop it."""
    return {
        "deputy_id": str(site.deputies[3].id),
        "reason": "测试",
        "on_leave": "1",
        "scope": "all",
        "ticket": "x",
        "code": site.card_code,
        "title": "新会议",
        "quorum_numerator": "2",
        "quorum_denominator": "3",
        "number": "Z001",
        "name": "新代表",
        "delegation": "第1代表团",
        "username": "chief",
        "password": "correct horse battery",
        "display_name": "x",
        "role": "organizer",
        "current_password": "correct horse battery",
        "new_password": "another long password",
        "confirm": "another long password",
    }


def web_rules(app, method):
    return sorted(
        (r for r in app.url_map.iter_rules() if method in r.methods and not r.rule.startswith("/api/")),
        key=lambda r: r.rule,
    )


# -- CSRF --------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app_config):
    """Check CSRF tokens as production does (request this before ``app``)."""
    app_config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def csrf_staff(csrf_on, browser, site):
    """The administrator, signed in through the login form with its token."""
    client = browser()
    token = csrf_token_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "chief", "password": "correct horse battery", "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_every_form_without_its_token_is_refused(csrf_staff, site, app, url_for_rule, db_dump, audit_count):
    rules = web_rules(app, "POST")
    assert len(rules) >= 15, "the walk found the forms"
    before, entries = db_dump(), audit_count()
    for rule in rules:
        for client in (csrf_staff, site.phone):
            for token in (None, "forged-token"):
                data = form_data_for(rule, site)
                if token:
                    data["csrf_token"] = token
                response = client.post(url_for_rule(rule, site), data=data)
                assert response.status_code == 400, (rule.rule, response.status_code)
                assert CSRF_MESSAGE in response.text, rule.rule
                assert audit_count() == entries, rule.rule
    assert db_dump() == before
    assert csrf_staff.get("/meetings").status_code == 200, "a refused sign-out signs nobody out"


def test_a_token_of_another_browser_is_refused(csrf_staff, site, browser, db_dump):
    other = browser()
    foreign_token = csrf_token_of(other.get("/login").text)
    before = db_dump()
    response = csrf_staff.post(f"/meetings/{site.meeting.id}/signin/close", data={"csrf_token": foreign_token})
    assert response.status_code == 400 and CSRF_MESSAGE in response.text
    assert db_dump() == before


def test_the_csrf_error_answers_json_to_the_import_script(csrf_staff, db_dump):
    before = db_dump()
    response = csrf_staff.post("/deputies/import", data={}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert db_dump() == before


def test_forms_with_their_token_go_through(csrf_staff, site, clock):
    page = csrf_staff.get(f"/meetings/{site.meeting.id}")
    token = csrf_token_of(page.text)
    response = csrf_staff.post(
        f"/meetings/{site.meeting.id}/leave",
        data={"csrf_token": token, "deputy_id": site.deputies[3].id, "on_leave": "1"},
    )
    assert response.status_code == 302
    # The deputy's phone: the scan page's form carries the token the tap needs.
    scan = site.phone.get(f"/c/{site.scan_code}")
    ticket = re.search(r'name="ticket" value="([^"]+)"', scan.text).group(1)
    response = site.phone.post(f"/c/{site.scan_code}", data={"csrf_token": csrf_token_of(scan.text), "ticket": ticket})
    assert response.status_code == 200 and "you are signed in" in response.text


def test_binding_a_phone_with_the_token(csrf_on, browser, site):
    client = browser()
    page = client.get(f"/a/{site.card_code}")
    response = client.post(f"/a/{site.card_code}", data={"csrf_token": csrf_token_of(page.text)})
    assert response.status_code == 302


# -- GET changes nothing -----------------------------------------------------------------------


EXTRA_QUERIES = {
    "/audit": ["?verify=1", "?page=2"],
    "/meetings/<int:meeting_id>": ["?status=present", "?status=on_leave", "?status=not_arrived"],
    "/deputies": ["?q=代表&delegation=第1代表团", "?page=3"],
    "/login": ["?next=/deputies", "?lang=en"],
    "/api/v1/audit": ["?limit=5"],
}


def get_every_page(client, app, site, url_for_rule, headers):
    """GET every rule (and some query variants) of the app; return the statuses seen."""
    statuses = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        paths = [url_for_rule(rule, site)]
        if rule.rule == "/meetings/<int:meeting_id>" or rule.rule.startswith("/meetings/<int:meeting_id>/screen"):
            paths += [url_for_rule(rule, site, meeting_id=m.id) for m in (site.planned, site.closed)]
        paths += [paths[0] + query for query in EXTRA_QUERIES.get(rule.rule, [])]
        for path in paths:
            response = client.get(path, headers=headers if path.startswith("/api/") else {})
            statuses[path] = response.status_code
            response.close()
    return statuses


def test_no_get_changes_anything_for_an_organizer(signed_in, site, app, url_for_rule, db_dump):
    staff = signed_in(site.admin)
    staff.get("/meetings")  # the session's first touch is allowed to write last_seen_at
    before = db_dump()
    statuses = get_every_page(staff, app, site, url_for_rule, site.api_headers)
    assert db_dump() == before
    assert statuses[f"/a/{site.card_code}"] == 200 and statuses[f"/c/{site.scan_code}"] == 401
    assert statuses[f"/meetings/{site.meeting.id}/screen"] == 200
    assert statuses["/api/v1/audit"] == 200
    assert all(status < 500 for status in statuses.values())


def test_no_get_changes_anything_for_a_deputy_phone(site, app, url_for_rule, db_dump):
    before = db_dump()
    statuses = get_every_page(site.phone, app, site, url_for_rule, site.device_headers)
    assert db_dump() == before
    # The activation page and the scan page are the ones a phone really opens.
    assert statuses[f"/a/{site.card_code}"] == 200
    assert statuses[f"/c/{site.scan_code}"] == 200
    assert statuses["/me"] == 200
    assert statuses[f"/meetings/{site.meeting.id}"] == 302
    assert all(status < 500 for status in statuses.values())


def test_the_scan_page_twice_changes_nothing(site, db_dump):
    before = db_dump()
    for _ in range(2):
        assert site.phone.get(f"/c/{site.scan_code}").status_code == 200
    assert db_dump() == before


# -- escaping ----------------------------------------------------------------------------------

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_TITLE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile(make_deputies, organizer, phone, clock):
    """A deputy and a meeting whose names are markup, the deputy's phone bound, sign-in open."""
    deputy = make_deputies(1)[0]
    deputy.name = SCRIPT_NAME
    deputy.delegation = "<b>团</b>"
    db.session.commit()
    meeting = create_meeting(organizer, IMG_TITLE, location="<i>hall</i>")
    open_sign_in(organizer, meeting)
    db.session.commit()
    client = phone(deputy)
    return deputy, meeting, client, clock.fresh_code(meeting)


def assert_escaped(response, *raw):
    html = response.text
    for text in raw:
        assert text not in html, f"{text} appears unescaped"
    return html


def test_names_are_escaped_on_every_organizer_page(staff, hostile):
    deputy, meeting, _, _ = hostile
    pages = [
        "/deputies",
        f"/deputies/{deputy.id}",
        "/meetings",
        f"/meetings/{meeting.id}",
        f"/meetings/{meeting.id}/screen",
        "/audit",
    ]
    for path in pages:
        html = assert_escaped(staff.get(path), SCRIPT_NAME, IMG_TITLE, "<b>团</b>", "<i>hall</i>")
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    html = assert_escaped(
        staff.post(
            f"/meetings/{meeting.id}/manual-checkin",
            data={"deputy_id": deputy.id, "reason": "<u>r</u>"},
            follow_redirects=True,
        ),
        SCRIPT_NAME,
        "<u>r</u>",
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; signed in by hand" in html  # the flash message
    html = assert_escaped(staff.post(f"/deputies/{deputy.id}/activation-code"), SCRIPT_NAME)
    assert "&lt;script&gt;" in html
    assert IMG_TITLE not in staff.get(f"/meetings/{meeting.id}/screen.json").get_json()["state_label"]


def test_names_are_escaped_on_the_phone(browser, hostile, make_deputies, make_meeting, clock):
    deputy, meeting, client, code = hostile
    scan = client.get(f"/c/{code}")
    assert "&lt;img src=x onerror=alert(1)&gt;" in assert_escaped(scan, IMG_TITLE, SCRIPT_NAME)
    ticket = re.search(r'name="ticket" value="([^"]+)"', scan.text).group(1)
    signed = client.post(f"/c/{code}", data={"ticket": ticket})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;, you are signed in" in assert_escaped(signed, SCRIPT_NAME, IMG_TITLE)
    assert "&lt;script&gt;" in assert_escaped(client.get(f"/c/{code}"), SCRIPT_NAME, IMG_TITLE)  # already signed in
    assert "&lt;script&gt;" in assert_escaped(client.get("/me"), SCRIPT_NAME)

    # The card page, and the meeting named in a refusal.
    card = issue_activation_code(None, deputy)
    db.session.commit()
    html = assert_escaped(browser().get(f"/a/{card}"), SCRIPT_NAME, "<b>团</b>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    bound = browser()
    bound.post(f"/a/{card}")
    assert "&lt;script&gt;" in assert_escaped(bound.get("/me"), SCRIPT_NAME)

    other = make_deputies(1, prefix="O")[0]  # of 第2代表团; the hostile deputy is of <b>团</b>
    elsewhere = make_meeting(IMG_TITLE + " 2", delegations=[other.delegation])
    refusal = bound.get(f"/c/{clock.fresh_code(elsewhere)}")
    assert refusal.status_code == 403
    assert "&lt;img src=x onerror=alert(1)&gt; 2" in assert_escaped(refusal, IMG_TITLE)


def test_a_deputy_name_cannot_break_out_of_the_flash_after_binding(browser, hostile):
    deputy, _, _, _ = hostile
    card = issue_activation_code(None, deputy)
    db.session.commit()
    client = browser()
    response = client.post(f"/a/{card}", follow_redirects=True)
    assert "This phone is now bound to &lt;script&gt;alert(1)&lt;/script&gt;." in assert_escaped(response, SCRIPT_NAME)


def test_the_roster_import_errors_escape_cell_text(staff):
    content = "姓名,代表证号,代表团\n<script>x</script>,A1,团\n<script>x</script>,A1,团\n".encode()
    response = staff.post(
        "/deputies/import", data={"file": (io.BytesIO(content), "r.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "<script>x</script>" not in response.text
    assert db.session.query(Deputy).count() == 0
