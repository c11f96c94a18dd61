"""Catalog: APIs, versions, spec revisions and uploads, the stage machine (:mod:`.stages`),
the token profile a spec declares, and the spec evidence provider."""
