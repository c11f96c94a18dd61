"""The htmx web UI: board, API and version pages, rule catalog (blueprint ``web``).

Server-rendered pages; htmx swaps fragments of them.  Every page works as plain HTML forms
with JavaScript off (post-redirect-get with 303).  Views only parse forms, call one
:mod:`lifecycle.services` function and choose what to render.
"""

from lifecycle.web import approvals as _approvals  # noqa: F401,I001 - approval/waiver views
from lifecycle.web import evidence as _evidence  # noqa: F401 - registers its views on bp
from lifecycle.web.views import bp

__all__ = ["bp"]
