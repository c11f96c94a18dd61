"""Evidence: managed encryption keys (:mod:`.keys`), issuer JWKS and sample-token analyses
with their replay cache (:mod:`.services`), and the JWKS / token evidence providers."""
