#!/usr/bin/env python3
"""JA4 and JA4S of `dpi classify` against FoxIO's reference outputs.

    python3 benches/outside_ja4.py JA4_REPO [--dpi PATH] [--out FILE]

JA4_REPO is a checkout of FoxIO-LLC/ja4: its `pcap/` folder holds test
captures and `python/test/testdata/NAME.json` what FoxIO's implementation
prints for capture NAME (one record per stream: addresses, ports and, for a
TLS or QUIC ClientHello, `JA4` or `JA4.1`; for a ServerHello, `JA4S` or
`JA4S.1`). Each record with one is matched to dpi's flow of the same
endpoints, in either direction, and counted as the same fingerprint,
another, none, or no flow. The cases that
differ go to FILE (outside-ja4.tsv by default), one per line. A benchmark of
agreement, not a test: the reference is FoxIO's own implementation, which
may depart from its specification.
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flows(dpi, pcap):
    """dpi's flows of `pcap`, by their endpoints in both orders."""
    out = subprocess.run(
        [dpi, "classify", "-q", "--format", "jsonl", pcap],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    by_key = collections.defaultdict(list)
    for line in out.splitlines():
        d = json.loads(line)
        a = (d["src_ip"], d["src_port"])
        b = (d["dst_ip"], d["dst_port"])
        by_key[a + b].append(d)
        by_key[b + a].append(d)
    return by_key


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("repo", help="a checkout of FoxIO-LLC/ja4")
    ap.add_argument("--dpi", default=os.path.join(ROOT, "target", "release", "dpi"))
    ap.add_argument("--out", default="outside-ja4.tsv")
    a = ap.parse_args()
    if not os.access(a.dpi, os.X_OK):
        sys.exit(f"outside_ja4: {a.dpi} is not an executable; cargo build --release -p dpi-train")
    testdata = os.path.join(a.repo, "python", "test", "testdata")
    refs = sorted(glob.glob(os.path.join(testdata, "*.json")))
    if not refs:
        sys.exit(f"outside_ja4: no reference outputs in {testdata}")
    count = {kind: collections.Counter() for kind in ("JA4", "JA4S")}
    captures = 0
    cases = []
    for ref_file in refs:
        name = os.path.basename(ref_file)[: -len(".json")]
        pcap = os.path.join(a.repo, "pcap", name)
        if not os.path.exists(pcap):
            continue
        with open(ref_file, encoding="utf-8") as f:
            records = json.load(f)
        ours = flows(a.dpi, pcap)
        captures += 1
        for r in records:
            key = (r["src"], int(r["srcport"]), r["dst"], int(r["dstport"]))
            for kind, c in count.items():
                want = r.get(kind) or r.get(kind + ".1")
                if not want:
                    continue
                got = [d.get(kind.lower()) for d in ours.get(key, [])]
                c["reference"] += 1
                if want in got:
                    c["same"] += 1
                    continue
                case = "no flow" if not got else "none" if all(g is None for g in got) else "other"
                c[case] += 1
                got_text = ",".join(g for g in got if g)
                endpoints = f"{key[0]}:{key[1]} {key[2]}:{key[3]}"
                cases.append(f"{name}\t{kind}\t{case}\t{endpoints}\t{want}\t{got_text}")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("capture\tfingerprint\tcase\tendpoints\tfoxio\tdpi\n")
        f.writelines(c + "\n" for c in cases)
    print(f"captures {captures}; cases in {a.out}")
    for kind, c in count.items():
        n = c["reference"]
        pct = 100.0 * c["same"] / n if n else 0.0
        print(
            f"{kind}: FoxIO fingerprints {n}: same {c['same']} ({pct:.2f}%), "
            f"other {c['other']}, none {c['none']}, no flow {c['no flow']}"
        )


if __name__ == "__main__":
    main()
