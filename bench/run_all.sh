#!/usr/bin/env bash
# Every benchmark in one go, on already seeded databases (see bench/README.md):
#   bench/run_all.sh SMALL_DB_URL LARGE_DB_URL [MORE_DB_URL...]
# For each database: API load at concurrency 1 and 4, and the raw-SQL baseline; then the
# tables (API/SQL ratio per database, growth from the first database to each other one).
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
mkdir -p results
names=()
for url in "$@"; do
  name=${url##*/}
  names+=("$name")
  $PY api_load.py --database-url "$url" --concurrency 1 --out "results/api-$name-c1.json"
  $PY api_load.py --database-url "$url" --concurrency 4 --out "results/api-$name-c4.json"
  $PY raw_sql.py --database-url "$url" --out "results/raw-$name.json"
done
for name in "${names[@]}"; do
  echo; echo "### $name, concurrency 1"; $PY report.py --api "results/api-$name-c1.json" --raw "results/raw-$name.json"
  echo; echo "### $name, concurrency 4"; $PY report.py --api "results/api-$name-c4.json" --raw "results/raw-$name.json"
done
for name in "${names[@]:1}"; do
  echo; echo "### growth ${names[0]} -> $name (concurrency 1)"
  $PY report.py --growth "results/api-${names[0]}-c1.json" "results/api-$name-c1.json"
done
