#!/usr/bin/env bash
# Runs dpi-train/spark/train_spark.py on `local[2]` over CORPUS and prints
# the peak RSS (VmHWM, polled every 0.5 s) of the Spark JVM it starts
# (benches/README.md, "Distributed training").
#   benches/spark_jvm_peak.sh DPI PY CORPUS OUT_PREFIX
set -uo pipefail
dpi=$1 py=$2 corpus=$3 out=$4
job=$(dirname "$0")/../dpi-train/spark/train_spark.py
"$py" "$job" --master 'local[2]' --dpi "$dpi" --corpus "$corpus" --reference ndpi \
  -o "$out.sig" --extended-out "$out.rules" --mine-arg=-q >"$out.log" 2>&1 &
pid=$!
peak=0
while kill -0 $pid 2>/dev/null; do
  for c in $(ps -o pid= --ppid $pid); do
    for q in $c $(ps -o pid= --ppid "$c"); do
      if grep -q java "/proc/$q/comm" 2>/dev/null; then
        h=$(awk '/VmHWM/{print $2}' "/proc/$q/status" 2>/dev/null)
        [ -n "$h" ] && [ "$h" -gt "$peak" ] && peak=$h
      fi
    done
  done
  sleep 0.5
done
wait $pid
echo "jvm_peak_kB=$peak exit=$?"
grep '^train_spark:' "$out.log"
