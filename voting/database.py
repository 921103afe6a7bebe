"""Database engine settings that every connection needs."""

from sqlalchemy import event


def engine_options(uri, options):
    """Return the engine options for ``uri``: a database server's pooled connections are pinged.

    PostgreSQL closes idle connections on restarts and timeouts, so each checkout pings first.
    SQLite is a file: a connection cannot go stale, and the ping was a query on every request.
    """
    options = dict(options or {})
    if not uri.startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    return options


def configure_engine_events(engine):
    """Set SQLite up for many concurrent writers (WAL, busy timeout, foreign keys)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
