#!/usr/bin/env bash
# Accuracy on captures from outside the shared corpora, against the nDPI
# installed on this machine (Debian's ndpiReader).
#
#   benches/outside_eval.sh CAPTURES [--work DIR] [--dpi PATH] [--train]
#
# CAPTURES: a folder of captures, searched recursively for *.pcap,
# *.pcapng and *.cap files that start with a pcap or pcapng magic number.
# Each is linked into WORK/pcap/ under its path with `/` written as `__`;
# a capture byte-identical to an earlier one, or to one of the shared
# corpora ($DPI_CORPUS/*/pcap/, when DPI_CORPUS is set), is left out, so
# no figure counts a capture the shipped set was trained on. Each capture's
# labels come from `ndpiReader -q -i CAPTURE -C WORK/labels/ndpi/NAME.csv`
# (at most 60 s per capture), with the protocol names nDPI changed between
# its 4.2 and 4.11 releases for the same protocol id (DCE_RPC -> DCERPC,
# IPsec -> IPSec, s7comm -> S7Comm, Redis -> RESP, Z39.50 -> Z3950,
# SkypeCall -> Skype_TeamsCall) written as 4.11 writes them, since the
# shipped names follow the corpora's nDPI 4.11. Then `dpi eval --corpus WORK --reference ndpi --candidate dpi`
# runs with the built-in set and with the hand-written rules alone; with
# --train (and DPI_CORPUS set) also with the learner trained on the three
# shared corpora, alone (an empty hand-written set) and on top of the
# hand-written rules. The JSON reports go to WORK/eval-*.json, the
# per-flow comparison of the built-in set to WORK/report/flows.csv.
#
# ndpiReader 4.2's CSV has no confidence column: its port guesses (a flow
# to port 443 with no payload is "TLS") count as labels, and so do its
# IP-address matches (a flow to a Google address is "Google" when no
# dissector names it). Both lower every figure; the per-flow file shows
# which flows they are.
set -euo pipefail

work=target/outside
dpi=target/release/dpi
train=0
src=
while [ $# -gt 0 ]; do
    case "$1" in
    --work) work=$2; shift 2 ;;
    --dpi) dpi=$2; shift 2 ;;
    --train) train=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "outside_eval.sh: unknown option $1" >&2; exit 2 ;;
    *) src=$1; shift ;;
    esac
done
if [ -z "$src" ] || [ ! -d "$src" ]; then
    echo "outside_eval.sh: give a folder of captures (see --help)" >&2
    exit 2
fi
command -v ndpiReader >/dev/null || { echo "outside_eval.sh: ndpiReader is not installed (apt-get install libndpi-bin)" >&2; exit 2; }
[ -x "$dpi" ] || { echo "outside_eval.sh: $dpi not found (cargo build --release)" >&2; exit 2; }
if [ "$train" = 1 ] && [ -z "${DPI_CORPUS:-}" ]; then
    echo "outside_eval.sh: --train needs DPI_CORPUS" >&2
    exit 2
fi

src=$(cd "$src" && pwd)
rm -rf "$work"
mkdir -p "$work/pcap" "$work/labels/ndpi"
work=$(cd "$work" && pwd)

# Hashes of the shared corpora's captures, then one link per new capture.
seen=$(mktemp)
trap 'rm -f "$seen"' EXIT
if [ -n "${DPI_CORPUS:-}" ]; then
    find "$DPI_CORPUS" -path '*/pcap/*' -type f -exec sha256sum {} + | cut -d' ' -f1 >"$seen"
fi
kept=0 dup=0 other=0
while IFS= read -r -d '' f; do
    magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
    case "$magic" in
    d4c3b2a1 | a1b2c3d4 | 4d3cb2a1 | a1b23c4d | 0a0d0d0a) ;;
    *) other=$((other + 1)); continue ;;
    esac
    h=$(sha256sum "$f" | cut -d' ' -f1)
    if grep -qx "$h" "$seen"; then
        dup=$((dup + 1))
        continue
    fi
    echo "$h" >>"$seen"
    rel=${f#"$src"/}
    name=$(printf '%s' "${rel//\//__}" | tr -cs 'A-Za-z0-9._,+=@_-' '_')
    ln -s "$f" "$work/pcap/$name"
    kept=$((kept + 1))
done < <(find "$src" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
echo "captures: $kept kept, $dup byte-identical to another or to a shared corpus's, $other not pcap/pcapng"

failed=0
for p in "$work"/pcap/*; do
    n=$(basename "$p")
    if ! timeout 60 ndpiReader -q -i "$p" -C "$work/labels/ndpi/$n.csv" >/dev/null 2>&1; then
        failed=$((failed + 1))
        rm -f "$work/labels/ndpi/$n.csv"
    fi
done
# Names nDPI changed after 4.2 for the same protocol (same id, same
# dissector), written as 4.11 writes them, in the ndpi_proto column only.
for c in "$work"/labels/ndpi/*.csv; do
    awk -F, -v OFS=, '
        BEGIN {
            split("DCE_RPC=DCERPC IPsec=IPSec s7comm=S7Comm Redis=RESP Z39.50=Z3950 SkypeCall=Skype_TeamsCall", kv, " ")
            for (i in kv) { split(kv[i], p, "="); ren[p[1]] = p[2] }
        }
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ndpi_proto") col = i; print; next }
        col {
            n = split($col, part, ".")
            v = ""
            for (i = 1; i <= n; i++) v = v (i > 1 ? "." : "") (part[i] in ren ? ren[part[i]] : part[i])
            $col = v
        }
        { print }' "$c" >"$c.tmp" && mv "$c.tmp" "$c"
done
echo "ndpiReader ($(ndpiReader -h 2>&1 | grep -o 'nDPI [0-9.]*' | head -1)): $((kept - failed)) captures labelled, $failed failed or timed out"

run() {
    local tag=$1
    shift
    "$dpi" eval --corpus "$work" --reference ndpi --candidate dpi --format json "$@" >"$work/eval-$tag.json"
    python3 - "$tag" "$work/eval-$tag.json" <<'EOF'
import json, sys
tag, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
s = r.get("summary", r)
def pct(k):
    v = s.get(k)
    return "-" if v is None else f"{100 * v:.2f}%"
print(f"{tag:<34} accuracy {pct('accuracy')}  precision {pct('precision')}  coverage {pct('coverage')}  flows {s.get('flows')}")
EOF
}

run built-in --out-dir "$work/report"
run hand-written --sig signatures/default.rules --sig signatures/apps.rules
if [ "$train" = 1 ]; then
    : >"$work/EMPTY.rules"
    shared=(--train-corpus "$DPI_CORPUS/ndpi" --train-corpus "$DPI_CORPUS/zeek" --train-corpus "$DPI_CORPUS/mixed")
    run learner-alone-from-shared --sig "$work/EMPTY.rules" "${shared[@]}"
    run hand-written+learnt-from-shared "${shared[@]}"
fi
