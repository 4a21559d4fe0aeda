#!/usr/bin/env python3
"""How much of a held-out fold any learner could reach: an upper bound.

    python3 benches/learner_ceiling.py [--corpus DIR] [--name ndpi] [--dpi PATH]
                                       [--folds 5] [--bytes 512]

`dpi eval --folds K` tests each fold on captures that the fold's training
never saw. A flow of the test fold can only be labelled by a learnt rule
if something of it was in the training folds. This script measures how
many flows have such a *link*, for the same folds as `dpi eval` (it reads
their capture lists from the eval's JSON), and so bounds what the learner
alone and the hand-written set plus the learner can reach.

A link of a flow is any of:

- its IP protocol (for transports other than TCP and UDP);
- its transport with either of its ports;
- per direction, the first byte of the user data, every 4-byte gram of
  the first `--bytes` bytes (512, what `dpi classify` keeps and `dpi
  train` mines), and the size of the first payload.

Those are the conditions of every rule kind the learner mines: masked
patterns and literals (each holds a 4-byte gram of the examples or starts
with their first byte), token-shape regexes and pairs (each holds a gram),
feature rules (first payload size, port), port and transport tiers.

A test flow of protocol P is *reachable* when one of its links is held by
flows that the reference labels P (by DPI or not) in enough training
captures:

- **with evidence**: two captures, or one where the port registry
  (`signatures/assigned-ports.csv`) assigns the port or IP protocol to P.
  This is the learner's rule (dpi-train/DESIGN.md, "Evidence"): a rule
  is kept only when captures it was not mined from confirm it, and the
  registry stands in for one such capture for ports;
- **any capture**: one training capture suffices (no held-out evidence).

Both bounds ignore precision altogether: a zero gram or port 443 counts
as a link. A flow the learner actually labels right (a cross-flow
expectation such as FTP_DATA, say) is counted as reachable too. For the
hand-written set plus the learner, a flow the hand-written set labels
right stays right, one it labels wrong stays wrong (learnt rules rank
below it), and one it leaves unlabelled counts when reachable.

The figures are means over the folds, as `dpi eval`'s top-level
`accuracy`, over the reference's DPI-confidence flows.
"""

import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVAL = ["--reference", "ndpi", "--candidate", "dpi", "--only-dpi-confidence", "--format", "json"]


def run(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def flow_key(capture, src_ip, src_port, dst_ip, dst_port):
    return (capture, src_ip, str(src_port), dst_ip, str(dst_port))


def load_flows(path):
    """The per-flow candidate labels of a `dpi eval --out-dir` run."""
    with open(path, newline="") as f:
        return {
            flow_key(r["capture"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]): r["candidate"]
            for r in csv.DictReader(f)
        }


# `dpi`'s names of IP protocols (dpi-train/src/record.rs, `transport_name`);
# others are written as their number.
TRANSPORT_NAMES = {
    1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah",
    58: "icmpv6", 89: "ospf", 103: "pim", 112: "vrrp", 113: "pgm", 132: "sctp",
}


def registry(path):
    """Protocol → its assigned (transport, port) and IP protocol links."""
    links = collections.defaultdict(set)
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip() or line.startswith("ndpi,"):
                continue
            proto, transport, port = line.strip().split(",")[:3]
            if transport == "ip":
                number = int(port)
                links[proto].add(("ip", TRANSPORT_NAMES.get(number, str(number))))
            else:
                links[proto].add(("port", transport, int(port)))
    return links


def links(row, nbytes):
    out = {("port", row["transport"], row["src_port"]), ("port", row["transport"], row["dst_port"])}
    if row["transport"] not in ("tcp", "udp"):
        out.add(("ip", row["transport"]))
    for side in ("c2s", "s2c"):
        data = bytes.fromhex(row.get(side + "_payload") or "")[:nbytes]
        if data:
            out.add((side, "first", data[0]))
        for i in range(len(data) - 3):
            out.add((side, data[i : i + 4]))
        sizes = row.get(side + "_sizes") or []
        if sizes:
            out.add((side, "size", sizes[0]))
    return out


def protocol(row):
    return row.get("ndpi_master") or row.get("ndpi_protocol")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("DPI_CORPUS"), help="root of the shared corpora")
    ap.add_argument("--name", default="ndpi", help="the corpus evaluated (a folder of --corpus)")
    ap.add_argument("--dpi", default=os.path.join(ROOT, "target/release/dpi"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=512)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    if not args.corpus:
        sys.exit("learner_ceiling: give --corpus DIR or set DPI_CORPUS")
    corpus = os.path.join(args.corpus, args.name)
    sigs = os.path.join(ROOT, "signatures")
    with tempfile.TemporaryDirectory(prefix="ceiling-") as tmp:
        measure(args, corpus, sigs, tmp)


def measure(args, corpus, sigs, tmp):
    empty = os.path.join(tmp, "empty.rules")
    open(empty, "w").close()

    align = os.path.join(tmp, "align.jsonl")
    run([args.dpi, "align", "--corpus", corpus, "--reference", "ndpi", "--bytes", str(args.bytes), "-q", "-o", align])
    folds = ["--folds", str(args.folds)]
    alone = json.loads(run([args.dpi, "eval", "--corpus", corpus, *folds, "--sig", empty, *EVAL, "--out-dir", tmp + "/alone"]))
    grown = json.loads(run([args.dpi, "eval", "--corpus", corpus, *folds, *EVAL, "--out-dir", tmp + "/grown"]))
    hand = ["--sig", os.path.join(sigs, "default.rules"), "--sig", os.path.join(sigs, "apps.rules")]
    run([args.dpi, "eval", "--corpus", corpus, *hand, *EVAL, "--out-dir", tmp + "/hand"])
    alone_flows = load_flows(tmp + "/alone/flows.csv")
    grown_flows = load_flows(tmp + "/grown/flows.csv")
    hand_flows = load_flows(tmp + "/hand/flows.csv")

    fold_of = {c: i for i, f in enumerate(alone["folds"]) for c in f["capture_names"]}
    assigned = registry(os.path.join(sigs, "assigned-ports.csv"))
    with open(align) as f:
        rows = [json.loads(line) for line in f]
    rows = [r for r in rows if protocol(r) not in (None, "Unknown")]

    # (protocol, link) → the captures whose flows of that protocol hold it
    holders = collections.defaultdict(set)
    flow_links = []
    for r in rows:
        ls = links(r, args.bytes)
        flow_links.append(ls)
        p = protocol(r)
        for link in ls:
            holders[(p, link)].add(r["capture"])

    def reachable(p, ls, fold, need):
        for link in ls:
            held = holders.get((p, link))
            if not held:
                continue
            enough = 1 if link in assigned.get(p, ()) else need
            if sum(1 for c in held if fold_of.get(c) != fold) >= enough:
                return True
        return False

    k = args.folds
    tot = [0] * k
    counts = {name: [0] * k for name in ("alone_evidence", "alone_any", "grown_evidence", "grown_any", "hand")}
    one_capture = collections.Counter()  # reachable from one training capture only
    nowhere = collections.Counter()  # no link in any training capture
    for r, ls in zip(rows, flow_links):
        if not (r.get("ndpi_confidence") or "").startswith("DPI"):
            continue
        fold = fold_of.get(r["capture"])
        key = flow_key(r["capture"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
        if fold is None or key not in hand_flows:
            continue
        p = protocol(r)
        tot[fold] += 1
        with_evidence = reachable(p, ls, fold, 2)
        with_any = with_evidence or reachable(p, ls, fold, 1)
        counts["alone_evidence"][fold] += with_evidence or alone_flows.get(key) == p
        if alone_flows.get(key) != p and not with_evidence:
            (one_capture if with_any else nowhere)[p] += 1
        counts["alone_any"][fold] += with_any or alone_flows.get(key) == p
        h = hand_flows[key]
        counts["hand"][fold] += h == p
        open_flow = h == ""
        counts["grown_evidence"][fold] += h == p or grown_flows.get(key) == p or (open_flow and with_evidence)
        counts["grown_any"][fold] += h == p or grown_flows.get(key) == p or (open_flow and with_any)

    def mean(name):
        return sum(c / t for c, t in zip(counts[name], tot) if t) / sum(1 for t in tot if t)

    if args.json:
        figures = {
            "flows": sum(tot),
            "alone": alone["accuracy"],
            "baseline": grown["baseline"]["accuracy"],
            "grown": grown["accuracy"],
            "one_capture_only": sum(one_capture.values()),
            "no_capture": sum(nowhere.values()),
        }
        figures.update({f"ceiling_{name}": mean(name) for name in counts if name != "hand"})
        print(json.dumps(figures, sort_keys=True))
        return

    print(f"corpus {corpus}: {sum(tot):,} DPI-confidence flows in {k} folds (dpi eval's folds)")
    print()
    print("| run | dpi eval now | ceiling, with evidence | ceiling, any capture |")
    print("| --- | --- | --- | --- |")
    print(f"| learner alone (`--sig EMPTY.rules`) | {alone['accuracy']:.4f} | {mean('alone_evidence'):.4f} | {mean('alone_any'):.4f} |")
    print(f"| hand-written alone (baseline) | {grown['baseline']['accuracy']:.4f} | | |")
    print(f"| hand-written + learnt | {grown['accuracy']:.4f} | {mean('grown_evidence'):.4f} | {mean('grown_any'):.4f} |")
    print()
    print("per fold, learner alone: " + ", ".join(f"{f['accuracy']:.3f}" for f in alone["folds"]))
    print("per fold, ceiling with evidence: " + ", ".join(f"{c / t:.3f}" for c, t in zip(counts["alone_evidence"], tot)))

    for label, c in (("one training capture only", one_capture), ("no training capture", nowhere)):
        top = ", ".join(f"{p} {n}" for p, n in c.most_common(8))
        print(f"learner alone, flows linked to {label}: {sum(c.values()):,} ({top}, ...)")


if __name__ == "__main__":
    main()
