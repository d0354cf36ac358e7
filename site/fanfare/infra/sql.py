"""Named SQL queries, kept in sql/queries/<domain>.sql beside the migrations.

Every statement that reads or writes a table lives in one of those files, under a
`-- name: some_name` line and a `--` line saying what it does (further `--` lines before the
SQL may say why; none of them is sent). Code asks for it as `Q = sql.queries("catalog")`, then
`Q.current_event`: a str, for psycopg. Only statements that name no table stay inline
(`SELECT 1`, `SELECT now() AS now`, the advisory locks).

A query that a caller completes at run time is a template: the braces in it (`{table}`,
`{where}`) mark the identifiers or the tail it takes, which the caller fills with `str.format`
from fixed strings in code, never from input. Values always travel as %s parameters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import psycopg
from psycopg.rows import dict_row

NAME = re.compile(r"--\s*name:\s*(\S*)\s*$")
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


class Queries:
    """The queries of one file, as attributes; a name the file lacks raises AttributeError."""

    def __init__(self, source: str, texts: dict[str, str]) -> None:
        self.__dict__.update(texts, _source=source)

    def __getattr__(self, name: str) -> str:
        # Only called for a name that is not a query (nor any other attribute).
        known = [query for query in self.__dict__ if not query.startswith("_")]
        raise AttributeError(
            f"{self.__dict__.get('_source')} has no query named {name!r}; it has {', '.join(known)}"
        )


def parse(text: str, source: str) -> dict[str, str]:
    """Every `-- name:` query of a file's text, in order; raise ValueError where it is off."""
    found: dict[str, list[str]] = {}
    described: set[str] = set()
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{source}:{number}"
        match = NAME.match(line.strip())
        if match:
            current = match.group(1)
            if not IDENTIFIER.fullmatch(current):
                raise ValueError(f"{where}: {current!r} is not a lowercase identifier")
            if current in found:
                raise ValueError(f"{where}: a second query named {current!r}")
            found[current] = []
        elif current is None:
            if line.strip() and not line.lstrip().startswith("--"):
                raise ValueError(f"{where}: SQL before the first `-- name:` line")
        elif not found[current] and line.lstrip().startswith("--"):
            described.add(current)  # the comment that says what it does
        elif found[current] or line.strip():
            found[current].append(line)
    queries = {}
    for name, lines in found.items():
        if name not in described:
            raise ValueError(f"{source}: {name!r} has no `--` line saying what it does")
        queries[name] = "\n".join(lines).strip()
        if not queries[name]:
            raise ValueError(f"{source}: {name!r} has no SQL")
    return queries


@cache
def queries(domain: str) -> Queries:
    """The named queries of sql/queries/<domain>.sql, read once per process."""
    source = f"sql/queries/{domain}.sql"
    text = (resources.files("fanfare") / "sql" / "queries" / f"{domain}.sql").read_text()
    return Queries(source, parse(text, source))


def rows(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> list[dict]:
    """Run a query with dict rows, whatever the connection's row factory is."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def one(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> dict | None:
    """The first row of a query as a dict, or None."""
    found = rows(conn, query, params)
    return found[0] if found else None
