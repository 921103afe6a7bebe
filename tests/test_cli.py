"""Command-line tasks: backup, create-user, create-token, revoke-tokens."""

import shutil
import sqlite3
import subprocess

import pytest
from sqlalchemy import select

from voting.accounts.models import ApiToken, User
from voting.extensions import db


def _is_sqlite():
    return db.engine.dialect.name == "sqlite"


def test_sqlite_backup_is_a_working_copy(app, runner, make_deputies, make_meeting, tmp_path):
    if not _is_sqlite():
        pytest.skip("the SQLite online backup")
    deputies = make_deputies(25)
    make_meeting()
    target = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = copy.execute("SELECT number, name, delegation FROM deputy ORDER BY number").fetchall()
        assert rows == sorted((d.number, d.name, d.delegation) for d in deputies)
        assert copy.execute("SELECT count(*) FROM meeting_member").fetchone() == (25,)
        assert copy.execute("SELECT seq FROM audit_head").fetchone()[0] > 0
    finally:
        copy.close()


def test_backup_while_a_transaction_is_open(app, runner, make_deputies, tmp_path):
    """The copy is consistent: uncommitted changes of the running service are not in it."""
    if not _is_sqlite():
        pytest.skip("the SQLite online backup")
    make_deputies(3)
    other = sqlite3.connect(db.engine.url.database, timeout=10)
    other.execute("BEGIN")
    other.execute("INSERT INTO deputy (number, name, delegation, active, created_at, updated_at) "
                  "VALUES ('X1', '未提交', '团', 1, '2027-01-01', '2027-01-01')")
    target = tmp_path / "backup.db"
    try:
        result = runner.invoke(args=["backup", str(target)])
    finally:
        other.rollback()
        other.close()
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("SELECT count(*) FROM deputy").fetchone() == (3,)
    finally:
        copy.close()


def test_backup_refuses_to_overwrite(runner, tmp_path):
    target = tmp_path / "backup.db"
    target.write_bytes(b"precious")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code != 0
    assert "exists" in result.output
    assert target.read_bytes() == b"precious"


def test_backup_into_missing_directory(runner, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "no" / "such" / "dir" / "backup.db")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a crash
    assert "Error:" in result.output
    assert not (tmp_path / "no").exists()


def test_postgresql_backup_restores(app, runner, make_deputies, tmp_path):
    if _is_sqlite():
        pytest.skip("pg_dump")
    if shutil.which("pg_restore") is None:
        pytest.skip("pg_restore not installed")
    deputies = make_deputies(5)
    target = tmp_path / "backup.dump"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    listing = subprocess.run(["pg_restore", "--data-only", "--table=deputy", "--file=-", str(target)],
                             capture_output=True, text=True, check=True).stdout
    for deputy in deputies:
        assert deputy.number in listing and deputy.name in listing


@pytest.mark.parametrize("role", ["organizer", "admin", "contact_staff", "department"])
def test_create_user(runner, role):
    result = runner.invoke(args=["create-user", f"new_{role}", "--role", role, "--name", "新用户"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().rsplit(": ", 1)[1]
    user = db.session.scalar(select(User).where(User.username == f"new_{role}"))
    assert (user.role, user.display_name, user.must_change_password) == (role, "新用户", True)
    assert user.check_password(password)


def test_create_user_twice(runner):
    assert runner.invoke(args=["create-user", "dup"]).exit_code == 0
    result = runner.invoke(args=["create-user", "dup"])
    assert result.exit_code == 1
    assert "dup" in result.output


def test_create_token_works_with_the_api(runner, client, organizer):
    result = runner.invoke(args=["create-token", organizer.username, "--name", "大屏"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("vto_")
    assert db.session.scalar(select(ApiToken.name)) == "大屏"
    response = client.get("/api/v1/deputies", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("command", ["create-token", "revoke-tokens"])
def test_token_commands_for_unknown_user(runner, command):
    result = runner.invoke(args=[command, "nobody"])
    assert result.exit_code == 1
    assert "nobody" in result.output


def test_create_token_for_inactive_user(runner, organizer):
    organizer.active = False
    db.session.commit()
    assert runner.invoke(args=["create-token", organizer.username]).exit_code == 1


def test_revoke_tokens_leaves_other_users_alone(runner, client, make_user, api_token):
    first, second = make_user(), make_user()
    first_headers, second_headers = api_token(first), api_token(second)
    result = runner.invoke(args=["revoke-tokens", first.username])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/deputies", headers=first_headers).status_code == 401
    assert client.get("/api/v1/deputies", headers=second_headers).status_code == 200
