#!/usr/bin/env python3
"""Merge Parquet partials of `dpi train --partial --format parquet` on one
machine with DuckDB: the SQL of reduce.sql, as train_spark.py runs it on
Spark. The output is a Parquet partial for `dpi train --from-partials`.

    python3 dpi-train/spark/reduce_duckdb.py -o MERGED PARTIAL_DIR...
"""

import argparse
import glob
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reduce_sql  # noqa: E402


def sources(partials, table):
    """The Parquet files of `table` in every partial."""
    files = []
    for p in partials:
        path = reduce_sql.table_path(p, table)
        if os.path.isdir(path):
            files.extend(sorted(glob.glob(os.path.join(path, "*.parquet"))))
        else:
            files.append(path)
    return files


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def reduce(partials, out, con=None):
    """Writes the merge of `partials` (directories) to the directory `out`."""
    import duckdb

    reduce_sql.check_partials(partials)
    con = con or duckdb.connect()
    for t in reduce_sql.TABLES:
        files = sources(partials, t)
        if not files:
            raise reduce_sql.ReduceError("no files of table %s in %s" % (t, partials))
        con.execute(
            "CREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet([%s])"
            % (t, ", ".join(quote(f) for f in files))
        )
    os.makedirs(out, exist_ok=True)
    for kind, name, sql in reduce_sql.blocks("UBIGINT"):
        if kind == "check":
            rows = con.execute(sql).fetchmany(5)
            if rows:
                raise reduce_sql.ReduceError("%s (%s)" % (name, rows))
        elif kind == "view":
            con.execute("CREATE OR REPLACE TEMP VIEW %s AS %s" % (name, sql))
        else:
            target = reduce_sql.table_path(out, name)
            con.execute(
                "COPY (%s) TO %s (FORMAT PARQUET, COMPRESSION SNAPPY)" % (sql, quote(target))
            )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True, help="directory of the merged partial")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 1GB")
    ap.add_argument("partials", nargs="+", help="Parquet partial directories")
    args = ap.parse_args()
    import duckdb

    con = duckdb.connect()
    if args.memory_limit:
        con.execute("SET memory_limit = %s" % quote(args.memory_limit))
    try:
        reduce(args.partials, args.output, con)
    except (reduce_sql.ReduceError, duckdb.Error) as e:
        print("reduce_duckdb: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
