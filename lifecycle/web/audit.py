"""The audit-trail page for approvers and admins (permission ``audit.read``).

- ``GET /audit`` — entries newest first, :data:`PAGE_SIZE` a page, filtered by subject,
  actor, action (exact, or a ``namespace.`` prefix) and a range of UTC days
  (:class:`~lifecycle.web.forms.AuditFilterForm`; invalid filters answer 422 with the
  message on the field, never a 500).  Pages by cursor: ``before=<seq>`` (older) or
  ``after=<seq>`` (newer) — each page is one bounded query on the primary key plus two
  one-row probes, so it costs the same at 100,000 entries as at 100.  htmx swaps
  ``#audit-results`` (with the URL pushed); without JavaScript the form is a plain GET.
- ``GET /audit/export.csv`` / ``GET /audit/export.json`` — every entry matching the same
  filters, in chain order, streamed in batches of 500 (``audit.scan``, the code path of
  ``stagegate audit export`` and ``GET /api/v1/audit.jsonl``).
- ``POST /audit/verify`` — runs the chain verification (``stagegate audit verify``) on
  request: it reads every entry, so the page shows only the cheap chain head by itself.
- ``GET /apis/<name>/versions/<version>/gate-records/<id>`` — a signed gate record as a
  download (what entries of gated moves link to; any signed-in user, like the REST view).

Each entry links to what it concerns: the version page (``orders@1.0.0``), the API page
(``api.created``) and the signed gate record (``data.gate_record``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from lifecycle import audit
from lifecycle.accounts.authz import requires
from lifecycle.api.records import gate_record_download
from lifecycle.core.clock import clock
from lifecycle.core.errors import ApiError
from lifecycle.web.errors import wants_fragment
from lifecycle.web.forms import AuditFilterForm, EmptyForm

#: entries on one page
PAGE_SIZE = 50
#: entries read per query while exporting
EXPORT_BATCH = 500
#: the columns of the CSV export (the exported entry's fields; ``data`` as canonical JSON)
CSV_COLUMNS = ("seq", "at", "actor", "action", "subject", "data", "prev_hash", "hash")
#: longest cursor accepted (a 64-bit sequence number has at most 19 digits)
MAX_CURSOR_DIGITS = 18

_SLUG = r"[a-z0-9][a-z0-9-]{0,62}"
_VERSION_SUBJECT = re.compile(rf"^({_SLUG})@(\S{{1,64}})$")
_API_SUBJECT = re.compile(rf"^{_SLUG}$")

Page = str | tuple[str, int] | tuple[str, int, dict[str, str]] | BaseResponse


# ------------------------------------------------------------------ reading the request
def _cursor(form: AuditFilterForm, name: str) -> int | None:
    """The ``before``/``after`` sequence number of the request, or ``None``; an unreadable
    one becomes a form error (the page answers 422)."""
    text = request.args.get(name, "")
    if text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_CURSOR_DIGITS:
        form.form_errors.append(f"The page link is damaged ({name} must be an entry number); "
                                "start again from the newest entries.")
        return None
    return int(text)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def filter_query(form: AuditFilterForm) -> audit.AuditQuery:
    """The :class:`~lifecycle.audit.AuditQuery` of a validated filter form: exact subject
    and actor, action (exact or ``x.`` prefix), ``since`` from 00:00 UTC of the first day,
    ``until`` before 00:00 UTC of the day after the last (both days inclusive)."""
    until = form.until.data
    return audit.AuditQuery(
        subject=(form.subject.data or "").strip() or None,
        actor=(form.actor.data or "").strip() or None,
        action=(form.action.data or "").strip() or None,
        since=_day_start(form.since.data) if form.since.data else None,
        until=_day_start(until + timedelta(days=1)) if until and until < date.max else None,
    )


def _filters() -> dict[str, str]:
    """The filter arguments of the request as given (for links to other pages)."""
    return {k: v for k in ("subject", "actor", "action", "since", "until")
            if (v := request.args.get(k, "").strip())}


# ------------------------------------------------------------------ presenting
def entry_links(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, url)`` of what ``entry`` concerns: its version page, its API page, its
    signed gate record (when ``data.gate_record`` names one)."""
    links: list[tuple[str, str]] = []
    subject = entry["subject"]
    found = _VERSION_SUBJECT.match(subject)
    if found:
        name, version = found.groups()
        links.append(("version page",
                      url_for("web.version_page", name=name, version=version)))
        data = entry["data"] if isinstance(entry["data"], dict) else {}
        record = data.get("gate_record")
        if isinstance(record, str | int) and not isinstance(record, bool) and str(record):
            links.append(("gate record", url_for("web.gate_record", name=name,
                                                 version=version, record_id=str(record))))
    elif _API_SUBJECT.match(subject) and entry["action"].startswith("api."):
        links.append(("API page", url_for("web.api_page", name=subject)))
    return links


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    data = audit.canonical_json(entry["data"]).decode("utf-8") if entry["data"] else ""
    return {**entry, "at_time": datetime.fromisoformat(entry["at"].replace("Z", "+00:00")),
            "data_text": data, "links": entry_links(entry)}


def _page(form: AuditFilterForm) -> dict[str, Any]:
    """One page of entries for a valid form, newest first, and the cursors around it."""
    query = filter_query(form)
    before, after = _cursor(form, "before"), _cursor(form, "after")
    if form.form_errors:
        return {"entries": [], "older": None, "newer": None}
    if after is not None and before is None:
        rows = audit.search(replace(query, after=after), limit=PAGE_SIZE, newest_first=False)
        rows.reverse()
    else:
        rows = audit.search(replace(query, before=before), limit=PAGE_SIZE)
    older = newer = None
    if rows:
        last, first = rows[-1]["seq"], rows[0]["seq"]
        if audit.search(replace(query, before=last), limit=1):
            older = last
        if audit.search(replace(query, after=first), limit=1, newest_first=False):
            newer = first
    return {"entries": [_row(e) for e in rows], "older": older, "newer": newer}


def _render(form: AuditFilterForm, status: int, verification: audit.Verification | None = None
            ) -> Page:
    page = _page(form) if status == 200 else {"entries": [], "older": None, "newer": None}
    if form.form_errors:
        status = 422
    seq, digest = audit.head()
    context = {"form": form, "filters": _filters(), "head_seq": seq, "head_hash": digest,
               "verify_form": EmptyForm(formdata=None), "verification": verification,
               "page_size": PAGE_SIZE, **page}
    template = "web/_partials/audit_results.html" if wants_fragment() else "web/audit.html"
    return render_template(template, **context), status, {"Vary": "HX-Request"}


# ------------------------------------------------------------------ views
@requires("audit.read")
def audit_page() -> Page:
    """The audit trail, filtered and paged (see the module docstring)."""
    form = AuditFilterForm(request.args)
    return _render(form, 200 if form.validate() else 422)


@requires("audit.read")
def audit_verify() -> Page:
    """Verify the whole chain now and show the result (htmx: the status fragment)."""
    if not EmptyForm().validate_on_submit():
        raise ApiError(400, "bad_request", "The form was incomplete; reload the page.")
    result = audit.verify()
    if wants_fragment():
        return render_template("web/_partials/audit_verify.html", verification=result,
                               verify_form=EmptyForm(formdata=None))
    form = AuditFilterForm(formdata=None)
    form.validate()
    return _render(form, 200, verification=result)


def _csv_lines(query: audit.AuditQuery) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    for entry in audit.scan(query, EXPORT_BATCH):
        values = dict(entry, data=audit.canonical_json(entry["data"]).decode("utf-8"))
        yield line([_cell(values[c]) for c in CSV_COLUMNS])


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet never runs as a formula (OWASP "CSV injection"): text
    starting with ``= + - @`` or a tab/CR gets a leading ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _json_lines(query: audit.AuditQuery) -> Iterator[str]:
    yield "["
    separator = "\n"
    for entry in audit.scan(query, EXPORT_BATCH):
        yield separator + json.dumps(entry, ensure_ascii=False, sort_keys=True)
        separator = ",\n"
    yield "\n]\n"


@requires("audit.read")
def audit_export(fmt: str) -> Page:
    """Every entry matching the page's filters, in chain order: CSV (``data`` as canonical
    JSON) or a JSON array of entries (the shape of ``GET /api/v1/audit``)."""
    form = AuditFilterForm(request.args)
    if not form.validate():
        return _render(form, 422)
    query = filter_query(form)
    stamp = clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        body, mimetype = _csv_lines(query), "text/csv"
    else:
        body, mimetype = _json_lines(query), "application/json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = \
        f'attachment; filename="stagegate-audit-{stamp}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@requires("read")
def gate_record(name: str, version: str, record_id: str) -> BaseResponse:
    """Download one signed gate record (the REST view's answer, for the web session)."""
    return gate_record_download(name, version, record_id)


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/audit", view_func=audit_page, methods=["GET"])
    bp.add_url_rule("/audit/export.<any(csv, json):fmt>", view_func=audit_export,
                    methods=["GET"])
    bp.add_url_rule("/audit/verify", view_func=audit_verify, methods=["POST"])
    bp.add_url_rule("/apis/<name>/versions/<version>/gate-records/<record_id>",
                    view_func=gate_record, methods=["GET"])
