"""Gateway verification: static checks of gateway configurations (nginx).

Framework-free (no Flask).  :func:`check_nginx` parses an uploaded or generated nginx
configuration bundle with crossplane — never reading the server's own disk — and evaluates
the gateway rules of :mod:`policies.gateway_rules` (GW-*, TRN-TLS-CONFIG), each failure
located by bundle file and line.
"""

from policies.gateway.nginx import (
    GatewayCheck,
    ProtectedLocation,
    bundle_sha256,
    check_nginx,
    failures_of,
    match_location,
)
from policies.gateway_rules import GATEWAY_RULE_IDS

__all__ = ["GATEWAY_RULE_IDS", "GatewayCheck", "ProtectedLocation", "bundle_sha256",
           "check_nginx", "failures_of", "match_location"]
