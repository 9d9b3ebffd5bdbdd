#!/usr/bin/env bash
# Benchmark: `sheetbridge convert` against the floor (calamine's streaming cell reader plus
# rust_xlsxwriter's constant-memory writer copying every cell) on a city export of ROWS rows
# made by ../shared/tools/gen_city_export.py. Prints wall time and peak memory of each.
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

measure() { # name, command...
  local name=$1; shift
  local best_t="" best_m=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$DATA/time.txt" "$@" >/dev/null 2>"$DATA/stderr.txt" || {
      code=$?; [ "$code" -eq 3 ] || { cat "$DATA/stderr.txt"; exit "$code"; }; }
    read -r t m < <(tail -n 1 "$DATA/time.txt")
    if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; best_m=$m; fi
  done
  printf '%-8s %8.1f s %8.0f MiB\n' "$name" "$best_t" "$(echo "$best_m/1024" | bc -l)"
  eval "${name}_t=$best_t"
}

echo "rows: $ROWS, cores: $(nproc), best of $RUNS run(s)"
measure floor ./target/release/examples/floor "$INPUT" "$DATA/floor_out.xlsx"
measure convert ./target/release/sheetbridge convert "$INPUT" -o "$DATA/convert_out.xlsx"
printf 'convert / floor = %.2f\n' "$(echo "$convert_t / $floor_t" | bc -l)"
