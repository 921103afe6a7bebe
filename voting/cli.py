"""Command-line tasks: ``flask --app wsgi <command>``."""

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import func, select

from voting.accounts.models import Role, User
from voting.audit.models import AuditEntry
from voting.extensions import db


def init_cli(app):
    for command in (init_app_command, create_user_command, create_token_command, revoke_tokens_command,
                    audit_verify_command, backup_command, seed_demo_command):
        app.cli.add_command(command)
    from voting.consultations.cli import COMMANDS as consultation_commands  # purge-personal-data
    for command in consultation_commands:
        app.cli.add_command(command)


@click.command("init-app")
@click.option("--demo/--no-demo", default=True, help="Load the demo congress on first start.")
def init_app_command(demo):
    """Migrate the database; on first start create an administrator (and the demo)."""
    from flask_migrate import upgrade

    upgrade()
    if db.session.scalar(select(func.count()).select_from(User)):
        click.echo("Database is up to date.")
        return
    from voting.accounts.operations import create_user

    _, password = create_user(None, "admin", "系统管理员", Role.ADMIN)
    db.session.commit()
    click.echo("=" * 64)
    click.echo("Administrator created. Sign in at /login and choose a new password.")
    click.echo("  username: admin")
    click.echo(f"  one-time password: {password}")
    click.echo("=" * 64)
    if demo:
        _seed_demo()


@click.command("seed-demo")
def seed_demo_command():
    """Load the demo congress (300 deputies, 12 delegations, one meeting)."""
    _seed_demo()


def _seed_demo():
    from voting.demo import seed_demo

    links = seed_demo()
    db.session.commit()
    click.echo("Demo loaded: 300 deputies in 12 delegations and one meeting (all marked 演示).")
    click.echo("Try the deputy's side: open one of these activation links on a phone or in another browser:")
    for name, url in links:
        click.echo(f"  {name}: {url}")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ORGANIZER.value)
@click.option("--name", "display_name", default="")
@click.option("--contact-point", "point_code", default=None,
              help="For contact_staff: the code of the contact point the account works for.")
def create_user_command(username, role, display_name, point_code):
    """Create an organizer-side account and print its one-time password."""
    from voting.accounts.operations import create_user
    from voting.errors import DomainError

    try:
        user, password = create_user(None, username, display_name, role)
        if point_code is not None:
            from voting.consultations.imports import assign_contact_point
            from voting.consultations.operations import point_for_code

            point = point_for_code(point_code)
            if point is None:
                raise click.ClickException(f"No active contact point with the code {point_code!r}.")
            assign_contact_point(None, user, point)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Created {username} ({role}); one-time password: {password}")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
def create_token_command(username, name):
    """Make an API bearer token for USERNAME (shown once)."""
    from voting.accounts.operations import create_api_token

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException(f"No active user {username!r}.")
    token = create_api_token(None, user, name)
    db.session.commit()
    click.echo(token)


@click.command("revoke-tokens")
@click.argument("username")
def revoke_tokens_command(username):
    """Revoke every API token of USERNAME."""
    from voting.accounts.operations import revoke_api_tokens

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    count = revoke_api_tokens(None, user)
    db.session.commit()
    click.echo(f"Revoked {count} API tokens of {username}.")


def _parse_anchor(_ctx, _param, value):
    if value is None:
        return None
    seq, _, entry_hash = value.partition(":")
    if not seq.isdigit() or len(entry_hash) != 64:
        raise click.BadParameter("expected SEQ:HASH as printed by an earlier audit-verify")
    return int(seq), entry_hash


@click.command("audit-verify")
@click.option("--anchor", callback=_parse_anchor, metavar="SEQ:HASH",
              help="An entry and hash printed by an earlier check; it must still be there, unchanged.")
def audit_verify_command(anchor):
    """Check the audit log's hash chain; exit 1 if an entry was changed or deleted."""
    from voting.audit.operations import verify

    problems = verify(anchor)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED: {problem}", err=True)
        sys.exit(1)
    count = db.session.scalar(select(func.count()).select_from(AuditEntry))
    click.echo(f"Audit log intact: {count} entries verified.")
    last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    if last is not None:
        # Kept outside the database, this lets a later check notice the newest entries being cut off.
        click.echo(f"Note down to check later with --anchor: {last.seq}:{last.entry_hash}")


def _sqlite_backup(database, target):
    if not database or not Path(database).is_file():
        raise click.ClickException(f"The database file {database!r} does not exist.")
    # SQLite's online backup copies a consistent snapshot while the service keeps running.
    try:
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(target)) as dest:
            source.backup(dest)
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        raise click.ClickException(f"Backup failed: {error}") from None


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup_command(path):
    """Write a consistent copy of the live database to PATH."""
    url = db.engine.url
    target = Path(path)
    if target.exists():
        raise click.ClickException(f"{path} exists; choose a new file name.")
    if not target.parent.is_dir():
        raise click.ClickException(f"The folder {target.parent} does not exist.")
    if url.get_backend_name() == "sqlite":
        _sqlite_backup(url.database, target)
    elif url.get_backend_name() == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise click.ClickException("pg_dump not found; install the PostgreSQL client (postgresql-client).")
        # The password goes through the environment: a command line is visible to every local user.
        plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        env = {**os.environ, "PGPASSWORD": url.password} if url.password else None
        result = subprocess.run([pg_dump, "--format=custom", "--file", str(target), plain], check=False,
                                capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise click.ClickException(f"pg_dump failed: {result.stderr.strip()}")
    else:
        raise click.ClickException(f"Backups of {url.get_backend_name()} are not supported.")
    click.echo(f"Backup written to {target} ({target.stat().st_size} bytes).")
    current_app.logger.info("backup written to %s", target)
