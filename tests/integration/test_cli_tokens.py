"""``stagegate token inspect`` and ``stagegate jwks check``: offline, exit 0/1/2, three
formats, never printing the token or key material."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from evidencekit import SPEC, Issuer
from jwcrypto import jwk

from lifecycle.cli import main


@pytest.fixture
def files(tmp_path):
    """Recipient key (JWK and PEM), the issuer's JWKS, the spec; and a good token."""
    issuer = Issuer()
    recipient = jwk.JWK.generate(kty="RSA", size=3072, use="enc", alg="RSA-OAEP-256")
    recipient["kid"] = recipient.thumbprint()
    paths = {
        "key": tmp_path / "key.json", "pem": tmp_path / "key.pem",
        "jwks": tmp_path / "issuer.json", "spec": tmp_path / "openapi.yaml",
    }
    paths["key"].write_text(recipient.export_private())
    paths["pem"].write_bytes(recipient.export_to_pem(private_key=True, password=None))
    paths["jwks"].write_text(json.dumps(issuer.jwks()))
    paths["spec"].write_bytes(SPEC)
    public = {"keys": [recipient.export_public(as_dict=True)]}
    return issuer, recipient, public, {k: str(v) for k, v in paths.items()}


def inspect(token: str, paths: dict[str, str], *extra: str, key: str = "key"):
    args = ["token", "inspect", "-", "--key", paths[key], "--issuer-jwks", paths["jwks"],
            "--spec", paths["spec"], *extra]
    return CliRunner().invoke(main, args, input=token)


def test_a_good_token_passes_in_every_format(files):
    issuer, recipient, public, paths = files
    token = issuer.token(public)
    text = inspect(token, paths)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("PASS: token sha256:")
    report = json.loads(inspect(token, paths, "--format", "json").stdout)
    assert report["passed"] is True and report["token"]["claims"]["sub"] == "[redacted]"
    sarif = json.loads(inspect(token, paths, "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["properties"]["passed"] is True
    for out in (text.output, json.dumps(report), json.dumps(sarif)):
        assert token not in out and recipient["d"] not in out and recipient["p"] not in out


def test_a_pem_key_takes_its_alg_from_the_spec(files):
    issuer, _, public, paths = files
    result = inspect(issuer.token(public), paths, key="pem")
    assert result.exit_code == 0, result.output


def test_the_token_may_be_an_argument(files):
    issuer, _, public, paths = files
    result = CliRunner().invoke(main, ["token", "inspect", issuer.token(public), "--key",
                                       paths["key"], "--issuer-jwks", paths["jwks"],
                                       "--spec", paths["spec"]])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("make", "rule"), [
    (lambda i, public: i.signed(i.claims()), "TOK-NESTED-JWE"),
    (lambda i, public: i.token(public, aud="https://other.example"), "CLM-AUD"),
    (lambda i, public: "garbage", "TOK-SYNTAX"),
])
def test_blocking_findings_exit_1_and_name_the_rule(files, make, rule):
    issuer, _, public, paths = files
    result = inspect(make(issuer, public), paths)
    assert result.exit_code == 1, result.output
    assert rule in result.stdout and "How to fix" in result.stdout
    report = json.loads(inspect(make(issuer, public), paths, "--format", "json").stdout)
    assert rule in {f["rule_id"] for f in report["findings"] if f["blocking"]}


def test_unreadable_inputs_exit_2(files, tmp_path):
    issuer, _, public, paths = files
    token = issuer.token(public)
    broken = tmp_path / "broken.txt"
    broken.write_text("not a key")
    public_only = tmp_path / "public.json"
    public_only.write_text(json.dumps(public["keys"][0]))
    for override in ({"key": str(broken)}, {"key": str(public_only)},
                     {"key": str(tmp_path / "missing")}, {"jwks": str(broken)},
                     {"spec": str(broken)}):
        result = inspect(token, {**paths, **override})
        assert result.exit_code == 2, (override, result.output)
        assert result.stdout == "" and "Traceback" not in result.output
    assert inspect("  ", paths).exit_code == 2


# ------------------------------------------------------------------------------ jwks check
def jwks_check(tmp_path, data, *extra):
    path = tmp_path / "jwks.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return CliRunner().invoke(main, ["jwks", "check", str(path), *extra])


def test_jwks_check_passes_a_good_set(tmp_path):
    result = jwks_check(tmp_path, Issuer().jwks())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PASS: JWKS")


def test_jwks_check_blocks_private_members_without_printing_them(tmp_path):
    issuer = Issuer()
    for fmt in ("text", "json", "sarif"):
        result = jwks_check(tmp_path, issuer.jwks_with_private_members(), "--format", fmt)
        assert result.exit_code == 1
        assert "KEY-JWKS-HYGIENE" in result.stdout
        assert issuer.key["d"] not in result.output


@pytest.mark.parametrize("data", ["not json", "[]", '{"keys": {}}', '{"keys": []}'])
def test_jwks_check_exits_2_on_unreadable_sets(tmp_path, data):
    result = jwks_check(tmp_path, data)
    assert result.exit_code == 2 and result.stdout == ""
    assert "Traceback" not in result.output


def test_jwks_check_of_a_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["jwks", "check", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "cannot read" in result.stderr
