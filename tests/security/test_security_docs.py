"""docs/security.md backs its claims with tests: every test link names an existing test
function, and every section links to at least one."""

from __future__ import annotations

import ast
import functools
import pathlib
import re

ROOT = pathlib.Path(__file__).parents[2]
DOC = ROOT / "docs" / "security.md"
LINK = re.compile(r"\]\((\.\./tests/[\w/]+\.py)#(test_\w+)\)")
# Sections that hold reference material (a table, the example) rather than claims.
NO_CLAIMS = {"## Running it", "## Flags and environment", "### Top level"}


@functools.cache
def defined_tests(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_link_in_the_security_docs_names_an_existing_test() -> None:
    """Each `[test](../tests/…py#test_name)` resolves to a test function in that file."""
    text = DOC.read_text()
    links = LINK.findall(text)
    assert len(links) >= 60
    missing = []
    for target, name in set(links):
        path = (DOC.parent / target).resolve()
        if not path.is_file() or name not in defined_tests(path):
            missing.append(f"{target}#{name}")
    assert missing == []


def test_every_section_of_the_security_docs_links_a_test() -> None:
    """No section (## or ###) makes claims without pointing at a test."""
    sections = re.split(r"^(#{2,3} .+)$", DOC.read_text(), flags=re.MULTILINE)
    bare = [
        heading
        for heading, body in zip(sections[1::2], sections[2::2], strict=True)
        if heading not in NO_CLAIMS and not LINK.search(body)
    ]
    assert bare == []
