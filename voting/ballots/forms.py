"""The organizer's ballot form: what is voted on, how, and the rule that decides it.

Each setting says in plain words what it does; the defaults are DOMAIN.md's (secret, first
submission final, results after close, more than half of all expected deputies).
"""

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from voting.ballots import tally

# Threshold presets: the two the law names, and a fraction of one's own.
PRESETS = {
    "half": (1, 2, True),  # 过半数: more than half
    "two_thirds": (2, 3, False),  # 三分之二以上: 以上 includes the number itself
}


class BallotForm(FlaskForm):
    title = StringField(
        _l("Ballot title"),
        validators=[
            DataRequired(message=_l("Give the ballot a title.")),
            Length(max=200, message=_l("A title can have at most 200 characters.")),
        ],
        description=_l("What deputies read at the top of their ballot, e.g. “2027 livelihood projects”."),
    )
    kind = RadioField(
        _l("Form of the ballot"),
        default=tally.Form.PER_ITEM.value,
        choices=[
            SelectChoice(tally.Form.PER_ITEM.value, _l("Per item: yes, no or abstain on each item")),
            SelectChoice(
                tally.Form.CHOOSE.value,
                _l("Choose up to K of M: tick at most K candidates (more candidates than places)"),
            ),
            SelectChoice(
                tally.Form.RATING.value, _l("Rating: satisfied, basically satisfied or unsatisfied with each item")
            ),
        ],
        validators=[InputRequired(message=_l("Choose the form of the ballot."))],
    )
    items = TextAreaField(
        _l("Items"),
        validators=[DataRequired(message=_l("List at least one item, one a line."))],
        description=_l(
            "One item a line, up to 100. You can paste a list from Word or Excel: "
            "numbering such as “1、”, “(2)” or “- ” at the start of a line is dropped."
        ),
        render_kw={"rows": 8},
    )
    places = IntegerField(
        _l("Places (K)"),
        validators=[Optional(), NumberRange(min=1, message=_l("The number of places must be at least 1."))],
        description=_l(
            "Only for “choose up to K of M”: how many candidates each deputy may tick at most. "
            "A ballot paper with more ticks is void (废票)."
        ),
    )
    secret = RadioField(
        _l("Secrecy"),
        default="secret",
        choices=[
            SelectChoice("secret", _l("Secret: nobody, not even the staff, can see who voted how")),
            SelectChoice("named", _l("Named: each ballot paper records which deputy cast it")),
        ],
    )
    submission = RadioField(
        _l("Changing a vote"),
        default="first",
        choices=[
            SelectChoice("first", _l("The first submission is final")),
            SelectChoice("last", _l("The last submission counts: a deputy may change the vote while voting is open")),
        ],
    )
    results = RadioField(
        _l("Results"),
        default="after_close",
        choices=[
            SelectChoice("after_close", _l("Shown only after the ballot closes")),
            SelectChoice("live", _l("Shown live while voting is open, here and on the big screen")),
        ],
    )
    countdown_minutes = DecimalField(
        _l("Countdown in minutes (optional)"),
        places=None,
        validators=[Optional()],
        description=_l(
            "Opening the ballot starts the countdown; when it runs out, no more votes are accepted and you "
            "close the ballot to count. Leave empty to close by hand."
        ),
    )
    base = RadioField(
        _l("Counted against"),
        default=tally.Base.EXPECTED.value,
        choices=[
            SelectChoice(
                tally.Base.EXPECTED.value, _l("All expected deputies (应到), those absent or on leave included")
            ),
            SelectChoice(tally.Base.PRESENT.value, _l("The deputies present (实到) when the ballot closes")),
            SelectChoice(tally.Base.CAST.value, _l("The valid ballots cast")),
        ],
    )
    threshold = RadioField(
        _l("Votes needed"),
        default="half",
        choices=[
            SelectChoice("half", _l("More than half (过半数)")),
            SelectChoice("two_thirds", _l("Two thirds or more (三分之二以上)")),
            SelectChoice("custom", _l("Another fraction")),
        ],
    )
    numerator = IntegerField(
        _l("Numerator"),
        validators=[Optional(), NumberRange(min=1, max=100, message=_l("Enter a whole number from 1 to 100."))],
    )
    denominator = IntegerField(
        _l("Denominator"),
        validators=[Optional(), NumberRange(min=1, max=100, message=_l("Enter a whole number from 1 to 100."))],
    )
    comparison = RadioField(
        _l("Compared how"),
        default="more",
        choices=[
            SelectChoice("more", _l("More than the fraction")),
            SelectChoice("at_least", _l("At least the fraction")),
        ],
    )

    def validate_countdown_minutes(self, field):
        if field.data is not None and (not field.data.is_finite() or field.data < 0):
            raise ValidationError(_l("Enter the countdown as a number of minutes, e.g. 5 or 1.5."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.kind.data == tally.Form.CHOOSE and self.places.data is None and not self.places.errors:
            self.places.errors.append(_l("Say how many candidates each deputy may choose."))
            ok = False
        if self.threshold.data == "custom":
            for f in (self.numerator, self.denominator):
                if f.data is None and not f.errors:
                    f.errors.append(_l("Enter the fraction, e.g. 3 and 5 for three fifths."))
                    ok = False
        return ok

    # -- between the form and the operation's settings -------------------------------------

    def settings(self):
        """Return the operation's keyword settings (title, form and items aside)."""
        if self.threshold.data in PRESETS:
            numerator, denominator, strict = PRESETS[self.threshold.data]
        else:
            numerator, denominator = self.numerator.data, self.denominator.data
            strict = self.comparison.data == "more"
        minutes = self.countdown_minutes.data
        return {
            "places": self.places.data if self.kind.data == tally.Form.CHOOSE else None,
            "secret": self.secret.data == "secret",
            "last_submission_counts": self.submission.data == "last",
            "results_live": self.results.data == "live",
            "countdown_seconds": int(round(minutes * 60)) if minutes else None,
            "threshold_numerator": numerator,
            "threshold_denominator": denominator,
            "threshold_strict": strict,
            "threshold_base": self.base.data,
        }

    def fill_from(self, ballot):
        """Show a draft ballot's current settings in the form."""
        self.title.data = ballot.title
        self.kind.data = ballot.form
        self.items.data = "\n".join(item.title for item in ballot.items)
        self.places.data = ballot.places
        self.secret.data = "secret" if ballot.secret else "named"
        self.submission.data = "last" if ballot.last_submission_counts else "first"
        self.results.data = "live" if ballot.results_live else "after_close"
        seconds = ballot.countdown_seconds
        self.countdown_minutes.data = (Decimal(seconds) / 60).normalize() if seconds else None
        self.base.data = ballot.threshold_base
        rule = (ballot.threshold_numerator, ballot.threshold_denominator, ballot.threshold_strict)
        preset = next((name for name, value in PRESETS.items() if value == rule), "custom")
        self.threshold.data = preset
        self.numerator.data, self.denominator.data = ballot.threshold_numerator, ballot.threshold_denominator
        self.comparison.data = "more" if ballot.threshold_strict else "at_least"

    # Which field an operation's refusal belongs to, by its code.
    ERROR_FIELDS = {
        "invalid_title": "title",
        "invalid_form": "kind",
        "invalid_items": "items",
        "invalid_item_title": "items",
        "duplicate_item": "items",
        "invalid_places": "places",
        "invalid_countdown": "countdown_minutes",
        "invalid_threshold": "numerator",
    }

    def show_error(self, error):
        """Put an operation's refusal next to the field it is about (or at the top)."""
        name = self.ERROR_FIELDS.get(error.code)
        if name is None:
            self.form_errors.append(str(error.message))
        else:
            self[name].errors = [*self[name].errors, str(error.message)]
