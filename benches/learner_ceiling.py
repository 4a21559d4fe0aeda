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

Two more relations hold between a pair of flows of one transport, in one
direction, and are tested flow against flow where the links above fail:

- **masked agreement**: in the first 32 bytes, the nibbles the two flows
  share at the same offsets are worth at least 16 bits, a zero nibble
  counting one (a positional masked pattern needs that much: `masked.rs`,
  `MIN_BITS`);
- **token shape**: the two flows' first 48 bytes cut into tokens (runs of
  letters, runs of digits, each other byte alone) start with the same
  kinds of token, with at least 3 equal bytes among them (a token-shape
  regex pins at least that many: `shape.rs`, `FIXED_MIN`).

Together these are necessary conditions of every rule kind the learner
mines: a literal holds a 4-byte gram of its examples; a masked pattern
or a pair's half is a masked agreement; a shape regex is a token shape;
feature rules carry their port; port and transport tiers are the port
and IP protocol links.

A test flow of protocol P is *reachable* when one of its links or
relations is held by flows that the reference labels P (by DPI or not) in
enough training captures:

- **with evidence**: two captures, or one where the port registry
  (`signatures/assigned-ports.csv`) assigns the port or IP protocol to P.
  This is the learner's rule (dpi-train/DESIGN.md, "Evidence"): a rule
  is kept only when captures it was not mined from confirm it, and the
  registry stands in for one such capture for ports;
- **any capture**: one training capture suffices (no held-out evidence).

Both bounds ignore precision altogether: a zero gram or port 443 counts
as a link. A flow labelled right without any rule (a cross-flow
expectation such as FTP_DATA or a STARTTLS upgrade, from an empty
signature set) or by the learner itself is counted as reachable too. For
the hand-written set plus the learner, a flow the hand-written set labels
right stays right; one it labels wrong by a signature stays wrong (learnt
rules rank below it); one it leaves unlabelled, or labels wrong by a port
or feature rule only (a learnt byte rule outranks those), counts when
reachable.

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


def flow_key(capture, transport, src_ip, src_port, dst_ip, dst_port):
    return (capture, transport, src_ip, str(src_port), dst_ip, str(dst_port))


def load_flows(path):
    """The per-flow candidate label and its confidence of a `dpi eval
    --out-dir` run."""
    with open(path, newline="") as f:
        return {
            flow_key(r["capture"], r["transport"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]): (
                r["candidate"],
                r["confidence"],
            )
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


# A masked pattern covers the first 32 bytes and needs 16 constrained
# bits, a zero nibble counting one (dpi-train/src/train/masked.rs).
MASKED_BYTES = 32
MASKED_BITS = 16
# A token-shape regex reads the first 48 bytes, 10 tokens at most, and
# pins at least 3 bytes (dpi-train/src/train/shape.rs).
SHAPE_BYTES = 48
SHAPE_TOKENS = 10
SHAPE_FIXED = 3


def agreed_bits(a, b):
    """The bits a masked pattern could constrain that `a` and `b` share."""
    bits = 0
    for x, y in zip(a[:MASKED_BYTES], b[:MASKED_BYTES]):
        for mask in (0xF0, 0x0F):
            if (x ^ y) & mask == 0:
                bits += 1 if x & mask == 0 else 4
    return bits


def token_kind(byte):
    if 65 <= byte <= 90 or 97 <= byte <= 122:
        return "letters"
    if 48 <= byte <= 57:
        return "digits"
    return None


def tokens(data):
    """Runs of letters, runs of digits and single other bytes, as a
    token-shape regex cuts the first bytes (a run cut by the end left out)."""
    data = data[:SHAPE_BYTES]
    out, i = [], 0
    while i < len(data) and len(out) < SHAPE_TOKENS:
        kind = token_kind(data[i])
        if kind is None:
            out.append((data[i], data[i : i + 1]))
            i += 1
            continue
        j = i + 1
        while j < len(data) and token_kind(data[j]) == kind:
            j += 1
        if j == len(data):
            break
        out.append((kind, data[i:j]))
        i = j
    return out


def same_shape(ta, tb):
    """Whether a token-shape regex could hold both: the same kinds of token
    from the start, with at least SHAPE_FIXED equal bytes among them."""
    fixed = 0
    for (ka, va), (kb, vb) in zip(ta, tb):
        if ka != kb:
            return False
        if va == vb:
            fixed += len(va)
        if fixed >= SHAPE_FIXED:
            return True
    return False


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
    # No signature at all: what cross-flow knowledge names by itself.
    run([args.dpi, "eval", "--corpus", corpus, "--sig", empty, *EVAL, "--out-dir", tmp + "/none"])
    none_flows = load_flows(tmp + "/none/flows.csv")
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

    by_protocol = collections.defaultdict(list)
    for r in rows:
        by_protocol[protocol(r)].append(r)

    def payload(r, side):
        return bytes.fromhex(r.get(side + "_payload") or "")[: args.bytes]

    def related(r, fold, need):
        """Whether flows of r's protocol and transport in `need` training
        captures agree with r in a masked pattern's or a token shape's way."""
        p, found = protocol(r), set()
        for side in ("c2s", "s2c"):
            mine = payload(r, side)
            if not mine:
                continue
            shape = tokens(mine)
            for t in by_protocol[p]:
                c = t["capture"]
                if c in found or fold_of.get(c) == fold or t["transport"] != r["transport"]:
                    continue
                theirs = payload(t, side)
                if theirs and (agreed_bits(mine, theirs) >= MASKED_BITS or same_shape(shape, tokens(theirs))):
                    found.add(c)
                    if len(found) >= need:
                        return True
        return False

    def reachable(r, ls, fold, need):
        p = protocol(r)
        for link in ls:
            held = holders.get((p, link))
            if not held:
                continue
            enough = 1 if link in assigned.get(p, ()) else need
            if sum(1 for c in held if fold_of.get(c) != fold) >= enough:
                return True
        return related(r, fold, need)

    k = args.folds
    tot = [0] * k
    counts = {name: [0] * k for name in ("alone_evidence", "alone_any", "grown_evidence", "grown_any", "hand")}
    one_capture = collections.Counter()  # reachable from one training capture only
    nowhere = collections.Counter()  # reachable from no training capture
    missed = collections.Counter()  # reachable with evidence, not named by the learner
    for r, ls in zip(rows, flow_links):
        if not (r.get("ndpi_confidence") or "").startswith("DPI"):
            continue
        fold = fold_of.get(r["capture"])
        key = flow_key(r["capture"], r["transport"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
        if fold is None or key not in hand_flows:
            continue
        p = protocol(r)
        tot[fold] += 1
        alone_right = alone_flows.get(key, ("", ""))[0] == p or none_flows.get(key, ("", ""))[0] == p
        with_evidence = alone_right or reachable(r, ls, fold, 2)
        with_any = with_evidence or reachable(r, ls, fold, 1)
        counts["alone_evidence"][fold] += with_evidence
        if with_evidence and not alone_right:
            missed[p] += 1
        if not with_evidence:
            (one_capture if with_any else nowhere)[p] += 1
        counts["alone_any"][fold] += with_any
        h, confidence = hand_flows[key]
        counts["hand"][fold] += h == p
        # Learnt rules rank below the hand-written ones of their class, but
        # a byte rule outranks a port or feature rule.
        open_flow = h == "" or (h != p and confidence in ("port", "feature"))
        grown_right = h == p or grown_flows.get(key, ("", ""))[0] == p
        counts["grown_evidence"][fold] += grown_right or (open_flow and with_evidence)
        counts["grown_any"][fold] += grown_right or (open_flow and with_any)

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
    top = ", ".join(f"{p} {n}" for p, n in missed.most_common(20))
    print(f"learner alone, flows within the ceiling it does not name: {sum(missed.values()):,} ({top}, ...)")


if __name__ == "__main__":
    main()
