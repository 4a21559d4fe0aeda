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
a few minutes on two cores.

Blocks whose figures come from tests or benchmarks rather than from
`dpi eval` run them through cargo (`flows-vs-ndpi`, `metadata` and
`cross-flow`: the corpus tests that print them; `learning-curve`: the
`learning-curve` benchmark, which also redraws its picture; `ceiling`:
benches/learner_ceiling.py) and keep only
what does not depend on the machine. Speed and memory figures depend on
the machine: they come from the benchmarks named next to them
(benches/README.md), not from this script.
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


    def cargo(self, args):
        """Runs `cargo ARGS` at the repository's root with DPI_CORPUS set;
        its standard output."""
        if self.corpus is None:
            sys.exit("readme_figures: this block needs a corpus: --corpus DIR or DPI_CORPUS")
        print(f"  cargo {' '.join(args)}", file=sys.stderr)
        env = dict(os.environ, DPI_CORPUS=self.corpus)
        out = subprocess.run(["cargo"] + args, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            sys.exit(f"readme_figures: `cargo {' '.join(args)}` failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
        return out.stdout

    def test_output(self, name):
        key = ("test", name)
        if key not in self.cache:
            self.cache[key] = self.cargo(
                ["test", "--release", "-q", "-p", "dpi-train", "--test", name, "--", "--nocapture", "--test-threads", "1"]
            )
        return self.cache[key]


def at_line_start(pattern):
    """`pattern` anchored at a line's start, or after the progress dots
    cargo test prints before a test's output."""
    return r"(?:^|(?<=\.))" + pattern[1:] if pattern.startswith("^") else pattern


def grab(pattern, text, what):
    m = re.search(at_line_start(pattern), text, re.M)
    if not m:
        sys.exit(f"readme_figures: no {what} in the output:\n{text[-2000:]}")
    return m


def flows_vs_ndpi(r):
    out = r.test_output("flows_vs_ndpi")
    # The first run is the one with the default timeouts.
    found = grab(r"^nDPI flows: (\d+), found among ours: ([\d.]+)% \((\d+) missing\)", out, "nDPI flow count")
    extra = grab(r"^our flows: (\d+), absent from nDPI's: ([\d.]+)% \((\d+)\)", out, "flow count")
    return "\n".join(
        [
            "| | flows | figure |",
            "| --- | --- | --- |",
            f"| nDPI's flows found among ours | {count(int(found[1]))} | **{found[2]}%** ({found[3]} missing) |",
            f"| our flows absent from nDPI's | {count(int(extra[1]))} | **{extra[2]}%** ({extra[3]}) |",
        ]
    )


def metadata(r):
    out = r.test_output("metadata_corpus")
    rows = [
        "| corpus | `hostname` = nDPI's, HTTP/TLS/QUIC/DNS flows where nDPI prints one | `ja4` = nDPI's, strictly | `ja4` = nDPI's, nDPI's departures from the specification set aside |",
        "| --- | --- | --- | --- |",
    ]
    for c, name in (("ndpi", "nDPI (543 captures)"), ("zeek", "Zeek (788 captures)")):
        m = grab(
            rf"^{c}: hostname equal on (\d+)/(\d+) .*?\(([\d.]+)%.*?JA4 equal on (\d+)/(\d+) \(([\d.]+)%.*?\), (\d+)/(\d+) \(([\d.]+)%\)",
            out,
            f"{c} metadata line",
        )
        g = m.groups()
        rows.append(
            f"| {name} | **{g[2]}%** ({count(int(g[0]))} / {count(int(g[1]))}) | {g[5]}% ({count(int(g[3]))} / {count(int(g[4]))}) | **{g[8]}%** ({count(int(g[6]))} / {count(int(g[7]))}) |"
        )
    return "\n".join(rows)


def cross_flow(r):
    out = r.test_output("crossflow_corpus")
    cells = {}
    for m in re.finditer(at_line_start(r"^(ndpi|zeek) (\S+)\s+(\d+)/(\d+)\s+equal \(([\d.]+)%\),\s+(\d+) without other flows"), out, re.M):
        c, label, w, t, _, wo = m.groups()
        cells[(c, label)] = "—" if t == "0" else f"{w} / {t} (without: {wo})"
    labels = []
    for m in re.finditer(at_line_start(r"^(?:ndpi|zeek) (\S+)\s+\d+/"), out, re.M):
        if m[1] not in labels:
            labels.append(m[1])
    if not labels:
        sys.exit(f"readme_figures: no cross-flow lines in the output:\n{out[-2000:]}")
    rows = ["| nDPI label | nDPI corpus | Zeek corpus |", "| --- | --- | --- |"]
    for label in labels:
        rows.append(f"| {label} | {cells.get(('ndpi', label), '—')} | {cells.get(('zeek', label), '—')} |")
    t = grab(r"^FTP_DATA, RTP and RTCP together: (\d+)/(\d+) \(([\d.]+)%\), (\d+) without other flows", out, "cross-flow total")
    rows.append(f"| FTP_DATA, RTP and RTCP together, both corpora | {t[1]} / {t[2]} ({t[3]}%; without: {t[4]}) | |")
    master = []
    for c in ("ndpi", "zeek"):
        m = grab(rf"^{c}: master protocol equal on (\d+)/(\d+) DPI-confidence flows \(([\d.]+)\), (\d+) without other flows", out, f"{c} master line")
        master.append(f"{pct(float(m[3]))} ({count(int(m[1]))} / {count(int(m[2]))}; without: {count(int(m[4]))})")
    rows.append(f"| all master protocols, flows nDPI labels by DPI | {master[0]} | {master[1]} |")
    return "\n".join(rows)


def learning_curve(r):
    out = r.cargo(["run", "--release", "-q", "-p", "dpi-benches", "--bin", "learning-curve"])
    rows = [
        "| training data | captures | flows | signatures learnt | accuracy | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    n = 0
    for line in out.splitlines():
        f = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(f) < 6 or not f[1].isdigit():
            continue
        label = f[0].replace("% ndpi", "% of ndpi")
        rows.append(
            f"| {label} | {count(int(f[1]))} | {count(int(f[2]))} | {f[3]} | {pct(float(f[4]))} | {pct(float(f[5]))} |"
        )
        n += 1
    if n == 0:
        sys.exit(f"readme_figures: no learning-curve rows in the output:\n{out[-2000:]}")
    return "\n".join(rows)


def ceiling(r):
    if r.corpus is None:
        sys.exit("readme_figures: this block needs a corpus: --corpus DIR or DPI_CORPUS")
    script = os.path.join(ROOT, "benches", "learner_ceiling.py")
    print("  python3 benches/learner_ceiling.py --json", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, script, "--corpus", r.corpus, "--dpi", r.dpi, "--json"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"readme_figures: learner_ceiling.py failed:\n{out.stderr[-3000:]}")
    d = json.loads(out.stdout)
    return "\n".join(
        [
            "| run (5 folds over the nDPI corpus, mean of the folds) | `dpi eval` | ceiling with evidence | ceiling from any one capture |",
            "| --- | --- | --- | --- |",
            f"| learner alone | {pct(d['alone'])} | {pct(d['ceiling_alone_evidence'])} | {pct(d['ceiling_alone_any'])} |",
            f"| hand-written + learnt (hand-written alone: {pct(d['baseline'])}) | {pct(d['grown'])} | "
            f"{pct(d['ceiling_grown_evidence'])} | {pct(d['ceiling_grown_any'])} |",
        ]
    )


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
        ("mixed corpus, trained on the nDPI and Zeek corpora", dict(train=("ndpi", "zeek"), corpus="mixed")),
    ]
    rows = [
        "| run | learner alone | hand-written + learnt | hand-written alone | libprotoident | argus |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, kw in runs:
        corpus = kw.pop("corpus", "ndpi" if "folds" in kw else "zeek")
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
    "flows-vs-ndpi": flows_vs_ndpi,
    "metadata": metadata,
    "cross-flow": cross_flow,
    "learning-curve": learning_curve,
    "ceiling": ceiling,
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
