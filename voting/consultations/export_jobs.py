"""Exports that take a while (the 汇总表 of a large draft) run in the background; any worker can tell how far.

Design: a job is two files in ``instance/exports/``: ``<id>.json``, its state, and the export
itself, written as ``<id>.<fmt>.part`` and renamed to ``<id>.<fmt>`` when complete. A thread
of the worker that took the request writes the export and rewrites the state file (to a
temporary name, then ``os.replace``, so a reader never sees half a file) about twice a second.
The page polls ``status.json`` and offers the download when the job is done.

Why files and not memory or a table: gunicorn runs several worker processes and the next
poll may reach any of them, so the state must live outside the process; the export is a file
anyway, the state next to it needs no migration (0005 belongs to another change) and no
cleanup transaction, and a rename is atomic. Why a thread and not a task queue: there is no
broker to run and monitor; under gevent the thread is a greenlet that yields every couple of
thousand rows (``voting.exports.cooperate``), so the worker keeps answering while it exports.
If the worker dies mid-export (restart, crash), the state stops being refreshed; a job whose
state is older than STALE_SECONDS reads as interrupted and the organizer starts it again.

Job ids are 128 random bits. A job is seen only by the account that started it (and
administrators): an export with contact details is personal data. Finished files are removed
after KEEP_HOURS, those with contact details after CONTACT_KEEP_MINUTES.
"""

import json
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

from voting.accounts.models import Role
from voting.audit.operations import actor_label, record
from voting.consultations import exports
from voting.consultations.models import Draft
from voting.errors import Conflict, Invalid, NotFound
from voting.extensions import db

log = logging.getLogger(__name__)

STALE_SECONDS = 120  # no progress written for this long: the worker running the job is gone
KEEP_HOURS = 24
CONTACT_KEEP_MINUTES = 60
MAX_RUNNING = 2  # exports at once per instance: each takes a core
PROGRESS_SECONDS = 0.5
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def exports_dir(create=True):
    path = Path(current_app.instance_path) / "exports"
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _state_path(folder, job_id):
    return folder / f"{job_id}.json"


def _write_state(folder, job):
    job["updated_at"] = time.time()
    temporary = folder / f".{job['id']}.{secrets.token_hex(4)}.tmp"
    temporary.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, _state_path(folder, job["id"]))


def _read_state(folder, job_id):
    try:
        return json.loads(_state_path(folder, job_id).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _alive(job, now):
    return job["state"] in (QUEUED, RUNNING) and now - job["updated_at"] < STALE_SECONDS


def _jobs(folder):
    for path in folder.glob("*.json"):
        job = _read_state(folder, path.stem)
        if job is not None:
            yield job


def sweep(folder=None, now=None):
    """Remove finished exports past their keeping time, and leftovers of interrupted ones; return how many."""
    folder = folder or exports_dir(create=False)
    if not folder.is_dir():
        return 0
    now = now or time.time()
    keep = current_app.config.get("CONSULTATION_EXPORT_KEEP_HOURS", KEEP_HOURS) * 3600
    removed = 0
    for job in list(_jobs(folder)):
        limit = CONTACT_KEEP_MINUTES * 60 if job.get("include_contacts") else keep
        if not _alive(job, now) and now - job["updated_at"] > limit:
            for path in folder.glob(f"{job['id']}.*"):
                path.unlink(missing_ok=True)
            removed += 1
    for path in folder.glob(".*.tmp"):  # a state write cut short
        if now - path.stat().st_mtime > STALE_SECONDS:
            path.unlink(missing_ok=True)
    return removed


def start_export(actor, draft, fmt, include_contacts=False):
    """Start exporting ``draft`` in the background; return the job's state.

    The same export asked for again while it runs returns the running job. An export with
    contact details is written to the audit log (personal data leaves the service).
    """
    if fmt not in exports.FORMATS:
        raise Invalid(_l("Choose the format: xlsx, pdf or csv."), code="invalid_format")
    folder = exports_dir()
    sweep(folder)
    now = time.time()
    running = [job for job in _jobs(folder) if _alive(job, now)]
    for job in running:
        if (job["user_id"], job["draft_id"], job["format"], job["include_contacts"]) == (
            actor.id, draft.id, fmt, bool(include_contacts)
        ):  # fmt: skip
            return job
    if len(running) >= current_app.config.get("CONSULTATION_EXPORTS_AT_ONCE", MAX_RUNNING):
        raise Conflict(_l("Other exports are being prepared right now. Try again in a minute."), code="exports_busy")
    total = exports.export_size(draft, fmt)
    limit = current_app.config.get("CONSULTATION_PDF_MAX_ITEMS", exports.PDF_MAX_ITEMS)
    if fmt == "pdf" and total > limit:
        raise Conflict(
            _l(
                "The summary has %(items)s items: as a PDF it would run to thousands of pages. Export it to Excel, "
                "or merge duplicates first (a PDF takes at most %(limit)s items).",
                items=total,
                limit=limit,
            ),
            code="pdf_too_large",
        )
    filename, ascii_filename = exports.export_filename(draft, fmt)
    job = {
        "id": secrets.token_urlsafe(16),
        "draft_id": draft.id,
        "user_id": actor.id,
        "format": fmt,
        "include_contacts": bool(include_contacts),
        "locale": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
        "state": QUEUED,
        "done": 0,
        "total": total,
        "created_at": now,
        "finished_at": None,
        "filename": filename,
        "ascii_filename": ascii_filename,
        "error": None,
    }
    if include_contacts:
        record(actor_label(actor), "draft.export_contacts", "draft", draft.id, format=fmt, job=job["id"])
    _write_state(folder, job)
    app = current_app._get_current_object()
    threading.Thread(target=_run, args=(app, folder, dict(job)), name=f"export-{job['id']}", daemon=True).start()
    return job


def _run(app, folder, job):
    """Write the export, keeping its state file up to date; never raises."""
    last = 0.0

    def progress(done):
        nonlocal last
        job["done"] = done
        if time.monotonic() - last >= PROGRESS_SECONDS:
            last = time.monotonic()
            _write_state(folder, job)

    part = folder / f"{job['id']}.{job['format']}.part"
    try:
        with app.app_context(), force_locale(job["locale"]):
            try:
                draft = db.session.get(Draft, job["draft_id"])
                job["state"] = RUNNING
                _write_state(folder, job)
                exports.WRITERS[job["format"]](draft, str(part), job["include_contacts"], progress)
                os.replace(part, folder / f"{job['id']}.{job['format']}")
                job.update(state=DONE, finished_at=time.time())
                job["total"] = max(job["total"], job["done"])
            finally:
                db.session.remove()
    except Exception:  # noqa: BLE001 - any failure is reported on the job page, and logged in full
        log.exception("export %s of draft %s failed", job["id"], job["draft_id"])
        part.unlink(missing_ok=True)
        job.update(state=FAILED, finished_at=time.time(), error="export_failed")
    _write_state(folder, job)


def get_job(user, draft, job_id):
    """Return the state of a job on ``draft`` that ``user`` may see, or raise NotFound."""
    job = _read_state(exports_dir(), job_id) if isinstance(job_id, str) and _JOB_ID.match(job_id) else None
    if job is None or job["draft_id"] != draft.id or (job["user_id"] != user.id and user.role != Role.ADMIN):
        raise NotFound(_l("No such export. Exports are kept for a day; start a new one."), code="export_not_found")
    if job["state"] in (QUEUED, RUNNING) and not _alive(job, time.time()):
        job.update(state=FAILED, error="interrupted")
    return job


def job_file(job):
    """The finished export's path, or raise Conflict while it is still being written."""
    path = exports_dir() / f"{job['id']}.{job['format']}"
    if job["state"] != DONE or not path.is_file():
        raise Conflict(_l("The export is not ready yet."), code="export_not_ready")
    return path


ERRORS = {
    "export_failed": _l("The export failed. Try again; if it fails again, tell the administrator."),
    "interrupted": _l("The export was interrupted (the server restarted). Start it again."),
}


def describe(job):
    """The job's state as the page and the API show it."""
    total = job["total"] or 0
    done = min(job["done"], total) if total else job["done"]
    return {
        "id": job["id"],
        "draft_id": job["draft_id"],
        "format": job["format"],
        "include_contacts": job["include_contacts"],
        "state": job["state"],
        "done": done,
        "total": total,
        "percent": 100 if job["state"] == DONE else (int(100 * done / total) if total else 0),
        "filename": job["filename"],
        "error": str(ERRORS[job["error"]]) if job.get("error") in ERRORS else None,
    }
