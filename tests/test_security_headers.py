"""Every answer gets the security headers, unless it set one of them itself."""

from voting import SECURITY_HEADERS


def test_every_answer_gets_each_header_once(client):
    response = client.get("/api/v1/ping")
    for key, value in SECURITY_HEADERS:
        assert response.headers.getlist(key) == [value]


def test_a_header_the_answer_set_itself_is_kept(app, client):
    @app.get("/_test/framed")
    def framed():
        return "ok", 200, {"x-frame-options": "SAMEORIGIN"}  # another spelling of the name

    response = client.get("/_test/framed")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
