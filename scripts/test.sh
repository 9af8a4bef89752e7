#!/usr/bin/env bash
# The test command: PostGIS, Redis, chromium (for page tests) and wrk (the HTTP benchmark's own test)
# from Debian's packages when missing,
# PostgreSQL and Redis on loopback, a fresh test database, then lint, types, import contracts, the suite
# and its coverage (geo_index and push at 100 %).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PG_VERSION=15
apt_install "postgresql-$PG_VERSION" "postgresql-$PG_VERSION-postgis-3" redis-server chromium wrk

# PostgreSQL: installing PostGIS can restart or stop the server; start it if it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

# A role with a password works whatever pg_hba says (trust here, scram on a stock install).
as_postgres() {
  if psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q "$@"
  else
    as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q "$@"
  fi
}
TEST_DB=lbs_test
as_postgres -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lbs') THEN CREATE ROLE lbs LOGIN PASSWORD 'lbs' CREATEDB; END IF; END \$\$;"
as_postgres -d postgres -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" -c "CREATE DATABASE $TEST_DB OWNER lbs"
as_postgres -d "$TEST_DB" -c "CREATE EXTENSION IF NOT EXISTS postgis"
# The benchmarks' own scratch databases are cloned from this (tests/bench run them as lbs, not a superuser).
if ! as_postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'template_postgis'" | grep -q 1; then
  as_postgres -d postgres -c "CREATE DATABASE template_postgis IS_TEMPLATE true"
  as_postgres -d template_postgis -c "CREATE EXTENSION IF NOT EXISTS postgis"
fi

ensure_venv "dev,bench"
ensure_node_modules
export LBS_TEST_DATABASE_URL="postgresql://lbs:lbs@127.0.0.1:5432/$TEST_DB"
export LBS_TEST_REDIS_URL="redis://127.0.0.1:6379/9"
export LBS_REQUIRE_SERVICES=1

echo "== ruff"; "$VENV/bin/ruff" check .
echo "== mypy"; "$VENV/bin/mypy" geo_index push lbs_service lbs_bench
echo "== import contracts"; "$VENV/bin/lint-imports"
echo "== pytest"; "$VENV/bin/python" -m pytest -q -p no:cacheprovider --cov --cov-report= "$@"
if [ $# -eq 0 ]; then  # the whole suite: the pure layers are held to every line, the service's total is shown
  echo "== coverage"
  "$VENV/bin/coverage" report --include='geo_index/*,push/*' --skip-covered --show-missing --fail-under=100
  echo "lbs_service line coverage (in-process tests): $("$VENV/bin/coverage" report --include='lbs_service/*' --format=total) %"
fi
