"""The static files storage of production: WhiteNoise's compressed manifest storage (hashed names, served
for a year), which also rewrites the relative imports of the page modules (static/js, ES modules loaded
natively, with no bundler) to the hashed names. Without it a page module's `import "./viewer.js"` would
name the unhashed file: after an upgrade a browser could pair the new page module with a viewer.js it
kept, and two names of one file would be two instances of one module."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
