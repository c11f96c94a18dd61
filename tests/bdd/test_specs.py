"""Scenarios of features/specs/: unreadable uploads (steps in conftest.py)."""

from pytest_bdd import scenarios

scenarios("specs/upload_errors.feature")
