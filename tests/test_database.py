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
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0
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
