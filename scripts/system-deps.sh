#!/usr/bin/env bash
# The Debian packages `make test` and `make bench` need, installed only when missing; a second run installs nothing
# and says so.
#   PostgreSQL (initdb, pg_ctl; run as the postgres user through runuser when the tests run as root), redis-server,
#   Debian's chromium at /usr/bin/chromium (the console tests drive it) with a CJK font for the Chinese pages,
#   fontconfig (fc-list finds that font), tzdata (the district's Asia/Shanghai dates), python3-venv (the .venv) and
#   wrk (the HTTP load generator `make bench` drives the served API with).
# Usage: bash scripts/system-deps.sh [--dry-run]   (--dry-run lists what is missing, installs nothing, exits 1 if any)
set -euo pipefail

dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1

# Each check captures a command's output instead of piping it into `grep -q`: under pipefail a grep that stops at the
# first match makes the writer fail with SIGPIPE, and the check then reports present packages as missing.
has_postgresql() { compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
has_command() { command -v "$1" >/dev/null 2>&1; }
has_cjk_font() {
  local fonts
  fonts=$(fc-list :lang=zh family 2>/dev/null) || return 1
  [[ "${fonts,,}" == *"noto sans cjk"* ]]
}
has_venv() { python3 -c "import ensurepip, venv" >/dev/null 2>&1; }

# Fills `present` and `missing` with the packages whose check passes or fails.
check_all() {
  present=()
  missing=()
  check postgresql has_postgresql
  check util-linux has_command runuser
  check redis-server has_command redis-server
  check chromium test -x /usr/bin/chromium
  check fontconfig has_command fc-list
  check fonts-noto-cjk has_cjk_font
  check tzdata test -e /usr/share/zoneinfo/Asia/Shanghai
  check python3-venv has_venv
  check wrk has_command wrk
}
check() {
  local package=$1
  shift
  if "$@"; then present+=("$package"); else missing+=("$package"); fi
}

check_all
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${present[*]}); nothing to install"
  exit 0
fi
echo "system packages missing: ${missing[*]}"
if [ "$dry_run" -eq 1 ]; then
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! has_command sudo; then
    echo "run as root or install sudo, then run again: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
echo "installing: ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The font is found only once fontconfig's cache knows it.
if has_command fc-cache; then "${SUDO[@]}" fc-cache -s >/dev/null 2>&1 || true; fi

wanted=("${missing[@]}")
check_all
if [ ${#missing[@]} -gt 0 ]; then
  echo "still missing after apt-get install: ${missing[*]}" >&2
  exit 1
fi
echo "installed: ${wanted[*]}"
