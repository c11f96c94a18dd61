"""The API gateway: generated nginx configuration, the token validator, the proof (issue 11).

Framework-free: imports only the standard library, third-party libraries, :mod:`specs`,
:mod:`policies` and sibling modules (never Flask or other ``lifecycle`` modules).
"""
