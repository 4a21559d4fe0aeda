#!/usr/bin/env bash
# Peak memory of the map step, of the reduce and of the mining over a
# replayed corpus
# (benches/README.md, "Distributed training: memory of the map and the
# reduce"). REPLAY is a corpus made by benches/replay_corpus.sh; DPI the
# dpi binary; PY a Python with duckdb.
#   benches/spark_memory.sh DPI PY REPLAY WORK
set -euo pipefail
dpi=$1 py=$2 replay=$3 work=$4
red=$(dirname "$0")/../dpi-train/spark/reduce_duckdb.py
rm -rf "$work" && mkdir -p "$work"
rss() { grep 'Maximum resident' "$1" | awk '{print $NF}'; }
/usr/bin/time -v "$dpi" train -q -j 1 --partial --format parquet --corpus "$replay" \
  -o "$work/whole" 2>"$work/whole.time"
max=0
for i in $(seq 0 9); do
  /usr/bin/time -v "$dpi" train -q -j 1 --partial --format parquet --only-part "$i/10" \
    --corpus "$replay" -o "$work/s$i" 2>"$work/s$i.time"
  r=$(rss "$work/s$i.time"); [ "$r" -gt "$max" ] && max=$r
done
/usr/bin/time -v "$dpi" train -q --partial --format parquet --from-partials "$work"/s? \
  -o "$work/merged" 2>"$work/merge.time"
/usr/bin/time -v "$py" "$red" -o "$work/duck" "$work"/s? 2>"$work/duck.time"
/usr/bin/time -v "$dpi" train -q --from-partials "$work/merged" -o "$work/mined.sig" \
  --extended-out "$work/mined.rules" 2>"$work/mine.time"
echo "captures=$(ls "$replay/pcap" | wc -l) whole_map_kB=$(rss "$work/whole.time") shard_map_max_kB=$max dpi_merge_kB=$(rss "$work/merge.time") duckdb_reduce_kB=$(rss "$work/duck.time") mine_kB=$(rss "$work/mine.time") partial_bytes=$(du -sb "$work/whole" | cut -f1)"
