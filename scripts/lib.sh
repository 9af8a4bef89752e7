# Shared by scripts/run.sh and scripts/test.sh: a project virtualenv with everything installed.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  # Install Debian packages that are missing (one apt-get update per run, only when needed).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

ensure_python() {
  if ! python3 -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    apt_install python3 python3-venv python3-dev
  fi
}

ensure_venv() {
  # $1: extras to install beside the runtime ("" for the service alone, "dev,bench" for the tests).
  # Reinstall only when pyproject.toml or the extras changed since the last install.
  local extras="${1:-}"
  ensure_python
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" <(echo "$extras") | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "installing Python packages into $VENV${extras:+ (with $extras)}" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}" >&2
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

ensure_node_modules() {
  # Front-end libraries from the npm registry, exactly as package-lock.json pins them.
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  local stamp="$ROOT/node_modules/.installed-$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "installing front-end packages (npm ci)" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
  fi
}
