"""Does a request parameter carry a credential?  :func:`classify_parameter`.

``TRN-NO-TOKEN-IN-URL`` must find credentials in query, path and cookie parameters whatever
they are called (``key``, ``oauth_token``, ``sessionToken``, ``id_token_hint``,
``webhook_token``, ``private_key`` …) without flagging what only looks like one: pagination
"tokens" (``page_token``, ``next_token``, ``start-token``, ``continuation``), cursors, or the
identifier of a token record (``tokenId``, ``token_id``).  A parameter is classified by four
signals, strongest first; the first that decides wins and is reported with the finding:

1. ``security-scheme``: an ``apiKey`` security scheme ``in: query``/``in: cookie`` whose
   ``name`` is the parameter (the document itself says it is the credential;
   OpenAPI 3.1.0 §4.8.27).
2. ``schema``: the parameter's schema says ``format: password`` (or Swagger 2.0's parameter
   does), or ``writeOnly: true`` (a value only a client sends, such as a secret).
3. ``description``: the description calls the value a pagination token/cursor (then it is
   *not* a credential, even when the name says token), or names a credential
   ("API key", "access token", "client secret", "password", "private key" …); a bare
   ``key`` whose description names no credential is a data key.
4. ``name``: the name split into lower-case words on separators, case changes and digits
   (``X-API-Key`` → ``x api key``, ``oauthToken`` → ``oauth token``) and read as a noun
   phrase; see :func:`classify_name`.

Sources: RFC 6750 §2.3 and §5.3 (no bearer tokens in URLs), RFC 9700 §4.3.2 (no access tokens
in query strings), OWASP REST Security Cheat Sheet "Sensitive information in HTTP requests".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from specs import pointer as jp
from specs.index import Parameter, SpecIndex

Signal = Literal["security-scheme", "schema", "description", "name"]

#: parameter locations a credential must not use: the URL (query, path, 3.2 querystring)
#: and cookies (sent automatically by browsers, kept in cookie jars)
CREDENTIAL_LOCATIONS = frozenset({"query", "path", "querystring", "cookie"})

#: words that name a secret wherever they stand (``client_secret``, ``X-Hub-Signature``)
SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "secret", "secrets", "credential",
    "credentials", "assertion", "signature", "sig", "jwt", "bearer", "authorization",
    "auth", "apikey", "privatekey", "clientsecret", "codeverifier", "hmac", "otp", "totp",
    "cookie", "sessionid",
})
#: words that name a credential when they are the head of the phrase (``oauth_token``) and
#: no pagination word qualifies them
TOKEN_WORDS = frozenset({"token", "session", "key"})
#: a word after the credential word that makes the phrase *about* the credential, not the
#: credential itself: ``token_id``, ``token_type_hint``, ``key_name``, ``signature_method``
DESCRIPTOR_WORDS = frozenset({
    "id", "ids", "uuid", "type", "types", "name", "names", "count", "expiry", "expires",
    "expiration", "exp", "ttl", "lifetime", "status", "state", "format", "length", "url",
    "uri", "endpoint", "kind", "method", "algorithm", "alg", "version", "policy", "label",
    "prefix", "hash", "fingerprint", "mode", "strength", "required", "enabled", "set",
    "reset", "changed", "updated", "created", "rotation", "index", "number", "param",
    "field", "location", "scope", "scopes", "duration", "timeout", "limit", "list", "lists",
    "result", "results", "info", "metadata", "template", "templates",
})
#: words before ``key`` that make it a credential (``api key`` is one compound word already):
#: any other qualifier makes a data key (``sort_key``, ``template_key``, ``field_key``)
CREDENTIAL_KEY_QUALIFIERS = frozenset({
    "access", "secret", "private", "subscription", "app", "application", "client", "auth",
    "authentication", "session", "license", "licence", "master", "developer", "consumer",
    "signing", "shared", "account", "partner", "service", "user", "sas", "encryption",
    "hmac", "oauth", "admin", "management", "integration", "merchant", "publishable",
    "security", "token", "webhook", "ingest", "write", "read",
})
#: leading words that only mark a header-style name (``X-Key``, ``x_api_key``)
_PREFIXES = frozenset({"x"})
#: a word before ``token``/``key``/``session`` that makes it a non-credential: pagination
#: and sync markers, data keys (``sort_key``, ``idempotency_key``)
NON_CREDENTIAL_QUALIFIERS = frozenset({
    "page", "paging", "pagination", "next", "prev", "previous", "start", "starting", "end",
    "continuation", "continue", "cursor", "sync", "resume", "marker", "offset", "skip",
    "delta", "change", "changes", "scroll", "search", "result", "results", "batch", "last",
    "after", "before", "since", "iteration", "watch", "resource", "etag",
    "idempotency", "sort", "partition", "cache", "primary", "foreign", "lookup", "hash",
    "range", "row", "object", "group", "dedup", "deduplication", "routing", "shard",
    "order", "map", "sequence", "public", "max", "min", "num", "total",
})
#: pairs that are one credential word: ``api key``, ``private key``, ``code verifier``
_COMPOUNDS = {
    ("api", "key"): "apikey", ("private", "key"): "privatekey",
    ("client", "secret"): "clientsecret", ("code", "verifier"): "codeverifier",
    ("session", "id"): "sessionid", ("pass", "word"): "password",
}
#: path parameters ending in ``id`` name a record (``/sessions/{session_id}``); in the query
#: or a cookie a session id *is* the session credential
_PATH_RECORD_WORDS = frozenset({"sessionid"})

_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
                    r"|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")

_PAGINATION_TEXT = re.compile(
    r"\b(pagination|paginat\w*|cursor|continuation|next\s+(page|set|batch)|previous\s+page|"
    r"page\s+token|next\s+token|(next|previous|more)\s+results?|page\s+of\s+results)\b",
    re.IGNORECASE)
_IDENTIFIER_TEXT = re.compile(
    r"\b((id|identifier|uuid|name)\s+of\s+(the|an?)\b|(token|key|session)\s+(id|identifier)\b"
    r"|identif(y|ies|ying)\b|unique(ly)?\b)",
    re.IGNORECASE)
_CREDENTIAL_TEXT = re.compile(
    r"\b(api[\s_-]?key|access[\s_-]token|refresh[\s_-]token|id[\s_-]token|bearer\s+token|"
    r"session\s+(token|cookie)|auth(entication|orization)?\s+token|client[\s_-]secret|"
    r"secret\s+key|shared\s+secret|private\s+key|password|passphrase|credentials?|"
    r"jwt|json\s+web\s+token|signing\s+secret|webhook\s+token)\b",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Classification:
    """Why a parameter carries a credential.

    :ivar signal: which signal decided: ``security-scheme``, ``schema``, ``description`` or
        ``name``.
    :ivar evidence: the words, keyword or phrase that decided (for the finding's message).
    :ivar pointer: where that evidence is written (the ``name``, ``schema/format``,
        ``description`` member, or the security scheme's ``name``).
    """

    signal: Signal
    evidence: str
    pointer: str


def name_words(name: str) -> list[str]:
    """``name`` split into lower-case words: on every non-alphanumeric character, at
    lower→upper case changes (``accessToken``), at acronym ends (``APIKey`` → api key) and
    between letters and digits; compounds such as ``api key`` are joined (``apikey``)."""
    words = [w.lower() for w in _SPLIT.split(name) if w]
    joined: list[str] = []
    for word in words:
        if joined and (joined[-1], word) in _COMPOUNDS:
            joined[-1] = _COMPOUNDS[(joined[-1], word)]
        else:
            joined.append(word)
    return joined


def classify_name(name: str, location: str) -> bool | None:
    """Is a parameter called ``name`` in ``location`` a credential, judging by the name?

    :returns: ``True`` (credential), ``False`` (explicitly not: pagination token, identifier
        of a token record, a data key) or ``None`` (the name says nothing either way).

    Read as a noun phrase: a secret word anywhere (``password``, ``secret``, ``signature``,
    ``apikey`` …) is a credential unless a descriptor follows it (``signature_method``,
    ``secret_name``); ``token``/``session``/``key`` is a credential when no pagination or
    data qualifier precedes it (``page_token``, ``sort_key``) and no descriptor follows it
    (``token_id``, ``token_type_hint``); a bare ``key`` is the API key in a query or cookie
    but an object key in a path.  ``*_hint`` after a token (``id_token_hint``) is the token.
    """
    words = name_words(name)
    while words and words[0] in _PREFIXES and len(words) > 1:
        words = words[1:]
    if not words:
        return None
    verdict: bool | None = None
    for i, word in enumerate(words):
        if word not in SECRET_WORDS and word not in TOKEN_WORDS:
            continue
        after = words[i + 1] if i + 1 < len(words) else None
        before = words[:i]
        if after in DESCRIPTOR_WORDS:
            verdict = False if verdict is None else verdict
            continue
        if word in _PATH_RECORD_WORDS and location == "path":
            verdict = False if verdict is None else verdict
            continue
        if word in TOKEN_WORDS and any(w in NON_CREDENTIAL_QUALIFIERS for w in before):
            verdict = False if verdict is None else verdict
            continue
        if word == "key" and (
            (not before and location == "path")
            or (before and before[-1] not in CREDENTIAL_KEY_QUALIFIERS)
        ):
            verdict = False if verdict is None else verdict
            continue
        return True
    if verdict is None and words[-1] in DESCRIPTOR_WORDS:
        return False  # ``actor_ids``, ``user_id``: names an identifier, not a secret
    return verdict


def _schemas(param: Parameter) -> list[tuple[Mapping[str, Any], str]]:
    """The parameter's schemas with their pointers (3.x ``schema`` and ``content``; a 2.0
    non-body parameter is its own schema)."""
    data = param.data
    found: list[tuple[Mapping[str, Any], str]] = []
    schema = data.get("schema")
    if isinstance(schema, dict):
        found.append((schema, jp.child(param.pointer, "schema")))
    content = data.get("content")
    if isinstance(content, dict):
        for media, entry in content.items():
            if isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
                found.append((entry["schema"],
                              jp.child(param.pointer, "content", media, "schema")))
    if "type" in data or "format" in data:
        found.append((data, param.pointer))
    return found


def _is_bare_key(name: str) -> bool:
    """A name that is just ``key``: the API key of many APIs (``?key=``), but also the key
    of whatever the API stores; a description that names no credential settles it."""
    return [w for w in name_words(name) if w not in _PREFIXES] == ["key"]


def _cannot_hold_secret(schema: Mapping[str, Any]) -> bool:
    """A boolean, or a value from a published list (``enum``/``const``), is no secret."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return ("boolean" in kinds and len(kinds) == 1) or isinstance(schema.get("enum"), list) \
        or "const" in schema


def scheme_parameters(index: SpecIndex) -> dict[tuple[str, str], tuple[str, str]]:
    """``(location, parameter name) → (scheme name, pointer of its name)`` for every
    ``apiKey`` scheme sent in the query or a cookie (query names compared as written, cookie
    names case-sensitively too: RFC 6265 §4.1.1)."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for scheme in index.security_schemes.values():
        where, name = scheme.data.get("in"), scheme.data.get("name")
        if scheme.type == "apiKey" and where in ("query", "cookie") and isinstance(name, str):
            found.setdefault((where, name), (scheme.name, jp.child(scheme.pointer, "name")))
    return found


def classify_parameter(
    param: Parameter, schemes: Mapping[tuple[str, str], tuple[str, str]]
) -> Classification | None:
    """The :class:`Classification` of a query/path/cookie parameter that carries a
    credential, or ``None`` (not a credential, or a location where it may travel).

    :param schemes: :func:`scheme_parameters` of the document.
    """
    if param.location not in CREDENTIAL_LOCATIONS:
        return None
    scheme = schemes.get((param.location, param.name))
    if scheme is not None:
        return Classification("security-scheme", f"apiKey scheme `{scheme[0]}`", scheme[1])
    by_name = classify_name(param.name, param.location)
    schemas = _schemas(param)
    if any(_cannot_hold_secret(schema) for schema, _ in schemas):
        return None
    for schema, where in schemas:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt.lower() == "password":
            return Classification("schema", "`format: password`", jp.child(where, "format"))
        if schema.get("writeOnly") is True and by_name is not False:
            return Classification("schema", "`writeOnly: true`", jp.child(where, "writeOnly"))
    description = param.data.get("description")
    text = description if isinstance(description, str) else ""
    description_pointer = jp.child(param.pointer, "description")
    if text and _text_says(text).pagination and not (
            SECRET_WORDS.intersection(name_words(param.name))):
        return None
    if by_name and not (_is_bare_key(param.name) and text
                        and _text_says(text).credential is None):
        return Classification("name", " ".join(name_words(param.name)),
                              jp.child(param.pointer, "name"))
    if by_name is None and text and not _text_says(text).identifier:
        phrase = _text_says(text).credential
        if phrase is not None:
            return Classification("description", phrase, description_pointer)
    return None


@dataclass(frozen=True, slots=True)
class _TextSignals:
    """What a parameter description says: pagination, an identifier, a credential phrase."""

    pagination: bool
    identifier: bool
    credential: str | None


@functools.lru_cache(maxsize=4096)
def _text_says(text: str) -> _TextSignals:
    """The three description searches, once per distinct text: large documents repeat the
    same parameter descriptions hundreds of times (Kubernetes: 1,172 parameters, the
    searches were 70 % of its rules' time)."""
    match = _CREDENTIAL_TEXT.search(text)
    return _TextSignals(_PAGINATION_TEXT.search(text) is not None,
                        _IDENTIFIER_TEXT.search(text) is not None,
                        match.group(0) if match else None)
