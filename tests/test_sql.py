"""The named-query loader, and that code and sql/queries/*.sql agree on the names."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

import pytest

from fanfare.infra import sql

ROOT = Path(__file__).resolve().parent.parent
FOLDER = resources.files("fanfare") / "sql" / "queries"


def test_parse_reads_each_named_query_without_its_description():
    text = (
        "-- header comment\n\n"
        "-- name: one\n-- The first.\nSELECT 1\n  FROM t\n\n"
        "-- name: two\n-- The second.\nSELECT %s\n"
    )
    assert sql.parse(text, "x.sql") == {"one": "SELECT 1\n  FROM t", "two": "SELECT %s"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("-- name: a\n-- A.\nSELECT 1\n-- name: a\n-- A again.\nSELECT 2\n", "second query"),
        ("-- name: a\nSELECT 1\n", "saying what it does"),
        ("-- name: a\n-- A.\n\n", "has no SQL"),
        ("SELECT 1\n-- name: a\n-- A.\nSELECT 1\n", "before the first"),
        ("-- name: Not-One\n-- A.\nSELECT 1\n", "identifier"),
    ],
)
def test_parse_refuses_a_file_that_is_off(text, error):
    with pytest.raises(ValueError, match=error):
        sql.parse(text, "x.sql")


def test_an_unknown_name_is_an_attribute_error_that_names_the_file():
    queries = sql.queries("catalog")
    assert queries is sql.queries("catalog")  # read once
    with pytest.raises(AttributeError, match=r"catalog\.sql has no query named 'nope'"):
        _ = queries.nope


def _uses() -> dict[str, set[str]]:
    """{domain: names} for every `Q = sql.queries("domain")` and `Q.name` in the code."""
    uses: dict[str, set[str]] = {}
    for path in [*(ROOT / "site" / "fanfare").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        handles = {}
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "sql.queries"
            ):
                handles[node.targets[0].id] = node.value.args[0].value
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in handles
            ):
                uses.setdefault(handles[node.value.id], set()).add(node.attr)
    return uses


def test_every_query_the_code_names_exists_and_every_query_is_used():
    files = {entry.name.removesuffix(".sql") for entry in FOLDER.iterdir()}
    uses = _uses()
    assert set(uses) == files
    for domain in files:
        assert set(sql.queries(domain).__dict__) - {"_source"} == uses[domain], domain
