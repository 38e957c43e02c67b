"""The console's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from gateway.lib.catalogs import LANGUAGES
from gateway.models import Role
from gateway.models.agent import ROLES as AGENT_ROLES
from gateway.services.operators import MIN_PASSWORD_LENGTH

# Shown by their own names (the catalogs' names are the USSD's, without accents).
ENDONYMS = {"fr": "Français", "en": "English"}
LANGUAGE_CHOICES = [
    SelectChoice(code, ENDONYMS.get(code, label)) for code, label in LANGUAGES.items()
]


class LoginForm(FlaskForm):
    login = StringField(validators=[DataRequired(), Length(max=200)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField(validators=[DataRequired(), Length(max=10)])


class ReasonForm(FlaskForm):
    """A write that may say why (deactivate, unlock)."""

    reason = StringField(validators=[Length(max=500)])


class PasswordForm(FlaskForm):
    password = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])


class LanguageForm(FlaskForm):
    language = SelectField(choices=LANGUAGE_CHOICES)


class UserForm(FlaskForm):
    login = StringField(validators=[DataRequired(), Length(max=200)])
    name = StringField(validators=[Length(max=200)])
    role = SelectField(choices=[SelectChoice(r.value) for r in Role])
    scope = StringField(validators=[DataRequired(), Length(max=200)])
    language = SelectField(choices=LANGUAGE_CHOICES)
    password = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])


# --- reconciliation, agents, campaigns pages (issue 16) ---------------------------------------


class AssignForm(FlaskForm):
    household = StringField(validators=[DataRequired(), Length(max=40)])
    reason = StringField(validators=[DataRequired(), Length(max=500)])


class WhyForm(FlaskForm):
    """Ignore and approve move or drop money: a reason is required."""

    reason = StringField(validators=[DataRequired(), Length(max=500)])


class AgentForm(FlaskForm):
    mutual = IntegerField(validators=[DataRequired()])
    phone = StringField(validators=[DataRequired(), Length(max=30)])
    name = StringField(validators=[DataRequired(), Length(max=200)])
    role = SelectField(choices=list(AGENT_ROLES))
    section = StringField(validators=[Length(max=100)])
    pin = PasswordField(validators=[DataRequired(), Length(min=4, max=6)])


class PinForm(FlaskForm):
    pin = PasswordField(validators=[DataRequired(), Length(min=4, max=6)])


class DecisionForm(FlaskForm):
    supervisor = IntegerField(validators=[DataRequired()])
    reason = StringField(validators=[DataRequired(), Length(max=200)])


class PauseForm(FlaskForm):
    reason = StringField(validators=[DataRequired(), Length(max=150)])


# --- API tokens and CSV exports (issue 17) -------------------------------------------------


class TokenForm(FlaskForm):
    name = StringField(validators=[DataRequired(), Length(max=100)])
    role = SelectField(choices=[SelectChoice(r.value) for r in Role])
    scope = StringField(validators=[DataRequired(), Length(max=200)])


class ExportForm(FlaskForm):
    """A list's export: its name, the date range (required) and the page's filters."""

    list_name = StringField(validators=[DataRequired(), Length(max=16)])
    date_from = StringField(validators=[DataRequired(), Length(max=10)])
    date_to = StringField(validators=[DataRequired(), Length(max=10)])
    mutual = StringField(validators=[Length(max=12)])
    status = StringField(validators=[Length(max=20)])
    errors = StringField(validators=[Length(max=1)])


# --- reports page (issue 17) ------------------------------------------------------------------


class PayForm(FlaskForm):
    """A funder's payment or a levy's remittance: money moves, so a reason is required."""

    amount = IntegerField(validators=[DataRequired()])
    reference = StringField(validators=[DataRequired(), Length(max=100)])
    paid_on = StringField(validators=[Length(max=10)])
    reason = StringField(validators=[DataRequired(), Length(max=500)])


class TargetForm(FlaskForm):
    """M.5: a section's target population for a year (D22)."""

    section = StringField(validators=[DataRequired(), Length(max=120)])
    year = IntegerField(validators=[DataRequired()])
    population = IntegerField(validators=[DataRequired()])


# --- enrolment from the console (D24) ---------------------------------------------------------

ENROL_ROWS = 10  # dependants' rows on the form (blank ones are ignored)


class EnrolForm(FlaskForm):
    """A household typed by a manager; `seen`: the digest of the possible duplicates the
    page showed, posted back by "enrol anyway". The dependants' rows (`dependants-N-name`,
    `-sex`, `-year`, N from 0) are read by `dependant_rows`: WTForms' FieldList renumbers
    rows after a blank one and fills its padding from the posted data. Every value is checked
    by the USSD's rules (services.members.enrolment), lengths here only bound the input."""

    mutual = StringField(validators=[DataRequired(), Length(max=12)])
    section = StringField(validators=[Length(max=12)])
    name = StringField(validators=[Length(max=200)])
    sex = StringField(validators=[Length(max=2)])
    year = StringField(validators=[Length(max=10)])
    phone = StringField(validators=[Length(max=30)])
    language = SelectField(choices=LANGUAGE_CHOICES)
    seen = HiddenField(validators=[Length(max=64)])


def dependant_rows(posted: Mapping[str, str]) -> list[dict[str, str]]:
    """The ENROL_ROWS rows of dependants as posted (missing values are blank, each bounded)."""
    return [
        {
            part: (posted.get(f"dependants-{n}-{part}") or "")[:bound]
            for part, bound in (("name", 200), ("sex", 2), ("year", 10))
        }
        for n in range(ENROL_ROWS)
    ]
