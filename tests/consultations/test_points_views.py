"""Organizer pages for the contact-point network and its QR posters: the tree, create, rename, retire,
posters as PDF with the Chinese font embedded and a QR code that decodes to the point's link."""

import re
import shutil
import subprocess
import tempfile
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from tests.web.test_accessibility import check_page
from voting.audit.models import AuditEntry
from voting.consultations import operations as ops
from voting.consultations import posters
from voting.consultations.models import ContactPoint
from voting.extensions import db

SCRIPT = "<script>alert(1)</script>"
CSRF_MESSAGE = "This form has expired or was not sent from this site."


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def signed_in(app, login):
    def sign_in(user):
        browser = app.test_client()
        browser.set_cookie("lang", "en")
        login(user, target=browser)
        return browser

    return sign_in


@pytest.fixture
def staff(signed_in, organizer):
    return signed_in(organizer)


@pytest.fixture
def network(organizer):
    """Yangpu's shape in small: the district point, two points, a collection point under the first."""
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    yinhang = ops.create_contact_point(organizer, "殷行街道基层立法联系点", "point", district, address="殷行路1号")
    changbai = ops.create_contact_point(organizer, "长白新村街道联系点", "point", district)
    kailu = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", yinhang)
    db.session.commit()
    return district, yinhang, changbai, kailu


@pytest.fixture
def db_dump(app):
    def dump():
        tables = {}
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if (table.name, c.name) != ("user_session", "last_seen_at")]
                rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
                tables[table.name] = [tuple(repr(value) for value in row) for row in rows]
        return tables

    return dump


def points_by_name():
    db.session.expire_all()
    return {p.name: p for p in db.session.scalars(select(ContactPoint))}


def point_actions():
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    return [a for a in actions if a.startswith("contact_point.")]


# -- the tree ----------------------------------------------------------------------------------------


def test_set_up_the_network_from_the_empty_page(staff):
    page = staff.get("/consultations/points")
    assert page.status_code == 200 and "Set up the district contact point" in page.text
    response = staff.post("/consultations/points/new", data={"name": " 杨浦区 联系点 ", "address": ""})
    district = points_by_name()["杨浦区 联系点"]
    assert response.status_code == 302 and response.location.endswith(f"#point-{district.id}")
    assert district.kind == "district" and district.parent_id is None

    form = staff.get(f"/consultations/points/new?parent={district.id}")
    assert form.status_code == 200 and "New Contact point" in form.text
    staff.post(
        f"/consultations/points/new?parent={district.id}", data={"name": "殷行街道联系点", "address": "殷行路1号"}
    )
    point = points_by_name()["殷行街道联系点"]
    assert (point.kind, point.parent_id, point.address) == ("point", district.id, "殷行路1号")
    staff.post(f"/consultations/points/new?parent={point.id}", data={"name": "开鲁新村采集点"})
    collection = points_by_name()["开鲁新村采集点"]
    assert (collection.kind, collection.parent_id) == ("collection", point.id)
    assert point_actions() == ["contact_point.create"] * 3

    refused = staff.get(f"/consultations/points/new?parent={collection.id}")
    assert refused.status_code == 400 and "A collection point has no points below it." in refused.text
    assert staff.get("/consultations/points/new?parent=999").status_code == 404


def test_the_tree_shows_each_point_under_its_parent(staff, network):
    district, yinhang, changbai, kailu = network
    html = staff.get("/consultations/points").text
    outer = html[html.index(f'id="point-{district.id}"') :]
    assert (
        outer.index(f'id="point-{yinhang.id}"')
        < outer.index(f'id="point-{kailu.id}"')
        < outer.index(f'id="point-{changbai.id}"')
    )
    yinhang_item = html[html.index(f'id="point-{yinhang.id}"') : html.index(f'id="point-{changbai.id}"')]
    assert "<ul>" in yinhang_item and "开鲁新村采集点" in yinhang_item  # nested under its point
    assert yinhang.code in html and "殷行路1号" in html and "Collection point" in html
    assert f"/consultations/points/{district.id}/poster.pdf?all=1" in html
    assert f"/consultations/points/{kailu.id}/poster.pdf?all=1" not in html  # nothing below it
    assert f"/consultations/points/new?parent={kailu.id}" not in html


def test_rename_a_point_and_names_stay_unique_among_siblings(staff, network, db_dump):
    district, yinhang, changbai, _ = network
    page = staff.get(f"/consultations/points/{yinhang.id}")
    assert page.status_code == 200 and 'value="殷行街道基层立法联系点"' in page.text
    response = staff.post(
        f"/consultations/points/{yinhang.id}", data={"name": "殷行街道联系点", "address": "殷行路2号"}
    )
    assert response.status_code == 302
    renamed = points_by_name()["殷行街道联系点"]
    assert renamed.code == yinhang.code and renamed.address == "殷行路2号"
    before = db_dump()
    clash = staff.post(f"/consultations/points/{changbai.id}", data={"name": "殷行街道联系点"})
    assert clash.status_code == 400 and "There is already a point called “殷行街道联系点” here." in clash.text
    empty = staff.post(f"/consultations/points/{changbai.id}", data={"name": "  "})
    assert empty.status_code == 400 and "Give the point a name." in empty.text
    assert db_dump() == before
    assert point_actions()[-1] == "contact_point.update"


def test_retire_a_point_with_those_below_it_and_bring_them_back(staff, network):
    district, yinhang, changbai, kailu = network
    response = staff.post(f"/consultations/points/{yinhang.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "is retired (2 points in all)" in response.text
    found = points_by_name()
    assert not found[yinhang.name].active and not found[kailu.name].active and found[changbai.name].active
    # An opinion through a retired point's poster is kept, attributed to no point.
    assert ops.point_for_code(kailu.code) is None

    early = staff.post(f"/consultations/points/{kailu.id}/active", data={"active": "1"}, follow_redirects=True)
    assert f"“{yinhang.name}” is retired: bring it back first." in early.text
    assert not points_by_name()[kailu.name].active
    staff.post(f"/consultations/points/{yinhang.id}/active", data={"active": "1"})
    staff.post(f"/consultations/points/{kailu.id}/active", data={"active": "1"})
    assert all(p.active for p in points_by_name().values())
    assert point_actions()[-3:] == ["contact_point.deactivate", "contact_point.activate", "contact_point.activate"]
    assert staff.get(f"/consultations/points/{yinhang.id}/poster.pdf").status_code == 200


# -- posters ---------------------------------------------------------------------------------------


def decode_qr_codes(pdf, tmp_path):
    """Render each page with pdftoppm and read its QR code with zxing-cpp."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    source = folder / "poster.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "72", "-gray", str(source), str(folder / "page")], check=True)
    found = []
    for page in sorted(folder.glob("page-*.pgm")):
        with Image.open(page) as image:
            found.append([result.text for result in zxingcpp.read_barcodes(image)])
    return found


def embedded_fonts(pdf, tmp_path):
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    source = tmp_path / "fonts.pdf"
    source.write_bytes(pdf)
    lines = subprocess.run(["pdffonts", str(source)], check=True, capture_output=True, text=True).stdout.splitlines()
    return [line.split() for line in lines[2:]]


def assert_resident_link(app, url, code, endpoint, **values):
    """The QR code opens the residents' page ``endpoint`` (public_consult) with the point's code."""
    parts = urlsplit(url)
    assert parse_qs(parts.query).get("p") == [code]
    matched, args = app.url_map.bind("localhost").match(parts.path)
    assert matched == f"public_consult.{endpoint}" and args == values


def test_a_point_poster_is_an_a4_pdf_with_the_font_embedded_and_the_right_qr_code(app, staff, network, tmp_path):
    _, yinhang, _, _ = network
    response = staff.get(f"/consultations/points/{yinhang.id}/poster.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    assert re.search(rb"/MediaBox \[\s*0 0 595\.27\d* 841\.88\d*\s*\]", pdf)  # A4 portrait
    fonts = embedded_fonts(pdf, tmp_path)
    assert fonts and all(row[0].endswith("WenQuanYiMicroHei-0") and row[-5] == "yes" for row in fonts), fonts
    pages = decode_qr_codes(pdf, tmp_path)
    assert len(pages) == 1 and len(pages[0]) == 1
    assert_resident_link(app, pages[0][0], yinhang.code, "index")


def test_the_poster_draws_the_point_link_with_name_and_instructions(staff, network, monkeypatch):
    """The seam: what the poster builder is asked to draw, whatever a decoder could read."""
    _, yinhang, _, _ = network
    drawn, texts = [], []
    real_draw_text = posters._draw_text
    monkeypatch.setattr(posters, "draw_qr", lambda canvas, data, x, y, size: drawn.append((data, size)))
    monkeypatch.setattr(
        posters,
        "_draw_text",
        lambda canvas, font, text, *a, **k: texts.append(text) or real_draw_text(canvas, font, text, *a, **k),
    )
    staff.set_cookie("lang", "zh")
    assert staff.get(f"/consultations/points/{yinhang.id}/poster.pdf").status_code == 200
    assert len(drawn) == 1 and drawn[0][0].endswith(f"?p={yinhang.code}")
    assert drawn[0][1] >= 130 * 72 / 25.4  # at least 13 cm wide
    assert "殷行街道基层立法联系点" in texts and "基层立法联系点" in texts
    assert any("扫" in t and "二维码" in t for t in texts), texts  # the Chinese line of instructions


def test_one_pdf_with_every_poster_of_a_subtree(app, staff, network, tmp_path):
    district, yinhang, changbai, kailu = network
    staff.post(f"/consultations/points/{changbai.id}/active", data={"active": "0"})
    response = staff.get(f"/consultations/points/{district.id}/poster.pdf?all=1")
    assert response.status_code == 200
    pages = decode_qr_codes(response.data, tmp_path)
    codes = [parse_qs(urlsplit(found[0]).query)["p"][0] for found in pages]
    assert codes == [district.code, yinhang.code, kailu.code]  # the retired point has no poster
    retired = staff.get(f"/consultations/points/{changbai.id}/poster.pdf")
    assert retired.status_code == 409 and "This contact point is retired" in retired.text


def test_a_poster_for_one_draft_and_point(app, staff, network, organizer, tmp_path):
    _, yinhang, _, kailu = network
    draft, _ = ops.create_draft(organizer, "某某规定\n第一条 为了规范。\n第二条 施行。")
    db.session.commit()
    unpublished = staff.get(f"/consultations/drafts/{draft.id}/poster.pdf?point={yinhang.id}")
    assert unpublished.status_code == 409 and "Publish the draft before printing its posters." in unpublished.text
    ops.publish_draft(organizer, draft)
    db.session.commit()
    page = staff.get(f"/consultations/drafts/{draft.id}").text
    assert f'<option value="{kailu.id}">' in page
    response = staff.get(f"/consultations/drafts/{draft.id}/poster.pdf?point={yinhang.id}&all=1")
    pages = decode_qr_codes(response.data, tmp_path)
    assert len(pages) == 2
    assert_resident_link(app, pages[0][0], yinhang.code, "draft", draft_id=draft.id)
    assert_resident_link(app, pages[1][0], kailu.code, "draft", draft_id=draft.id)
    general = staff.get(f"/consultations/drafts/{draft.id}/poster.pdf")
    ((url,),) = decode_qr_codes(general.data, tmp_path)
    assert "p=" not in url and str(draft.id) in url


# -- safety ----------------------------------------------------------------------------------------


def test_names_are_shown_escaped(staff, organizer):
    district = ops.create_contact_point(organizer, SCRIPT, "district", address="<b>路</b>")
    db.session.commit()
    for path in ("/consultations/points", f"/consultations/points/{district.id}"):
        html = staff.get(path).text
        assert SCRIPT not in html and "<b>路</b>" not in html and "&lt;script&gt;" in html, path
    response = staff.post(f"/consultations/points/{district.id}/active", data={"active": "0"}, follow_redirects=True)
    assert SCRIPT not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;” is retired" in response.text


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_point_forms_need_their_csrf_token(csrf_on, app, make_user, db_dump):
    user = make_user("organizer", "csrf")
    district = ops.create_contact_point(user, "区联系点", "district")
    db.session.commit()
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/login").text)[1]
    browser.post("/login", data={"username": "csrf", "password": "correct horse battery", "csrf_token": token})
    before = db_dump()
    for path, data in {
        "/consultations/points/new": {"name": "x"},
        f"/consultations/points/new?parent={district.id}": {"name": "x"},
        f"/consultations/points/{district.id}": {"name": "y"},
        f"/consultations/points/{district.id}/active": {"active": "0"},
    }.items():
        response = browser.post(path, data=data)
        assert response.status_code == 400 and CSRF_MESSAGE in response.text, path
    assert db_dump() == before
    page = browser.get("/consultations/points").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = browser.post(f"/consultations/points/{district.id}/active", data={"active": "0", "csrf_token": token})
    assert response.status_code == 302 and not points_by_name()["区联系点"].active


def test_who_may_see_and_change_the_network(app, network, make_user, signed_in, db_dump):
    district, yinhang, _, _ = network
    contact_staff = signed_in(make_user("contact_staff"))
    department = signed_in(make_user("department"))
    resident = app.test_client()
    before = db_dump()
    html = contact_staff.get("/consultations/points").text
    assert yinhang.name in html and "Retire" not in html and "Rename" not in html
    assert contact_staff.get(f"/consultations/points/{yinhang.id}/poster.pdf").status_code == 200
    for method, path in [
        ("post", "/consultations/points/new"),
        ("get", f"/consultations/points/new?parent={district.id}"),
        ("get", f"/consultations/points/{yinhang.id}"),
        ("post", f"/consultations/points/{yinhang.id}"),
        ("post", f"/consultations/points/{yinhang.id}/active"),
    ]:
        assert getattr(contact_staff, method)(path).status_code == 403, path
        assert getattr(department, method)(path).status_code == 403, path
        assert getattr(resident, method)(path).status_code == 302, path
    for path in ("/consultations/points", f"/consultations/points/{yinhang.id}/poster.pdf"):
        assert department.get(path).status_code == 403 and resident.get(path).status_code == 302
    assert db_dump() == before


def test_no_get_changes_anything(staff, network, organizer, db_dump):
    district, yinhang, _, kailu = network
    draft, _ = ops.create_draft(organizer, "某某规定\n第一条 为了规范。")
    ops.publish_draft(organizer, draft)
    db.session.commit()
    staff.get("/consultations/points")
    before = db_dump()
    for path in [
        "/consultations/points",
        "/consultations/points/new",
        f"/consultations/points/new?parent={yinhang.id}",
        f"/consultations/points/{kailu.id}",
        f"/consultations/points/{district.id}/poster.pdf?all=1",
        f"/consultations/points/{kailu.id}/active",
        f"/consultations/drafts/{draft.id}/poster.pdf?point={yinhang.id}&all=1",
    ]:
        assert staff.get(path).status_code in (200, 405), path
    assert db_dump() == before


def test_pages_read_well(staff, network):
    _, yinhang, _, _ = network
    for path in ("/consultations/points", f"/consultations/points/new?parent={yinhang.id}",
                 f"/consultations/points/{yinhang.id}"):  # fmt: skip
        problems, _ = check_page(staff.get(path).text)
        assert problems == [], (path, problems)
    problems, _ = check_page(staff.post(f"/consultations/points/{yinhang.id}", data={"name": ""}).text)
    assert problems == []
