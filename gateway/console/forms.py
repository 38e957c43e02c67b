"""The console's forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from gateway.models import Role
from gateway.services.operators import MIN_PASSWORD_LENGTH


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
    language = SelectField(choices=[("fr", "Français"), ("en", "English")])


class UserForm(FlaskForm):
    login = StringField(validators=[DataRequired(), Length(max=200)])
    name = StringField(validators=[Length(max=200)])
    role = SelectField(choices=[(r.value, r.value) for r in Role])
    scope = StringField(validators=[DataRequired(), Length(max=200)])
    language = SelectField(choices=[("fr", "Français"), ("en", "English")])
    password = PasswordField(validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])
