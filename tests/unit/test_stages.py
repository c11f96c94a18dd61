"""The pure stage machine of lifecycle.catalog.stages (no app, no database)."""

import pytest

from lifecycle.catalog.stages import STAGES, Kind, next_stage, plan, previous_stages
from lifecycle.core.errors import InvalidTransition


def test_stages_are_in_lifecycle_order():
    assert STAGES == ("design", "development", "testing", "deployment", "retirement")


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("design", "development"), ("development", "testing"), ("testing", "deployment"),
     ("deployment", "retirement"), ("retirement", None)],
)
def test_next_stage(stage, expected):
    assert next_stage(stage) == expected


def test_previous_stages_are_every_earlier_stage_and_none_from_retirement():
    assert previous_stages("design") == ()
    assert previous_stages("deployment") == ("design", "development", "testing")
    assert previous_stages("retirement") == ()


@pytest.mark.parametrize(("src", "dst"), [("design", "development"), ("development", "testing"),
                                         ("testing", "deployment")])
def test_promotion_is_exactly_one_stage_forward_and_gated(src, dst):
    move = plan(src, dst)
    assert (move.kind, move.gated, move.reason) == (Kind.PROMOTION, True, None)


@pytest.mark.parametrize(("src", "dst"), [("design", "testing"), ("design", "deployment"),
                                         ("development", "deployment")])
def test_promotion_cannot_skip_a_stage(src, dst):
    with pytest.raises(InvalidTransition, match="one stage at a time"):
        plan(src, dst)


def test_demotion_to_any_earlier_stage_needs_a_reason():
    with pytest.raises(InvalidTransition, match="needs a reason"):
        plan("deployment", "design")
    with pytest.raises(InvalidTransition, match="needs a reason"):
        plan("testing", "development", reason="   ")
    move = plan("deployment", "design", reason="  broken key rotation ")
    assert (move.kind, move.gated, move.reason) == (Kind.DEMOTION, False, "broken key rotation")


def test_retirement_from_deployment_is_a_gated_sunset_without_mandatory_reason():
    move = plan("deployment", "retirement")
    assert (move.kind, move.gated) == (Kind.RETIREMENT, True)


@pytest.mark.parametrize("src", ["design", "development", "testing"])
def test_abandoning_before_deployment_needs_a_reason_and_is_not_gated(src):
    with pytest.raises(InvalidTransition, match="abandons"):
        plan(src, "retirement")
    move = plan(src, "retirement", reason="superseded")
    assert (move.kind, move.gated, move.reason) == (Kind.RETIREMENT, False, "superseded")


@pytest.mark.parametrize("dst", ["design", "deployment", "retirement"])
def test_retirement_is_terminal(dst):
    with pytest.raises(InvalidTransition, match="terminal"):
        plan("retirement", dst, reason="bring it back")


def test_same_stage_and_unknown_stage_are_refused():
    with pytest.raises(InvalidTransition, match="already in testing"):
        plan("testing", "testing")
    with pytest.raises(InvalidTransition, match="Unknown stage") as info:
        plan("design", "production")
    assert (info.value.from_stage, info.value.to_stage) == ("design", "production")


def test_an_overlong_reason_is_refused():
    with pytest.raises(InvalidTransition, match="too long"):
        plan("testing", "design", reason="x" * 2001)
