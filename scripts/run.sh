#!/usr/bin/env bash
# The run command: install what is needed, migrate, load the demo city, serve on 127.0.0.1:8000.
# Embedded defaults: SQLite file and in-process broker, unless LBS_DATABASE_URL / LBS_REDIS_URL are set.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv ""  # the service's runtime dependencies only
ensure_node_modules
"$VENV/bin/lbs" db upgrade
"$VENV/bin/lbs" demo
exec "$VENV/bin/lbs" serve --host "${LBS_HOST:-127.0.0.1}" --port "${LBS_PORT:-8000}" --workers "${LBS_WORKERS:-1}"
