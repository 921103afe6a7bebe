"""Rate limits keyed on who is asking (a phone, an account, a card), counted in a ``limits`` store.

``limiter.limit(...)`` decorates a view or an API operation; nothing else runs on a request.
This replaced Flask-Limiter, whose hooks evaluated the (here empty) default limits on every
request of the app, about 0.1 ms each: a quarter of the trivial endpoint and a tenth of a
sign-in during a burst of 3,000 phones (docs/BENCHMARKS.md). The counting is still the
``limits`` package's fixed-window strategy over a store named by ``RATELIMIT_STORAGE_URI``:
``memory://`` (per worker process, ``LocalMemoryStorage`` below) or e.g. ``redis://host:6379``
shared by several servers.

Settings: ``RATELIMIT_ENABLED`` (default True), ``RATELIMIT_STORAGE_URI`` (default memory://),
``RATELIMIT_STORAGE_OPTIONS`` (passed to the store), ``RATELIMIT_HEADERS_ENABLED`` (default True:
X-RateLimit-Limit/-Remaining/-Reset on the answers of limited routes). A request over its limit
gets 429 with Retry-After and those headers.
"""

import math
import threading
import time
from functools import lru_cache, wraps

from flask import current_app, make_response, request
from limits import parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests


class LocalMemoryStorage(Storage):
    """Fixed-window counters in this process's memory, expired inline: no timer thread.

    ``limits``' own memory store restarts a ``threading.Timer`` on every hit that walks every
    key; under gevent that timer is a greenlet, so a limited request switched to another one in
    its middle, holding a database connection (about 1,200 extra connections opened during
    2,000 sign-ins). This store drops expired windows when it is used, at most once a second.
    """

    STORAGE_SCHEME = ["voting-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        self._windows = {}  # key -> [count, expiry as Unix time]
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def incr(self, key, expiry, amount=1):
        """Add ``amount`` to the key's window, opening a window of ``expiry`` seconds if none is open."""
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            window = self._windows.get(key)
            if window is None or window[1] <= now:
                window = self._windows[key] = [0, now + expiry]
            window[0] += amount
            return window[0]

    def get(self, key):
        window = self._windows.get(key)
        return window[0] if window is not None and window[1] > time.time() else 0

    def get_expiry(self, key):
        now = time.time()
        window = self._windows.get(key)
        return window[1] if window is not None and window[1] > now else now

    def check(self):
        return True

    def reset(self):
        with self._lock:
            count = len(self._windows)
            self._windows.clear()
        return count

    def clear(self, key):
        with self._lock:
            self._windows.pop(key, None)

    def __len__(self):
        return len(self._windows)

    def _sweep(self, now):
        self._next_sweep = now + self.SWEEP_SECONDS
        for key in [key for key, (_, expiry) in self._windows.items() if expiry <= now]:
            del self._windows[key]


def make_storage(uri, options=None):
    """Return the store for ``RATELIMIT_STORAGE_URI``; ``memory://`` is this process's memory."""
    if uri in ("memory://", "voting-memory://"):
        return LocalMemoryStorage()
    return storage_from_string(uri, **(options or {}))


@lru_cache(maxsize=64)
def parse_limits(limit_string):
    """Parse "30 per minute" or "10/minute;100/hour" into ``limits`` items (cached)."""
    return tuple(parse_many(limit_string))


class RateLimited(TooManyRequests):
    """429, with Retry-After and the limit's headers."""

    def __init__(self, headers, retry_after):
        super().__init__(retry_after=retry_after)
        self.limit_headers = headers

    def get_headers(self, environ=None, scope=None):
        return super().get_headers(environ, scope) + list(self.limit_headers.items())


class Limiter:
    """Per-route rate limits; ``key_func`` names who is asking (default for every limit)."""

    def __init__(self, key_func, headers_enabled=True):
        self.key_func = key_func
        self.headers_enabled = headers_enabled

    def init_app(self, app):
        config = app.config
        config.setdefault("RATELIMIT_ENABLED", True)
        config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        config.setdefault("RATELIMIT_HEADERS_ENABLED", self.headers_enabled)
        storage = make_storage(config["RATELIMIT_STORAGE_URI"], config.get("RATELIMIT_STORAGE_OPTIONS"))
        app.extensions["rate_limits"] = FixedWindowRateLimiter(storage)

    def limit(self, limit_value, *, key_func=None, methods=None):
        """Decorate a view: at most ``limit_value`` (a string, or a callable returning one) per key and route.

        ``methods`` limits only those HTTP methods (e.g. POST of a page that also answers GET).
        """
        methods = {m.upper() for m in methods} if methods else None

        def decorator(view):
            @wraps(view)
            def wrapper(*args, **kwargs):
                config = current_app.config
                if not config["RATELIMIT_ENABLED"] or (methods is not None and request.method not in methods):
                    return view(*args, **kwargs)
                value = limit_value() if callable(limit_value) else limit_value
                headers = self.hit(value, request.endpoint or view.__name__, (key_func or self.key_func)())
                if not config["RATELIMIT_HEADERS_ENABLED"]:
                    return view(*args, **kwargs)
                response = make_response(view(*args, **kwargs))
                response.headers.update(headers)
                return response

            return wrapper

        return decorator

    def hit(self, limit_string, scope, key, headers=True):
        """Count one request of ``key`` on ``scope``; raise RateLimited if over; return the limit's headers.

        With ``headers=False`` nothing is returned: reading the window back is half of a hit's cost.
        """
        strategy = current_app.extensions["rate_limits"]
        shown = None
        for item in parse_limits(limit_string):
            allowed = strategy.hit(item, scope, key)
            if shown is None or not allowed:
                shown = item
            if not allowed:
                reset_at, _ = strategy.get_window_stats(item, scope, key)
                raise RateLimited(_headers(strategy, item, scope, key), max(1, math.ceil(reset_at - time.time())))
        return _headers(strategy, shown, scope, key) if headers else None


def _headers(strategy, item, scope, key):
    reset_at, remaining = strategy.get_window_stats(item, scope, key)
    return {
        "X-RateLimit-Limit": str(item.amount),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset_at)),
    }
