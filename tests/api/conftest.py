"""Helpers for the API tests: bearer headers, a frozen clock for sign-in codes, roster files, row counts."""

import csv
import io
import re
import time
import types

import pytest
from sqlalchemy import func, select

from voting.extensions import db

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def is_chinese():
    """Tell whether a message is written in Chinese (has CJK characters)."""
    return lambda text: bool(CJK.search(text or ""))


@pytest.fixture
def org(organizer, api_token):
    """Bearer headers of an organizer."""
    return api_token(organizer)


@pytest.fixture
def phone(bind_phone):
    """Bind a phone to a deputy and return its bearer headers: phone(deputy) -> headers."""

    def make(deputy):
        return {"Authorization": f"Bearer {bind_phone(deputy)}"}

    return make


@pytest.fixture
def count(app):
    """Count rows of a model, optionally filtered: count(Model, *where)."""

    def do_count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return do_count


class Clock:
    """The time the sign-in code operations see; tests move it instead of sleeping."""

    def __init__(self, start):
        self.now = start

    def time(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(app, monkeypatch):
    """Freeze the clock of voting.meetings.operations at the first second of a code window."""
    from voting.meetings import operations

    period = app.config["CHECKIN_CODE_PERIOD"]
    clock = Clock((int(time.time()) // period) * period + 1.0)
    monkeypatch.setattr(operations, "time", types.SimpleNamespace(time=clock.time))
    return clock


@pytest.fixture
def screen_code(app, clock):
    """The code the big screen shows now for a meeting: screen_code(meeting) -> str."""
    from voting.meetings.models import Meeting
    from voting.meetings.operations import current_code

    def code(meeting):
        db.session.expire_all()
        return current_code(db.session.get(Meeting, meeting.id), now=clock.now).code

    return code


ROSTER_HEADER = ["姓名", "代表证号", "代表团", "手机号码"]


def roster_csv(rows, header=ROSTER_HEADER):
    """Encode a roster as Excel writes CSV (UTF-8 with BOM)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def roster_xlsx(rows, header=ROSTER_HEADER):
    """Build an .xlsx roster; a cell text starting with '=' becomes a live formula, as in Excel."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


ROSTER_BUILDERS = {"csv": roster_csv, "xlsx": roster_xlsx}


@pytest.fixture
def upload(client, org):
    """POST a roster file to importDeputies: upload(rows, fmt="csv", header=...) -> response."""

    def do_upload(rows, fmt="csv", header=ROSTER_HEADER, headers=None):
        data = ROSTER_BUILDERS[fmt](rows, header)
        return client.post(
            "/api/v1/deputies/import",
            headers=org if headers is None else headers,
            data={"file": (io.BytesIO(data), f"名册.{fmt}")},
            content_type="multipart/form-data",
        )

    return do_upload
