#!/usr/bin/env bash
# Crash test: rounds of kill -9 while workers create keys and aliases, encrypt, write and delete
# parameters and upload objects (single and multipart); after every restart each acknowledged
# write must be there and exact, every store must open, no partial object may be visible and the
# audit chain must verify. The rounds and checks are in scripts/crash_test.py.
#
#   scripts/crash-test.sh             20 rounds (the long form, on demand)
#   scripts/crash-test.sh --short     3 rounds (the form scripts/test.sh runs)
#   scripts/crash-test.sh --rounds N [--seed S] [--keep]
#   scripts/crash-test.sh --rounds 2 --inject-fault wal|object|journal   (tests the checks: must fail)
#
# The binary is $COFFER_BIN, else target/debug/coffer built here (cargo build -p coffer). The data
# directory and the server logs (server-<round>.log) are in a mktemp directory, removed at the
# end unless --keep. Exit status: 0 passed, 1 violations found, 2 the test itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=20
seed=""
keep=0
extra=()  # --inject-fault KIND: damage the data dir after the first kill, to test the checks (must fail)
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --short) rounds=3 ;;
        --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
        --rounds=*) rounds="${1#--rounds=}" ;;
        --seed) seed="${2:?--seed needs a number}"; shift ;;
        --seed=*) seed="${1#--seed=}" ;;
        --keep) keep=1 ;;
        --inject-fault) extra+=(--inject-fault "${2:?--inject-fault needs wal, object or journal}"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "crash-test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$rounds" in ''|*[!0-9]*|0) echo "crash-test.sh: --rounds needs a positive number" >&2; exit 2 ;; esac

if [ -n "${COFFER_BIN:-}" ]; then
    bin="$COFFER_BIN"
else
    cargo build -p coffer
    bin="$PWD/target/debug/coffer"
fi
[ -x "$bin" ] || { echo "crash-test.sh: no executable coffer binary at $bin" >&2; exit 2; }

if ! python3 -c 'import boto3' 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check -r compat/requirements.txt
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-crash.XXXXXX")
py_pid=""
cleanup() {
    status=$?
    trap - EXIT INT TERM
    # The Python driver kills its server on every exit path; this covers the driver itself being
    # killed. Only the recorded pids are signalled, and the server's only if it is still the
    # coffer serving this work directory.
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true
        wait "$py_pid" 2>/dev/null || true
    fi
    if [ -f "$work/server.pid" ]; then
        spid=$(cat "$work/server.pid")
        if [ -n "$spid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$spid/cmdline" | grep -qF -- "$work/data"; then
            kill -KILL "$spid" 2>/dev/null || true
        fi
    fi
    if [ "$keep" = 1 ]; then
        echo "crash-test.sh: kept $work (data dir: $work/data, logs: $work/server-*.log)"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 scripts/crash_test.py --bin "$bin" --work "$work" --rounds "$rounds" ${seed:+--seed "$seed"} ${extra[@]+"${extra[@]}"} &
py_pid=$!
set +e
wait "$py_pid"
status=$?
set -e
py_pid=""
if [ "$status" -ne 0 ] && [ "$keep" = 0 ]; then
    echo "crash-test.sh: failed; rerun with --keep (and --seed from the first line) to keep the data directory and logs" >&2
fi
exit "$status"
