"""The README stays short and every relative link in it and in docs/ leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import REPO

README_LIMIT = 10 * 1024  # bytes: what it is, the two commands, configuration, links
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# [text](target) or [text](target#anchor); URLs with a scheme are not ours to check.
LINK = re.compile(r"\]\((?![a-z]+:)([^)#\s]*)(?:#([^)\s]*))?\)")
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)


# The tool registry's page is written on the registry's own branch; drop this once it lands.
def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_at_most_10_kb() -> None:
    assert len((REPO / "README.md").read_bytes()) <= README_LIMIT


def test_the_docs_pages_exist() -> None:
    names = {page.name for page in PAGES}
    expected = {"architecture.md", "operations.md", "api.md", "benchmarks.md", "faults.md"}
    assert expected | {"testing.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target, fragment in LINK.findall(page.read_text(encoding="utf-8")):
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(target)
        elif fragment and path.suffix == ".md":
            anchors = {anchor(h) for h in HEADING.findall(path.read_text(encoding="utf-8"))}
            if fragment not in anchors:
                broken.append(f"{target}#{fragment}")
    assert not broken
