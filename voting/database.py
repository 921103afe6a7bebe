"""Database engine settings that every connection needs."""

import sqlite3
import threading
import time
from contextlib import contextmanager

from sqlalchemy import event

SQLITE_BUSY_TIMEOUT_MS = 10_000
# How a statement waits while the other worker process holds SQLite's write lock (about 0.2 ms a
# transaction). SQLite's own busy handler is off: it sleeps at least 1 ms at a time, in C, freezing every
# greenlet of a gevent worker. A busy statement is retried from Python instead: first every 0.1 ms
# without yielding (SQLITE_SPIN_TRIES times: the lock is usually free again by then, and a greenlet that
# yielded could wait tens of milliseconds for its turn while holding this worker's write lock), then with
# sleeps of up to 1 ms that let the worker's other greenlets run. Measured in docs/BENCHMARKS.md ("Where a
# sign-in's time goes"): opinions 964 -> 1,241/s, sign-ins 1,530 -> 1,640/s with a steadier p99.
SQLITE_C_BUSY_MS = 0
SQLITE_SPIN_TRIES = 10
SQLITE_SPIN_PAUSE_S = 0.0001
SQLITE_FIRST_PAUSE_S = 0.0002
SQLITE_MAX_PAUSE_S = 0.001
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_HOLDS_LOCK = "voting_sqlite_write_lock"


def engine_options(uri, options):
    """Return the engine options for ``uri``: a database server's pooled connections are pinged.

    PostgreSQL closes idle connections on restarts and timeouts, so each checkout pings first.
    SQLite is a file: a connection cannot go stale, and the ping was a query on every request.
    """
    options = dict(options or {})
    if not uri.startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options


@contextmanager
def autocommit_connection(engine):
    """Yield a connection of ``engine`` on which every statement commits by itself.

    On SQLite the driver is switched to autocommit directly, and back before the connection
    returns to the pool. SQLAlchemy's ``isolation_level="AUTOCOMMIT"`` does the same, then resets
    the connection with ``PRAGMA read_uncommitted``, which makes SQLite discard every statement the
    connection had prepared: each sign-in compiled its UPDATE again (about 0.1 ms of CPU).
    """
    if engine.dialect.name != "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection
        return
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        previous = driver.isolation_level
        driver.isolation_level = None
        try:
            yield connection
        finally:
            if not connection.invalidated:
                driver.isolation_level = previous


def configure_engine_events(engine):
    """Set SQLite up for many concurrent writers (WAL, busy timeout, foreign keys)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_C_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    _serialize_writers(engine)
    _retry_when_busy(engine)


def _blocking_sleep():
    """time.sleep as it was before gevent patched it (a pause of the whole worker), or time.sleep."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a requirement
        return time.sleep
    return monkey.get_original("time", "sleep")


def _retry_when_busy(engine):
    """Retry a statement refused with "database is locked" for up to the busy timeout.

    A statement that gets SQLITE_BUSY has not run, so running it again is safe. The first retries
    come quickly without yielding, the later ones after sleeps that let the worker's other greenlets
    run (SQLITE_SPIN_TRIES and the pauses above).
    """
    spin = _blocking_sleep()

    def retrying(run):
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause, tries = SQLITE_FIRST_PAUSE_S, 0
        while True:
            try:
                run()
                return True
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            tries += 1
            if tries <= SQLITE_SPIN_TRIES:
                spin(SQLITE_SPIN_PAUSE_S)
            else:
                time.sleep(pause)
                pause = min(pause * 2, SQLITE_MAX_PAUSE_S)

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, _context):
        return retrying(lambda: cursor.execute(statement, parameters))

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, _context):
        return retrying(lambda: cursor.executemany(statement, parameters))

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, _context):
        return retrying(lambda: cursor.execute(statement))


def _serialize_writers(engine):
    """Let one connection of this process at a time write to SQLite; the others wait in Python.

    SQLite lets one writer in at a time and makes the others wait in its busy handler, which
    sleeps in C. Under gevent that sleep freezes every greenlet of the worker, including the
    one holding the write lock whenever it has yielded mid-transaction, so one waiting vote
    could stall a worker (its phones, streams and poller) for the whole busy timeout. Waiting
    for a lock of the process instead (gevent makes it cooperative; with threads it is a plain
    lock) keeps the rest running; SQLite's own wait remains only between processes, where the
    holder is never frozen by the waiter. The lock is taken at a connection's first write, when
    SQLite takes its own, and given back when that transaction ends.
    """
    # Created when the engine is: after gunicorn's gevent worker has patched threading.
    lock = threading.Lock()

    def release(info):
        if info.pop(_HOLDS_LOCK, False):
            lock.release()

    @event.listens_for(engine, "before_cursor_execute")
    def _take_lock(conn, _cursor, statement, _parameters, _context, _executemany):
        info = conn.info
        if info.get(_HOLDS_LOCK) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        # A writer that waits longer than SQLite itself would is left to SQLite's busy timeout
        # (and its "database is locked" error), never to a hang.
        if lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            info[_HOLDS_LOCK] = True

    @event.listens_for(engine, "commit")
    def _after_commit(conn):
        # Fired just before the DBAPI commit; nothing can switch greenlets in between.
        release(conn.info)

    @event.listens_for(engine, "rollback")
    def _after_rollback(conn):
        release(conn.info)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record):
        release(record.info)

    @event.listens_for(engine, "close")
    def _closed(_dbapi_connection, record):
        release(record.info)
