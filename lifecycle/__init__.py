"""Stagegate web application (Flask).

The composition root is :mod:`lifecycle.app` (``create_app``); this package module imports
nothing, so importing any feature package never drags the entrypoints in.
``docs/ARCHITECTURE.md`` draws the packages and their allowed dependencies.
"""
