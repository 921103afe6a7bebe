"""Meeting forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class MeetingForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    location = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    starts_at = DateTimeLocalField(_l("Starts at"), validators=[Optional()], format="%Y-%m-%dT%H:%M")
    delegations = SelectMultipleField(
        _l("Expected delegations"),
        validators=[Optional()],
        description=_l("Leave empty to expect every active deputy."),
    )
    quorum_numerator = IntegerField(_l("Quorum numerator"), default=2, validators=[NumberRange(1, 100)])
    quorum_denominator = IntegerField(_l("Quorum denominator"), default=3, validators=[NumberRange(1, 100)])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])
