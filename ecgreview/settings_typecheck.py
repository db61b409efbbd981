"""Settings django-stubs imports while mypy runs (it reads INSTALLED_APPS and the models from them).

The real settings module, with the laptop defaults it already has for DEBUG: mypy then runs with no
environment at all, and an operator's variables, when set, are read as they are.
"""

import os

os.environ.setdefault("DEBUG", "1")

from ecgreview.settings import *  # noqa: F403
