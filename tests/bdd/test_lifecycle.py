"""Scenarios of features/lifecycle/: promotion gating and demotion (steps in conftest.py)."""

from pytest_bdd import scenarios

scenarios("lifecycle/promotion_gating.feature", "lifecycle/demotion.feature")
