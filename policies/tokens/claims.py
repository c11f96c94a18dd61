"""The CLM rules on a verified claims set, and redaction of claims for storage and display."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from policies.findings import Status
from policies.rules import Severity
from policies.tokens.profile import TokenProfile
from policies.tokens.replay import ReplayCache, replay_key
from policies.tokens.results import Outcome

#: claims whose values are kept in an analysis; every other value is replaced by REDACTED
KEPT_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "scope", "typ", "token_type",
                         "token_use"})
REDACTED = "[redacted]"


def redact(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Claim names with their values, except identifying ones (``sub``, ``client_id``,
    ``email``, ``name``, ``jti``, ``cnf`` and anything not in :data:`KEPT_CLAIMS`), which
    become :data:`REDACTED`."""
    return {name: value if name in KEPT_CLAIMS else REDACTED for name, value in claims.items()}


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def lifetime(claims: Mapping[str, Any]) -> int | None:
    """``exp - iat`` in seconds when both are integers, else ``None``."""
    exp, iat = claims.get("exp"), claims.get("iat")
    return exp - iat if _integer(exp) and _integer(iat) else None


def check_claims(claims: Mapping[str, Any], profile: TokenProfile, now: int, leeway: int,
                 out: Outcome) -> None:
    """CLM-EXP, CLM-NBF, CLM-IAT, CLM-LIFETIME-MAX, CLM-ISS, CLM-AUD, CLM-PROFILE,
    CLM-SENDER-CONSTRAINED and the presence part of CLM-JTI (see :func:`check_replay`).

    :param now: current time, Unix seconds.
    :param leeway: clock leeway in seconds (already capped at 60).
    """
    _times(claims, profile, now, leeway, out)
    iss = claims.get("iss")
    if profile.issuer is None:
        out.fail("CLM-ISS", "the API's profile declares no `issuer` to compare with.",
                 pointer="/claims/iss", fatal=False, status=Status.MISSING_EVIDENCE)
    elif iss != profile.issuer:
        found = "no `iss`" if iss is None else "a different `iss`"
        out.fail("CLM-ISS", f"the token has {found}; it must be exactly "
                 f"{profile.issuer!r}.", pointer="/claims/iss", fatal=False)
    else:
        out.ok("CLM-ISS", "`iss` is exactly the declared issuer.")
    aud = claims.get("aud")
    values = aud if isinstance(aud, list) else [aud]
    if not profile.audience:
        out.fail("CLM-AUD", "the API's profile declares no `audience` to compare with.",
                 pointer="/claims/aud", fatal=False, status=Status.MISSING_EVIDENCE)
    elif aud is None:
        out.fail("CLM-AUD", "the token has no `aud`.", pointer="/claims/aud", fatal=False)
    elif not all(isinstance(v, str) for v in values) or not values:
        out.fail("CLM-AUD", "`aud` is not a string or a list of strings.",
                 pointer="/claims/aud", fatal=False)
    elif not set(values) & set(profile.audience):
        out.fail("CLM-AUD", f"`aud` does not contain this API ({', '.join(profile.audience)}).",
                 pointer="/claims/aud", fatal=False)
    else:
        out.ok("CLM-AUD", "`aud` contains this API.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        out.fail("CLM-JTI", "the token has no `jti` string, so a replay cannot be detected.",
                 pointer="/claims/jti", fatal=False)
    problems = [f"no `{name}` string" for name in ("sub", "client_id")
                if not isinstance(claims.get(name), str) or not claims.get(name)]
    if "scope" in claims and not isinstance(claims["scope"], str):
        problems.append("`scope` that is not a space-delimited string")
    for problem in problems:
        out.fail("CLM-PROFILE", f"the token has {problem} (RFC 9068 §2.2).", fatal=False)
    if not problems:
        out.ok("CLM-PROFILE", "`sub` and `client_id` are present.")
    cnf = claims.get("cnf")
    if isinstance(cnf, dict) and (isinstance(cnf.get("jkt"), str)
                                  or isinstance(cnf.get("x5t#S256"), str)):
        out.ok("CLM-SENDER-CONSTRAINED", "The token is bound to its client (`cnf`).")
    elif profile.sender_constrained:
        out.fail("CLM-SENDER-CONSTRAINED", "the profile requires sender-constrained tokens but "
                 "the token has no `cnf` with `jkt` or `x5t#S256`.", pointer="/claims/cnf",
                 fatal=False)
    else:
        out.ok("CLM-SENDER-CONSTRAINED", "Advisory: no `cnf` claim; the profile does not "
               "require sender-constrained tokens.", status=Status.NOT_APPLICABLE)


def _times(claims: Mapping[str, Any], profile: TokenProfile, now: int, leeway: int,  # noqa: PLR0912 - one branch per time claim rule
           out: Outcome) -> None:
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if exp is None:
        out.fail("CLM-EXP", "the token has no `exp`: it would never expire.",
                 pointer="/claims/exp", fatal=False)
    elif not _integer(exp):
        out.fail("CLM-EXP", "`exp` is not an integer NumericDate.", pointer="/claims/exp",
                 fatal=False)
    elif now >= exp + leeway:
        out.fail("CLM-EXP", f"the token expired {now - exp} s ago (leeway {leeway} s).",
                 pointer="/claims/exp", fatal=False)
    else:
        out.ok("CLM-EXP", f"The token expires in {exp - now} s.")
    if nbf is None:
        out.ok("CLM-NBF", "No `nbf` claim.")
    elif not _integer(nbf):
        out.fail("CLM-NBF", "`nbf` is not an integer NumericDate.", pointer="/claims/nbf",
                 fatal=False)
    elif now < nbf - leeway:
        out.fail("CLM-NBF", f"the token is not valid for another {nbf - now} s (`nbf`).",
                 pointer="/claims/nbf", fatal=False)
    else:
        out.ok("CLM-NBF", "`nbf` has passed.")
    if iat is None:
        out.fail("CLM-IAT", "the token has no `iat`.", pointer="/claims/iat", fatal=False)
    elif not _integer(iat):
        out.fail("CLM-IAT", "`iat` is not an integer NumericDate.", pointer="/claims/iat",
                 fatal=False)
    elif iat > now + leeway:
        out.fail("CLM-IAT", f"`iat` is {iat - now} s in the future.", pointer="/claims/iat",
                 fatal=False)
    else:
        out.ok("CLM-IAT", "`iat` is not in the future.")
    span, maximum = lifetime(claims), profile.effective_max_lifetime
    if span is None:
        out.fail("CLM-LIFETIME-MAX", "the lifetime cannot be computed without integer `exp` "
                 "and `iat`.", pointer="/claims/exp", fatal=False)
    elif span > maximum:
        out.fail("CLM-LIFETIME-MAX", f"the token lives {span} s (exp - iat); at most "
                 f"{maximum} s are allowed.", pointer="/claims/exp", fatal=False)
    elif span <= 0:
        out.fail("CLM-LIFETIME-MAX", f"`exp` is not after `iat` ({span} s).",
                 pointer="/claims/exp", fatal=False)
    else:
        out.ok("CLM-LIFETIME-MAX", f"The token lives {span} s (at most {maximum}).")


def check_replay(claims: Mapping[str, Any], cache: ReplayCache | None, now: int,
                 out: Outcome) -> None:
    """CLM-JTI replay part: ask ``cache`` whether (``iss``, ``jti``) was seen before.

    Call it last, and only for a token that passed everything else, so a rejected token
    never takes up an id.  Without a cache only presence is checked (a low-severity note).
    """
    jti, exp = claims.get("jti"), claims.get("exp")
    if out.failed("CLM-JTI") or not isinstance(jti, str):
        return
    if cache is None:
        out.ok("CLM-JTI", "`jti` is present; no replay cache was supplied, so reuse was not "
               "checked.")
        return
    iss = claims.get("iss")
    iss = iss if isinstance(iss, str) else ""
    expires = exp if _integer(exp) else now
    if cache.check_and_store(replay_key(iss, jti), expires, now):
        out.ok("CLM-JTI", "`jti` is present and was not seen before.")
    else:
        out.fail("CLM-JTI", "this `jti` was already used: the token is a replay.",
                 pointer="/claims/jti", fatal=False, severity=Severity.MEDIUM)
