"""Gateway enforcement of the token policy (issue 11): the nginx ``auth_request`` validator,
the attack matrix, configuration rendering, the proof, the offline
``stagegate gateway render|check|prove`` commands (:mod:`lifecycle.gateway.cli`), and the
validator as a service over the database (``stagegate validator``).

The validator, attacks, render, nginx, proof and cli modules import only the standard
library, third-party libraries, ``specs``, ``policies`` and each other — never Flask or other
``lifecycle`` packages.  The service modules (``models``, ``trust``, ``stores``, ``service``,
``serve``) read the database: they may import ``lifecycle.evidence``, ``catalog`` and ``core``
(the ``gateway`` layer sits above ``evidence | trust``; ``docs/gateway-validator.md``).
"""
