"""``check_token``: the whole analysis of one nested access token, in a fixed order.

1. screen the raw text (size, characters, segment count), 2. decode and screen the outer
header, 3. select the decryption key by ``kid`` and validate ``epk``, 4. decrypt,
5. screen the plaintext and the inner header, 6. select the issuer key and verify,
7. check the claims, 8. consult the replay cache.  A fatal failure stops before the next
cryptographic step; the rules never reached are listed in ``not_evaluated``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.findings import Finding, Status
from policies.rules import Severity
from policies.token_rules import TOKEN_RULE_IDS
from policies.tokens import claims as claim_rules
from policies.tokens import keys, nested, screen
from policies.tokens.profile import TokenLimits, TokenProfile
from policies.tokens.replay import ReplayCache
from policies.tokens.results import Outcome

DEFAULT_LIMITS = TokenLimits()


@dataclass(frozen=True, slots=True)
class TokenAnalysis:
    """What is kept of one analysed token (never the token itself).

    :ivar findings: rule outcomes in check order (a ``fail`` per problem, else one ``pass``).
    :ivar outer_header: the decoded JWE protected header, or ``None`` if unreadable.
    :ivar inner_header: the decoded JWS protected header, or ``None`` if not reached.
    :ivar claims: claim names with identifying values redacted (:func:`claims.redact`), or
        ``None`` if not reached.
    :ivar lifetime: ``exp - iat`` in seconds, or ``None``.
    :ivar fingerprint: SHA-256 hex of the token bytes as submitted.
    :ivar not_evaluated: token rule ids not reached because an earlier check rejected it.
    """

    findings: list[Finding]
    fingerprint: str
    outer_header: dict[str, Any] | None = None
    inner_header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    lifetime: int | None = None
    not_evaluated: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Every token rule was evaluated and none blocks at a severity above ``low``
        (``low`` findings, such as an allowed-with-warning algorithm, are advisory)."""
        return not self.not_evaluated and not any(
            f.status.blocks and f.severity.rank > Severity.LOW.rank for f in self.findings)

    def failing(self) -> list[Finding]:
        """The findings that block (any severity)."""
        return [f for f in self.findings if f.status.blocks]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for storage: every field plus ``passed``."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "fingerprint": self.fingerprint,
            "outer_header": self.outer_header,
            "inner_header": self.inner_header,
            "claims": self.claims,
            "lifetime": self.lifetime,
            "not_evaluated": list(self.not_evaluated),
            "passed": self.passed,
        }


def fingerprint(token: str | bytes) -> str:
    """SHA-256 hex of the token bytes (UTF-8 for text) — how a resubmission is recognised."""
    data = token if isinstance(token, bytes) else str(token).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


class _State:
    """The pieces of the analysis gathered so far (for the result, even after a failure)."""

    def __init__(self) -> None:
        self.outer: dict[str, Any] | None = None
        self.inner: dict[str, Any] | None = None
        self.claims: dict[str, Any] | None = None
        self.rule = "TOK-SYNTAX"  # rule blamed for an unexpected error


def check_token(
    token: str | bytes,
    *,
    decryption_keys: keys.KeySource,
    issuer_jwks: keys.KeySource,
    profile: TokenProfile,
    now: int | None = None,
    leeway: int = 60,
    replay_cache: ReplayCache | None = None,
    limits: TokenLimits = DEFAULT_LIMITS,
    on_verified: Callable[[Mapping[str, Any]], None] | None = None,
) -> TokenAnalysis:
    """Analyse a nested access token (compact JWE around a compact JWS) against the TOK,
    JWE, JWS, HDR and CLM rules of ``docs/jwt-policy.md`` §1.4.

    :param token: the token text (without ``Bearer``), at most ``limits.max_token_bytes``.
    :param decryption_keys: the API's private encryption keys (jwcrypto ``JWKSet``/``JWK``).
    :param issuer_jwks: the issuer's public signing keys (jwcrypto ``JWKSet``/``JWK``).
    :param profile: the version's declared profile (:meth:`TokenProfile.from_extension`).
    :param now: the time to judge ``exp``/``nbf``/``iat`` at, Unix seconds (default: now).
    :param leeway: clock leeway in seconds, clamped to ``0..limits.max_leeway``.
    :param replay_cache: consulted last for CLM-JTI, and only for an otherwise valid token.
    :param on_verified: called once with the unredacted claims set when the signature has
        verified (before the claim rules run), so that a caller such as the gateway validator
        can forward the verified identity (``sub``, ``client_id``) without decrypting twice;
        the analysis itself keeps only redacted claims.  An exception it raises becomes an
        ``error`` finding (fail closed).
    :returns: a :class:`TokenAnalysis`; never raises — an unexpected exception becomes an
        ``error`` finding of the rule being evaluated.
    """
    state = _State()
    out = Outcome()
    digest = ""
    try:
        digest = fingerprint(token if isinstance(token, str | bytes) else repr(type(token)))
        moment = int(time.time()) if now is None else int(now)
        slack = max(0, min(int(leeway), limits.max_leeway))
        _run(token, state, out, decryption_keys, issuer_jwks, profile, moment, slack,
             replay_cache, limits, on_verified)
    except Exception as exc:  # noqa: BLE001 - the checker must never raise (fail closed)
        out.fail(state.rule, f"the check stopped on an internal error ({type(exc).__name__}); "
                 "the token is not accepted.", status=Status.ERROR)
    seen = set(out.evaluated)
    skipped = tuple(r for r in TOKEN_RULE_IDS if r not in seen)
    lifetime = claim_rules.lifetime(state.claims) if state.claims is not None else None
    return TokenAnalysis(
        findings=out.findings(),
        fingerprint=digest,
        outer_header=state.outer,
        inner_header=state.inner,
        claims=claim_rules.redact(state.claims) if state.claims is not None else None,
        lifetime=lifetime,
        not_evaluated=skipped,
    )


def _run(token: str | bytes, state: _State, out: Outcome, decryption_keys: keys.KeySource,  # noqa: PLR0911 - stops at the first refusal, in the order of docs/tokens.md
         issuer_jwks: keys.KeySource, profile: TokenProfile, now: int, leeway: int,
         replay_cache: ReplayCache | None, limits: TokenLimits,
         on_verified: Callable[[Mapping[str, Any]], None] | None = None) -> None:
    segments = screen.screen_text(token, limits, out)
    if segments is None:
        return
    state.outer = screen.parse_header(segments[0], "outer", out)
    if state.outer is None:
        return
    state.rule = "JWE-ALG-ALLOWED"
    screen.check_outer_header(state.outer, profile, out)
    if out.fatal:
        return
    state.rule = "JWE-KEY-BOUND"
    dec_key = keys.decryption_key(decryption_keys, state.outer, out)
    state.rule = "JWE-EPK-VALID"
    screen.check_epk(state.outer, segments[1], dec_key, out)
    if dec_key is None or out.fatal:
        return
    _check_encrypted_key_presence(state.outer, segments[1], out)
    if out.fatal:
        return
    state.rule = "JWE-KEY-BOUND"
    try:
        plaintext = nested.decrypt(".".join(segments), dec_key, state.outer["alg"],
                                   state.outer["enc"], limits.max_plaintext_bytes)
    except nested.CryptoFailure:
        out.fail("JWE-KEY-BOUND", "the token does not decrypt with the key its `kid` names "
                 "(wrong key, or a tampered header, IV, ciphertext or tag).")
        return
    state.rule = "TOK-NESTED-JWE"
    inner_segments = _screen_plaintext(plaintext, limits, out)
    if inner_segments is None:
        return
    state.inner = screen.parse_header(inner_segments[0], "inner", out)
    if state.inner is None:
        return
    state.claims = _parse_claims(inner_segments[1], out)
    state.rule = "JWS-ALG-ALLOWED"
    screen.check_inner_header(state.inner, profile, out)
    if out.fatal or state.claims is None:
        return
    state.rule = "JWS-SIG-ISSUER-KEY"
    sig_key = keys.signing_key(issuer_jwks, state.inner, out)
    if sig_key is None or out.fatal:
        return
    try:
        nested.verify(".".join(inner_segments), sig_key, state.inner["alg"])
    except nested.CryptoFailure:
        out.fail("JWS-SIG-ISSUER-KEY", "the signature does not verify with the issuer key its "
                 "`kid` names.")
        return
    out.ok("JWS-SIG-ISSUER-KEY", "The signature verifies with the issuer key named by `kid`, "
           "bound to the token's `alg`.")
    if on_verified is not None:
        on_verified(state.claims)
    state.rule = "CLM-EXP"
    claim_rules.check_claims(state.claims, profile, now, leeway, out)
    state.rule = "CLM-JTI"
    if out.blocking():
        if not out.failed("CLM-JTI"):
            out.ok("CLM-JTI", "`jti` is present; reuse is checked only for otherwise valid "
                   "tokens.")
        return
    claim_rules.check_replay(state.claims, replay_cache, now, out)


def _check_encrypted_key_presence(header: dict[str, Any], encrypted_key: str,
                                  out: Outcome) -> None:
    direct = header.get("alg") in ("dir", "ECDH-ES")
    if not direct and not encrypted_key:
        out.fail("TOK-SYNTAX", f"`alg: {header.get('alg')}` needs an encrypted-key segment, "
                 "but it is empty.")
    elif header.get("alg") == "dir" and encrypted_key:
        out.fail("TOK-SYNTAX", "`alg: dir` must have an empty encrypted-key segment.")


def _screen_plaintext(plaintext: bytes, limits: TokenLimits, out: Outcome) -> list[str] | None:
    """TOK-SIZE-LIMIT and TOK-NESTED-JWE on the decrypted plaintext: a compact JWS."""
    if len(plaintext) > limits.max_plaintext_bytes:
        out.fail("TOK-SIZE-LIMIT", f"the plaintext is {len(plaintext)} bytes; at most "
                 f"{limits.max_plaintext_bytes} are accepted.")
        return None
    try:
        text = plaintext.decode("ascii")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.lstrip().startswith("{"):
        out.fail("TOK-NESTED-JWE", "the JWE holds a JSON claims set, not a signed JWT: anyone "
                 "with the API's public key could have made it.")
        return None
    if text is None or not screen.is_compact(text) or text.count(".") != 2:
        out.fail("TOK-NESTED-JWE", "the decrypted plaintext is not a compact JWS (3 "
                 "segments): the token must be signed, then encrypted.")
        return None
    out.ok("TOK-NESTED-JWE", "The token is a JWE whose plaintext is a compact JWS.")
    return text.split(".")


def _parse_claims(segment: str, out: Outcome) -> dict[str, Any] | None:
    try:
        claims = screen.parse_object(screen.decode_segment(segment, "claims set"),
                                     "claims set")
    except screen.Malformed as exc:
        out.fail("TOK-SYNTAX", f"{exc}.", pointer="/claims")
        return None
    return claims
