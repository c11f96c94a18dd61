"""Flask-WTF forms of sign-in, the account page and the admin pages (all carry the CSRF
token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from lifecycle.accounts.roles import ROLES


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    """A TOTP code or a recovery code."""

    code = StringField("Code from your authenticator app (or a recovery code)",
                       validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text"})
    next = HiddenField()


class EnrolForm(FlaskForm):
    """Confirm a new TOTP secret with a current code."""

    code = StringField("Code shown by your authenticator app",
                       validators=[DataRequired(), Length(max=10)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class PasswordChangeForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField("Current password", validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password (at least 12 characters)",
                        validators=[DataRequired(), Length(max=1024)],
                        render_kw={"autocomplete": "new-password"})


class TokenForm(FlaskForm):
    """Create a personal access token."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="e.g. CI pipeline")
    expires_days = IntegerField("Expires after (days)", default=30,
                                validators=[DataRequired(), NumberRange(min=1, max=3650)])


class RoleField(SelectMultipleField):
    """Check boxes, one per role."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CreateUserForm(FlaskForm):
    """Admin: a new user with an initial password and roles."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Initial password (at least 12 characters)",
                             validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    roles = RoleField("Roles", choices=[SelectChoice(r, r) for r in ROLES], validators=[Optional()])


class RolesForm(FlaskForm):
    """Admin: replace a user's roles."""

    roles = RoleField("Roles", choices=[SelectChoice(r, r) for r in ROLES], validators=[Optional()])


class ResetPasswordForm(FlaskForm):
    """Admin: set another user's password (they must change it at next sign-in)."""

    password = PasswordField("New temporary password (at least 12 characters)",
                             validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})


class ActiveForm(FlaskForm):
    """Admin: activate or deactivate."""

    active = BooleanField("Active")


class TeamForm(FlaskForm):
    """Admin: a new team."""

    name = StringField("Team name", validators=[DataRequired(), Length(max=100)])


class MemberForm(FlaskForm):
    """Admin: add a user to a team."""

    user_id = SelectField("User", coerce=int, choices=[], validators=[DataRequired()])
