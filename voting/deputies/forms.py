"""Roster forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional


class DeputyForm(FlaskForm):
    number = StringField(_l("Deputy number"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    delegation = StringField(_l("Delegation or street"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(
        _l("Phone"),
        validators=[Optional(), Length(max=32)],
        description=_l("Optional. Never exported or shown to other deputies."),
    )
    active = BooleanField(_l("Active (expected at new meetings)"), default=True)


class ImportForm(FlaskForm):
    file = FileField(
        _l("Roster file (.xlsx or .csv)"),
        validators=[FileRequired()],
        description=_l("First row: 姓名, 代表证号, 代表团 (or 街道), optionally 手机号码."),
        render_kw={"accept": ".xlsx,.csv"},
    )


class ActivationForm(FlaskForm):
    code = StringField(
        _l("Activation code"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "inputmode": "text"},
    )
