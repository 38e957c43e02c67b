"""The console's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from gateway.lib.catalogs import LANGUAGES
from gateway.models import Role
from gateway.services.operators import MIN_PASSWORD_LENGTH

LANGUAGE_CHOICES = [SelectChoice(code) for code in LANGUAGES]


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


class RequiredReasonForm(FlaskForm):
    """A write that must say why: resend, release, requeue, resolve (issue 16)."""

    reason = StringField(validators=[DataRequired(), Length(max=500)])
