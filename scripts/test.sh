#!/usr/bin/env bash
# Runs every Coffer test: Rust unit and integration tests (the real binary driven by
# aws-sdk-kms and aws-sigv4-signed raw HTTP), then the Python compatibility suite (aws CLI,
# boto3, aws-encryption-sdk, rclone, botocore-model coverage, no-plaintext-at-rest), then a short
# crash test (kill -9 under load; scripts/crash-test.sh).
#
# Idempotent and self-contained from a fresh clone: it installs the pip packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "python packages (compat/requirements.txt)"
python3 -m pip install -q --disable-pip-version-check -r compat/requirements.txt

step "rclone (compat/test_s3_rclone.py; Debian package)"
if ! command -v rclone >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: rclone is not installed and apt-get is unavailable: install rclone" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq rclone >/dev/null
    command -v rclone >/dev/null || { echo "scripts/test.sh: installing rclone failed" >&2; exit 1; }
fi
rclone version | sed -n 1p

step "PostgreSQL (a throwaway server for the multi-node tests; scripts/pg.sh)"
PG_URL=$(scripts/pg.sh)
echo "$PG_URL"
# Databases of earlier runs.
psql "$PG_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'coffer\_%'" |
    while read -r db; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null; done

step "build"
cargo build --workspace --all-targets --locked

step "rust tests (SQLite; multi-node and store tests on PostgreSQL)"
COFFER_TEST_PG="$PG_URL" COFFER_IT_PG="" cargo test --workspace --locked
COFFER_IT_PG="$PG_URL" cargo test -p coffer-it --locked --test multinode

step "KMS, IAM and Parameter Store integration suites again, on PostgreSQL"
COFFER_IT_PG="$PG_URL" cargo test -p coffer-it --locked --test kms --test kms_asym --test identities --test ssm

step "python compatibility suite"
COFFER_BIN="$PWD/target/debug/coffer" ./compat/run.sh

step "crash test (kill -9 under load, short form; scripts/crash-test.sh for 20 rounds)"
COFFER_BIN="$PWD/target/debug/coffer" scripts/crash-test.sh --short

step "all tests passed in $(( $(date +%s) - started )) s"
