"""Tell waiting phones at once when a ballot of their meeting opens or closes.

Thousands of phones wait on one page per meeting. Each worker process runs ONE poller (a
greenlet under gunicorn's gevent workers, a thread elsewhere) that reads the open ballots of
the meetings its phones wait on, in one indexed query every ``BALLOT_POLL_SECONDS``, and wakes
every stream of a meeting whose set of open ballots changed. The signal comes from the
database, so it reaches phones on every worker process and every app server behind a proxy;
no process needs to tell another anything.

A meeting's *version* is the ids of its ballots open for voting now, e.g. ``"3,5"`` (``""``
when none is): a ballot opening, closing or running out of time changes it. Pages carry the
version they were drawn for and reload when it moves on.

Streams are server-sent events, served only where a waiting phone costs a greenlet and not a
thread (``BALLOT_STREAM = "auto"`` looks for gevent's patched sockets): a threaded server
starves with a thread per phone (PERF_FLOORS.md). Elsewhere the stream answers 204, which
tells EventSource to stop, and the page polls the small state document instead. A stream
ends after about ``BALLOT_STREAM_SECONDS`` so proxies and workers recycle connections; the
browser reconnects by itself after the retry hint.
"""

import functools
import json
import logging
import random
import threading
import time

from sqlalchemy import or_, select

from voting.ballots.models import Ballot, BallotState
from voting.extensions import db
from voting.timeutil import utcnow

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15  # keeps proxies from timing the connection out, and tells the page the line is alive
RETRY_MS = 3000  # EventSource waits this long before reconnecting
STATE_CACHE_SECONDS = 1.0  # the polled state document, per meeting and process


def open_ballot_ids(meeting_ids):
    """Return {meeting id: sorted ids of its ballots open for voting now} in one indexed query."""
    rows = db.session.execute(
        select(Ballot.meeting_id, Ballot.id).where(
            Ballot.meeting_id.in_(meeting_ids),
            Ballot.state == BallotState.OPEN.value,
            or_(Ballot.closes_at.is_(None), Ballot.closes_at > utcnow()),
        )
    ).all()
    found = {meeting_id: [] for meeting_id in meeting_ids}
    for meeting_id, ballot_id in rows:
        found[meeting_id].append(ballot_id)
    return {meeting_id: sorted(ids) for meeting_id, ids in found.items()}


def version_of(ids):
    return ",".join(str(i) for i in ids)


def state_document(version):
    """The JSON a phone receives: the version and the open ballot ids."""
    return {"v": version, "open": [int(i) for i in version.split(",") if i]}


class Channel:
    """The latest version of one meeting, and an event set whenever it changes."""

    def __init__(self, version):
        self.version = version
        self.changed = threading.Event()
        self.listeners = 0
        self.polled = False  # the version has been read by the poller at least once

    def publish(self, version):
        self.polled = True
        if version == self.version:
            return
        # Set the new version before waking anyone: a stream reads the event, then the version.
        self.version = version
        changed, self.changed = self.changed, threading.Event()
        changed.set()


class Hub:
    """One per app and process: the channels of the meetings phones wait on, and their poller."""

    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self._channels = {}
        self._poller = None
        self._state_cache = {}
        self.clock = time.monotonic

    # -- streams -----------------------------------------------------------------------------

    def subscribe(self, meeting_id, version):
        """Join a meeting's channel (made with ``version`` if it is new) and make sure the poller runs."""
        with self._lock:
            channel = self._channels.get(meeting_id)
            if channel is None:
                channel = self._channels[meeting_id] = Channel(version)
            channel.listeners += 1
            if self._poller is None:
                self._poller = threading.Thread(target=self._run, name="ballot-live-poller", daemon=True)
                self._poller.start()
        return channel

    def unsubscribe(self, meeting_id, channel):
        with self._lock:
            channel.listeners -= 1
            if channel.listeners <= 0 and self._channels.get(meeting_id) is channel:
                del self._channels[meeting_id]

    def known_version(self, meeting_id):
        """The poller's fresh version of a meeting, or None if it has none yet."""
        channel = self._channels.get(meeting_id)
        return channel.version if channel is not None and channel.polled else None

    def _run(self):
        interval = float(self.app.config["BALLOT_POLL_SECONDS"])
        while True:
            with self._lock:
                channels = dict(self._channels)
                if not channels:
                    self._poller = None  # started again by the next subscriber
                    return
            try:
                with self.app.app_context():
                    try:
                        found = open_ballot_ids(list(channels))
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the phones' updates for good
                log.exception("reading the open ballots failed; trying again")
            else:
                for meeting_id, channel in channels.items():
                    channel.publish(version_of(found[meeting_id]))
            time.sleep(interval)

    # -- the polled state document -------------------------------------------------------------

    def current_version(self, meeting_id):
        """The meeting's version: the poller's if it watches the meeting, else read at most once a second."""
        known = self.known_version(meeting_id)
        if known is not None:
            return known
        now = self.clock()
        cached = self._state_cache.get(meeting_id)
        if cached is not None and now - cached[0] < STATE_CACHE_SECONDS:
            return cached[1]
        version = version_of(open_ballot_ids([meeting_id])[meeting_id])
        if len(self._state_cache) > 1000:
            self._state_cache.clear()
        self._state_cache[meeting_id] = (now, version)
        return version


def hub(app):
    """The app's hub in this process (made on first use, so after gunicorn has forked)."""
    found = app.extensions.get("ballot_live")
    if found is None:
        found = app.extensions["ballot_live"] = Hub(app)
    return found


def streaming_enabled(app):
    """Whether this server can hold waiting phones' connections cheaply (see the module's notes)."""
    setting = app.config["BALLOT_STREAM"]
    if setting != "auto":
        return bool(setting)
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


@functools.lru_cache(maxsize=64)
def _event(version):
    # Formatted once per version and process, not once per waiting phone.
    return f"data: {json.dumps(state_document(version), separators=(',', ':'))}\n\n"


def stream_events(hub_, meeting_id, version, lifetime):
    """Yield server-sent events: the version now, then each new one, with heartbeats, for ``lifetime`` s.

    Holds no database connection: the request's session is gone before the first byte is sent,
    and the poller reads for every stream of the process at once.
    """
    channel = hub_.subscribe(meeting_id, version)
    # Changes are counted from the channel's version now: one published while the first event is
    # on its way is sent next (if it equals ``version``, the page ignores it).
    last = channel.version
    try:
        yield f"retry: {RETRY_MS}\n{_event(version)}"
        # Spread reconnections: phones that connected together should not all come back together.
        deadline = time.monotonic() + lifetime * random.uniform(0.8, 1.0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            changed = channel.changed
            if channel.version != last:
                last = channel.version
                yield _event(last)
                continue
            if not changed.wait(min(HEARTBEAT_SECONDS, left)):
                yield "event: ping\ndata: 1\n\n"
    finally:
        hub_.unsubscribe(meeting_id, channel)
