"""The audit log page."""

import json

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from voting.audit.models import AuditEntry
from voting.audit.operations import verify
from voting.auth import roles_required
from voting.extensions import db

bp = Blueprint("audit", __name__)
PAGE_SIZE = 100


@bp.get("/audit")
@roles_required()
def index():
    page = max(request.args.get("page", 1, type=int), 1)
    total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    entries = db.session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    problems = verify() if request.args.get("verify") else None
    return render_template(
        "audit/index.html",
        entries=entries,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        problems=problems,
        loads=json.loads,
    )
