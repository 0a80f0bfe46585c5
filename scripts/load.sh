#!/usr/bin/env bash
# Load test of the reader's site: wrk against chorus serving a story page and the front
# page, and against nginx serving the same rendered HTML as static files, on the same
# machine in the same run; prints requests/s and p99 latency of each and chorus' ratio
# to nginx (target: >= 0.5 of nginx's requests/s, p99 < 10 ms at 64 connections).
#
#   scripts/load.sh [DATA_DIR]
#   MODE=random scripts/load.sh [DATA_DIR]
#
# DATA_DIR holds stories (default: the demo's folder; run `cargo run --release -- demo
# --no-serve` first). Settings: CONNS (64), SECS (10), WRK_THREADS (2), WORKERS (2: chorus'
# runtime threads and nginx' worker processes, so both get the same CPUs), CHORUS_BIN
# (a chorus binary to measure instead of this checkout's release build).
# MODE=random: every request a random page of every story in every edition (warm cache
# after one pass), nginx serving the same pages rendered to files, and chorus twice: with
# a browser User-Agent (views counted) and with a script's (not counted); target >= 0.85
# of nginx's requests/s and p99 < 10 ms with views counted.
# Installs wrk and nginx with apt when run as root and they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${1:-${CHORUS_DATA_DIR:-$HOME/.local/share/chorus}}"
conns="${CONNS:-64}"; secs="${SECS:-10}"; wrk_threads="${WRK_THREADS:-2}"; workers="${WORKERS:-2}"
ua="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "load.sh: missing ${need[*]}; install them (sudo apt-get install ${need[*]})" >&2; exit 1
  fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[ -f "$data_dir/chorus.db" ] || { echo "load.sh: no $data_dir/chorus.db; run: cargo run --release -- demo --no-serve" >&2; exit 1; }

# CHORUS_BIN: another build to measure (e.g. a baseline); else this checkout's release build.
chorus_bin="${CHORUS_BIN:-}"
if [ -z "$chorus_bin" ]; then cargo build --release --quiet; chorus_bin=target/release/chorus; fi
work="$(mktemp -d)"
cleanup() {
  [ -n "${chorus_pid:-}" ] && kill "$chorus_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$chorus_bin" serve --data-dir "$data_dir" --listen 127.0.0.1:0 --web-threads "$workers" >"$work/serve.log" 2>&1 &
chorus_pid=$!
for _ in $(seq 100); do grep -q "serving http://" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)"
[ -n "$base" ] || { cat "$work/serve.log"; exit 1; }
story="$(curl -fsS "$base/api/stories" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
story_path="/stories/$story?lang=en"
front_path="/?lang=en"

mkdir -p "$work/www/stories"
curl -fsS -A "$ua" "$base$story_path" >"$work/www/story.html"
curl -fsS -A "$ua" "$base$front_path" >"$work/www/index.html"
cat >"$work/nginx.conf" <<NGINX
worker_processes $workers;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { text/html html; }
  server {
    listen 127.0.0.1:18089;
    root $work/www;
    location = /story { default_type text/html; try_files /story.html =404; }
    location = /front { default_type text/html; try_files /index.html =404; }
    location /s/ { default_type text/html; }
  }
}
NGINX
# nginx' workers drop root and must be able to read the pages.
chmod -R a+rX "$work"
"$nginx_bin" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
sleep 0.5
nginx_base="http://127.0.0.1:18089"
curl -fsS "$nginx_base/story" | cmp -s - "$work/www/story.html" || { echo "nginx does not serve the page" >&2; exit 1; }

wrk_numbers() { # wrk's report in $work/wrk.txt -> "rps p99_ms non2xx"
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p99:.2f} {errors.group(1) if errors else 0}")
PY
}

run_wrk() { # url -> "rps p99_ms non2xx"
  wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --latency -H "User-Agent: $ua" "$1" >"$work/wrk.txt"
  wrk_numbers
}

if [ "${MODE:-}" = random ]; then
  # Every story in every edition, rendered once through chorus (a script's User-Agent:
  # no views) into files nginx serves; the same list of paths drives wrk for both.
  curl -fsS "$base/api/stories" | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)]' >"$work/ids"
  mkdir -p "$work/www/s"
  : >"$work/chorus-paths"; : >"$work/nginx-paths"
  while read -r id; do
    for lang in en de fr es it; do
      echo "/stories/$id?lang=$lang" >>"$work/chorus-paths"
      echo "/s/$id-$lang.html" >>"$work/nginx-paths"
      echo "url = \"$base/stories/$id?lang=$lang\""
      echo "output = \"$work/www/s/$id-$lang.html\""
    done
  done <"$work/ids" >"$work/curl.cfg"
  curl -fsS -A "load.sh" --parallel --parallel-max 8 -K "$work/curl.cfg"
  chmod -R a+rX "$work"
  pages="$(wc -l <"$work/chorus-paths")"
  cat >"$work/random.lua" <<'LUA'
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
LUA
  run_random() { # base paths-file user-agent -> "rps p99_ms non2xx"
    wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --latency -H "User-Agent: $3" -s "$work/random.lua" "$1" -- "$2" \
      >"$work/wrk.txt"
    wrk_numbers
  }
  echo "load (random pages): $pages pages, $conns connections, $secs s each, wrk $wrk_threads threads, $workers server workers, $(nproc) cores"
  # One warm-up pass through chorus so every page is cached, as nginx's files are.
  run_random "$base" "$work/chorus-paths" "load.sh" >/dev/null
  read -r n_rps n_p99 n_err <<<"$(run_random "$nginx_base" "$work/nginx-paths" "$ua")"
  read -r v_rps v_p99 v_err <<<"$(run_random "$base" "$work/chorus-paths" "$ua")"
  read -r b_rps b_p99 b_err <<<"$(run_random "$base" "$work/chorus-paths" "load.sh")"
  printf "%-28s %12s %10s %8s\n" server "requests/s" "p99 ms" non-2xx
  printf "%-28s %12s %10s %8s\n" nginx "$n_rps" "$n_p99" "$n_err"
  printf "%-28s %12s %10s %8s\n" "chorus, views counted" "$v_rps" "$v_p99" "$v_err"
  printf "%-28s %12s %10s %8s\n" "chorus, not counted" "$b_rps" "$b_p99" "$b_err"
  ratio="$(python3 -c "print(f'{$v_rps/$n_rps:.2f}')")"
  ratio_b="$(python3 -c "print(f'{$b_rps/$n_rps:.2f}')")"
  verdict="$(python3 -c "print('meets' if $v_rps/$n_rps >= 0.85 and $v_p99 < 10 else 'misses')")"
  echo "random pages: chorus/nginx requests/s = $ratio with views counted ($ratio_b without), p99 = $v_p99 ms -> $verdict the target (>= 0.85, < 10 ms)"
  report="target/load-random-report.json"
  printf '{"pages": %s, "nginx_rps": %s, "nginx_p99_ms": %s, "counted_rps": %s, "counted_p99_ms": %s, "uncounted_rps": %s, "uncounted_p99_ms": %s, "ratio_counted": %s, "ratio_uncounted": %s, "counted_non_2xx": %s}\n' \
    "$pages" "$n_rps" "$n_p99" "$v_rps" "$v_p99" "$b_rps" "$b_p99" "$ratio" "$ratio_b" "$v_err" >"$report"
  echo "written $report"
  exit 0
fi

echo "load: $conns connections, $secs s each, wrk $wrk_threads threads, $workers server workers, $(nproc) cores"
printf "%-12s %-8s %12s %10s %8s\n" page server "requests/s" "p99 ms" non-2xx
report="target/load-report.json"
echo "{" >"$report"
first=1
for page in story front; do
  if [ "$page" = story ]; then path="$story_path"; else path="$front_path"; fi
  read -r n_rps n_p99 n_err <<<"$(run_wrk "$nginx_base/$page")"
  read -r c_rps c_p99 c_err <<<"$(run_wrk "$base$path")"
  printf "%-12s %-8s %12s %10s %8s\n" "$page" nginx "$n_rps" "$n_p99" "$n_err"
  printf "%-12s %-8s %12s %10s %8s\n" "$page" chorus "$c_rps" "$c_p99" "$c_err"
  ratio="$(python3 -c "print(f'{$c_rps/$n_rps:.2f}')")"
  verdict="$(python3 -c "print('meets' if $c_rps/$n_rps >= 0.5 and $c_p99 < 10 else 'misses')")"
  echo "$page: chorus/nginx requests/s = $ratio, chorus p99 = $c_p99 ms -> $verdict the target (>= 0.5, < 10 ms)"
  [ $first = 1 ] || echo "," >>"$report"
  first=0
  printf '"%s": {"nginx_rps": %s, "nginx_p99_ms": %s, "chorus_rps": %s, "chorus_p99_ms": %s, "ratio": %s, "chorus_non_2xx": %s}' \
    "$page" "$n_rps" "$n_p99" "$c_rps" "$c_p99" "$ratio" "$c_err" >>"$report"
done
echo "}" >>"$report"
echo "written $report"
