#!/usr/bin/env python3
"""Regenerates the measured blocks of the README from the commands behind them.

    python3 benches/readme_figures.py [--corpus DIR] [--dpi PATH] [--write | --check] [BLOCK...]

Every generated block of README.md sits between two markers:

    <!-- figures:NAME -->
    ...
    <!-- /figures:NAME -->

and this script writes what is between them by running the `dpi` command
(default target/release/dpi; build it first with `cargo build --release`).
Without options it prints the blocks; `--write` puts them into README.md;
`--check` exits 1 if any block differs from what the README shows. BLOCKs
name the blocks to make (default: all). The `sample-output` block needs only
the repository; every other block needs a corpus of the shared layout
(`--corpus DIR` or DPI_CORPUS, holding ndpi/, zeek/ and mixed/) and takes
about ten minutes on two cores.

Figures that come from tests or benchmarks rather than from `dpi eval` (the
protocol fields against nDPI, cross-flow knowledge, the learning curve,
speed) say next to them which command prints them.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
SAMPLE = "corpus/samples/web.pcap"
EVAL = ["--reference", "ndpi", "--candidate", "dpi", "--only-dpi-confidence", "--format", "json"]


def pct(x):
    return f"{100 * x:.2f}%"


def count(n):
    return f"{n:,}"


class Runner:
    """Runs `dpi` and keeps each eval's JSON, so a block never runs one twice."""

    def __init__(self, dpi, corpus):
        self.dpi = dpi
        self.corpus = corpus
        self.cache = {}
        self.empty = tempfile.NamedTemporaryFile(prefix="empty-", suffix=".rules", delete=False)
        self.empty.close()

    def run(self, args):
        out = subprocess.run(
            [self.dpi] + args, cwd=ROOT, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            sys.exit(f"readme_figures: `dpi {' '.join(args)}` failed:\n{out.stderr}")
        return out.stdout

    def eval(self, corpus, sig=None, folds=None, train=()):
        if self.corpus is None:
            sys.exit("readme_figures: this block needs a corpus: --corpus DIR or DPI_CORPUS")
        args = ["eval", "-q", "--corpus", os.path.join(self.corpus, corpus)]
        if folds:
            args += ["--folds", str(folds)]
        for t in train:
            args += ["--train-corpus", os.path.join(self.corpus, t)]
        if sig == "empty":
            args += ["--sig", self.empty.name]
        elif sig:
            args += ["--sig", sig]
        args += EVAL
        key = tuple(args)
        if key not in self.cache:
            print(f"  dpi {' '.join(args)}", file=sys.stderr)
            self.cache[key] = json.loads(self.run(args))
        return self.cache[key]


def cap(d):
    return f"{pct(d['coverage'])} / {pct(d['accuracy'])} / {pct(d['precision'])}"


def reference_tools(r):
    n, z = r.eval("ndpi"), r.eval("zeek")
    hn = r.eval("ndpi", sig="signatures/default.rules")
    hz = r.eval("zeek", sig="signatures/default.rules")
    rows = [
        "| candidate | nDPI corpus ({} flows) coverage / accuracy / precision | Zeek corpus ({} flows) |".format(
            count(n["flows"]), count(z["flows"])
        ),
        "| --- | --- | --- |",
        f"| libprotoident 2.0.15 | {cap(n['lpi'])} | {cap(z['lpi'])} |",
        f"| argus 3.0.8 with its own std.sig | {cap(n['argus'])} | {cap(z['argus'])} |",
        f"| dpi, hand-written rules alone (`--sig signatures/default.rules`) | {cap(hn)} | {cap(hz)} |",
        f"| dpi, built-in set (hand-written + trained) | {cap(n)} | {cap(z)} |",
    ]
    return "\n".join(rows)


def per_protocol(d, top=25):
    rows = ["| protocol | support | predicted | correct | precision | recall |", "| --- | --- | --- | --- | --- | --- |"]
    for p in sorted(d["per_protocol"], key=lambda p: (-p["support"], p["protocol"]))[:top]:
        rows.append(
            f"| {p['protocol']} | {p['support']} | {p['predicted']} | {p['correct']} | {pct(p['precision'])} | {pct(p['recall'])} |"
        )
    return "\n".join(rows)


def per_protocol_builtin(r):
    return per_protocol(r.eval("ndpi"))


def per_protocol_folds(r):
    return per_protocol(r.eval("ndpi", folds=5))


def app_cells(d):
    recall = f"{pct(d['app_recall'])} ({count(d['app_recalled'])} / {count(d['app_flows'])})"
    precision = f"{pct(d['app_precision'])} ({count(d['app_correct'])} / {count(d['app_named'])})"
    return recall, precision


def app_fold_cells(d):
    p = d["app_pooled"]
    recall = "{}; pooled {} ({} / {})".format(
        pct(d["app_recall"]), pct(p["app_recall"]), count(d["app_recalled"]), count(d["app_flows"])
    )
    precision = "{}; pooled {} ({} / {})".format(
        pct(d["app_precision"]), pct(p["app_precision"]), count(d["app_correct"]), count(d["app_named"])
    )
    return recall, precision


def applications(r):
    runs = [
        ("nDPI corpus, built-in set (hand-written, trained on all captures)", r.eval("ndpi"), app_cells),
        ("Zeek corpus, built-in set", r.eval("zeek"), app_cells),
        ("nDPI corpus, 5 folds, hand-written + learnt (mean of folds; pooled)", r.eval("ndpi", folds=5), app_fold_cells),
        ("nDPI corpus, 5 folds, learner alone", r.eval("ndpi", sig="empty", folds=5), app_fold_cells),
        (
            "Zeek corpus, trained on the nDPI and mixed corpora, hand-written + learnt",
            r.eval("zeek", train=("ndpi", "mixed")),
            app_cells,
        ),
        (
            "Zeek corpus, trained on the nDPI and mixed corpora, learner alone",
            r.eval("zeek", sig="empty", train=("ndpi", "mixed")),
            app_cells,
        ),
    ]
    rows = ["| run | master accuracy | app recall | app precision |", "| --- | --- | --- | --- |"]
    for name, d, cells in runs:
        recall, precision = cells(d)
        rows.append(f"| {name} | {pct(d['accuracy'])} | {recall} | {precision} |")
    return "\n".join(rows)


def ap(d):
    return f"{pct(d['accuracy'])} / {pct(d['precision'])}"


def held_out(r):
    runs = [
        ("5 folds over the nDPI corpus", dict(folds=5)),
        ("Zeek corpus, trained on the nDPI corpus", dict(train=("ndpi",))),
        ("Zeek corpus, trained on the nDPI and mixed corpora", dict(train=("ndpi", "mixed"))),
    ]
    rows = [
        "| run | learner alone | hand-written + learnt | hand-written alone | libprotoident | argus |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, kw in runs:
        corpus = "ndpi" if "folds" in kw else "zeek"
        grown = r.eval(corpus, **kw)
        alone = r.eval(corpus, sig="empty", **kw)
        rows.append(
            f"| {name} | {ap(alone)} | {ap(grown)} | {ap(grown['baseline'])} | {ap(grown['lpi'])} | {ap(grown['argus'])} |"
        )
    return "\n".join(rows)


def sample_output(r):
    table = r.run(["classify", "-q", SAMPLE])
    line = r.run(["classify", "-q", "--format", "jsonl", SAMPLE]).splitlines()[0]
    pretty = json.dumps(json.loads(line), indent=None)
    return "\n".join(
        [
            "```console",
            f"$ dpi classify {SAMPLE}",
            table.rstrip("\n"),
            f"$ dpi classify --format jsonl {SAMPLE} | head -1",
            pretty,
            "```",
        ]
    )


BLOCKS = {
    "sample-output": sample_output,
    "reference-tools": reference_tools,
    "per-protocol-builtin": per_protocol_builtin,
    "applications": applications,
    "held-out": held_out,
    "per-protocol-folds": per_protocol_folds,
}


def replace_block(text, name, body):
    pattern = re.compile(
        r"(<!-- figures:%s -->\n)(.*?)(<!-- /figures:%s -->)" % (re.escape(name), re.escape(name)), re.S
    )
    if not pattern.search(text):
        sys.exit(f"readme_figures: README.md has no block `{name}`")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text, count=1)


def main():
    ap_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap_.add_argument("blocks", nargs="*", metavar="BLOCK", help=f"blocks to make: {', '.join(BLOCKS)}")
    ap_.add_argument("--corpus", default=os.environ.get("DPI_CORPUS"), help="the shared corpus (default $DPI_CORPUS)")
    ap_.add_argument("--dpi", default=os.path.join(ROOT, "target", "release", "dpi"), help="the dpi binary")
    mode = ap_.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the blocks into README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if README.md shows other figures")
    a = ap_.parse_args()
    names = a.blocks or list(BLOCKS)
    for n in names:
        if n not in BLOCKS:
            ap_.error(f"unknown block {n!r}; blocks: {', '.join(BLOCKS)}")
    if not os.access(a.dpi, os.X_OK):
        sys.exit(f"readme_figures: {a.dpi} is not an executable; cargo build --release -p dpi-train")
    r = Runner(os.path.abspath(a.dpi), a.corpus and os.path.abspath(a.corpus))
    try:
        with open(README, encoding="utf-8") as f:
            text = f.read()
        new = text
        for n in names:
            print(f"{n}:", file=sys.stderr)
            body = BLOCKS[n](r)
            new = replace_block(new, n, body)
            if not a.write and not a.check:
                print(f"<!-- figures:{n} -->\n{body}\n<!-- /figures:{n} -->\n")
        if a.write and new != text:
            with open(README, "w", encoding="utf-8") as f:
                f.write(new)
        if a.check and new != text:
            sys.exit("readme_figures: README.md differs from what the commands print (run with --write)")
    finally:
        os.unlink(r.empty.name)


if __name__ == "__main__":
    main()
