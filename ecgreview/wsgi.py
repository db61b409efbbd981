"""WSGI entry point (gunicorn ecgreview.wsgi:application; runserver loads it too, as WSGI_APPLICATION)."""

import os
from importlib import import_module

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")

application = get_wsgi_application()

# The signal filters are imported where a signal is first filtered, so that a manage command, a worker and
# a test process start in 2 s rather than 6. In a web process that place is the reading context of the
# first exam a reader opens, which waited 2.5 s for scipy on every worker after each restart: a server
# pays it here, before it listens. The file-format readers stay lazy: an import is a long job anyway.
for _module in ("scipy.signal", "scipy.ndimage"):
    import_module(_module)

# The URL conf imports every view and what they use (1.4 s on a 2-core machine), and Django loads it at a
# process's first request: paid here too, so that no user's first request after a restart waits for it.
_patterns = get_resolver().url_patterns
