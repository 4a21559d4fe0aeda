#!/usr/bin/env python3
"""Train signatures on Spark: the map step (`dpi train --partial --format
parquet`, one Spark task per shard of the captures), the reduce (the SQL
of reduce.sql on Spark SQL), then mining (`dpi train --from-partials`).

    python3 dpi-train/spark/train_spark.py --master 'local[2]' \\
        --corpus DIR [--corpus DIR ...] --reference ndpi \\
        -o OUT.sig --extended-out OUT.rules [--shards N] [--dpi PATH]

or `spark-submit dpi-train/spark/train_spark.py --corpus ...` (then the
master comes from spark-submit). The corpus folders, the `dpi` binary and
the work directory (`--work`) must be at the same path on the driver and
every worker: a shared mount (NFS, or HDFS or S3 mounted through FUSE), as
`dpi` reads local files. The result does not depend on the number of
shards or executors (the merge is associative and commutative).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reduce_sql  # noqa: E402


def log(msg):
    print("train_spark: " + msg, file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--master", help="Spark master (local[N], spark://..., yarn); default: spark-submit's")
    ap.add_argument("--corpus", action="append", required=True, metavar="DIR",
                    help="corpus folder (pcap/, expected/, labels/); repeatable")
    ap.add_argument("--reference", action="append", metavar="TOOL",
                    help="reference labels (ndpi, lpi, argus); repeatable, default ndpi")
    ap.add_argument("-o", "--output", required=True, metavar="OUT.sig")
    ap.add_argument("--extended-out", metavar="OUT.rules")
    ap.add_argument("--shards", type=int, metavar="N",
                    help="map tasks (default: twice Spark's default parallelism, at most one per capture)")
    ap.add_argument("--dpi", default=None, metavar="PATH",
                    help="the dpi binary (default: dpi on PATH)")
    ap.add_argument("--work", metavar="DIR",
                    help="shared directory for the partials (default: a new one beside the output)")
    ap.add_argument("--keep-work", action="store_true", help="keep the partials")
    ap.add_argument("--map-arg", action="append", default=[], metavar="ARG",
                    help="extra argument of every map step (e.g. --map-arg=--folds=4); repeatable")
    ap.add_argument("--mine-arg", action="append", default=[], metavar="ARG",
                    help="extra argument of the mining step (e.g. --mine-arg=--no-apps); repeatable")
    return ap.parse_args(argv)


def list_captures(corpora):
    """The capture files of the corpora (what the shards share out)."""
    names = []
    for c in corpora:
        pcap = os.path.join(c, "pcap")
        if not os.path.isdir(pcap):
            raise SystemExit("train_spark: %s: no pcap/ folder (not a corpus)" % c)
        names.extend(os.path.join(pcap, n) for n in sorted(os.listdir(pcap)))
    return names


def map_command(dpi, corpora, references, shard, shards, out, extra):
    cmd = [dpi, "train", "--partial", "--format", "parquet", "-q",
           "--only-part", "%d/%d" % (shard, shards), "-o", out]
    for c in corpora:
        cmd += ["--corpus", c]
    for r in references:
        cmd += ["--reference", r]
    return cmd + list(extra)


def run_shard(cmd):
    """One map task: runs dpi; the error text goes back to the driver."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s exited with %d: %s" % (" ".join(cmd), p.returncode,
                                                      p.stderr.decode("utf-8", "replace")))
    return None


def reduce_spark(spark, partials, out):
    """Runs reduce.sql on Spark SQL over the partials; writes `out`."""
    reduce_sql.check_partials(partials)
    for t in reduce_sql.TABLES:
        paths = [reduce_sql.table_path(p, t) for p in partials]
        spark.read.parquet(*paths).createOrReplaceTempView(t)
    for kind, name, sql in reduce_sql.blocks("DECIMAL(20,0)"):
        df = spark.sql(sql)
        if kind == "check":
            rows = df.take(5)
            if rows:
                raise reduce_sql.ReduceError("%s (%s)" % (name, rows))
        elif kind == "view":
            # Read by several tables: computed once.
            df.cache().createOrReplaceTempView(name)
        else:
            df.coalesce(1).write.mode("overwrite").parquet(reduce_sql.table_path(out, name))


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    dpi = args.dpi or shutil.which("dpi")
    if not dpi:
        raise SystemExit("train_spark: no dpi on PATH; give --dpi PATH")
    dpi = os.path.abspath(dpi)
    corpora = [os.path.abspath(c) for c in args.corpus]
    references = args.reference or ["ndpi"]
    captures = list_captures(corpora)
    if not captures:
        raise SystemExit("train_spark: no captures in %s" % ", ".join(corpora))
    out = os.path.abspath(args.output)
    work = args.work or tempfile.mkdtemp(prefix=".dpi-spark-", dir=os.path.dirname(out))
    work = os.path.abspath(work)
    os.makedirs(work, exist_ok=True)

    from pyspark.sql import SparkSession

    started = time.monotonic()
    builder = SparkSession.builder.appName("dpi-train").config("spark.ui.enabled", "false")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        sc = spark.sparkContext
        if not sc.getConf().contains("spark.sql.shuffle.partitions"):
            # The reduced tables are small (bounded by the sample size).
            spark.conf.set("spark.sql.shuffle.partitions", str(max(2, sc.defaultParallelism)))
        log("Spark started in %.1f s" % (time.monotonic() - started))
        shards = args.shards or min(len(captures), 2 * sc.defaultParallelism)
        if shards < 1:
            raise SystemExit("train_spark: --shards must be at least 1")
        cmds = [
            map_command(dpi, corpora, references, i, shards,
                        os.path.join(work, "part-%05d" % i), args.map_arg)
            for i in range(shards)
        ]
        t = time.monotonic()
        sc.parallelize(cmds, len(cmds)).map(run_shard).collect()
        log("map: %d shards of %d captures in %.1f s" % (shards, len(captures), time.monotonic() - t))
        t = time.monotonic()
        reduced = os.path.join(work, "reduced")
        reduce_spark(spark, [c[c.index("-o") + 1] for c in cmds], reduced)
        log("reduce in %.1f s" % (time.monotonic() - t))
    finally:
        spark.stop()
    mine = [dpi, "train", "--from-partials", reduced, "-o", out]
    if args.extended_out:
        mine += ["--extended-out", os.path.abspath(args.extended_out)]
    mine += list(args.mine_arg)
    rc = subprocess.call(mine)
    if rc == 0 and not args.keep_work and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except reduce_sql.ReduceError as e:
        print("train_spark: %s" % e, file=sys.stderr)
        sys.exit(1)
