"""The README and docs/ say what the project does: the two commands CI runs, make targets, bench scripts and
management commands that exist, and links to pages and headings that are there. `make docs` builds the
same pages with MkDocs in strict mode (.ci/run); the README, outside MkDocs' tree, is checked here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]


def _prose(text: str) -> str:
    """The Markdown without fenced code blocks: a command shown as an example is not a link."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(page: Path) -> set[str]:
    """Heading ids as MkDocs (Python-Markdown's toc) makes them, from the heading's text without markup."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", _prose(page.read_text(encoding="utf-8")), flags=re.M)
    return {slugify(re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading), "-") for heading in headings}


def _links(page: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", _prose(page.read_text(encoding="utf-8")))
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_the_readme_gives_the_two_commands_and_ci_runs_exactly_its_test_command():
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## Two commands") :]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines() if line.strip()]
    assert ci[-1] == commands[1], "CI's last step is the test command the README gives"
    assert "make docs" in ci[: ci.index(commands[1])]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_reaches_a_file_and_heading_that_exist(page):
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(link)
    assert not broken, broken


def test_every_make_target_bench_script_and_management_command_named_exists():
    from django.core.management import get_commands

    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    assert set(re.findall(r"`make ([a-z][\w-]*)", text)) - targets == set()
    assert {s for s in re.findall(r"\bbench/\w+\.py", text) if not (ROOT / s).is_file()} == set()
    commands = set(re.findall(r"manage\.py (\w+)", text))
    assert commands and commands - set(get_commands()) == set()


def test_the_docs_build_as_a_site_with_no_broken_link(tmp_path):
    """What `make docs` runs, into a folder of the test's own."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
