#!/usr/bin/env bash
# Scale-out benchmark (docs/benchmarks.md): the same corpus through
#   A. one process on SQLite            (chorus ingest)
#   B. one process on PostgreSQL        (chorus ingest --database postgres://…)
#   C. two worker processes on PostgreSQL (ingest --store-only, then two
#      `chorus run --roles embed,cluster,write` until nothing is left to do)
# and story-page requests/s with one web process vs two (wrk against each port at once,
# summed). Every number is from this one run; ratios are what to compare.
#
#   scripts/bench-scale.sh [CORPUS.jsonl]     (default: Global Voices + 500 ITN blurbs)
#
# Needs a release build (cargo build --release), a PostgreSQL server whose address is in
# CHORUS_BENCH_POSTGRES_URL (default postgres://$USER@127.0.0.1:5432/postgres; the script
# creates and drops its own databases) and wrk for the web part.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/chorus
admin="${CHORUS_BENCH_POSTGRES_URL:-postgres://$(id -un)@127.0.0.1:5432/postgres}"
threads="${CHORUS_THREADS:-1}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

corpus="${1:-}"
if [ -z "$corpus" ]; then
  corpus="$work/corpus.jsonl"
  cat data/demo/global-voices.jsonl > "$corpus"
  head -n 500 data/demo/itn.jsonl >> "$corpus"
fi
n=$(wc -l < "$corpus")
db_url() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$admin" "$1"; }
psql_admin() { psql -q -X "$admin" -c "$1" >/dev/null; }
secs() { python3 -c 'import time; print(time.time())'; }

echo "corpus: $n articles, $threads inference thread(s) per process"

# A. one process, SQLite
t0=$(secs)
CHORUS_THREADS=$threads $bin ingest --data-dir "$work/a" "$corpus" > "$work/a.log" 2>&1
t1=$(secs)
a=$(python3 -c "print($n/($t1-$t0))")
echo "A one process, SQLite:      $(python3 -c "print(round($t1-$t0,1))") s, $(python3 -c "print(round($a,2))") articles/s"

# B. one process, PostgreSQL
psql_admin "DROP DATABASE IF EXISTS chorus_bench_b"; psql_admin "CREATE DATABASE chorus_bench_b"
t0=$(secs)
CHORUS_THREADS=$threads $bin ingest --database "$(db_url chorus_bench_b)" --data-dir "$work/b" "$corpus" > "$work/b.log" 2>&1
t1=$(secs)
b=$(python3 -c "print($n/($t1-$t0))")
echo "B one process, PostgreSQL:  $(python3 -c "print(round($t1-$t0,1))") s, $(python3 -c "print(round($b,2))") articles/s"

# C. two workers, PostgreSQL
psql_admin "DROP DATABASE IF EXISTS chorus_bench_c"; psql_admin "CREATE DATABASE chorus_bench_c"
c_url="$(db_url chorus_bench_c)"
t0=$(secs)
$bin ingest --store-only --database "$c_url" --data-dir "$work/c" "$corpus" > "$work/c.log" 2>&1
for w in 1 2; do
  CHORUS_THREADS=$threads $bin run --roles embed,cluster,write --database "$c_url" --data-dir "$work/c" \
    --poll-seconds 1 > "$work/worker$w.log" 2>&1 &
done
left() {
  psql -tA -X "$c_url" -c "SELECT (SELECT COUNT(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id))
    + (SELECT COUNT(*) FROM articles WHERE story_id IS NULL) + (SELECT COUNT(*) FROM stories WHERE dirty)
    + (SELECT COUNT(*) FROM work_leases)"
}
sleep 2
while [ "$(left)" != 0 ]; do sleep 0.5; done
t1=$(secs)
kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
c=$(python3 -c "print($n/($t1-$t0))")
echo "C two workers, PostgreSQL:  $(python3 -c "print(round($t1-$t0,1))") s, $(python3 -c "print(round($c,2))") articles/s"
stories() { psql -tA -X "$1" -c "SELECT COUNT(*) FROM stories"; }
echo "stories: A $(sqlite3 "$work/a/chorus.db" 'SELECT COUNT(*) FROM stories'), B $(stories "$(db_url chorus_bench_b)"), C $(stories "$c_url")"
echo "ratios: PostgreSQL/SQLite one process $(python3 -c "print(round($b/$a,3))"); two workers/one process (PostgreSQL) $(python3 -c "print(round($c/$b,3))")"

# Web: story pages with one web process vs two.
if command -v wrk >/dev/null 2>&1; then
  ids=$(psql -tA -X "$c_url" -c "SELECT id FROM stories ORDER BY id" | tr '\n' ' ')
  cat > "$work/pages.lua" <<EOF
local ids = {}
for id in string.gmatch("$ids", "%d+") do ids[#ids + 1] = id end
request = function() return wrk.format("GET", "/stories/" .. ids[math.random(#ids)]) end
EOF
  serve() { $bin run --roles web --database "$c_url" --data-dir "$work/c" --listen "127.0.0.1:$1" > "$work/web$1.log" 2>&1 & }
  rps() { grep 'Requests/sec' "$1" | awk '{print $2}'; }
  serve 18081; sleep 3
  wrk -t2 -c32 -d8s -s "$work/pages.lua" http://127.0.0.1:18081 > /dev/null  # warm the caches
  wrk -t2 -c32 -d8s -s "$work/pages.lua" http://127.0.0.1:18081 > "$work/one.txt"
  serve 18082; sleep 3
  wrk -t2 -c32 -d8s -s "$work/pages.lua" http://127.0.0.1:18082 > /dev/null
  wrk -t1 -c16 -d8s -s "$work/pages.lua" http://127.0.0.1:18081 > "$work/two-a.txt" & first=$!
  wrk -t1 -c16 -d8s -s "$work/pages.lua" http://127.0.0.1:18082 > "$work/two-b.txt"
  wait "$first"
  one=$(rps "$work/one.txt"); two=$(python3 -c "print($(rps "$work/two-a.txt") + $(rps "$work/two-b.txt"))")
  echo "web: one process $one req/s; two processes $two req/s; ratio $(python3 -c "print(round($two/$one,3))")"
fi
psql_admin "DROP DATABASE IF EXISTS chorus_bench_b WITH (FORCE)"; psql_admin "DROP DATABASE IF EXISTS chorus_bench_c WITH (FORCE)"
