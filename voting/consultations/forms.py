"""Organizer forms for drafts put out for comment and for the contact-point network."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from voting.consultations.operations import MAX_EXPLANATION, default_deadline
from voting.timeutil import utcnow


def _zone():
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def deadline_from_date(day):
    """Return the end of ``day`` (23:59:59 where the service is) as naive UTC: comments count all that day."""
    local = datetime.combine(day, time(23, 59, 59), tzinfo=_zone())
    return local.astimezone(UTC).replace(tzinfo=None)


def date_of_deadline(deadline):
    """Return the local date on which a stored (naive UTC) deadline falls."""
    return deadline.replace(tzinfo=UTC).astimezone(_zone()).date()


def _default_deadline_date():
    return date_of_deadline(default_deadline())


def _future(form, field):
    if field.data is not None and deadline_from_date(field.data) <= utcnow():
        raise ValidationError(_l("The deadline for comments must be in the future."))


DEADLINE_HELP = _l("Residents can comment until the end of this day. The default is 30 days from today.")


class DraftForm(FlaskForm):
    """A new draft: pasted text or an uploaded file, its title, deadline and explanation."""

    title = StringField(
        _l("Title of the draft"),
        validators=[Optional(), Length(max=200, message=_l("A title can have at most 200 characters."))],
        description=_l("Leave empty to use the draft's own first line, e.g. “××条例（草案）”."),
    )
    deadline = DateField(
        _l("Comments accepted until"),
        default=_default_deadline_date,
        validators=[InputRequired(message=_l("Give the last day for comments.")), _future],
        description=DEADLINE_HELP,
    )
    explanation = TextAreaField(
        _l("Explanation of the draft (起草说明)"),
        validators=[Optional(), Length(max=MAX_EXPLANATION)],
        description=_l("Optional. Shown to residents above the draft: why it is made and what it changes."),
        render_kw={"rows": 4},
    )
    text = TextAreaField(
        _l("Text of the draft"),
        description=_l(
            "Paste the whole draft, title included. Chapters (第一章 …) and articles (第一条 …) are found "
            "automatically; you can correct the result before publishing."
        ),
        render_kw={"rows": 12},
    )
    file = FileField(
        _l("Or upload the draft (.docx or .txt)"),
        description=_l(
            "A Word .docx or a plain .txt file, at most 10 MB. An uploaded file is used instead of pasted text."
        ),
        render_kw={"accept": ".docx,.txt"},
    )


class DraftDetailsForm(FlaskForm):
    """A draft's title, deadline and explanation; once published only the deadline can move."""

    title = StringField(
        _l("Title of the draft"),
        validators=[
            DataRequired(message=_l("Give the draft a title.")),
            Length(max=200, message=_l("A title can have at most 200 characters.")),
        ],
    )
    deadline = DateField(
        _l("Comments accepted until"),
        validators=[InputRequired(message=_l("Give the last day for comments.")), _future],
        description=DEADLINE_HELP,
    )
    explanation = TextAreaField(
        _l("Explanation of the draft (起草说明)"),
        validators=[Optional(), Length(max=MAX_EXPLANATION)],
        render_kw={"rows": 4},
    )


class VersionedForm(FlaskForm):
    """A correction: ``version`` names the split the organizer saw, so a stale page cannot overwrite."""

    version = HiddenField(validators=[DataRequired()])


class ArticleForm(VersionedForm):
    number = IntegerField(
        _l("Article number"),
        validators=[
            InputRequired(message=_l("Enter the article's number, e.g. 12 for 第十二条.")),
            NumberRange(min=1, max=100_000, message=_l("Enter the article's number, e.g. 12 for 第十二条.")),
        ],
        description=_l("As a figure: 12 for 第十二条."),
    )
    suffix = IntegerField(
        _l("Inserted article (之X)"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=99, message=_l("Enter 0, or 1 for 之一, 2 for 之二."))],
        description=_l("0 for an ordinary article; 1 for 第十条之一."),
    )
    title = StringField(
        _l("Article title (optional)"),
        validators=[Optional(), Length(max=200, message=_l("A title can have at most 200 characters."))],
        description=_l("The bracketed title some drafts give, e.g. 适用范围 for 第二条【适用范围】."),
    )
    text = TextAreaField(
        _l("Text"),
        validators=[DataRequired(message=_l("An article needs its text."))],
        description=_l("Leave a blank line between two paragraphs (款). Items (（一）（二）) stay one to a line."),
        render_kw={"rows": 10},
    )
    heading = SelectField(_l("Stands under"), coerce=int, validators=[InputRequired()])

    def set_headings(self, structure):
        """Offer the draft's headings (and none) as where the article stands."""
        self.heading.choices = [SelectChoice(-1, _l("No heading"))] + [
            SelectChoice(i, ("\u3000" * (h["level"] - 1)) + " ".join(filter(None, [h["label"], h["title"]])))
            for i, h in enumerate(structure["headings"])
        ]


LEVELS = [
    SelectChoice(1, _l("Part (编)")),
    SelectChoice(2, _l("Chapter (章)")),
    SelectChoice(3, _l("Section (节)")),
]


class HeadingForm(VersionedForm):
    level = SelectField(_l("Level"), coerce=int, choices=LEVELS, validators=[InputRequired()])
    number = IntegerField(
        _l("Heading number"),
        validators=[Optional(), NumberRange(min=1, max=1000, message=_l("Enter a whole number from 1 up."))],
        description=_l("As a figure: 2 for 第二章. Leave empty for an unnumbered 总则 or 附则."),
    )
    title = StringField(
        _l("Heading title"),
        validators=[Length(max=200, message=_l("A title can have at most 200 characters."))],
    )


class TextForm(VersionedForm):
    text = TextAreaField(
        _l("Text of the draft"),
        validators=[DataRequired(message=_l("Paste the text of the draft."))],
        description=_l("Splitting the text again replaces every correction made so far."),
        render_kw={"rows": 20},
    )


class PointForm(FlaskForm):
    name = StringField(
        _l("Name of the point"),
        validators=[
            DataRequired(message=_l("Give the point a name.")),
            Length(max=200, message=_l("A name can have at most 200 characters.")),
        ],
    )
    address = StringField(
        _l("Address (optional)"),
        validators=[Optional(), Length(max=300, message=_l("An address can have at most 300 characters."))],
    )
