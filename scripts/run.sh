#!/usr/bin/env bash
# The run command: install what is needed, migrate, load the demo city into an empty database, serve on
# 127.0.0.1:8000 (LBS_HOST, LBS_PORT).
# Embedded defaults: SQLite file and in-process broker, unless LBS_DATABASE_URL / LBS_REDIS_URL are set.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
HOST="${LBS_HOST:-127.0.0.1}"; PORT="${LBS_PORT:-8000}"
if [ -n "${LBS_DATABASE_URL:-}" ]; then
  echo "database: LBS_DATABASE_URL (PostgreSQL)"
else
  echo "database: ${LBS_SQLITE_PATH:-$HOME/.local/share/lbs/lbs.sqlite3} (SQLite; set LBS_DATABASE_URL for PostGIS)"
fi
echo "serving:  http://$HOST:$PORT/ (finder), /console, /merchant, /planner, /docs; LBS_PORT changes the port"
ensure_venv ""  # the service's runtime dependencies only
ensure_node_modules
"$VENV/bin/lbs" db upgrade
"$VENV/bin/lbs" demo --if-empty  # a second start keeps what is there; real stores never get demo ones
exec "$VENV/bin/lbs" serve --host "$HOST" --port "$PORT" --workers "${LBS_WORKERS:-1}"
