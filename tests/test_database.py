"""Engine settings per kind of database (voting/database.py)."""

import pytest
from sqlalchemy import text

from voting.database import engine_options
from voting.extensions import db


@pytest.mark.parametrize(
    "uri, given, expected",
    [
        ("sqlite:////srv/voting.db", {}, {}),
        ("sqlite:////srv/voting.db", None, {}),
        ("postgresql+psycopg://db/voting", {}, {"pool_pre_ping": True}),
        (
            "postgresql+psycopg://db/voting",
            {"pool_pre_ping": False, "pool_size": 20},
            {"pool_pre_ping": False, "pool_size": 20},
        ),
        ("sqlite:////srv/voting.db", {"pool_pre_ping": True}, {"pool_pre_ping": True}),
    ],
)
def test_only_database_servers_are_pinged_unless_configured(uri, given, expected):
    assert engine_options(uri, given) == expected


def test_the_app_engine_gets_the_options_of_its_database(app):
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    if db.engine.dialect.name == "sqlite":
        assert "pool_pre_ping" not in options
        # Every connection is set up for concurrent writers.
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            # SQLite itself never waits (its wait freezes a gevent worker): busy statements are retried.
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 0
    else:
        assert options["pool_pre_ping"] is True


def test_autocommit_connection_commits_each_statement_and_returns_the_connection_as_it_was(app):
    from sqlalchemy import func, insert, select

    from voting.database import autocommit_connection
    from voting.deputies.models import Deputy

    def committed():
        with db.engine.connect() as other:
            return other.execute(select(func.count()).select_from(Deputy)).scalar()

    for n in (1, 2):
        with autocommit_connection(db.engine) as connection:
            driver = connection.connection.driver_connection
            before = connection.connection.dbapi_connection
            connection.execute(insert(Deputy).values(number=f"A{n}", name="代表", delegation="第1代表团"))
            assert committed() == n  # committed at once, before the connection is given back
        if db.engine.dialect.name == "sqlite":
            assert driver.isolation_level == ""  # back in the pool in its usual (transactional) mode
    with db.engine.connect() as connection:
        if connection.connection.dbapi_connection is before:
            assert connection.get_isolation_level() != "AUTOCOMMIT"
        connection.execute(insert(Deputy).values(number="A3", name="代表", delegation="第1代表团"))
        connection.rollback()
    assert committed() == 2


def _hold_write_lock(app):
    """Another process's writer, as SQLite sees it: a separate connection inside BEGIN IMMEDIATE."""
    import sqlite3

    holder = sqlite3.connect(db.engine.url.database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_write_refused_by_a_busy_sqlite_is_retried_until_the_other_writer_commits(app):
    import threading
    import time

    from sqlalchemy import func, insert, select

    from voting.deputies.models import Deputy

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    holder = _hold_write_lock(app)
    holder.execute(
        "INSERT INTO deputy (number, name, delegation, active, created_at, updated_at) "
        "VALUES ('B1', '代表', '第1代表团', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )
    release = threading.Timer(0.3, holder.commit)
    started = time.monotonic()
    release.start()
    try:
        db.session.execute(insert(Deputy).values(number="B2", name="代表", delegation="第1代表团"))
        db.session.commit()
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - started >= 0.3  # it waited for the other writer ...
    numbers = set(db.session.scalars(select(Deputy.number)))
    assert numbers == {"B1", "B2"}  # ... and neither write was lost
    assert db.session.scalar(select(func.count()).select_from(Deputy)) == 2


def test_a_write_still_busy_after_the_timeout_fails_and_writes_nothing(app, monkeypatch):
    import time

    from sqlalchemy import func, insert, select
    from sqlalchemy.exc import OperationalError

    import voting.database
    from voting.deputies.models import Deputy

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    monkeypatch.setattr(voting.database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    holder = _hold_write_lock(app)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="locked"):
            db.session.execute(insert(Deputy).values(number="C1", name="代表", delegation="第1代表团"))
        elapsed = time.monotonic() - started
        db.session.rollback()
    finally:
        holder.rollback()
        holder.close()
    assert 0.3 <= elapsed < 2
    assert db.session.scalar(select(func.count()).select_from(Deputy)) == 0
