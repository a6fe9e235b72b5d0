#!/usr/bin/env bash
# Runs the Python compatibility suite against the Coffer binary ($COFFER_BIN, default
# <repo>/target/debug/coffer; build it first with `cargo build -p coffer`). Installs the suite's
# pip packages (idempotent). Extra arguments go to pytest, e.g. `compat/run.sh -k boto3`.
set -euo pipefail
cd "$(dirname "$0")/.."
export COFFER_BIN="${COFFER_BIN:-$PWD/target/debug/coffer}"
if [[ ! -x "$COFFER_BIN" ]]; then
    echo "compat/run.sh: no Coffer binary at $COFFER_BIN (run: cargo build -p coffer, or set COFFER_BIN)" >&2
    exit 2
fi
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check -r compat/requirements.txt
exec python3 -m pytest -q compat "$@"
