#!/usr/bin/env bash
# Runs every Coffer test: Rust unit and integration tests (the real binary driven by
# aws-sdk-kms and aws-sigv4-signed raw HTTP), then the Python compatibility suite (aws CLI,
# boto3, aws-encryption-sdk, rclone, botocore-model coverage, no-plaintext-at-rest).
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
rclone version | head -1

step "build"
cargo build --workspace --all-targets --locked

step "rust tests"
cargo test --workspace --locked

step "python compatibility suite"
COFFER_BIN="$PWD/target/debug/coffer" ./compat/run.sh

step "all tests passed in $(( $(date +%s) - started )) s"
