"""The htmx web UI: board, API and version pages, rule catalog (blueprint ``web``).

Server-rendered pages; htmx swaps fragments of them.  Every page works as plain HTML forms
with JavaScript off (post-redirect-get with 303).  Views only parse forms, call one
:mod:`lifecycle.services` function and choose what to render.
"""

from lifecycle.web.views import bp

__all__ = ["bp"]
