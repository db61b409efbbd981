"""The page scripts are ES modules loaded natively (no bundler): they share code by import only, never by a
window global, every template loads them as modules, and collectstatic's manifest storage rewrites their
relative imports to the hashed names it serves in production, so that a browser never pairs a new page
module with an old one it kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
TEMPLATES = ROOT / "templates"

# Every way one of our scripts could make or read a global of its own: an assignment to a property of
# window, globalThis or self (window.EcgPlot = ..., window["x"] = ...), or a classic script's wrapper
# that hands window to its body as root.
GLOBAL_WRITE = re.compile(
    r"\b(?:window|globalThis|self)\s*(?:\.\s*[A-Za-z_$][\w$]*|\[[^\]]+\])\s*=(?!=)"
    r"|Object\.(?:assign|defineProperty|defineProperties)\(\s*(?:window|globalThis|self)\b"
    r"|\}\)\(\s*(?:window|this|typeof window)"
)
# A relative import or re-export of a module (static, not dynamic): what the browser fetches.
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?(?:\bfrom\s*)?["'](\.{1,2}/[^"']+)["']""", re.M)
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)
STATIC_SRC = re.compile(r"""src="\{% static '([^']+)' %\}\"""")


def scripts() -> list[Path]:
    return sorted(JS.rglob("*.js"))


def imports_of(path: Path) -> list[str]:
    return IMPORT.findall(path.read_text(encoding="utf-8"))


def test_no_script_of_ours_sets_a_window_global():
    found = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for path in scripts()
        for text in [path.read_text(encoding="utf-8")]
        for m in GLOBAL_WRITE.finditer(text)
    ]
    assert found == []


def test_the_check_for_window_globals_finds_each_way_of_setting_one():
    """The pattern above, on what the scripts did before they were modules, and on what they do now."""
    for written in (
        "root.EcgPlot = {}; })(window);",
        "window.EcgBatchSuggestions = { refresh: refresh };",
        "globalThis.Search = api;",
        'window["EcgPoll"] = x;',
        "Object.assign(window, { a: 1 });",
        "})(typeof window !== 'undefined' ? window : this);",
    ):
        assert GLOBAL_WRITE.search(written), written
    for allowed in (
        "if (window.Plotly === undefined) return;",
        "window.location.assign(url);",
        "window.addEventListener('resize', later);",
        "var found = globalThis.Plotly;",
    ):
        assert not GLOBAL_WRITE.search(allowed), allowed


def test_every_template_loads_our_scripts_as_modules():
    classic = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        for tag in SCRIPT_TAG.findall(template.read_text(encoding="utf-8")):
            src = STATIC_SRC.search(tag)
            if src and src.group(1).startswith("js/") and 'type="module"' not in tag:
                classic.append(f"{template.relative_to(ROOT)}: {tag}")
    assert classic == []


def test_the_check_for_classic_script_tags_finds_one():
    tag = """<script src="{% static 'js/pages/print.js' %}"></script>"""
    assert STATIC_SRC.search(tag) and 'type="module"' not in tag
    vendor = """<script src="{% static 'vendor/plotly/plotly-basic.min.js' %}"></script>"""
    assert not STATIC_SRC.search(vendor).group(1).startswith("js/")


def test_every_relative_import_names_a_module_that_exists():
    missing = [
        f"{path.relative_to(ROOT)} imports {spec}"
        for path in scripts()
        for spec in imports_of(path)
        if not (path.parent / spec).resolve().is_file()
    ]
    assert missing == []


def module_graph(entry: Path) -> set[Path]:
    """Every module the browser loads for an entry module: itself and what it imports, all the way down."""
    seen: set[Path] = set()
    todo = [entry.resolve()]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [(path.parent / spec).resolve() for spec in imports_of(path)]
    return seen


def test_the_reader_page_preloads_every_module_it_runs():
    """The reader page names all its modules in its head (modulepreload), so that the browser fetches them
    at once rather than a level of imports at a time; a module added to the page without its line there
    would be fetched late, and one left there after it went is fetched for nothing."""
    html = (TEMPLATES / "annotations" / "reading" / "reader.html").read_text(encoding="utf-8")
    preloaded = {
        (ROOT / "static" / href).resolve()
        for href in re.findall(r"""<link rel="modulepreload" href="\{% static '([^']+)' %\}">""", html)
    }
    waveform = (JS / "pages" / "reading-waveform.js").resolve()  # its own async script tag, in the head
    assert preloaded == module_graph(JS / "pages" / "reading.js") - {waveform}
    assert "js/pages/reading-waveform.js" in html and waveform in module_graph(JS / "pages" / "reading.js")


def collect(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """collectstatic as the image builds it (the manifest storage of production) into a folder of its own;
    the folder and the manifest's original -> hashed names."""
    root = tmp_path / "static"
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DEBUG": "1",  # nothing else of production is needed to collect; the storage is said outright
        "STATIC_MANIFEST": "1",
        "VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(root),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return root, json.loads((root / "staticfiles.json").read_text())["paths"]


def test_collectstatic_points_each_modules_imports_at_hashed_files_that_exist(tmp_path):
    root, paths = collect(tmp_path)
    hashed = set(paths.values())
    entry = paths["js/pages/reading.js"]
    served = (root / entry).read_text(encoding="utf-8")
    specs = IMPORT.findall(served)
    assert specs, "the served reader module imports nothing: the pattern above no longer reads it"
    wrong = []
    for original, name in paths.items():
        if not original.startswith("js/") or not original.endswith(".js"):
            continue
        for spec in IMPORT.findall((root / name).read_text(encoding="utf-8")):
            target = str(PurePosixPath(name).parent.joinpath(spec))
            target = os.path.normpath(target).replace(os.sep, "/")
            if target not in hashed or not (root / target).is_file():
                wrong.append(f"{name} imports {spec}")
    # Django reads the word import (any case) then "from './x.js'" as an import statement even where the
    # word is in a comment above, and leaves that "statement" alone, the real import with it: word such a
    # comment otherwise (imports.js's header said "Import job page: ...").
    assert wrong == []
    # The page module imports the waveform module by the very name the template's tag loads, so the two
    # are one module, run once, whose request the page's drawing reads.
    waveform = paths["js/pages/reading-waveform.js"]
    assert f'"./{PurePosixPath(waveform).name}"' in served


def test_the_reader_pages_parts_import_only_the_ecg_package_and_the_pages_helpers():
    """pages/reading.js makes the page of its parts and wires them (each part's create(page)); a part that
    imported another would make a second way in, and a cycle among them an order of evaluation to get
    wrong."""
    parts = sorted((JS / "pages" / "reading").glob("*.js"))
    assert len(parts) > 5
    wrong = [
        f"{path.name} imports {spec}"
        for path in parts
        for spec in imports_of(path)
        if not spec.startswith("../../ecg/") and spec != "./page.js"
    ]
    assert wrong == []
