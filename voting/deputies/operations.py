"""The roster: importing and editing deputies, activation cards and bound phones."""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import bindparam, func, select, update

from voting.audit.operations import actor_label, record
from voting.deputies.models import Deputy, DeputyDevice
from voting.deputies.roster import RosterFileError, parse_roster
from voting.errors import Conflict, Invalid, NotFound
from voting.extensions import db
from voting.timeutil import utcnow
from voting.tokens import new_activation_code, new_token, normalize_activation_code, token_hash

COLUMN_LABELS = {
    "name": _l("Name"),
    "number": _l("Deputy number"),
    "delegation": _l("Delegation or street"),
    "phone": _l("Phone"),
}

_ROW_MESSAGES = {
    "required": _l("%(column)s is empty."),
    "too_long": _l("%(column)s is too long."),
    "formula": _l("%(column)s starts with a formula character (= + - @); type the value itself."),
    "bad_phone": _l("%(column)s is not a phone number."),
    "duplicate_in_file": _l("%(column)s %(value)s appears twice in the file (also on row %(other)s)."),
}

_FILE_MESSAGES = {
    "old_excel": _l("Old .xls files cannot be read. Save the file as .xlsx (Excel 2007 or later) or .csv."),
    "unknown_type": _l("Upload an Excel (.xlsx) or CSV (.csv) file."),
    "bad_xlsx": _l("This file is not a readable Excel (.xlsx) workbook."),
    "bad_encoding": _l("The CSV file is neither UTF-8 nor GBK text."),
    "bad_csv": _l("The CSV file is damaged (for example a quote that is never closed)."),
    "empty": _l("The file contains no deputies."),
    "too_many_rows": _l("The file has more than %(limit)s rows."),
    "missing_columns": _l("Required columns are missing: %(columns)s. The first row must name the columns, "
                          "e.g. 姓名, 代表证号, 代表团."),
}


def describe_row_error(error):
    """Turn a roster RowError into a translated message with its row number."""
    column = COLUMN_LABELS[error.column]
    value, _, other = error.value.partition("@")
    message = _ROW_MESSAGES[error.code] % {"column": column, "value": value, "other": other}
    return {"row": error.line, "column": error.column, "code": error.code, "message": str(message)}


def _file_error(error):
    params = dict(error.params)
    if "columns" in params:
        params["columns"] = "、".join(str(COLUMN_LABELS[c]) for c in params["columns"])
    message = _FILE_MESSAGES[error.code] % params if params else _FILE_MESSAGES[error.code]
    details = None
    if error.code == "missing_columns":
        # Name each missing column and show the headers the file does have, so the organizer can rename one.
        found = "、".join(error.params.get("found", [])) or "-"
        details = [{"row": None, "column": column, "code": "missing_column",
                    "message": str(_l("Column %(column)s is missing (the file's columns: %(found)s).",
                                      column=COLUMN_LABELS[column], found=found))}
                   for column in error.params["columns"]]
    return Invalid(message, code=f"roster_{error.code}", details=details)


def import_roster(actor, filename, data, progress=None):
    """Import or update deputies from a roster file, all or nothing; return counts.

    Rows are matched on the deputy number: a known number updates that deputy, a new one adds
    a deputy. One bad row imports nothing and the error names the row.
    """
    try:
        parsed = parse_roster(filename, data, max_rows=current_app.config["ROSTER_MAX_ROWS"])
    except RosterFileError as error:
        raise _file_error(error) from None
    if parsed.errors:
        details = [describe_row_error(e) for e in parsed.errors[:200]]
        raise Invalid(
            lazy_ngettext(
                "%(num)s problem found in the file; nothing was imported. Fix the row listed and upload again.",
                "%(num)s problems found in the file; nothing was imported. Fix the rows listed and upload again.",
                len(parsed.errors),
            ),
            code="roster_invalid_rows",
            details=details,
        )
    existing = {d.number: d for d in db.session.scalars(select(Deputy))}
    created = updated = 0
    total = len(parsed.rows)
    for index, row in enumerate(parsed.rows, start=1):
        deputy = existing.get(row.number)
        if deputy is None:
            db.session.add(Deputy(number=row.number, name=row.name, delegation=row.delegation, phone=row.phone))
            created += 1
        elif (deputy.name, deputy.delegation, deputy.phone, deputy.active) != (
            row.name, row.delegation, row.phone, True
        ):
            deputy.name, deputy.delegation, deputy.phone, deputy.active = row.name, row.delegation, row.phone, True
            updated += 1
        if progress and (index % 500 == 0 or index == total):
            progress(index, total)
    db.session.flush()
    record(actor_label(actor), "roster.import", "roster", filename[:64], created=created, updated=updated,
           rows=total)
    return {"rows": total, "created": created, "updated": updated, "unchanged": total - created - updated}


def get_deputy(deputy_id):
    deputy = db.session.get(Deputy, deputy_id)
    if deputy is None:
        raise NotFound(_l("No such deputy."), code="deputy_not_found")
    return deputy


def list_deputies(search=None, delegation=None, offset=0, limit=100):
    """Return (deputies, total) ordered by delegation and number."""
    query = select(Deputy)
    search = (search or "").strip()
    if search:
        # A typed % or _ is part of the name, not a wildcard.
        query = query.where(Deputy.name.contains(search, autoescape=True)
                            | Deputy.number.contains(search, autoescape=True))
    if delegation:
        query = query.where(Deputy.delegation == delegation)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Deputy.delegation, Deputy.number).offset(offset).limit(limit)).all()
    return rows, total


def delegations():
    """Return the delegation names in use, sorted."""
    return db.session.scalars(select(Deputy.delegation).distinct().order_by(Deputy.delegation)).all()


def _clean(value, label, max_length, required=True, allow_plus=False):
    value = (value or "").replace("\u3000", " ").strip()
    if required and not value:
        raise Invalid(_l("%(field)s is required.", field=label), code="required")
    if len(value) > max_length:
        raise Invalid(_l("%(field)s is too long.", field=label), code="too_long")
    if value.startswith(("=", "@", "-")) or (value.startswith("+") and not allow_plus):
        raise Invalid(_l("%(field)s may not start with = + - @.", field=label), code="formula")
    return value


def save_deputy(actor, deputy, number, name, delegation, phone=None, active=True):
    """Create (deputy=None) or edit a deputy."""
    number = _clean(number, COLUMN_LABELS["number"], 32)
    name = _clean(name, COLUMN_LABELS["name"], 100)
    delegation = _clean(delegation, COLUMN_LABELS["delegation"], 100)
    phone = _clean(phone, COLUMN_LABELS["phone"], 32, required=False, allow_plus=True) or None
    clash = db.session.scalar(select(Deputy.id).where(Deputy.number == number))
    if clash is not None and (deputy is None or clash != deputy.id):
        raise Conflict(_l("Deputy number %(number)s is already used.", number=number), code="duplicate_number")
    if deputy is None:
        deputy = Deputy(number=number, name=name, delegation=delegation, phone=phone, active=active)
        db.session.add(deputy)
        db.session.flush()
        record(actor_label(actor), "deputy.create", "deputy", deputy.id, number=number, name=name)
        return deputy
    before = {"number": deputy.number, "name": deputy.name, "delegation": deputy.delegation,
              "phone": bool(deputy.phone), "active": deputy.active}
    deputy.number, deputy.name, deputy.delegation, deputy.phone, deputy.active = (
        number, name, delegation, phone, active)
    if not active:
        _revoke_devices(deputy.id)
        deputy.activation_code_hash = None
    db.session.flush()
    record(actor_label(actor), "deputy.update", "deputy", deputy.id, before=before,
           after={"number": number, "name": name, "delegation": delegation, "phone": bool(phone), "active": active})
    return deputy


def _revoke_devices(deputy_id):
    return db.session.execute(
        update(DeputyDevice).where(DeputyDevice.deputy_id == deputy_id, DeputyDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount


def issue_activation_code(actor, deputy):
    """Issue a new card code for ``deputy``: the old card stops working and bound phones are signed out.

    Return the plain code; only its hash is kept, so it is shown (or printed) once.
    """
    if not deputy.active:
        raise Conflict(_l("This deputy is inactive."), code="deputy_inactive")
    code = new_activation_code()
    deputy.activation_code_hash = token_hash(code)
    deputy.activation_issued_at = utcnow()
    revoked = _revoke_devices(deputy.id)
    db.session.flush()
    record(actor_label(actor), "deputy.issue_activation", "deputy", deputy.id, revoked_devices=revoked)
    return code


def issue_activation_codes(actor, scope="missing"):
    """Issue codes for many deputies at once: those without a card or phone (missing) or all.

    Return a list of (deputy, code) in delegation and number order.
    """
    query = select(Deputy).where(Deputy.active.is_(True)).order_by(Deputy.delegation, Deputy.number)
    if scope == "missing":
        bound = select(DeputyDevice.deputy_id).where(DeputyDevice.revoked_at.is_(None))
        query = query.where(Deputy.activation_code_hash.is_(None), Deputy.id.not_in(bound))
    elif scope != "all":
        raise Invalid(_l("Unknown scope."), code="invalid_scope")
    issued = []
    now = utcnow()
    for deputy in db.session.scalars(query):
        code = new_activation_code()
        deputy.activation_code_hash = token_hash(code)
        deputy.activation_issued_at = now
        issued.append((deputy, code))
    if scope == "all":
        db.session.execute(update(DeputyDevice).where(DeputyDevice.revoked_at.is_(None)).values(revoked_at=now))
    db.session.flush()
    record(actor_label(actor), "deputy.issue_activation_batch", "roster", scope, count=len(issued))
    return issued


def deputy_for_activation_code(code):
    """Return the deputy whose unused card carries ``code``, or raise NotFound."""
    normalized = normalize_activation_code(code)
    deputy = None
    if len(normalized) == 19:
        deputy = db.session.scalar(select(Deputy).where(Deputy.activation_code_hash == token_hash(normalized)))
    if deputy is None or not deputy.active:
        raise NotFound(
            _l("This activation code is not valid. It may have been used already or replaced by a new card; "
               "please ask the staff."),
            code="activation_code_invalid",
        )
    return deputy


def activate(code, user_agent=""):
    """Bind this phone to the deputy on the card; the card is used up. Return (deputy, device token)."""
    deputy = deputy_for_activation_code(code)
    # Use the card exactly once, even if two phones race with it.
    used = db.session.execute(
        update(Deputy).where(Deputy.id == deputy.id, Deputy.activation_code_hash == deputy.activation_code_hash)
        .values(activation_code_hash=None)
    ).rowcount
    if used != 1:
        raise Conflict(_l("This card has just been used on another phone."), code="activation_code_used")
    token = new_token("vtd_")
    now = utcnow()
    days = current_app.config["DEPUTY_DEVICE_DAYS"]
    db.session.add(DeputyDevice(deputy_id=deputy.id, token_hash=token_hash(token), created_at=now,
                                expires_at=now + timedelta(days=days), user_agent=(user_agent or "")[:255]))
    db.session.flush()
    record(f"deputy:{deputy.number}", "deputy.activate", "deputy", deputy.id)
    return deputy, token


def device_for_token(token):
    """Return the live DeputyDevice for a device token, or None."""
    if not token or not token.startswith("vtd_"):
        return None
    return device_for_token_hash(token_hash(token))


def revoke_devices(actor, deputy):
    """Sign out every phone bound to ``deputy``."""
    count = _revoke_devices(deputy.id)
    record(actor_label(actor), "deputy.revoke_devices", "deputy", deputy.id, count=count)
    return count


# Built once: every request of a deputy's phone runs it (building it per call cost more than running it).
_LIVE_DEVICE = (
    select(DeputyDevice)
    .join(Deputy, Deputy.id == DeputyDevice.deputy_id)
    .where(DeputyDevice.token_hash == bindparam("hashed"), DeputyDevice.revoked_at.is_(None),
           DeputyDevice.expires_at > bindparam("now"), Deputy.active.is_(True))
)


def device_for_token_hash(hashed):
    """Return the live DeputyDevice with this token hash, or None."""
    return db.session.scalar(_LIVE_DEVICE, {"hashed": hashed, "now": utcnow()})
