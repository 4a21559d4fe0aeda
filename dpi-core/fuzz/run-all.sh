#!/usr/bin/env bash
# Runs every cargo-fuzz target of the repository for SECONDS each, one after
# the other, seeded from the repository (and, with --shared, from the shared
# corpus in $DPI_CORPUS), and prints a table of runs per target.
#
#   dpi-core/fuzz/run-all.sh SECONDS [--shared] [TARGET...]
#
# Fuzz packages are found, not listed: every `fuzz/Cargo.toml` under the
# repository with `cargo-fuzz = true` (dpi-core/fuzz, dpi-train/fuzz, and any
# added later); every target `cargo fuzz list` names in them runs, or only
# the TARGETs given. Builds use debug assertions (integer overflow panics).
# New inputs go to <package>/corpus/<target>/, crashes to
# <package>/artifacts/<target>/ (both ignored by git). The exit status is 1
# when a target failed (a crash, a timeout of 20 s on one input, or more
# than 2 GB of memory), 2 on a usage error.
set -uo pipefail

usage="usage: $0 SECONDS [--shared] [TARGET...]"
secs=${1:-}
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }
shift
shared=0
only=()
for a in "$@"; do
  case "$a" in
    --shared) shared=1 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) only+=("$a") ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
export RUSTC_BOOTSTRAP=1 # cargo-fuzz needs nightly flags; only stable is installed
if ! command -v cargo-fuzz >/dev/null && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

# Seed directories of a target, by what it reads (directories only:
# libFuzzer runs single files once instead of fuzzing).
seeds() {
  local pkg=$1 t=$2 c=${DPI_CORPUS:-}
  [ -d "$pkg/seeds/$t" ] && echo "$pkg/seeds/$t"
  case "$t" in
    capture*)
      echo "$root/corpus/samples"
      if [ "$shared" = 1 ] && [ -n "$c" ]; then
        for d in ndpi zeek mixed; do [ -d "$c/$d/pcap" ] && echo "$c/$d/pcap"; done
      fi ;;
    stdsig*|extended*|classify*|sig*)
      echo "$root/signatures" ;;
    label_*)
      echo "$root/dpi-train/tests/data/labels"
      if [ "$shared" = 1 ] && [ -n "$c" ]; then
        local sub
        case "$t" in
          label_ndpi_out) sub=expected ;;
          label_ndpi_csv|label_ndpi_json) sub=labels/ndpi ;;
          label_lpi) sub=labels/lpi ;;
          label_argus) sub=labels/argus ;;
          *) sub= ;;
        esac
        [ -n "$sub" ] && for d in ndpi zeek mixed; do [ -d "$c/$d/$sub" ] && echo "$c/$d/$sub"; done
      fi ;;
  esac
  return 0
}

# Captures need room for several records; text inputs stay small, since the
# signature targets compile every regex they parse (larger inputs cost many
# times the runs for little new coverage).
max_len() {
  case "$1" in
    capture*) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local x
  for x in "${only[@]}"; do [ "$x" = "$1" ] && return 0; done
  return 1
}

mapfile -t packages < <(find "$root" -path "$root/target" -prune -o -path '*/fuzz/Cargo.toml' -print \
  | xargs grep -l '^cargo-fuzz = true' | xargs -n1 dirname | sort)

rows=()
failed=()
for pkg in "${packages[@]}"; do
  mapfile -t targets < <(cd "$pkg" && cargo fuzz list 2>/dev/null)
  todo=()
  for t in "${targets[@]}"; do wanted "$t" && todo+=("$t"); done
  [ ${#todo[@]} -eq 0 ] && continue
  echo "== building ${pkg#"$root"/} (${#todo[@]} target(s))" >&2
  if ! (cd "$pkg" && cargo fuzz build -O -a >&2); then
    failed+=("${pkg#"$root"/} (build)")
    continue
  fi
  for t in "${todo[@]}"; do
    mkdir -p "$pkg/corpus/$t"
    mapfile -t seed_dirs < <(seeds "$pkg" "$t")
    log=$(mktemp)
    echo "== $t: $secs s, seeds: ${seed_dirs[*]:-none}" >&2
    start=$(date +%s)
    (cd "$pkg" && cargo fuzz run -O -a "$t" "corpus/$t" "${seed_dirs[@]}" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
      -print_final_stats=1) >"$log" 2>&1
    status=$?
    took=$(( $(date +%s) - start ))
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*')
    [ -z "$runs" ] && runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ $status -eq 0 ]; then
      result=ok
    else
      result="FAILED (status $status, see ${pkg#"$root"/}/artifacts/$t)"
      failed+=("$t")
      tail -40 "$log" >&2
    fi
    rows+=("| \`$t\` | ${pkg#"$root"/} | $took | ${runs:-?} | $result |")
    rm -f "$log"
  done
done

echo "| target | package | seconds | runs | result |"
echo "| --- | --- | --- | --- | --- |"
for r in "${rows[@]}"; do echo "$r"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
