"""The validator libraries' two settings modules without pydantic (issue 10: import time).

openapi-spec-validator 0.9 and openapi-schema-validator 0.9 each read two or three
environment variables through a ``pydantic_settings.BaseSettings`` class.  Importing
pydantic-settings (with pydantic, pydantic-core, annotated-types and asyncio) is about a
third of ``stagegate check``'s import time: more than Redocly's whole lint of a 0.5 MB
document.  :func:`install` puts plain replacements of ``openapi_spec_validator.settings``
and ``openapi_schema_validator.settings`` into :data:`sys.modules` *before* either library
is imported, so the libraries import these instead.  Same names, same environment
variables (case-insensitive, as pydantic-settings reads them), same defaults and the same
normalisation:

- ``OPENAPI_SPEC_VALIDATOR_RESOLVED_CACHE_MAXSIZE``: an integer ≥ 0, anything else (not a
  number, negative) means the default 128;
- ``OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND``: ``auto``, ``jsonschema`` or
  ``jsonschema-rs`` (trimmed, any case); anything else warns (``UserWarning``) and means
  ``auto``;
- ``OPENAPI_SCHEMA_VALIDATOR_COMPILED_VALIDATOR_CACHE_MAX_SIZE``: an integer ≥ 0
  (default 128); anything else raises :class:`ValueError` when the settings are read, as
  pydantic's ``ValidationError`` (a ``ValueError``) did.

``tests/unit/specs/test_light_settings.py`` compares both with the libraries' own pydantic
classes.  When a library module was imported before :func:`install` ran (another import
path), nothing is replaced; the versions are pinned in ``pyproject.toml``.
"""

from __future__ import annotations

import functools
import os
import sys
import types
import warnings

SPEC_MODULE = "openapi_spec_validator.settings"
SCHEMA_MODULE = "openapi_schema_validator.settings"

ENV_PREFIX = "OPENAPI_SPEC_VALIDATOR_"
RESOLVED_CACHE_MAXSIZE_DEFAULT = 128
SCHEMA_VALIDATOR_BACKEND_DEFAULT = "auto"
SCHEMA_VALIDATOR_BACKEND_ALLOWED = {"auto", "jsonschema", "jsonschema-rs"}
SCHEMA_ENV_PREFIX = "OPENAPI_SCHEMA_VALIDATOR_"
COMPILED_VALIDATOR_CACHE_MAX_SIZE_DEFAULT = 128
_BACKEND_WARNING = ("Invalid value for OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND. "
                    "Expected one of: auto, jsonschema, jsonschema-rs. Falling back to auto.")


def _env(name: str) -> str | None:
    """The environment variable ``name``, case-insensitively (pydantic-settings' default)."""
    value = os.environ.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in os.environ.items() if k.lower() == wanted), None)


def _cache_maxsize(value: str | None) -> int:
    if value is None:
        return RESOLVED_CACHE_MAXSIZE_DEFAULT
    try:
        parsed = int(value)
    except ValueError:
        return RESOLVED_CACHE_MAXSIZE_DEFAULT
    return parsed if parsed >= 0 else RESOLVED_CACHE_MAXSIZE_DEFAULT


def _backend(value: str | None) -> str:
    if value is None:
        return SCHEMA_VALIDATOR_BACKEND_DEFAULT
    normalized = value.strip().lower()
    if normalized in SCHEMA_VALIDATOR_BACKEND_ALLOWED:
        return normalized
    warnings.warn(_BACKEND_WARNING, UserWarning, stacklevel=3)
    return SCHEMA_VALIDATOR_BACKEND_DEFAULT


class OpenAPISpecValidatorSettings:
    """``openapi_spec_validator.settings.OpenAPISpecValidatorSettings``: read from the
    environment when created.

    :ivar resolved_cache_maxsize: ``int`` ≥ 0 (default 128).
    :ivar schema_validator_backend: ``"auto"``, ``"jsonschema"`` or ``"jsonschema-rs"``.
    """

    def __init__(self) -> None:
        self.resolved_cache_maxsize = _cache_maxsize(
            _env(ENV_PREFIX + "RESOLVED_CACHE_MAXSIZE"))
        self.schema_validator_backend = _backend(_env(ENV_PREFIX + "SCHEMA_VALIDATOR_BACKEND"))


def get_resolved_cache_maxsize() -> int:
    """The library's function of the same name."""
    return OpenAPISpecValidatorSettings().resolved_cache_maxsize


def get_schema_validator_backend() -> str:
    """The library's function of the same name."""
    return OpenAPISpecValidatorSettings().schema_validator_backend


class OpenAPISchemaValidatorSettings:
    """``openapi_schema_validator.settings.OpenAPISchemaValidatorSettings``.

    :ivar compiled_validator_cache_max_size: ``int`` ≥ 0 (default 128).
    :raises ValueError: the variable is set to something else.
    """

    def __init__(self) -> None:
        name = SCHEMA_ENV_PREFIX + "COMPILED_VALIDATOR_CACHE_MAX_SIZE"
        value = _env(name)
        size = COMPILED_VALIDATOR_CACHE_MAX_SIZE_DEFAULT
        if value is not None:
            try:
                size = int(value.strip())
            except ValueError:
                raise ValueError(f"{name} must be an integer, not {value!r}") from None
            if size < 0:
                raise ValueError(f"{name} must be greater than or equal to 0, not {size}")
        self.compiled_validator_cache_max_size = size


@functools.lru_cache(maxsize=1)
def get_settings() -> OpenAPISchemaValidatorSettings:
    """The library's cached settings (one object until :func:`reset_settings_cache`)."""
    return OpenAPISchemaValidatorSettings()


def reset_settings_cache() -> None:
    """Read the environment again on the next :func:`get_settings`."""
    get_settings.cache_clear()


def _module(name: str, members: dict[str, object]) -> types.ModuleType:
    module = types.ModuleType(name, f"Stagegate's pydantic-free {name} ({__name__}).")
    module.__dict__.update(members)
    return module


def install() -> bool:
    """Register both replacements unless a library (or its settings) is imported already.

    :returns: whether the replacements are in place.
    """
    if any(name in sys.modules for name in (SPEC_MODULE, SCHEMA_MODULE, "openapi_spec_validator",
                                            "openapi_schema_validator")):
        return installed()
    sys.modules[SPEC_MODULE] = _module(SPEC_MODULE, {
        "ENV_PREFIX": ENV_PREFIX,
        "RESOLVED_CACHE_MAXSIZE_DEFAULT": RESOLVED_CACHE_MAXSIZE_DEFAULT,
        "SCHEMA_VALIDATOR_BACKEND_DEFAULT": SCHEMA_VALIDATOR_BACKEND_DEFAULT,
        "SCHEMA_VALIDATOR_BACKEND_ALLOWED": SCHEMA_VALIDATOR_BACKEND_ALLOWED,
        "OpenAPISpecValidatorSettings": OpenAPISpecValidatorSettings,
        "get_resolved_cache_maxsize": get_resolved_cache_maxsize,
        "get_schema_validator_backend": get_schema_validator_backend,
    })
    sys.modules[SCHEMA_MODULE] = _module(SCHEMA_MODULE, {
        "OpenAPISchemaValidatorSettings": OpenAPISchemaValidatorSettings,
        "get_settings": get_settings,
        "reset_settings_cache": reset_settings_cache,
    })
    return True


def installed() -> bool:
    """Whether the libraries use these replacements."""
    spec = sys.modules.get(SPEC_MODULE)
    return spec is not None and getattr(spec, "get_settings", None) is None and \
        getattr(spec, "OpenAPISpecValidatorSettings", None) is OpenAPISpecValidatorSettings


install()
