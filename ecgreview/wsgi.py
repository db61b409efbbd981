"""WSGI entry point (gunicorn ecgreview.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")

application = get_wsgi_application()
