"""Flask-WTF forms of the web UI.  Every POST carries the CSRF token (``FlaskForm``)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

#: the API slug rule of DESIGN.md (``[a-z0-9][a-z0-9-]{0,62}``)
API_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"


class EmptyForm(FlaskForm):
    """A button-only POST: nothing but the CSRF token."""


class _Prefixed(FlaskForm):
    """A form whose field names carry a prefix (``demote-reason``), so several forms on one
    page never share an ``id``."""

    form_prefix = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)


class PromoteForm(_Prefixed):
    """Promote one stage.  ``to`` is the stage the page offered, so a stale page cannot
    promote twice (the second attempt is refused as "already in …")."""

    form_prefix = "promote"

    to = HiddenField(validators=[DataRequired()])


class CreateApiForm(FlaskForm):
    """Register an API: slug name, title, optional team and description."""

    name = StringField(
        "Name (slug)",
        validators=[
            DataRequired(),
            Regexp(API_NAME, message="Lower-case letters, digits and '-', at most 63."),
        ],
        description="e.g. payments",
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    team = StringField("Owning team", validators=[Optional(), Length(max=100)],
                       description="An existing team, or a new name to create that team.")
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])


class TeamCreateApiForm(CreateApiForm):
    """:class:`CreateApiForm` for developers: the owning team is one of their teams (the
    view sets ``choices``; a foreign team is refused by :mod:`lifecycle.accounts.authz` before)."""

    team = SelectField("Owning team", choices=[], validate_choice=False,
                       description="APIs are registered for one of your teams.")


class CreateVersionForm(FlaskForm):
    """Add a version to an existing API (chosen from a list)."""

    api = SelectField("API", validators=[DataRequired()], choices=[])
    version = StringField(
        "Version",
        validators=[
            DataRequired(),
            Regexp(
                r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$",
                message="Use a version like 1.2.0 (letters, digits, '.', '+', '-'; at most 40).",
            ),
        ],
        description="e.g. 1.0.0",
    )


class UploadSpecForm(FlaskForm):
    """One upload form: a file (picked or dropped) or pasted text.  The file wins."""

    spec_file = FileField("OpenAPI document (JSON or YAML)")
    spec_text = TextAreaField("…or paste it here")

    def validate_spec_text(self, field: TextAreaField) -> None:
        """Require exactly one source of bytes (checked once, on the last field)."""
        if not self.spec_file.data and not (field.data or "").strip():
            raise ValidationError("Choose a file, drop one on the box, or paste the document.")

    def raw(self) -> bytes:
        """The uploaded bytes, exactly as sent (file first, then pasted text as UTF-8)."""
        upload = self.spec_file.data
        if upload:
            return upload.read()
        # Browsers send textarea line breaks as CRLF (HTML form submission); the person
        # pasted LF lines, so keep the document as they wrote it.
        return (self.spec_text.data or "").replace("\r\n", "\n").encode("utf-8")


class DemoteForm(_Prefixed):
    """Move back to an earlier stage; the reason is mandatory (DESIGN.md)."""

    form_prefix = "demote"

    to = SelectField("Back to stage", validators=[DataRequired()], choices=[])
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Say why it moves back."), Length(max=2000)]
    )


class RetireForm(_Prefixed):
    """Retire (from deployment) or abandon (earlier stages); a reason is required."""

    form_prefix = "retire"

    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Say why it is retired."), Length(max=2000)]
    )


class SearchForm(FlaskForm):
    """Board filter (GET; no CSRF because it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100)])
    stage = SelectField("Stage", validators=[Optional()], choices=[])


# ------------------------------------------------------------------------------ evidence
#: grace period units offered by the rotate form → seconds
GRACE_UNITS: dict[str, int] = {"days": 86400, "hours": 3600}


class GenerateKeyForm(_Prefixed):
    """Generate the version's first managed encryption key (for the declared ``alg``)."""

    form_prefix = "keygen"


class RotateKeyForm(_Prefixed):
    """Rotate the managed key; the old key keeps decrypting for the grace period.

    ``grace`` is a whole number of ``unit`` (days or hours); :meth:`grace_seconds` turns it
    into seconds.  The upper bound (``KEY_MAX_GRACE_SECONDS``) is checked by the view, which
    knows the app's configuration.
    """

    form_prefix = "rotate"

    grace = IntegerField(
        "Grace period for the old key",
        validators=[InputRequired(message="Give the grace period as a whole number."),
                    NumberRange(min=0, message="The grace period cannot be negative.")],
        default=7,
        description="0 retires the old key at once.",
    )
    unit = SelectField("Unit", choices=list(GRACE_UNITS), default="days",
                       validators=[DataRequired()])

    def grace_seconds(self) -> int:
        """The grace period in seconds (call after validation)."""
        return int(self.grace.data) * GRACE_UNITS[self.unit.data]


class JwksForm(_Prefixed):
    """The issuer's public signing JWKS: an uploaded file or pasted JSON (the file wins).
    Never a URL: Stagegate does not fetch key sets."""

    form_prefix = "jwks"

    jwks_file = FileField("JWKS file (JSON)")
    jwks_text = TextAreaField("…or paste the JWK Set",
                              description='The document at the issuer\'s jwks_uri: {"keys": [...]}')

    def validate_jwks_text(self, field: TextAreaField) -> None:
        """Require a file or pasted text (checked once, on the last field)."""
        if not self.jwks_file.data and not (field.data or "").strip():
            raise ValidationError("Choose a JWKS file or paste the key set.")

    def raw(self) -> bytes:
        """The submitted bytes: the file's, else the pasted text as UTF-8."""
        upload = self.jwks_file.data
        if upload:
            return upload.read()
        return (self.jwks_text.data or "").encode("utf-8")


class TokenForm(_Prefixed):
    """A sample access token to analyse.  The template renders this form only empty
    (``formdata=None``): the token is never written back into the page."""

    form_prefix = "sample"

    token = TextAreaField(
        "Sample access token",
        validators=[DataRequired(message="Paste a sample access token (the value after "
                                         "`Bearer `).")],
        description="A nested JWT (JWE around a signed JWT). Only its analysis is kept.",
    )


# ------------------------------------------------------------------------------ review
class RequestPromotionForm(_Prefixed):
    """Ask for a promotion that needs approvals; ``to`` is the stage the page offered."""

    form_prefix = "request"

    to = HiddenField(validators=[DataRequired()])
    reason = TextAreaField("Reason (for the approvers)", validators=[Optional(),
                                                                     Length(max=2000)])


class ApproveForm(_Prefixed):
    """Approve a request; the comment is optional."""

    form_prefix = "approve"

    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])


class RejectForm(_Prefixed):
    """Reject a request; the comment is required."""

    form_prefix = "reject"

    comment = TextAreaField("Why not", validators=[
        DataRequired(message="Say why the request is rejected."), Length(max=2000)])


class WaiveForm(_Prefixed):
    """Waive one failing rule until a date (00:00 UTC of that day)."""

    form_prefix = "waive"

    rule = HiddenField(validators=[DataRequired()])
    reason = TextAreaField("Why it is acceptable for now", validators=[
        DataRequired(message="Say why the rule may be waived."), Length(max=2000)])
    expires = DateField("Waived until (UTC)", validators=[
        DataRequired(message="Pick the date the waiver ends.")])


class RevokeWaiverForm(_Prefixed):
    """End a waiver now (reason optional)."""

    form_prefix = "revoke-waiver"

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


# ------------------------------------------------------------------------------ audit trail
class _DayField(DateField):
    """A ``YYYY-MM-DD`` date (``<input type=date>``) with a message that says the format."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Use a date like 2026-12-08 (year-month-day).") from None


class AuditFilterForm(FlaskForm):
    """Filters of the audit-trail page and its exports (GET; no CSRF: it changes nothing).
    ``since``/``until`` are whole UTC days, both inclusive."""

    class Meta:
        csrf = False

    subject = StringField("Subject", validators=[Optional(), Length(max=255)],
                          description="Exact, e.g. orders@1.0.0, orders or user:ann@example.org")
    actor = StringField("Actor", validators=[Optional(), Length(max=320)],
                        description="Exact, e.g. ann@example.org, cli or stagegate")
    action = StringField("Action", validators=[Optional(), Length(max=64)],
                         description="Exact, or a prefix ending in '.', e.g. transition.")
    since = _DayField("From (UTC)", validators=[Optional()], format="%Y-%m-%d")
    until = _DayField("To (UTC, inclusive)", validators=[Optional()], format="%Y-%m-%d")

    def validate_until(self, field: Any) -> None:
        """The range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")
# ------------------------------------------------------------------------------ gateway
#: gateway targets as the forms offer them (``lifecycle.gateway.models.TARGETS``)
GATEWAY_TARGETS = {"nginx": "nginx (open source + Stagegate validator)",
                   "nginx-plus": "NGINX Plus (auth_jwt nested)"}
_TEXT = [Optional(), Length(max=300)]


class GatewaySettingsForm(_Prefixed):
    """The version's gateway settings, as ``lifecycle.gateway.services.put_settings`` takes
    them (it validates what is safe in nginx syntax; its errors are shown on the fields)."""

    form_prefix = "gw"

    server_name = StringField("Server name", validators=[DataRequired(), Length(max=253)],
                              description="The API's host name, e.g. api.example.com.")
    upstream = StringField("Upstream", validators=[DataRequired(), Length(max=300)],
                           description="The backend origin http(s)://host[:port], no path.")
    certificate = StringField("Certificate", validators=[DataRequired(), Length(max=300)],
                              description="Absolute path of the PEM certificate on the "
                                          "gateway host (Stagegate never reads it).")
    certificate_key = StringField("Certificate key",
                                  validators=[DataRequired(), Length(max=300)],
                                  description="Absolute path of its private key on the "
                                              "gateway host.")
    validator = StringField("Validator address", validators=[DataRequired(), Length(max=300)],
                            description="Unix socket path (recommended: "
                                        "/run/stagegate/validator.sock, where `stagegate "
                                        "validator` listens by default) or host:port "
                                        "(nginx auth_request goes there).")
    target = SelectField("Target", choices=GATEWAY_TARGETS, validators=[DataRequired()])
    deprecated_at = StringField("Deprecated at", validators=[Optional(), Length(max=40)],
                                description="ISO 8601 with a time zone, e.g. "
                                            "2027-01-31T00:00:00Z; empty: not deprecated.")
    sunset_at = StringField("Sunset at", validators=[Optional(), Length(max=40)],
                            description="After it the gateway answers 410 (needs a "
                                        "deprecation date).")
    successor_url = StringField("Successor version", validators=_TEXT,
                                description="https URL of the version replacing this one.")
    deprecation_policy_url = StringField("Deprecation policy", validators=_TEXT,
                                         description="https URL of the deprecation policy.")

    #: the fields ``put_settings`` takes, in order
    SETTINGS = ("server_name", "upstream", "certificate", "certificate_key", "validator",
                "target", "deprecated_at", "sunset_at", "successor_url",
                "deprecation_policy_url")

    def values(self) -> dict[str, str]:
        """``{setting: text}`` for ``put_settings`` (empty optional fields as ``""``)."""
        return {name: (self[name].data or "").strip() for name in self.SETTINGS}


class GenerateGatewayForm(_Prefixed):
    """Render the configuration from the settings and store it."""

    form_prefix = "gwgen"

    target = SelectField("Target", choices=GATEWAY_TARGETS, validators=[DataRequired()])


class UploadGatewayForm(_Prefixed):
    """A configuration the team brings: one ``nginx.conf`` (a bundle of includes goes through
    ``PUT …/gateway/config`` or ``stagegate gateway check``)."""

    form_prefix = "gwup"

    config_file = FileField("nginx configuration (nginx.conf)")
    target = SelectField("Written for", choices=GATEWAY_TARGETS, validators=[DataRequired()])

    def validate_config_file(self, field: FileField) -> None:
        if not field.data:
            raise ValidationError("Choose the nginx.conf file to upload.")

    def raw(self) -> bytes:
        """The uploaded file's bytes."""
        return bytes(self.config_file.data.read())


class RunProofForm(_Prefixed):
    """Run a proof of the current configuration (a ``gateway.prove`` job)."""

    form_prefix = "gwproof"
