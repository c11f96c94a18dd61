"""gunicorn settings, read from the working directory (``gunicorn wsgi:app``).

Refuses to start several workers with in-memory rate-limit counters: each worker would
count on its own, multiplying every limit by the number of workers (issue 9.3).  Set
``STAGEGATE_RATELIMIT_STORAGE_URI=redis://host:port`` to run more than one worker.
"""

import os

from lifecycle.web.limits import check_workers


def on_starting(server):
    """Before the master forks any worker: refuse leaking rate limits."""
    check_workers(int(server.cfg.workers), os.environ.get("STAGEGATE_RATELIMIT_STORAGE_URI"))
