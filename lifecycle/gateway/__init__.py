"""Gateway enforcement of the token policy (issue 11): the nginx ``auth_request`` validator,
the attack matrix, and (branch ``gwproof``) configuration rendering and the proof.

This package imports only the standard library, third-party libraries, ``specs`` and
``policies`` — never Flask or other ``lifecycle`` modules.
"""
