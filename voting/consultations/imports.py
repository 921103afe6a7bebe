"""Import the opinions gathered at a contact point's meeting (征询会) from a staff member's sheet.

All or nothing: one bad row imports nothing, and every problem is listed with its row number.
Contact-point staff import into their own point (or a collection point under it); organizers
into any point. The same file is not imported twice into one draft: its SHA-256 is kept as the
idempotency key of the first opinion it created, so a double upload (or two at once) is refused.

300,000 opinions are written in chunks with Core, never as ORM objects: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL. Ids are taken before writing (on SQLite the import already holds
the single writer's lock; on PostgreSQL they come from the sequence), so the contact details
go in alongside their opinions without reading anything back.
"""

import functools
import hashlib
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from voting.accounts.models import MEETING_ROLES, Role
from voting.audit.operations import actor_label, record
from voting.consultations import opinion_sheet
from voting.consultations.models import (
    TRACKING_CODE_LENGTH,
    Article,
    Channel,
    ContactPoint,
    DraftState,
    Opinion,
    OpinionStatus,
    SubmitterType,
    masked_text_for,
)
from voting.consultations.operations import CODE_ALPHABET
from voting.consultations.review import point_and_below
from voting.errors import Conflict, Forbidden, Invalid
from voting.extensions import db
from voting.timeutil import utcnow

CHUNK = 5000
MAX_DETAILS = 200  # row problems listed in one answer

COLUMN_LABELS = {
    "article": _l("Article"),
    "text": _l("Opinion"),
    "name": _l("Submitter"),
    "phone": _l("Phone"),
    "people": _l("Number of people"),
}

_ROW_MESSAGES = {
    "required": _l("%(column)s is empty."),
    "too_long": _l("%(column)s is too long (%(value)s characters)."),
    "bad_article": _l("%(column)s “%(value)s” does not name an article: write it as 第十二条 or 12, or 总体 for the "
                      "whole draft."),
    "many_articles": _l("“%(value)s” names several articles: put the opinion on each article in a row of its own."),
    "unknown_article": _l("The draft has no %(value)s."),
    "bad_phone": _l("%(column)s “%(value)s” is not a phone number."),
    "bad_people": _l("%(column)s “%(value)s” is not a whole number from 1 to 100000."),
}  # fmt: skip

_FILE_MESSAGES = {
    "too_large": _l("The file is larger than %(mb)s MB. Split it into several files."),
    "old_excel": _l("Old .xls files cannot be read. Save the file as .xlsx (Excel 2007 or later) or .csv."),
    "unknown_type": _l("Upload an Excel (.xlsx) or CSV (.csv) file."),
    "bad_xlsx": _l("This file is not a readable Excel (.xlsx) workbook."),
    "zip_bomb": _l("The file unpacks to far more than a sheet of opinions could hold and was refused."),
    "bad_encoding": _l("The CSV file is neither UTF-8 nor GBK text."),
    "bad_csv": _l("The CSV file is damaged (for example a quote that is never closed)."),
    "empty": _l("The file contains no opinions."),
    "too_many_rows": _l("The file has more than %(limit)s rows. Split it into several files."),
    "missing_columns": _l("Required columns are missing: %(columns)s. The first row must name the columns, "
                          "e.g. 条款, 意见内容 (提出人, 联系电话 and 人数 may follow)."),
}  # fmt: skip


def describe_row_error(error):
    """Turn an opinion_sheet.RowError into a translated message with its row number."""
    column = COLUMN_LABELS[error.column]
    message = _ROW_MESSAGES[error.code] % {"column": column, "value": error.value}
    return {"row": error.line, "column": error.column, "code": error.code, "message": str(message)}


def _file_error(error):
    params = dict(error.params)
    details = None
    if error.code == "missing_columns":
        found = "、".join(params.pop("found", [])) or "-"
        details = [{"row": None, "column": column, "code": "missing_column",
                    "message": str(_l("Column %(column)s is missing (the file's columns: %(found)s).",
                                      column=COLUMN_LABELS[column], found=found))}
                   for column in params["columns"]]  # fmt: skip
        params["columns"] = "、".join(str(COLUMN_LABELS[c]) for c in params["columns"])
    message = _FILE_MESSAGES[error.code] % params if params else _FILE_MESSAGES[error.code]
    status = 413 if error.code == "too_large" else None
    return Invalid(message, code=f"sheet_{error.code}", details=details, status=status)


# -- who imports where ----------------------------------------------------------------------------


def can_import_into(user, point):
    """Tell whether ``user`` may import opinions into ``point``."""
    if user is None or not user.is_active:
        return False
    if user.role in MEETING_ROLES:
        return True
    if user.role == Role.CONTACT_STAFF and user.contact_point_id is not None:
        return point.id in point_and_below(user.contact_point_id)
    return False


def points_for_import(user):
    """Return the active contact points ``user`` may import into, parents first."""
    from voting.consultations.operations import list_contact_points

    return [p for p in list_contact_points() if p.active and can_import_into(user, p)]


def assign_contact_point(actor, user, point):
    """Tie a contact-point staff account to its point (None unties it)."""
    if point is not None and user.role != Role.CONTACT_STAFF:
        raise Invalid(_l("Only contact-point staff accounts belong to a contact point."), code="not_contact_staff")
    user.contact_point_id = point.id if point is not None else None
    db.session.flush()
    record(actor_label(actor), "user.contact_point", "user", user.id,
           contact_point_id=user.contact_point_id, code=point.code if point else None)  # fmt: skip
    return user


def _authorize(actor, point):
    if can_import_into(actor, point):
        return
    if getattr(actor, "role", None) == Role.CONTACT_STAFF and getattr(actor, "contact_point_id", None) is None:
        raise Forbidden(
            _l("Your account is not tied to a contact point. Ask an administrator to set your point."),
            code="no_contact_point",
        )
    raise Forbidden(_l("You may import opinions only into your own contact point."), code="not_your_point")


# -- importing ----------------------------------------------------------------------------------

_CODE_TABLE = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) for b in range(256))
_UNEVEN = bytes(range(256 - 256 % len(CODE_ALPHABET), 256))  # dropped, so every symbol is equally likely


def tracking_codes(count, taken=()):
    """Return ``count`` distinct random tracking codes (as voting.consultations.operations.new_code makes)."""
    codes = set()
    need = count
    while need > 0:
        symbols = secrets.token_bytes(need * TRACKING_CODE_LENGTH * 9 // 8 + 64).translate(_CODE_TABLE, _UNEVEN)
        text_ = symbols.decode("ascii")
        for start in range(0, len(text_) - TRACKING_CODE_LENGTH + 1, TRACKING_CODE_LENGTH):
            code = text_[start : start + TRACKING_CODE_LENGTH]
            if code not in codes and code not in taken:
                codes.add(code)
                if len(codes) == count:
                    break
        need = count - len(codes)
    return list(codes)


def import_opinions(actor, draft, point, filename, data, progress=None, now=None):
    """Import a meeting's opinions into ``point`` for ``draft``, all or nothing; return counts.

    Each row becomes an opinion from contact-point staff (channel "import") on its article, or
    on the whole draft for 总体, carrying the row's 人数 as its people count; a name or phone goes
    to the contact details, which the purge deletes in time.
    """
    now = now or utcnow()
    _authorize(actor, point)
    if draft.state != DraftState.PUBLISHED:
        raise Conflict(_l("Opinions can be imported only while the draft is open for comment."),
                       code="draft_not_open")  # fmt: skip
    if not point.active:
        raise Conflict(_l("The contact point “%(name)s” has been retired.", name=point.name), code="point_retired")
    max_rows = current_app.config.get("OPINION_IMPORT_MAX_ROWS", opinion_sheet.MAX_ROWS)
    try:
        parsed = opinion_sheet.parse_opinion_sheet(filename, data, max_rows=max_rows)
    except opinion_sheet.SheetError as error:
        raise _file_error(error) from None
    articles = {
        (number, suffix): article_id
        for number, suffix, article_id in db.session.execute(
            select(Article.number, Article.suffix, Article.id).where(Article.draft_id == draft.id)
        )
    }
    errors = parsed.errors + opinion_sheet.check_articles(parsed, articles.keys())
    if errors:
        errors.sort(key=lambda e: e.line)
        raise Invalid(
            lazy_ngettext(
                "%(num)s problem found in the file; nothing was imported. Fix the row listed and upload again.",
                "%(num)s problems found in the file; nothing was imported. Fix the rows listed and upload again.",
                len(errors),
            ),
            code="sheet_invalid_rows",
            details=[describe_row_error(e) for e in errors[:MAX_DETAILS]],
        )
    digest = hashlib.sha256(data).hexdigest()
    key = f"sheet:{digest[:56]}"
    earlier = db.session.scalar(select(Opinion.created_at).where(Opinion.draft_id == draft.id,
                                                                   Opinion.idempotency_key == key))  # fmt: skip
    if earlier is not None:
        raise Conflict(_l("This file has already been imported into this draft."), code="sheet_already_imported")
    rows = parsed.rows
    people = sum(r.people for r in rows)
    # The log entry first: on SQLite it takes the writer's lock that makes the ids below safe.
    record(actor_label(actor), "opinion.import", "draft", draft.id, contact_point_id=point.id,
           filename=(filename or "")[:100], sha256=digest, rows=len(rows), people=people)  # fmt: skip
    ids = _take_ids(len(rows))
    codes = tracking_codes(len(rows))
    writer = _copy_writer if db.engine.dialect.name == "postgresql" else _insert_writer
    for start in range(0, len(rows), CHUNK):
        batch = rows[start : start + CHUNK]
        opinions, contacts = [], []
        for offset, row in enumerate(batch):
            index = start + offset
            article = None if row.article is None else articles[(row.article.number, row.article.suffix)]
            opinions.append((ids[index], draft.id, article, row.text, SubmitterType.STAFF.value, Channel.IMPORT.value,
                             point.id, codes[index], key if index == 0 else None, OpinionStatus.RECEIVED.value,
                             row.people, masked_text_for(row.text), now))  # fmt: skip
            if row.name or row.phone:
                contacts.append((ids[index], row.name, row.phone, now))
        _write_chunk(writer, opinions, contacts)
        if progress:
            progress(start + len(batch), len(rows))
    db.session.flush()
    return {
        "rows": len(rows),
        "opinions": len(rows),
        "people": people,
        "general": sum(1 for r in rows if r.article is None),
        "contacts": sum(1 for r in rows if r.name or r.phone),
        "contact_point_id": point.id,
    }


_OPINION_COLUMNS = ("id", "draft_id", "article_id", "text", "submitter_type", "channel", "contact_point_id",
                    "tracking_code", "idempotency_key", "status", "people_count", "masked_text",
                    "created_at")  # fmt: skip
_CONTACT_COLUMNS = ("opinion_id", "name", "phone", "created_at")


def _take_ids(count):
    if db.engine.dialect.name == "postgresql":
        return list(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('opinion', 'id')) FROM generate_series(1, :n)"), {"n": count}
        ))  # fmt: skip
    # SQLite: the audit entry above made this transaction the only writer until it ends.
    highest = db.session.scalar(select(func.max(Opinion.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def _insert_writer(opinions, contacts):
    # The driver's own executemany: SQLAlchemy's per-row parameter handling cost as much as SQLite's work.
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.executemany(_INSERT_OPINION, [(*row[:-1], _sqlite_time(row[-1])) for row in opinions])
    if contacts:
        cursor.executemany(_INSERT_CONTACT, [(*row[:-1], _sqlite_time(row[-1])) for row in contacts])
    cursor.close()


# Built from the constant column lists above; the values travel as parameters.
_INSERT_OPINION = (f"INSERT INTO opinion ({', '.join(_OPINION_COLUMNS)}) "  # noqa: S608
                   f"VALUES ({', '.join('?' for _ in _OPINION_COLUMNS)})")  # fmt: skip
_INSERT_CONTACT = (f"INSERT INTO opinion_contact ({', '.join(_CONTACT_COLUMNS)}) "  # noqa: S608
                   f"VALUES ({', '.join('?' for _ in _CONTACT_COLUMNS)})")  # fmt: skip


@functools.lru_cache(maxsize=16)
def _sqlite_time(value):
    """A datetime as SQLAlchemy stores it in SQLite, so that the ORM reads these rows back as datetimes."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _copy_writer(opinions, contacts):
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY opinion ({', '.join(_OPINION_COLUMNS)}) FROM STDIN") as copy:
        for row in opinions:
            copy.write_row(row)
    if contacts:
        with cursor.copy(f"COPY opinion_contact ({', '.join(_CONTACT_COLUMNS)}) FROM STDIN") as copy:
            for row in contacts:
                copy.write_row(row)


def _write_chunk(writer, opinions, contacts):
    """Write one chunk; a tracking code taken meanwhile (about 1 in 10^9 per code) gets a new one."""
    for attempt in range(3):
        try:
            with db.session.begin_nested():
                writer(opinions, contacts)
            return
        except (IntegrityError, db.engine.dialect.dbapi.IntegrityError):
            if opinions[0][8] is not None and _key_taken(opinions[0]):
                raise Conflict(_l("This file has already been imported into this draft."),
                               code="sheet_already_imported") from None  # fmt: skip
            if attempt == 2:
                raise Conflict(_l("The opinions could not be saved. Please upload the file again."),
                               code="import_retry") from None  # fmt: skip
            fresh = tracking_codes(len(opinions))
            opinions[:] = [(*row[:7], code, *row[8:]) for row, code in zip(opinions, fresh, strict=True)]


def _key_taken(row):
    return db.session.scalar(select(Opinion.id).where(Opinion.draft_id == row[1], Opinion.idempotency_key == row[8]))


def staff_point(user):
    """Return the contact point a staff account is tied to, or None."""
    point_id = getattr(user, "contact_point_id", None)
    return db.session.get(ContactPoint, point_id) if point_id is not None else None
