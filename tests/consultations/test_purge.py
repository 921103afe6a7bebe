"""``flask purge-personal-data``: contact details older than the retention period go, the opinions stay,
each run that deletes is in the audit log; --older-than and --dry-run."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voting.audit.models import AuditEntry
from voting.audit.operations import verify
from voting.consultations import operations as ops
from voting.consultations.models import Opinion, OpinionContact
from voting.extensions import db
from voting.timeutil import utcnow

DRAFT = Path(__file__).parent / "drafts" / "01_district_regulation.txt"


@pytest.fixture
def contacts(app, organizer):
    """Opinions with contact details given 400, 200 and 10 days ago, and one without any."""
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    now = utcnow()
    made = {}
    for days in (400, 200, 10):
        opinion, _ = ops.submit_opinion(draft, f"{days}天前的意见", contact_name="张三", contact_phone="13812345678")
        opinion.contact.created_at = now - timedelta(days=days)
        made[days] = opinion.id
    ops.submit_opinion(draft, "没有联系方式")
    db.session.commit()
    return draft, made


def kept():
    db.session.expire_all()
    return set(db.session.scalars(select(OpinionContact.opinion_id)))


def purges():
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == "opinion_contact.purge")).all()


def test_purge_uses_the_retention_setting(app, runner, contacts):
    draft, made = contacts
    app.config["CONSULTATION_CONTACT_RETENTION_DAYS"] = 180
    result = runner.invoke(args=["purge-personal-data"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 contact records" in result.output and "older than 180 days" in result.output
    assert f"draft {draft.id}" in result.output
    assert kept() == {made[10]}
    # The opinions themselves stay.
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 4
    (entry,) = purges()
    details = json.loads(entry.details)
    assert details["deleted"] == 2 and details["older_than_days"] == 180 and entry.actor == "system"
    assert verify() == []


def test_older_than_overrides_the_setting(runner, contacts):
    _, made = contacts
    result = runner.invoke(args=["purge-personal-data", "--older-than", "300"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 contact records" in result.output
    assert kept() == {made[200], made[10]}


def test_dry_run_deletes_and_logs_nothing(runner, contacts):
    _, made = contacts
    result = runner.invoke(args=["purge-personal-data", "--older-than", "5", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: 3 contact records" in result.output
    assert kept() == set(made.values())
    assert purges() == []


def test_nothing_to_purge_is_still_logged(app, runner, contacts):
    app.config["CONSULTATION_CONTACT_RETENTION_DAYS"] = 1000
    result = runner.invoke(args=["purge-personal-data"])
    assert result.exit_code == 0 and "Deleted 0 contact records" in result.output
    assert len(kept()) == 3
    assert json.loads(purges()[0].details)["deleted"] == 0


def test_a_negative_age_is_refused(runner, contacts):
    result = runner.invoke(args=["purge-personal-data", "--older-than", "-1"])
    assert result.exit_code == 2 and "older-than" in result.output
    assert len(kept()) == 3


def test_purge_also_removes_expired_exports(app, runner, contacts, tmp_path):
    import time

    from voting.consultations import export_jobs

    app.instance_path = str(tmp_path / "instance")
    folder = export_jobs.exports_dir()
    job = {"id": "D" * 22, "draft_id": 1, "user_id": 1, "format": "csv", "include_contacts": True, "state": "done",
           "done": 1, "total": 1}  # fmt: skip
    export_jobs._write_state(folder, job)
    (folder / f"{job['id']}.csv").write_text("张*,139****4321")
    old = time.time() - export_jobs.CONTACT_KEEP_MINUTES * 60 - 5
    job["updated_at"] = old
    (folder / f"{job['id']}.json").write_text(json.dumps(job))
    result = runner.invoke(args=["purge-personal-data"])
    assert result.exit_code == 0 and "Removed 1 expired exports" in result.output
    assert not list(folder.glob(f"{job['id']}.*"))
