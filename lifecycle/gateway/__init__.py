"""Gateway enforcement of the token policy (issue 11): the nginx ``auth_request`` validator,
the attack matrix, configuration rendering, the proof, and the offline
``stagegate gateway render|check|prove`` commands (:mod:`lifecycle.gateway.cli`).

This package imports only the standard library, third-party libraries, ``specs`` and
``policies`` — never Flask or other ``lifecycle`` modules.
"""
