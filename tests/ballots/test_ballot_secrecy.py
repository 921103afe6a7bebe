"""Secrecy: an organizer reading every row of every table cannot link a deputy to a choice (DOMAIN.md B).

Who voted (ballot_participation) and what was voted (cast_ballot) share no value but the ballot id,
carry no timestamp, and after close no order or transaction id that follows the order of voting.
"""

import pytest
from sqlalchemy import DateTime, inspect, text
from sqlalchemy.exc import OperationalError

from voting.extensions import db

# The voting order: a shuffle, so that no key order of the deputies reproduces it.
ORDER = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]
VOTE_TABLES = ("ballot_participation", "cast_ballot")


@pytest.fixture
def voters(hall, make_deputies):
    """Ten voters whose ids start at 10, so no id looks like a boolean column's 0/1."""
    for filler in make_deputies(9, prefix="F"):
        filler.active = False
    db.session.commit()
    h = hall(10)
    assert min(d.id for d in h.deputies) >= 10
    return h


def _is_postgres():
    return db.engine.dialect.name == "postgresql"


def _tables():
    return [name for name in inspect(db.engine).get_table_names() if name != "alembic_version"]


def _rows(table):
    """Every row of a table as a dict, read with plain SQL as someone with full access would."""
    with db.engine.connect() as conn:
        # Table names come from the database's own catalog, not from input.
        return [dict(row) for row in conn.execute(text(f"SELECT * FROM {table}")).mappings()]  # noqa: S608


def _order_keys(table):
    """Every column to order a table by, plus the hidden ones: rowid (SQLite), ctid and xmin (PostgreSQL)."""
    columns = [c["name"] for c in inspect(db.engine).get_columns(table)]
    if _is_postgres():
        return [*columns, "ctid", "xmin::text::bigint"]
    with db.engine.connect() as conn:
        try:
            conn.execute(text(f"SELECT rowid FROM {table}"))  # noqa: S608
        except OperationalError:  # a WITHOUT ROWID table has no rowid
            return columns
    return [*columns, "rowid"]


def _column_sequence(table, column, order=None):
    clause = f" ORDER BY {order}" if order else ""
    with db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(f"SELECT {column} FROM {table}{clause}"))]  # noqa: S608


def _vote_all(h, api, ballot, paper):
    receipts = []
    for index in ORDER:
        response = api.vote(ballot, h.phones[index], paper)
        assert response.status_code == 200, response.json
        receipts.append(response.json["receipt"])
    return receipts, [h.deputies[i].id for i in ORDER]


def test_no_timestamps_and_only_the_ballot_id_in_common(app):
    inspector = inspect(db.engine)
    columns = {table: {c["name"]: c for c in inspector.get_columns(table)} for table in VOTE_TABLES}
    for table, found in columns.items():
        for name, column in found.items():
            assert not isinstance(column["type"], DateTime), f"{table}.{name} is a timestamp"
            assert not name.endswith("_at") and "time" not in name, f"{table}.{name} looks like a time"
    assert set(columns["ballot_participation"]) & set(columns["cast_ballot"]) == {"ballot_id", "deputy_id"}
    keys = {table: inspector.get_pk_constraint(table)["constrained_columns"] for table in VOTE_TABLES}
    assert keys == {"ballot_participation": ["ballot_id", "deputy_id"], "cast_ballot": ["id"]}
    foreign = {fk["referred_table"] for fk in inspector.get_foreign_keys("cast_ballot")}
    assert "ballot_participation" not in foreign


def test_secret_ballot_cannot_be_linked_by_reading_the_database(voters, api):
    h = voters
    ballot = api.open(api.create(h.meeting, items=["项目甲"]))
    item = str(ballot["items"][0]["id"])
    # The same paper from everyone: any order the rows keep can then only come from the order of voting.
    receipts, deputy_order = _vote_all(h, api, ballot, {item: "yes"})
    if _is_postgres():
        # Before close, PostgreSQL's xmin pairs each participation row with its cast ballot:
        # the reason closing rewrites both tables.
        cast_xmins = set(_column_sequence("cast_ballot", "xmin::text"))
        assert cast_xmins == set(_column_sequence("ballot_participation", "xmin::text"))
    api.close(ballot)

    everything = {table: _rows(table) for table in _tables()}
    participation, cast = everything["ballot_participation"], everything["cast_ballot"]
    assert len(participation) == len(cast) == 10

    def values(rows):
        return {str(value) for row in rows for name, value in row.items() if name != "ballot_id" and value is not None}

    assert values(participation) & values(cast) == set()
    assert all(row["deputy_id"] is None for row in cast)
    # No other table holds a receipt or anything of the papers either (audit log, devices, ...).
    for table, rows in everything.items():
        if table != "cast_ballot":
            dump = " ".join(str(v) for row in rows for v in row.values())
            assert not any(receipt in dump for receipt in receipts), table

    for key in _order_keys("cast_ballot"):
        assert _column_sequence("cast_ballot", "receipt", key) != receipts, f"cast_ballot by {key}"
    assert _column_sequence("cast_ballot", "receipt") != receipts, "cast_ballot in storage order"
    for key in _order_keys("ballot_participation"):
        assert _column_sequence("ballot_participation", "deputy_id", key) != deputy_order, key
    if _is_postgres():
        xmins = set(_column_sequence("cast_ballot", "xmin::text"))
        assert len(xmins) == 1, "every cast ballot now carries the closing transaction's id"
        assert set(_column_sequence("ballot_participation", "xmin::text")) == xmins


def test_vote_tables_keep_no_rowid_on_sqlite(app):
    if _is_postgres():
        pytest.skip("rowid exists only on SQLite")
    for table in VOTE_TABLES:
        assert "rowid" not in _order_keys(table), f"{table} must be WITHOUT ROWID"


def test_named_ballot_records_who_voted_what(voters, api):
    h = voters
    ballot = api.open(api.create(h.meeting, secret=False, items=["项目甲"]))
    item = str(ballot["items"][0]["id"])
    papers = {}
    for n, index in enumerate(ORDER[:4]):
        choice = ("yes", "no")[n % 2]
        assert api.vote(ballot, h.phones[index], {item: choice}).status_code == 200
        papers[h.deputies[index].id] = f'{{"{item}":"{choice}"}}'
    api.close(ballot)
    assert {row["deputy_id"]: row["choices"] for row in _rows("cast_ballot")} == papers
