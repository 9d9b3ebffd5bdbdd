#!/usr/bin/env bash
# Benchmark: `sheetbridge convert` against the floor (calamine's streaming cell reader plus
# rust_xlsxwriter's constant-memory writer copying every cell) on a city export of ROWS rows
# made by ../shared/tools/gen_city_export.py; then the same rows as a CSV, and zip bombs
# (benches/bombs.py). Prints wall time and peak memory (resident set) of each.
#
#   bash benches/convert.sh            # 1,000,000 rows
#   ROWS=100000 RUNS=3 bash benches/convert.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-1}
GEN=${GEN:-../shared/tools/gen_city_export.py}
DATA=bench-data
mkdir -p "$DATA"
INPUT="$DATA/city_${ROWS}.xlsx"

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
if [ ! -f "$INPUT" ]; then
  python3 -c "import xlsxwriter" 2>/dev/null || pip install -q xlsxwriter
  python3 "$GEN" --rows "$ROWS" --title --bad-rate 0.002 -o "$INPUT"
fi
cargo build --release --quiet --bin sheetbridge --example floor
BIN=${CARGO_TARGET_DIR:-target}/release

measure() { # name, command...
  local name=$1; shift
  local best_t="" best_m=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$DATA/time.txt" "$@" >/dev/null 2>"$DATA/stderr.txt" || {
      code=$?; [ "$code" -eq 3 ] || [ "$code" -eq 2 ] || { cat "$DATA/stderr.txt"; exit "$code"; }; }
    read -r t m < <(tail -n 1 "$DATA/time.txt")
    if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; best_m=$m; fi
  done
  printf '%-22s %8.1f s %8.0f MiB\n' "$name" "$best_t" "$(echo "$best_m/1024" | bc -l)"
  eval "${name}_t=$best_t; ${name}_m=$best_m"
}

echo "rows: $ROWS, cores: $(nproc), best of $RUNS run(s), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
measure floor "$BIN/examples/floor" "$INPUT" "$DATA/floor_out.xlsx"
measure convert "$BIN/sheetbridge" convert "$INPUT" -o "$DATA/convert_out.xlsx"
# The one line to compare: convert against the floor of the same run.
printf 'convert %s rows: %.1f s vs floor %.1f s = %.2f x, peak %.0f MiB\n' "$ROWS" "$convert_t" \
  "$floor_t" "$(echo "$convert_t / $floor_t" | bc -l)" "$(echo "$convert_m/1024" | bc -l)"

# The same export as CSV (the upload sheet's columns, written by convert itself), converted
# back: peak memory must stay under 1 GiB (cli.md).
CSV="$DATA/city_${ROWS}.csv"
[ -f "$CSV" ] || "$BIN/sheetbridge" convert "$INPUT" -o "$CSV" >/dev/null 2>&1 || [ $? -eq 3 ]
measure csv "$BIN/sheetbridge" convert "$CSV" -o "$DATA/csv_out.xlsx"

# Zip bombs (benches/bombs.py): a few MB each, GIGS GiB inflated; each is refused (exit 2).
GIGS=${GIGS:-2}
[ -f "$DATA/bomb_cell.xlsx" ] || python3 benches/bombs.py "$DATA" "$GIGS"
for bomb in "$DATA"/bomb_*.xlsx; do
  name=$(basename "$bomb" .xlsx)
  measure "$name" "$BIN/sheetbridge" check "$bomb"
  grep -q "错误" "$DATA/stderr.txt" || { echo "$name was not refused"; exit 1; }
done
