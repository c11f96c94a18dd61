"""The pydantic-free settings of the validator libraries (``specs._settings``) read the
environment exactly as the libraries' own pydantic-settings classes do."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import openapi_schema_validator
import openapi_spec_validator
import pytest

from specs import _settings


def _original(package: ModuleType, name: str) -> Any:
    """The library's own ``settings.py``, loaded beside the replacement."""
    path = Path(package.__file__ or "").parent / "settings.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_spec() -> Any:
    return _original(openapi_spec_validator, "_real_spec_settings")


@pytest.fixture(scope="module")
def real_schema() -> Any:
    return _original(openapi_schema_validator, "_real_schema_settings")


def test_the_libraries_import_the_replacements() -> None:
    assert _settings.installed()
    assert sys.modules[_settings.SPEC_MODULE].OpenAPISpecValidatorSettings is \
        _settings.OpenAPISpecValidatorSettings
    assert sys.modules[_settings.SCHEMA_MODULE].get_settings is _settings.get_settings


@pytest.mark.parametrize("maxsize", [None, "256", "0", "-1", "abc", " 12 ", "1e3", ""])
@pytest.mark.parametrize("backend", [None, "jsonschema", " JSONSCHEMA-RS ", "Auto", "bogus", ""])
def test_spec_settings_match(monkeypatch: pytest.MonkeyPatch, real_spec: Any,
                             maxsize: str | None, backend: str | None) -> None:
    for var, value in (("OPENAPI_SPEC_VALIDATOR_RESOLVED_CACHE_MAXSIZE", maxsize),
                       ("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", backend)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = real_spec.OpenAPISpecValidatorSettings()
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = _settings.OpenAPISpecValidatorSettings()
    assert got.resolved_cache_maxsize == expected.resolved_cache_maxsize
    assert got.schema_validator_backend == expected.schema_validator_backend
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


def test_variables_are_case_insensitive(monkeypatch: pytest.MonkeyPatch, real_spec: Any) -> None:
    monkeypatch.setenv("openapi_spec_validator_resolved_cache_maxsize", "7")
    assert real_spec.OpenAPISpecValidatorSettings().resolved_cache_maxsize == 7
    assert _settings.OpenAPISpecValidatorSettings().resolved_cache_maxsize == 7


@pytest.mark.parametrize("size", [None, "5", "0", " 9 ", "-1", "x", "1.5"])
def test_schema_settings_match(monkeypatch: pytest.MonkeyPatch, real_schema: Any,
                               size: str | None) -> None:
    var = "OPENAPI_SCHEMA_VALIDATOR_COMPILED_VALIDATOR_CACHE_MAX_SIZE"
    if size is None:
        monkeypatch.delenv(var, raising=False)
    else:
        monkeypatch.setenv(var, size)
    try:
        settings = real_schema.OpenAPISchemaValidatorSettings()
        expected: Any = settings.compiled_validator_cache_max_size
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError, match="COMPILED_VALIDATOR_CACHE_MAX_SIZE"):
            _settings.OpenAPISchemaValidatorSettings()
    else:
        assert _settings.OpenAPISchemaValidatorSettings().compiled_validator_cache_max_size == \
            expected
