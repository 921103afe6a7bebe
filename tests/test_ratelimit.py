"""The rate limiter (voting/ratelimit.py): its in-process store, and the decorator on a small app of its own."""

import threading

import pytest
from flask import Flask, g
from limits.storage import Storage

from voting import ratelimit
from voting.ratelimit import Limiter, LocalMemoryStorage, make_storage


class FakeTime:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


def test_store_counts_within_a_window_then_starts_a_new_one(clock):
    store = LocalMemoryStorage()
    assert [store.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert store.get("k") == 3
    assert store.get_expiry("k") == clock.now + 60
    clock.now += 59.9
    assert store.incr("k", 60) == 4
    clock.now += 0.1  # the window opened 60 s ago has ended
    assert store.get("k") == 0
    assert store.incr("k", 60, amount=2) == 2
    assert store.get_expiry("k") == clock.now + 60


def test_store_keeps_keys_apart_and_clears_them(clock):
    store = LocalMemoryStorage()
    store.incr("a", 60)
    store.incr("b", 60)
    store.incr("b", 60)
    store.clear("b")
    assert (store.get("a"), store.get("b")) == (1, 0)
    assert store.reset() == 1
    assert store.get("a") == 0
    assert store.check() is True


def test_store_drops_ended_windows_so_memory_stays_bounded(clock):
    store = LocalMemoryStorage()
    for n in range(3000):
        store.incr(f"phone:{n}", 60)
    assert len(store) == 3000
    clock.now += 61
    store.incr("late", 60)
    assert len(store) == 1


def test_memory_uri_gives_the_store_without_a_timer_thread():
    before = threading.active_count()
    store = make_storage("memory://")
    for n in range(100):
        store.incr(f"k{n}", 1)
    assert isinstance(store, LocalMemoryStorage)
    assert threading.active_count() == before


def test_other_uris_go_to_the_limits_registry():
    class RecordingStorage(LocalMemoryStorage):
        STORAGE_SCHEME = ["voting-test-store"]

        def __init__(self, uri=None, **options):
            super().__init__(uri, **options)
            self.uri, self.options = uri, options

    store = make_storage("voting-test-store://somewhere", {"timeout": 3})
    assert isinstance(store, RecordingStorage) and isinstance(store, Storage)
    assert (store.uri, store.options) == ("voting-test-store://somewhere", {"timeout": 3})


def test_limit_strings_with_several_limits_are_parsed_once():
    items = ratelimit.parse_limits("2 per second; 5/minute")
    assert [(i.amount, i.GRANULARITY.name) for i in items] == [(2, "second"), (5, "minute")]
    assert ratelimit.parse_limits("2 per second; 5/minute") is items


@pytest.fixture
def tiny_app():
    """A bare Flask app with one limiter: /counted (2 per minute, key from ?who=), /posted (POST only)."""
    app = Flask(__name__)
    app.config.update(RATELIMIT_LIMIT="2 per minute")
    limiter = Limiter(key_func=lambda: g.who)

    @app.before_request
    def who():
        from flask import request

        g.who = request.args.get("who", "anyone")

    @app.get("/counted")
    @limiter.limit(lambda: app.config["RATELIMIT_LIMIT"])
    def counted():
        return "ok"

    @app.get("/other")
    @limiter.limit("2 per minute")
    def other():
        return "ok"

    @app.route("/posted", methods=["GET", "POST"])
    @limiter.limit("1 per minute", methods=["post"], key_func=lambda: "everyone")
    def posted():
        return "ok"

    limiter.init_app(app)
    return app


def test_limit_per_key_and_route(tiny_app):
    client = tiny_app.test_client()
    assert [client.get("/counted?who=a").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/counted?who=b").status_code == 200  # another phone
    assert client.get("/other?who=a").status_code == 200  # another route


def test_limited_answers_carry_the_limit_and_429_says_when_to_retry(tiny_app):
    client = tiny_app.test_client()
    first = client.get("/counted?who=a")
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    client.get("/counted?who=a")
    refused = client.get("/counted?who=a")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) >= int(first.headers["X-RateLimit-Reset"])


def test_limit_counts_only_the_methods_named(tiny_app):
    client = tiny_app.test_client()
    assert [client.get("/posted").status_code for _ in range(3)] == [200, 200, 200]
    assert [client.post("/posted").status_code for _ in range(2)] == [200, 429]


def test_limits_can_be_switched_off(tiny_app):
    tiny_app.config["RATELIMIT_ENABLED"] = False
    client = tiny_app.test_client()
    assert {client.get("/counted?who=a").status_code for _ in range(5)} == {200}


def test_headers_can_be_switched_off(tiny_app):
    tiny_app.config["RATELIMIT_HEADERS_ENABLED"] = False
    response = tiny_app.test_client().get("/counted?who=a")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def test_a_hit_without_headers_still_counts_and_refuses():
    from werkzeug.exceptions import TooManyRequests

    app = Flask(__name__)
    limiter = Limiter(key_func=lambda: "x")
    limiter.init_app(app)
    with app.app_context():
        assert limiter.hit("2 per minute", "scope", "k", headers=False) is None
        assert limiter.hit("2 per minute", "scope", "k")["X-RateLimit-Remaining"] == "0"  # the first one counted
        with pytest.raises(TooManyRequests) as refused:
            limiter.hit("2 per minute", "scope", "k", headers=False)
        assert refused.value.retry_after > 0
