"""Catalog entries for the token and key rules (``docs/jwt-policy.md`` §1.4).

TOK (token structure), JWE (outer layer), JWS (inner layer), HDR (headers), CLM (claims) and
KEY (key sets).  Data only: the evaluators are :func:`policies.tokens.check_token` (TOK, JWE,
JWS, HDR, CLM, and KEY-RSA-SIZE / KEY-CURVE for the keys a token names) and
:mod:`policies.jwks` (KEY).  Importing :mod:`policies.rules` imports this module, so
:func:`policies.rules.all_rules` always lists these rules.
"""

from __future__ import annotations

from policies.rulebase import Evidence, Rule, Severity, Source, register

#: rule ids whose evidence is a sample token (the gate needs a token passing all of them)
TOKEN_RULE_IDS: tuple[str, ...] = (
    "TOK-NESTED-JWE", "TOK-SYNTAX", "TOK-SIZE-LIMIT",
    "JWE-ALG-ALLOWED", "JWE-ALG-DENY-RSA1_5", "JWE-PBES2-P2C", "JWE-ENC-ALLOWED",
    "JWE-ZIP-DENIED", "JWE-EPK-VALID", "JWE-CTY-JWT", "JWE-KEY-BOUND",
    "JWS-ALG-ALLOWED", "JWS-ALG-DENY-NONE", "JWS-ALG-DENY-HMAC", "JWS-SIG-ISSUER-KEY",
    "HDR-TYP-AT-JWT", "HDR-KID-SAFE", "HDR-NO-KEY-REFS", "HDR-CRIT",
    "CLM-EXP", "CLM-LIFETIME-MAX", "CLM-IAT", "CLM-NBF", "CLM-ISS", "CLM-AUD", "CLM-JTI",
    "CLM-PROFILE", "CLM-SENDER-CONSTRAINED",
)
#: rule ids whose evidence is a key set
KEY_RULE_IDS: tuple[str, ...] = (
    "KEY-RSA-SIZE", "KEY-CURVE", "KEY-SEPARATION", "KEY-JWKS-HYGIENE", "KEY-JWKS-HTTPS",
)


def _rfc(number: int, section: str) -> Source:
    return Source(f"RFC {number} §{section}",
                  f"https://www.rfc-editor.org/rfc/rfc{number}#section-{section}")


def _bis(section: str) -> Source:
    return Source(f"RFC 8725bis draft §{section}",
                  "https://datatracker.ietf.org/doc/draft-ietf-oauth-rfc8725bis/")


def _cve(cve: str) -> Source:
    return Source(cve, f"https://www.cve.org/CVERecord?id={cve}")


_OWASP_JWT = "https://cheatsheetseries.owasp.org/cheatsheets/JSON_Web_Token_Cheat_Sheet.html"
_OWASP_REST = "https://cheatsheetseries.owasp.org/cheatsheets/REST_Security_Cheat_Sheet.html"


def _owasp_jwt(section: str) -> Source:
    return Source(f"OWASP JWT Cheat Sheet: {section}", _OWASP_JWT)


_OWASP_REST_JWT = Source("OWASP REST Security Cheat Sheet: JWT", f"{_OWASP_REST}#jwt")
_NIST_57 = Source("NIST SP 800-57 Pt1 r5 §5.6",
                  "https://csrc.nist.gov/pubs/sp/800/57/pt1/r5/final")
_NIST_131A = Source("NIST SP 800-131A r2", "https://csrc.nist.gov/pubs/sp/800/131/a/r2/final")
_NIST_186 = Source("NIST SP 800-186", "https://csrc.nist.gov/pubs/sp/800/186/final")
_AUTH0_CURVE = Source("Auth0: Critical vulnerability in JSON Web Encryption (2017)",
                      "https://auth0.com/blog/critical-vulnerability-in-json-web-encryption/")
_PAC4J = Source("GHSA-pm7g-w2cf-q238 (pac4j JWE-wrapped PlainJWT)",
                "https://github.com/advisories/GHSA-pm7g-w2cf-q238")

T, K = Evidence.TOKEN, Evidence.JWKS
C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

_RULES = (
    # ------------------------------------------------------------------ TOK
    Rule("TOK-NESTED-JWE", "Token is a JWE around a signed JWT", C, T,
         "The access token is a compact JWE (5 segments) whose plaintext is a compact JWS "
         "(3 segments): signed, then encrypted.",
         "Have the issuer sign the access token (JWS) and then encrypt the signed token to the "
         "API's encryption key (JWE, `cty: JWT`); never send bare JWS or encrypted JSON claims.",
         (_rfc(7519, "11.2"), _rfc(9068, "4"), _rfc(8725, "3.3"), _cve("CVE-2022-3102"))),
    Rule("TOK-SYNTAX", "Token is a well-formed compact serialization", H, T,
         "Only base64url characters and dots, no padding or whitespace, the exact segment "
         "count, and headers and claims that are UTF-8 JSON objects without duplicate members; "
         "JSON serializations are refused.",
         "Emit tokens in the compact serialization with unpadded base64url segments and JSON "
         "objects with unique member names.",
         (_rfc(7519, "7.2"), _rfc(7515, "4"), _rfc(7516, "4"), _rfc(8725, "3.7"),
          _bis("3.14"),
          Source("jwcrypto issue #342", "https://github.com/latchset/jwcrypto/issues/342"))),
    Rule("TOK-SIZE-LIMIT", "Token and plaintext are size-limited", M, T,
         "The token is at most 8 KiB before any decoding, and the decrypted plaintext is at "
         "most 64 KiB.",
         "Keep access tokens small: move bulky data out of the token and reference it instead.",
         (_rfc(7518, "8.6"), _bis("3.15"), _cve("CVE-2026-80179"))),
    # ------------------------------------------------------------------ JWE
    Rule("JWE-ALG-ALLOWED", "Outer alg is allowed and matches the profile", C, T,
         "The outer key-management `alg` is on the allow list (exact, case-sensitive) and "
         "equals the `alg` declared in the API's `x-token-encryption` profile.",
         "Encrypt with RSA-OAEP-256 or ECDH-ES(+A128KW/+A256KW), the value the API's spec "
         "declares.",
         (_rfc(8725, "3.1"), _rfc(8725, "3.2"), _bis("3.1"), _bis("2.11"))),
    Rule("JWE-ALG-DENY-RSA1_5", "Outer alg is not RSA1_5", C, T,
         "RSAES-PKCS1-v1_5 key transport is refused before any RSA operation.",
         "Switch the issuer to RSA-OAEP-256 (or ECDH-ES).",
         (_rfc(8725, "3.2"), _rfc(7518, "8.3"), _NIST_131A, _cve("CVE-2016-6298"))),
    Rule("JWE-PBES2-P2C", "No password-based key wrapping", H, T,
         "PBES2-* is refused before any key derivation, whatever its `p2c` iteration count.",
         "Use an asymmetric key-management algorithm (RSA-OAEP-256, ECDH-ES*), never a "
         "password.",
         (_rfc(7518, "4.8.1.2"), _rfc(8725, "3.5"), _bis("2.10"), _bis("3.13"),
          _cve("CVE-2023-6681"))),
    Rule("JWE-ENC-ALLOWED", "Content encryption is allowed and matches the profile", H, T,
         "The outer `enc` is on the allow list (exact) and equals the profile's `enc`.",
         "Encrypt the content with A256GCM (or A128GCM, A256CBC-HS512, A128CBC-HS256) as the "
         "spec declares.",
         (_rfc(7518, "5.1"), _rfc(7518, "5.3"), _rfc(8725, "3.2"))),
    Rule("JWE-ZIP-DENIED", "No compression", H, T,
         "No `zip` header parameter in either layer; checked before decryption, so nothing is "
         "ever inflated.",
         "Turn off compression in the issuer (`zip`); access tokens are small.",
         (_rfc(8725, "3.6"), _bis("2.12"), _rfc(7516, "4.1.3"), _cve("CVE-2024-28102"),
          _cve("CVE-2026-39373"))),
    Rule("JWE-EPK-VALID", "Ephemeral public key is valid", C, T,
         "For ECDH-ES*: `epk` holds only kty/crv/x(/y), its curve is the recipient key's, the "
         "point is on the curve, and direct ECDH-ES has an empty encrypted-key segment.",
         "Fix the issuer's JOSE library: it must emit a fresh, valid public point on the "
         "recipient's curve and nothing else in `epk`.",
         (_rfc(7518, "4.6.1.1"), _rfc(8725, "3.4"), _AUTH0_CURVE,
          Source("NIST SP 800-56A r3 §5.6.2.3.4",
                 "https://csrc.nist.gov/pubs/sp/800/56/a/r3/final"))),
    Rule("JWE-CTY-JWT", "Outer header says the content is a JWT", M, T,
         "The outer protected header has `cty: JWT` (case-insensitive), as nested JWTs must.",
         "Set `cty: JWT` in the JWE protected header.",
         (_rfc(7519, "5.2"), _rfc(7516, "4.1.12"))),
    Rule("JWE-KEY-BOUND", "Decryption key is named, bound and working", H, T,
         "The outer `kid` names exactly one key of the API's decryption set, that key is for "
         "encryption (`use: enc` or decrypt/unwrapKey/deriveKey `key_ops`), its `alg` equals "
         "the header `alg`, and the token decrypts with it; no try-every-key fallback.",
         "Encrypt to the API's current public encryption key and put its `kid` in the JWE "
         "header; give every key `use: enc` and the one `alg` it serves.",
         (_bis("3.1"), _rfc(7517, "4.2"), _rfc(7517, "4.4"), _rfc(7516, "4.1.6"))),
    # ------------------------------------------------------------------ JWS
    Rule("JWS-ALG-ALLOWED", "Inner alg is allowed and matches the profile", H, T,
         "The inner JWS `alg` is on the allow list (exact, case-sensitive) and equals the "
         "profile's `signing-alg`.",
         "Sign with ES256, ES384, PS256/384/512 or Ed25519, as the spec declares.",
         (_rfc(8725, "3.1"), _rfc(8725, "3.2"), _rfc(9068, "2.1"),
          _owasp_jwt("Public-key Signatures"))),
    Rule("JWS-ALG-DENY-NONE", "Inner token is signed (alg is not none)", C, T,
         "The inner `alg` is not `none` in any spelling, even inside a JWE.",
         "Always sign access tokens before encrypting them.",
         (_rfc(9068, "4"), _rfc(7518, "3.6"), _owasp_jwt("Unsecured JWTs"), _PAC4J)),
    Rule("JWS-ALG-DENY-HMAC", "Inner token is not HMAC-signed", H, T,
         "No HS256/HS384/HS512: every verifier of an HMAC token could also mint tokens.",
         "Sign with the issuer's private key (ES256, PS256, ...).",
         (_owasp_jwt("Key type confusion"), _OWASP_REST_JWT, _rfc(8725, "2.1"))),
    Rule("JWS-SIG-ISSUER-KEY", "Signature verifies with the issuer's key", C, T,
         "The signature verifies with the issuer key named by the inner `kid`; that key is a "
         "signing key (`use: sig` / `verify`) whose `alg` equals the header `alg`.",
         "Sign with a key published in the issuer's JWKS, with `use: sig`, `alg` set and the "
         "`kid` in the JWS header; upload that JWKS as evidence.",
         (_rfc(9068, "4"), _rfc(8725, "3.8"), _bis("3.1"), _rfc(8414, "2"),
          _cve("CVE-2022-21449"))),
    # ------------------------------------------------------------------ HDR
    Rule("HDR-TYP-AT-JWT", "Inner header is typed at+jwt", H, T,
         "The inner JWS header has `typ: at+jwt` (or `application/at+jwt`), so ID tokens and "
         "other JWTs cannot pass as access tokens.",
         "Set `typ: at+jwt` in the inner (signed) header.",
         (_rfc(9068, "2.1"), _rfc(9068, "4"), _rfc(8725, "3.11"), _bis("3.11"))),
    Rule("HDR-KID-SAFE", "Key ids are present and harmless", H, T,
         "`kid` is present in both layers, matches `^[A-Za-z0-9._-]{1,128}$` without `..`, "
         "and is only ever looked up as an exact key in memory.",
         "Use RFC 7638 thumbprints (or other short plain strings) as key ids.",
         (_rfc(8725, "3.10"), _owasp_jwt("Trusting key material named in the token header"),
          _rfc(7515, "4.1.4"))),
    Rule("HDR-NO-KEY-REFS", "No key material or key URLs in headers", C, T,
         "Neither layer carries `jku`, `x5u`, `jwk` or `x5c`; keys come only from configured "
         "sets and no URL named in a token is ever fetched.",
         "Remove `jku`/`x5u`/`jwk`/`x5c` from the token headers; publish keys in the JWKS.",
         (_rfc(8725, "3.10"), _rfc(7515, "4.1.2"),
          _owasp_jwt("Trusting key material named in the token header"),
          _cve("CVE-2018-0114"))),
    Rule("HDR-CRIT", "No unknown critical header parameters", M, T,
         "No `crit` (this checker understands no extensions) and no `b64`.",
         "Drop `crit` and `b64` from the token headers.",
         (_rfc(7515, "4.1.11"), _rfc(7516, "4.1.13"),
          Source("RFC 7797", "https://www.rfc-editor.org/rfc/rfc7797"))),
    # ------------------------------------------------------------------ CLM
    Rule("CLM-EXP", "Token expires and has not expired", C, T,
         "`exp` is present, an integer NumericDate, and now < exp + leeway (leeway <= 60 s).",
         "Always issue `exp`; submit a fresh token.",
         (_rfc(7519, "4.1.4"), _rfc(9068, "2.2"), _rfc(9068, "4"), _OWASP_REST_JWT)),
    Rule("CLM-LIFETIME-MAX", "Token lifetime is short", M, T,
         "exp - iat is at most the profile's `max-lifetime` and never more than 3600 s.",
         "Shorten the access-token lifetime in the issuer (900 s or less is recommended).",
         (_rfc(6819, "5.1.5.3"), _rfc(9700, "2.2.1"), _rfc(9700, "4.10"))),
    Rule("CLM-IAT", "Issued-at is present and not in the future", M, T,
         "`iat` is present, an integer, and at most now + leeway.",
         "Issue `iat` from a synchronised clock.",
         (_rfc(9068, "2.2"), _rfc(7519, "4.1.6"))),
    Rule("CLM-NBF", "Not-before is respected", M, T,
         "If `nbf` is present it is an integer and now >= nbf - leeway (checked explicitly: "
         "jwcrypto skips it when other claims are checked).",
         "Issue `nbf` no later than `iat`, from a synchronised clock.",
         (_rfc(7519, "4.1.5"), _OWASP_REST_JWT)),
    Rule("CLM-ISS", "Issuer is exactly the configured one", C, T,
         "`iss` is present and exactly equals the profile's issuer (no normalisation).",
         "Issue tokens from the authorization server named in `x-token-encryption.issuer`, "
         "spelled identically.",
         (_rfc(9068, "4"), _rfc(8725, "3.8"), _rfc(8414, "3.3"))),
    Rule("CLM-AUD", "Audience contains this API", C, T,
         "`aud` is present and contains the profile's audience.",
         "Request tokens for this API's resource identifier (`x-token-encryption.audience`).",
         (_rfc(9068, "4"), _rfc(8725, "3.9"), _rfc(9700, "2.3"))),
    Rule("CLM-JTI", "Token has an id and is not replayed", M, T,
         "`jti` is a non-empty string and has not been seen before (replay cache kept until "
         "`exp`).",
         "Give every token a unique `jti`; submit a new token rather than a resent one.",
         (_rfc(9068, "2.2"), _rfc(7519, "4.1.7"), _OWASP_REST_JWT)),
    Rule("CLM-PROFILE", "Access-token profile claims are present", L, T,
         "`sub` and `client_id` are present strings; `scope`, if present, is a space-delimited "
         "string.",
         "Follow the RFC 9068 claim set: add `sub` and `client_id`; send `scope` as a string.",
         (_rfc(9068, "2.2"), _rfc(9068, "2.2.3"))),
    Rule("CLM-SENDER-CONSTRAINED", "Token is sender-constrained (advisory)", L, T,
         "A `cnf` claim (DPoP `jkt` or mTLS `x5t#S256`) binds the token to its client; required "
         "only when the profile asks for it.",
         "Issue DPoP- or mTLS-bound tokens for high-risk APIs.",
         (_rfc(9700, "2.2.1"), Source("RFC 9449", "https://www.rfc-editor.org/rfc/rfc9449"),
          Source("RFC 8705", "https://www.rfc-editor.org/rfc/rfc8705"))),
    # ------------------------------------------------------------------ KEY
    Rule("KEY-RSA-SIZE", "RSA keys are large enough", C, K,
         "Every RSA key has at least 2048 bits (critical below) and preferably 3072 (medium "
         "below).",
         "Generate RSA keys of 3072 bits or more (or switch to P-256 / Ed25519).",
         (_rfc(7518, "3.3"), _rfc(7518, "4.3"), _NIST_57, _NIST_131A)),
    Rule("KEY-CURVE", "Curves are allowed", M, K,
         "EC keys use P-256, P-384 or P-521; OKP keys use Ed25519/Ed448 (signing) or "
         "X25519/X448 (encryption).",
         "Generate keys on P-256 (or P-384, P-521, Ed25519, X25519).",
         (Source("RFC 7518 §6.2.1.1",
                 "https://www.rfc-editor.org/rfc/rfc7518#section-6.2.1.1"),
          Source("RFC 8037", "https://www.rfc-editor.org/rfc/rfc8037"), _NIST_186)),
    Rule("KEY-SEPARATION", "One key, one purpose", H, K,
         "Every key declares `use` or consistent `key_ops`, plus an `alg` that fits its type "
         "and purpose; no key (by RFC 7638 thumbprint or RSA modulus) both signs and "
         "encrypts, and no key is shared between the issuer and the API.",
         "Give each key `use` (sig or enc) and the one `alg` it serves; generate separate key "
         "pairs for signing and encryption.",
         (_rfc(7517, "4.2"), _rfc(7517, "4.3"), _bis("3.1"),
          Source("NIST SP 800-57 Pt1 r5 §5.2",
                 "https://csrc.nist.gov/pubs/sp/800/57/pt1/r5/final"),
          Source("OWASP JWT Cheat Sheet", _OWASP_JWT), _cve("CVE-2022-3102"))),
    Rule("KEY-JWKS-HYGIENE", "Published key set is clean", C, K,
         "The JWKS is a JSON object with a `keys` array of RSA/EC/OKP public keys: no private "
         "or secret members (d p q dp dq qi oth k), no `oct` keys, and unique `kid`s.",
         "Publish only public keys (`export_public()` / `export(private_keys=False)` in "
         "jwcrypto) and give every key a distinct `kid`, ideally its RFC 7638 thumbprint.",
         (_rfc(7517, "9.2"), _rfc(7517, "4.5"), _rfc(7638, "3"),
          Source("OWASP JWT Cheat Sheet", _OWASP_JWT))),
    Rule("KEY-JWKS-HTTPS", "Issuer and key URLs are https", H, K,
         "The issuer and its `jwks_uri` are https URLs; keys come only from configured "
         "sources.",
         "Serve the issuer metadata and JWKS over https.",
         (_rfc(8414, "2"), _rfc(8725, "3.8"), _rfc(8725, "3.10"))),
)

for _rule in _RULES:
    register(_rule)
del _rule
