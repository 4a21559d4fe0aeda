"""The reduce of Parquet partials, as the blocks of reduce.sql.

Shared by train_spark.py (Spark SQL) and reduce_duckdb.py (DuckDB)."""

import os

SQL_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reduce.sql")

# The tables of a Parquet partial (dpi-train/src/train/partial_parquet.rs).
TABLES = [
    "settings",
    "captures",
    "names",
    "groups",
    "samples",
    "sample_counts",
    "sample_captures",
    "contents",
    "hosts",
    "sketch_mins",
]


class ReduceError(Exception):
    """The partials cannot be merged (the message says why)."""


def blocks(u64_type):
    """The (kind, name, sql) blocks of reduce.sql in order; kind is
    'check', 'view' or 'table'."""
    with open(SQL_FILE, encoding="utf-8") as f:
        text = f.read()
    out = []
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        marker = None
        for kind in ("check", "view", "table"):
            prefix = "-- %s:" % kind
            if stripped.startswith(prefix):
                marker = (kind, stripped[len(prefix):].strip())
        if marker:
            current = [marker[0], marker[1], []]
            out.append(current)
        elif stripped.startswith("--") or current is None:
            continue
        else:
            current[2].append(line)
    return [
        (kind, name, "\n".join(lines).strip().replace("{u64}", u64_type))
        for kind, name, lines in out
    ]


def table_path(partial, table):
    """Where a partial keeps a table: a file, or a directory of files."""
    return os.path.join(partial, table + ".parquet")


def check_partials(partials):
    """Every partial is a directory holding every table."""
    if not partials:
        raise ReduceError("no partials to reduce")
    for p in partials:
        for t in TABLES:
            if not os.path.exists(table_path(p, t)):
                raise ReduceError(
                    "%s: table %s missing (not a Parquet partial of dpi train --partial --format parquet)"
                    % (table_path(p, t), t)
                )
