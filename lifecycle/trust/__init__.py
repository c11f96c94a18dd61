"""Trust: the signing keys of gate records and the signed (JWS) gate records themselves."""
