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
