#!/usr/bin/env bash
# Debian packages the system and its tests need; installs only what is missing, and only as root.
set -euo pipefail

need=()
command -v python3 >/dev/null || need+=(python3 python3-venv)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
# The quick start and the tests fall back to an embedded PostgreSQL when no server answers.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  need+=(postgresql postgresql-contrib)
fi
# The web portal is built with Node/npm; its browser tests drive Debian's Chromium.
if [ -f "$(dirname "$0")/../../web/package.json" ]; then
  command -v npm >/dev/null || need+=(nodejs npm)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # Mail bodies render in sandboxed frames that cannot load the portal's web font: the browser
  # falls back to a system Korean font (every Korean desktop has one; a bare server needs this).
  fc-list :lang=ko 2>/dev/null | grep -q . || need+=(fonts-nanum)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${need[*]} (install them, or run as root on Debian)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
