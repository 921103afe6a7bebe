"""Consultation commands: ``flask --app wsgi purge-personal-data [--older-than DAYS] [--dry-run]``.

Residents may leave a name and a phone number with an opinion; the privacy notice promises they
are kept CONSULTATION_CONTACT_RETENTION_DAYS days (PIPL: keep personal data only as long as
needed). Run the purge daily (cron or a systemd timer); each run is audit-logged. The opinions
themselves stay: only the separate contact rows go, and the exports past their keeping time
(``export_jobs.sweep``: an hour for those with contact details).
"""

from datetime import timedelta

import click
from flask import current_app
from sqlalchemy import delete, func, select

from voting.audit.operations import record
from voting.consultations import export_jobs
from voting.consultations.models import Draft, Opinion, OpinionContact
from voting.extensions import db
from voting.timeutil import utcnow

DEFAULT_RETENTION_DAYS = 365


def retention_days():
    return int(current_app.config.get("CONSULTATION_CONTACT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def purge_contacts(older_than_days, dry_run=False, now=None):
    """Delete contact details given more than ``older_than_days`` days ago; return (cutoff, counts per draft).

    Counts are (draft id, draft title, contacts) for the drafts that have any to delete. With
    ``dry_run`` nothing is deleted or logged. Flushes and logs; the caller commits.
    """
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    counts = db.session.execute(
        select(Draft.id, Draft.title, func.count())
        .select_from(OpinionContact)
        .join(Opinion, Opinion.id == OpinionContact.opinion_id)
        .join(Draft, Draft.id == Opinion.draft_id)
        .where(OpinionContact.created_at < cutoff)
        .group_by(Draft.id, Draft.title)
        .order_by(Draft.id)
    ).all()
    if dry_run:
        return cutoff, counts
    deleted = db.session.execute(delete(OpinionContact).where(OpinionContact.created_at < cutoff)).rowcount
    record(
        "system",
        "opinion_contact.purge",
        "opinion_contact",
        "*",
        deleted=deleted,
        older_than_days=older_than_days,
        cutoff=cutoff.replace(microsecond=0),
        drafts={str(draft_id): n for draft_id, _title, n in counts},
    )
    return cutoff, counts


@click.command("purge-personal-data")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Delete contact details older than DAYS days (default: CONSULTATION_CONTACT_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")  # fmt: skip
def purge_personal_data_command(older_than, dry_run):
    """Delete residents' contact details (name, phone) kept longer than the retention period."""
    days = retention_days() if older_than is None else older_than
    cutoff, counts = purge_contacts(days, dry_run)
    total = sum(n for _draft, _title, n in counts)
    when = cutoff.strftime("%Y-%m-%d %H:%M UTC")
    for draft_id, title, n in counts:
        click.echo(f"  draft {draft_id} ({title}): {n}")
    if dry_run:
        click.echo(f"Dry run: {total} contact records given before {when} (older than {days} days) would be deleted.")
        db.session.rollback()
        return
    db.session.commit()
    click.echo(f"Deleted {total} contact records given before {when} (older than {days} days).")
    # Exports past their keeping time go too: those with contact details are personal data as well.
    swept = export_jobs.sweep()
    if swept:
        click.echo(f"Removed {swept} expired exports from {export_jobs.exports_dir(create=False)}.")
    current_app.logger.info("purge-personal-data: deleted %s contact records older than %s days", total, days)


COMMANDS = (purge_personal_data_command,)
