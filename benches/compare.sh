#!/usr/bin/env bash
# Side by side: `dpi classify` and nDPI's `ndpiReader` over one large capture
# and over a flood of distinct flows, run alternately, whole-process time and
# memory measured by /usr/bin/time.
#
#   DPI_CORPUS=DIR benches/compare.sh [--pairs N] [--copies K] [--jobs "1 2"]
#                                    [--work DIR] [--no-flood] [--flood-flows N]
#                                    [--pcapng] [--halves]
#
# The large capture: every Ethernet capture of $DPI_CORPUS/ndpi and
# $DPI_CORPUS/zeek merged by time (mergecap), K copies shifted by one day
# each (editcap -t) merged again (K = 8 by default). The same with distinct
# flows: copy k also has its IP addresses moved (`dpi-samples readdress
# --shift k`), so that no copy repeats another's 5-tuples (ndpiReader keeps
# a flow until the end of the file and takes a repeated 5-tuple a day
# later for more packets of the old flow; dpi ends a flow idle for 600 s).
# With --pcapng, also the merged capture converted to pcapng (`editcap -F
# pcapng`), which dpi reads in blocks on every thread as it does a classic
# pcap file. The flood: `dpi-samples flood --flows N --packets-per-flow 2`
# (N = 1,000,000). All are built once under the work directory (target/compare
# by default) and reused. Before the timed runs, each tool's flow count of
# each capture is printed (dpi's records, ndpiReader's "Unique flows"),
# and the output of `dpi classify` at each J of --jobs is compared with
# that at the first J: the script stops if they differ in any byte.
#
# For each capture: one warm-up run of each tool (which also brings the file
# into the page cache), the time `dd` takes to read the file alone (the
# copy out of the page cache that any reader of it pays), then N pairs (3
# by default): `dpi classify -j J -q
# --format jsonl -o /dev/null` for each J of --jobs, then `ndpiReader -q -n 1
# -i`, then (classic pcap files) the floor, `capture-floor --map`: the file
# mapped, every packet decoded to its 5-tuple and counted in a flow table,
# a line written per flow, nothing classified (benches/src/bin/
# capture_floor.rs). With --halves, also the capture cut into two halves
# by packet count (`editcap -c`) and `dpi classify -j 1` run on both halves
# at once: what two threads sharing nothing take on this machine (the
# halves are cut by packets, not by work, so they may be uneven). Printed per run: wall and CPU (user + system)
# seconds, packets per second of wall and of CPU time, peak RSS; per pair,
# how many times faster dpi and the floor are than ndpiReader (wall and
# CPU), and how many times faster each J is than the first (wall); then the
# medians, with a fifth of ndpiReader's time next to the time of reading
# the file alone and to the floor's. A benchmark, not a test: the figures
# depend on the machine and its load, the ratios of one pair less so.
set -euo pipefail

pairs=3
copies=8
jobs="1"
flood=1
flood_flows=1000000
pcapng=0
halves=0
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/compare"
usage="usage: $0 [--pairs N] [--copies K] [--jobs \"J...\"] [--work DIR] [--no-flood] [--flood-flows N] [--pcapng] [--halves]"
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-flood) flood=0; shift ;;
    --flood-flows) flood_flows=$2; shift 2 ;;
    --pcapng) pcapng=1; shift ;;
    --halves) halves=1; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for n in "$pairs" "$copies" "$flood_flows"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
done

die() { echo "compare.sh: $*" >&2; exit 1; }
[ -n "${DPI_CORPUS:-}" ] || die "set DPI_CORPUS to a corpus folder holding ndpi/ and zeek/"
for t in mergecap editcap capinfos ndpiReader; do
  command -v "$t" >/dev/null || die "$t is missing (Debian: wireshark-common, libndpi-bin)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: time)"

echo "building dpi, dpi-samples and capture-floor (release)" >&2
(cd "$root" && cargo build --release -q -p dpi-train -p dpi-samples \
  && cargo build --release -q -p dpi-benches --bin capture-floor)
dpi="$root/target/release/dpi"
floorbin="$root/target/release/capture-floor"
samples="$root/target/release/dpi-samples"
mkdir -p "$work"

base="$work/base.pcap"
if [ ! -s "$base" ]; then
  echo "building $base" >&2
  list="$work/ether.txt"
  : > "$list"
  for d in ndpi zeek; do
    for f in "$DPI_CORPUS/$d/pcap/"*; do
      # Ethernet captures only (ndpiReader reads one link type per file);
      # captures capinfos cannot read are left out.
      enc=$(capinfos -T -E "$f" 2>/dev/null | awk -F'\t' 'NR==2{print $2}') || true
      [ "$enc" = "ether" ] && echo "$f" >> "$list"
    done
  done
  [ -s "$list" ] || die "no Ethernet capture under $DPI_CORPUS/{ndpi,zeek}/pcap"
  xargs -d '\n' mergecap -F pcap -w "$base" < "$list" 2>/dev/null \
    || die "mergecap failed on the captures of $list"
fi

# Writes OUT: the copies of the base capture shifted by k days, k = 0 to
# copies - 1, merged; with MOVE=1, copy k's IP addresses moved by k too.
build_copies() {
  local out=$1 move=$2 parts=() k part
  [ -s "$out" ] && return 0
  echo "building $out" >&2
  for k in $(seq 0 $((copies - 1))); do
    part="$work/copy$k.pcap"
    editcap -F pcap -t $((k * 86400)) "$base" "$part"
    if [ "$move" = 1 ]; then
      "$samples" readdress --shift "$k" -o "$work/moved$k.pcap" "$part" > /dev/null \
        || die "dpi-samples readdress failed on $part"
      rm -f "$part"
      part="$work/moved$k.pcap"
    fi
    parts+=("$part")
  done
  mergecap -F pcap -w "$out" "${parts[@]}"
  rm -f "${parts[@]}"
}
merged="$work/merged-$copies.pcap"
build_copies "$merged" 0
distinct="$work/distinct-$copies.pcap"
build_copies "$distinct" 1
merged_ng="$work/merged-$copies.pcapng"
if [ "$pcapng" = 1 ] && [ ! -s "$merged_ng" ]; then
  echo "building $merged_ng" >&2
  editcap -F pcapng "$merged" "$merged_ng"
fi

flood_cap="$work/flood-$flood_flows.pcap"
if [ "$flood" = 1 ] && [ ! -s "$flood_cap" ]; then
  echo "building $flood_cap" >&2
  "$samples" flood --flows "$flood_flows" --packets-per-flow 2 -o "$flood_cap"
fi

# Runs a command under /usr/bin/time; prints "wall cpu rss_kb".
measure() {
  local tf out
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "TIME %e %U %S %M" "$@" > /dev/null 2>&1 || die "failed: $*"
  out=$(grep '^TIME' "$tf" | tail -1 || true)
  rm -f "$tf"
  [ -n "$out" ] || die "no timing for: $*"
  awk '{printf "%s %.2f %s\n", $2, $3 + $4, $5}' <<< "$out"
}

# `dpi classify -j 1` on two captures at once; prints what measure prints.
halves_at_once() {
  measure bash -c '"$0" classify -j 1 -q --format jsonl -o /dev/null "$1" &
    "$0" classify -j 1 -q --format jsonl -o /dev/null "$2" &
    wait -n && wait -n' "$dpi" "$1" "$2"
}

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_capture() {
  local cap=$1 label=$2
  local packets
  packets=$(capinfos -c -M "$cap" | awk -F': *' '/Number of packets/{gsub(/ /,"",$2); print $2}')
  echo
  echo "== $label: $cap ($packets packets, $(du -m "$cap" | cut -f1) MB)"
  cat "$cap" > /dev/null
  echo "flows: dpi $("$dpi" classify -j 1 -q --format jsonl "$cap" | wc -l)," \
    "ndpiReader $( (ndpiReader -n 1 -i "$cap" 2>/dev/null || true) | awk '/Unique flows/{print $3; exit}')"
  # Every thread count must write the same bytes as the first one.
  local first; first=$(awk '{print $1}' <<< "$jobs")
  for j in $jobs; do
    [ "$j" = "$first" ] && continue
    cmp -s <("$dpi" classify -j "$first" -q --format jsonl "$cap") \
      <("$dpi" classify -j "$j" -q --format jsonl "$cap") \
      || die "dpi classify -j $first and -j $j wrote different output for $cap"
    echo "output: dpi classify -j $first and -j $j byte for byte the same"
  done
  for j in $jobs; do measure "$dpi" classify -j "$j" -q --format jsonl -o /dev/null "$cap" > /dev/null; done
  measure ndpiReader -q -n 1 -i "$cap" > /dev/null
  # The floor reads classic pcap files only.
  local floor_on=0
  case "$cap" in *.pcap) floor_on=1; measure "$floorbin" --map "$cap" > /dev/null ;; esac
  local half1="" half2=""
  if [ "$halves" = 1 ] && [ "$floor_on" = 1 ]; then
    half1="${cap%.pcap}.half-1.pcap"; half2="${cap%.pcap}.half-2.pcap"
    if [ ! -s "$half1" ] || [ ! -s "$half2" ] || [ "$cap" -nt "$half1" ]; then
      local hdir; hdir=$(mktemp -d "$work/halves.XXXXXX")
      editcap -F pcap -c $(((packets + 1) / 2)) "$cap" "$hdir/half.pcap"
      local parts=("$hdir"/half_*.pcap)
      [ "${#parts[@]}" = 2 ] || die "editcap cut $cap into ${#parts[@]} parts, not 2"
      mv "${parts[0]}" "$half1"; mv "${parts[1]}" "$half2"; rmdir "$hdir"
    fi
    halves_at_once "$half1" "$half2" > /dev/null
  fi
  # What reading the file alone takes: the copy out of the page cache that
  # every reader of the file pays (dd with dpi's read size).
  local floor
  floor=$(for _ in 1 2 3; do measure dd if="$cap" of=/dev/null bs=256K | awk '{print $1}'; done | median)
  echo "reading the file alone (dd bs=256K, median of 3): $floor s wall"
  printf '%-6s %-22s %8s %8s %12s %12s %9s\n' pair tool "wall s" "CPU s" "pkt/s wall" "pkt/s CPU" "RSS MB"
  local tmp; tmp=$(mktemp -d)
  for p in $(seq 1 "$pairs"); do
    for j in $jobs; do
      read -r w c r <<< "$(measure "$dpi" classify -j "$j" -q --format jsonl -o /dev/null "$cap")"
      echo "$w" >> "$tmp/dpi$j.wall"; echo "$c" >> "$tmp/dpi$j.cpu"; echo "$r" >> "$tmp/dpi$j.rss"
      printf '%-6s %-22s %8s %8s %12.0f %12.0f %9.1f\n' "$p" "dpi -j $j" "$w" "$c" \
        "$(awk -v n="$packets" -v t="$w" 'BEGIN{print (t>0 ? n/t : 0)}')" \
        "$(awk -v n="$packets" -v t="$c" 'BEGIN{print (t>0 ? n/t : 0)}')" \
        "$(awk -v r="$r" 'BEGIN{print r/1024}')"
    done
    read -r w c r <<< "$(measure ndpiReader -q -n 1 -i "$cap")"
    echo "$w" >> "$tmp/ndpi.wall"; echo "$c" >> "$tmp/ndpi.cpu"; echo "$r" >> "$tmp/ndpi.rss"
    printf '%-6s %-22s %8s %8s %12.0f %12.0f %9.1f\n' "$p" "ndpiReader -n 1" "$w" "$c" \
      "$(awk -v n="$packets" -v t="$w" 'BEGIN{print (t>0 ? n/t : 0)}')" \
      "$(awk -v n="$packets" -v t="$c" 'BEGIN{print (t>0 ? n/t : 0)}')" \
      "$(awk -v r="$r" 'BEGIN{print r/1024}')"
    if [ "$floor_on" = 1 ]; then
      local fw fc fr
      read -r fw fc fr <<< "$(measure "$floorbin" --map "$cap")"
      echo "$fw" >> "$tmp/floor.wall"; echo "$fc" >> "$tmp/floor.cpu"; echo "$fr" >> "$tmp/floor.rss"
      printf '%-6s %-22s %8s %8s %12.0f %12.0f %9.1f\n' "$p" "floor (no classifying)" "$fw" "$fc" \
        "$(awk -v n="$packets" -v t="$fw" 'BEGIN{print (t>0 ? n/t : 0)}')" \
        "$(awk -v n="$packets" -v t="$fc" 'BEGIN{print (t>0 ? n/t : 0)}')" \
        "$(awk -v r="$fr" 'BEGIN{print r/1024}')"
      printf '%-6s %-22s wall %.2fx  CPU %.2fx\n' "$p" "ndpiReader / floor" \
        "$(awk -v a="$w" -v b="$fw" 'BEGIN{print (b>0 ? a/b : 0)}')" \
        "$(awk -v a="$c" -v b="$fc" 'BEGIN{print (b>0 ? a/b : 0)}')"
    fi
    if [ -n "$half1" ]; then
      local hw hc hr
      read -r hw hc hr <<< "$(halves_at_once "$half1" "$half2")"
      echo "$hw" >> "$tmp/halves.wall"; echo "$hc" >> "$tmp/halves.cpu"; echo "$hr" >> "$tmp/halves.rss"
      printf '%-6s %-22s %8s %8s\n' "$p" "halves at once, -j 1" "$hw" "$hc"
      printf '%-6s %-22s wall %.2fx\n' "$p" "dpi -j $first / halves" \
        "$(awk -v a="$(tail -1 "$tmp/dpi$first.wall")" -v b="$hw" 'BEGIN{print (b>0 ? a/b : 0)}')"
    fi
    for j in $jobs; do
      printf '%-6s %-22s wall %.2fx  CPU %.2fx\n' "$p" "ndpiReader / dpi -j $j" \
        "$(awk -v a="$w" -v b="$(tail -1 "$tmp/dpi$j.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')" \
        "$(awk -v a="$c" -v b="$(tail -1 "$tmp/dpi$j.cpu")" 'BEGIN{print (b>0 ? a/b : 0)}')"
    done
    for j in $jobs; do
      [ "$j" = "$first" ] && continue
      printf '%-6s %-22s wall %.2fx\n' "$p" "dpi -j $first / -j $j" \
        "$(awk -v a="$(tail -1 "$tmp/dpi$first.wall")" -v b="$(tail -1 "$tmp/dpi$j.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')"
    done
  done
  echo "-- medians over $pairs pairs"
  local extra=""
  [ "$floor_on" = 1 ] && extra="floor"
  [ -n "$half1" ] && extra="$extra halves"
  for t in $(for j in $jobs; do echo "dpi$j"; done) ndpi $extra; do
    printf '%-22s wall %8s s  CPU %8s s  peak RSS %8.1f MB\n' "$t" \
      "$(median < "$tmp/$t.wall")" "$(median < "$tmp/$t.cpu")" \
      "$(median < "$tmp/$t.rss" | awk '{print $1/1024}')"
  done
  printf 'ndpiReader / 5: %.3f s wall; reading the file alone: %s s\n' \
    "$(median < "$tmp/ndpi.wall" | awk '{print $1 / 5}')" "$floor"
  if [ "$floor_on" = 1 ]; then
    printf 'ndpiReader / floor: wall %.2fx (medians): the most any classifier writing a record per flow could reach here\n' \
      "$(awk -v a="$(median < "$tmp/ndpi.wall")" -v b="$(median < "$tmp/floor.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')"
  fi
  if [ -n "$half1" ]; then
    printf 'dpi -j %s / halves at once: wall %.2fx (medians): what two threads sharing nothing gain here\n' "$first" \
      "$(awk -v a="$(median < "$tmp/dpi$first.wall")" -v b="$(median < "$tmp/halves.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')"
  fi
  for j in $jobs; do
    printf 'ndpiReader / dpi -j %s: wall %.2fx, CPU %.2fx (medians)\n' "$j" \
      "$(awk -v a="$(median < "$tmp/ndpi.wall")" -v b="$(median < "$tmp/dpi$j.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')" \
      "$(awk -v a="$(median < "$tmp/ndpi.cpu")" -v b="$(median < "$tmp/dpi$j.cpu")" 'BEGIN{print (b>0 ? a/b : 0)}')"
  done
  for j in $jobs; do
    [ "$j" = "$first" ] && continue
    printf 'dpi -j %s / -j %s: wall %.2fx (medians)\n' "$first" "$j" \
      "$(awk -v a="$(median < "$tmp/dpi$first.wall")" -v b="$(median < "$tmp/dpi$j.wall")" 'BEGIN{print (b>0 ? a/b : 0)}')"
  done
  rm -rf "$tmp"
}

echo "dpi: $("$dpi" --version)"
echo "ndpiReader: $( (ndpiReader -h 2>&1 || true) | grep -m1 -o 'nDPI [^ ]*' || echo "version unknown")"
run_capture "$merged" "merged corpora, $copies copies"
run_capture "$distinct" "merged corpora, $copies copies with moved addresses"
if [ "$pcapng" = 1 ]; then
  run_capture "$merged_ng" "merged corpora, $copies copies, as pcapng"
fi
if [ "$flood" = 1 ]; then
  run_capture "$flood_cap" "flood of $flood_flows flows"
fi
