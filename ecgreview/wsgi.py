"""WSGI entry point (gunicorn ecgreview.wsgi:application; runserver loads it too, as WSGI_APPLICATION)."""

import os
from importlib import import_module

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")

application = get_wsgi_application()

# The signal filters are imported where a signal is first filtered, so that a manage command, a worker and
# a test process start in 2 s rather than 6. In a web process that place is the reading context of the
# first exam a reader opens, which waited 2.5 s for scipy on every worker after each restart: a server
# pays it here, before it listens. The file-format readers stay lazy: an import is a long job anyway.
for _module in ("scipy.signal", "scipy.ndimage"):
    import_module(_module)
