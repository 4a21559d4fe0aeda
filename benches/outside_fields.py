#!/usr/bin/env python3
"""Host names of `dpi classify` against tshark's own fields, on any captures.

    python3 benches/outside_fields.py CAPTURES [--dpi PATH] [--out FILE]

CAPTURES: a folder of captures (for instance the `pcap/` folder that
`benches/outside_eval.sh` lays out; searched recursively for *.pcap,
*.pcapng and *.cap). For each capture, tshark prints per packet the TLS
server name (`tls.handshake.extensions_server_name`, also from the QUIC
Initial packets it decrypts), the HTTP `Host` (`http.host`) and the DNS,
mDNS and LLMNR query name (`dns.qry.name`), with the packet's endpoints;
`dpi classify --format jsonl` gives each flow's `hostname`. Names are
compared in lower case, without a trailing dot, and an HTTP Host without
its port (dpi drops it over TCP, keeps it over UDP as nDPI does). NetBIOS name service (port 137) is left out:
tshark writes those names in another form.

Counted, per 5-tuple: flows where tshark prints a name and dpi gives one of
those names (`same`), another name (`other`), none (`none`), or has no
flow (`no flow`); and flows where dpi gives a name that tshark does not
print for a TLS, QUIC, HTTP or DNS flow (`dpi only`, such as HTTP on a port
tshark does not decode as HTTP). Every case but `same` is written to --out
(default: outside-fields.tsv) with the capture, the endpoints and both
sides' names.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

FIELDS = [
    "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
    "tls.handshake.extensions_server_name", "http.host", "dns.qry.name",
]
NAMED = ("TLS", "QUIC", "HTTP", "DNS")


def norm(name):
    n = name.strip().lower().rstrip(".")
    return n


def host_norm(host):
    h = host.strip().lower()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    if h.count(":") == 1:
        return h.split(":", 1)[0]
    return h


def key(a, b):
    return tuple(sorted([a, b]))


def tshark_names(path):
    """5-tuple key -> set of names tshark printed, or None on failure."""
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "separator=|",
           "-Y", "tls.handshake.extensions_server_name or http.host or dns.qry.name"]
    for f in FIELDS:
        cmd += ["-e", f]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                             errors="replace").stdout
    except subprocess.TimeoutExpired:
        return None
    names = collections.defaultdict(set)
    for line in out.splitlines():
        x = line.split("|")
        if len(x) != len(FIELDS):
            continue
        # The innermost layer of a tunnelled packet is the last value.
        src = (x[0] or x[1]).split(",")[-1]
        dst = (x[2] or x[3]).split(",")[-1]
        sp = (x[4] or x[6]).split(",")[-1]
        dp = (x[5] or x[7]).split(",")[-1]
        if not (src and dst and sp and dp) or "137" in (sp, dp):
            continue
        k = key((src, sp), (dst, dp))
        for v in x[8].split(","):
            if v:
                names[k].add(norm(v))
        for v in x[9].split(","):
            if v:
                names[k].add(norm(host_norm(v)))
        for v in x[10].split(","):
            if v:
                names[k].add(norm(v))
    return names


def dpi_flows(dpi, path):
    out = subprocess.run([dpi, "classify", "-q", "--format", "jsonl", path],
                         capture_output=True, text=True, errors="replace").stdout
    flows = collections.defaultdict(list)
    for line in out.splitlines():
        j = json.loads(line)
        k = key((j["src_ip"], str(j["src_port"])), (j["dst_ip"], str(j["dst_port"])))
        flows[k].append(j)
    return flows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("captures")
    ap.add_argument("--dpi", default="target/release/dpi")
    ap.add_argument("--out", default="outside-fields.tsv")
    a = ap.parse_args()
    paths = []
    for root, _, files in os.walk(a.captures, followlinks=True):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".cap")):
                paths.append(os.path.join(root, f))
    paths.sort()
    count = collections.Counter()
    rows = []
    for i, p in enumerate(paths):
        if i % 100 == 0:
            print(f"{i}/{len(paths)} captures", file=sys.stderr)
        ts = tshark_names(p)
        if ts is None:
            count["tshark timed out"] += 1
            continue
        ours = dpi_flows(a.dpi, p)
        name = os.path.relpath(p, a.captures)
        for k, want in ts.items():
            flows = ours.get(k, [])
            got = [norm(host_norm(j.get("hostname") or "")) for j in flows]
            if not flows:
                case = "no flow"
            elif any(g in want for g in got if g):
                case = "same"
            elif any(got):
                case = "other"
            else:
                case = "none"
            count[case] += 1
            if case != "same":
                rows.append((name, case, k, sorted(want), [g for g in got if g]))
        for k, flows in ours.items():
            if k in ts:
                continue
            for j in flows:
                if j.get("hostname") and j["protocol"] in NAMED:
                    count["dpi only"] += 1
                    rows.append((name, "dpi only", k, [], [j["hostname"]]))
    with open(a.out, "w") as f:
        f.write("capture\tcase\tendpoints\ttshark\tdpi\n")
        for name, case, k, want, got in rows:
            ends = " ".join(f"{h}:{p}" for h, p in k)
            f.write(f"{name}\t{case}\t{ends}\t{','.join(want)}\t{','.join(got)}\n")
    named = sum(count[c] for c in ("same", "other", "none", "no flow"))
    print(f"captures {len(paths)}; flows tshark names {named}: same {count['same']}"
          f" ({100 * count['same'] / max(named, 1):.2f}%), other {count['other']},"
          f" none {count['none']}, no flow {count['no flow']}; dpi only {count['dpi only']};"
          f" tshark timed out {count['tshark timed out']}; cases in {a.out}")


if __name__ == "__main__":
    main()
