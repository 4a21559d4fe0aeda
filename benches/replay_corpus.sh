#!/usr/bin/env bash
# Makes OUT, a corpus holding every capture of CORPUS N times under other
# names (hard links: no space taken), with its nDPI labels, for measuring
# how memory grows with the corpus (benches/README.md, "Training memory").
#   benches/replay_corpus.sh CORPUS N OUT
set -euo pipefail
src=$1 n=$2 out=$3
mkdir -p "$out/pcap" "$out/expected" "$out/labels/ndpi"
for ((i = 0; i < n; i++)); do
  for f in "$src"/pcap/*; do
    c=$(basename "$f")
    ln -f "$f" "$out/pcap/r$i-$c"
    [ -f "$src/expected/$c.out" ] && ln -f "$src/expected/$c.out" "$out/expected/r$i-$c.out"
    for l in "$src/labels/ndpi/$c".*; do
      [ -f "$l" ] && ln -f "$l" "$out/labels/ndpi/r$i-$(basename "$l")"
    done
  done
done
