"""The JWE/JWS objects of :mod:`policies.tokens.nested` share only jwcrypto's read-only
header registry (the speed fix of issue 10), never per-token state."""

from __future__ import annotations

from jwcrypto import jwe, jws

from policies.tokens import nested


def test_fresh_objects_look_like_new_ones():
    for template, cls in ((nested._JWE_TEMPLATE, jwe.JWE), (nested._JWS_TEMPLATE, jws.JWS)):
        made, plain = nested._fresh(template), cls()
        assert type(made) is cls and set(vars(made)) == set(vars(plain))
        assert made.header_registry is template.header_registry
        assert made.objects is not template.objects and made.objects == plain.objects


def test_analyses_do_not_leak_state_into_each_other(kit):
    first, second = kit.nested("ecdh-kw"), kit.nested("rsa", "PS256")
    assert kit.check(first, "ecdh-kw").passed
    assert kit.check(second, "rsa", "PS256").passed
    assert nested._JWE_TEMPLATE.objects == {} and nested._JWS_TEMPLATE.objects == {"payload": None}
    assert nested._JWE_TEMPLATE.plaintext is None
