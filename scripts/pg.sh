#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on 127.0.0.1 only, with trust authentication.
#
#   scripts/pg.sh          start it if needed; print its URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg.sh stop     stop it (the data stays, for a fast next start)
#   scripts/pg.sh status   say whether it runs
#   scripts/pg.sh destroy  stop it and delete its data
#   scripts/pg.sh --tls [command]
#                          the same for a second server that accepts only TLS connections, with a
#                          certificate from a throwaway CA; its URL carries sslmode=require and
#                          sslrootcert=<the CA file> (needs openssl)
#
# Usage: COFFER_TEST_PG=$(scripts/pg.sh) COFFER_TEST_PG_TLS=$(scripts/pg.sh --tls) cargo test -p coffer-store
#
# Idempotent and fast: when the server already runs, it prints the URL at once. The data
# directory is /tmp/coffer-pg-<uid> (COFFER_PG_DIR overrides). initdb and postgres refuse to run
# as root, so as root the server runs as the system user coffer-pg (created if missing). The
# port is 55432 when free, else the next free one, remembered in the data directory. fsync
# stays on. Binaries: PG_BIN, else PATH, /usr/local/bin or /usr/lib/postgresql/<newest>/bin.
set -euo pipefail

tls=false
if [[ "${1:-}" == --tls ]]; then
    tls=true
    shift
fi
if $tls; then
    dir="${COFFER_PG_DIR:-/tmp/coffer-pg-$(id -u)}-tls"
    first_port=55442
else
    dir="${COFFER_PG_DIR:-/tmp/coffer-pg-$(id -u)}"
    first_port=55432
fi
data="$dir/data"
log="$dir/server.log"
portfile="$dir/port"
url() {
    if $tls; then
        echo "postgres://postgres@127.0.0.1:$(cat "$portfile")/postgres?sslmode=require&sslrootcert=$dir/ca.pem"
    else
        echo "postgres://postgres@127.0.0.1:$(cat "$portfile")/postgres"
    fi
}
die() { echo "pg.sh: $*" >&2; exit 1; }

find_bin() {
    local d
    for d in "${PG_BIN:-}" "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")" /usr/local/bin \
        $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -n "$d" && -x "$d/pg_ctl" && -x "$d/initdb" && -x "$d/postgres" ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# Commands run as the server's owner: coffer-pg when we are root, else ourselves.
if [[ "$(id -u)" == 0 ]]; then
    as_owner() { runuser -u coffer-pg -- "$@"; }
else
    as_owner() { "$@"; }
fi

running() {
    [[ -f "$data/postmaster.pid" && -f "$portfile" ]] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

# Fast path, before anything else: already running.
cmd="${1:-start}"
if [[ "$cmd" == start && -f "$data/postmaster.pid" && -f "$portfile" ]]; then
    pid="$(head -1 "$data/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$(cat "$portfile")") 2>/dev/null; then
        url
        exit 0
    fi
fi

bin="$(find_bin)" || {
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "pg.sh: installing PostgreSQL (apt-get install postgresql)" >&2
        (apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }) >&2
        bin="$(find_bin)" || die "no PostgreSQL binaries (initdb, pg_ctl, postgres) found after installing"
    else
        die "no PostgreSQL binaries (initdb, pg_ctl, postgres) found; set PG_BIN or install postgresql"
    fi
}

case "$cmd" in
    start) ;;
    stop)
        if [[ -d "$data" ]] && running; then
            as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w >/dev/null
            echo "pg.sh: stopped" >&2
        fi
        exit 0
        ;;
    status)
        if [[ -d "$data" ]] && running; then echo "running: $(url)"; else echo "stopped"; exit 3; fi
        exit 0
        ;;
    destroy)
        if $tls; then "$0" --tls stop; else "$0" stop; fi
        rm -rf "$dir"
        exit 0
        ;;
    *) die "usage: $0 [start|stop|status|destroy]" ;;
esac

mkdir -p "$dir"
# One starter at a time (concurrent test runs). The lock is released when this script exits:
# commands below that may leave processes behind (the server) get fd 9 closed.
exec 9>"$dir.lock"
flock 9

if [[ "$(id -u)" == 0 ]]; then
    id coffer-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin coffer-pg
    chown coffer-pg: "$dir"
fi
chmod 700 "$dir"

if [[ -d "$data" ]] && running; then
    url
    exit 0
fi

if [[ ! -f "$data/PG_VERSION" ]]; then
    rm -rf "$data"
    as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
        die "initdb failed; see $dir/initdb.log"
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="$(cat "$portfile" 2>/dev/null || echo "$first_port")"
if ! port_free "$port"; then
    port=$first_port
    while ! port_free "$port"; do
        port=$((port + 1))
        ((port < 55600)) || die "no free port in $first_port-55599"
    done
fi

if $tls && [[ ! -f "$data/server.crt" ]]; then
    command -v openssl >/dev/null || die "--tls needs openssl"
    (
        cd "$dir"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
            -days 3650 -subj "/CN=coffer throwaway test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
            -subj "/CN=127.0.0.1"
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 3650 \
            -extfile server.ext
        rm -f server.csr server.ext ca.srl
        chmod 644 ca.pem
        mv server.crt server.key "$data/"
    ) >"$dir/openssl.log" 2>&1 || die "creating the certificates failed; see $dir/openssl.log"
    chmod 600 "$data/server.key"
fi

# The settings this script owns, in a file included last; pg_hba allows loopback only.
conf="$data/coffer.conf"
cat >"$conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
max_connections = 400
shared_buffers = 64MB
log_min_messages = warning
EOF
if $tls; then
    printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$conf"
    hba_host=hostssl
else
    hba_host=host
fi
grep -q "^include_if_exists = 'coffer.conf'" "$data/postgresql.conf" ||
    echo "include_if_exists = 'coffer.conf'" >>"$data/postgresql.conf"
cat >"$data/pg_hba.conf" <<EOF
local all all trust
$hba_host all all 127.0.0.1/32 trust
EOF
if [[ "$(id -u)" == 0 ]]; then chown -R coffer-pg: "$data"; fi
echo "$port" >"$portfile"

as_owner "$bin/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null 2>&1 9>&- || {
    tail -20 "$log" >&2 || true
    die "the server did not start; see $log"
}
url
