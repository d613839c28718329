# shellcheck shell=bash disable=SC2154,SC2034,SC2004,SC2153  # the globals are the caller's (see below)
# lib.sh - what bench/run and bench/curves share: starting and stopping the
# servers under test, one wrk run, one result row.  Sourced, not run.
#
# The caller sets, before calling these:
#   root          the repository root; work: its scratch folder (logs, wrk output)
#   rows          the JSON-lines file report.py collects rows in
#   server_pid, server_port   associative arrays (declare -A), filled here
#   orderd_bin, hello_bin, go_bin   the binaries; db_url: the database
#   go_db_url     the Go service's database when it has one of its own (plain_copy)
#   THREADS, ACCESS_LOG, NODE_WORKERS, WRK_THREADS   as bench/run documents them
# and has sourced scripts/services (services_free_port, SERVICES_REDIS_URL).

log() {
    echo "bench: $*" >&2
}

die() {
    log "$*"
    exit 1
}

# stop_server SERVER: TERM, then KILL after 15 s (also called from traps)
stop_server() {
    local pid=${server_pid[$1]:-} i
    [[ -n $pid ]] || return 0
    unset "server_pid[$1]"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---- build --------------------------------------------------------------------

# build_servers: orderd and the hello-world (cmake, BUILD_TYPE into BUILD_DIR,
# unless SKIP_BUILD=1) and with GO=1 bench/go (installing Go first when it
# is missing); sets orderd_bin, hello_bin, go_bin and makes BUILD_DIR absolute.
build_servers() {
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building ($BUILD_TYPE) in $BUILD_DIR"
        # shellcheck disable=SC2086  # CMAKE_ARGS is a list of arguments
        cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" $CMAKE_ARGS >/dev/null
        cmake --build "$BUILD_DIR" -j2 --target orderd orderd_hello >"$work/build.log" 2>&1 ||
            { tail -n 40 "$work/build.log" >&2; die "build failed"; }
    fi
    [[ $BUILD_DIR == /* ]] || BUILD_DIR="$root/$BUILD_DIR"
    orderd_bin="$BUILD_DIR/orderd"
    hello_bin="$BUILD_DIR/bench/orderd_hello"
    [[ -x $orderd_bin && -x $hello_bin ]] || die "no $orderd_bin or $hello_bin (build first, or unset SKIP_BUILD)"
    go_bin="$BUILD_DIR/bench/orderd-go"
    if [[ $GO == 1 ]]; then
        if [[ $SKIP_BUILD != 1 || ! -x $go_bin ]]; then
            scripts/deps bench # Go and its two libraries, from Debian; a no-op once there
            log "building bench/go into $go_bin"
            bench/go/build "$go_bin" >"$work/go-build.log" 2>&1 ||
                { tail -n 40 "$work/go-build.log" >&2; die "bench/go build failed"; }
        fi
    fi
}

# start_server NAME PORT HEALTH_PATH COMMAND...: waits until HEALTH_PATH
# answers 200 on PORT.  The command runs in the work folder, so orderd
# finds no config/orderd.conf there.
start_server() {
    local server=$1 port=$2 health=$3 pid i
    shift 3
    (cd "$work" && exec "$@") >>"$work/$server.log" 2>&1 &
    pid=$!
    server_pid[$server]=$pid
    server_port[$server]=$port
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$work/$server.log" >&2; die "$server exited at start-up"; }
        if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port$health"; then
            break
        fi
        sleep 0.1
    done
    ((i < 300)) || { tail -n 30 "$work/$server.log" >&2; die "$server not healthy after 30 s"; }
    # orderd binds with SO_REUSEPORT: a second listener on the same port
    # would silently take part of the traffic and spoil every figure.
    (($(ss -Hltn "sport = :$port" | wc -l) == 1)) || die "another process listens on port $port too"
    log "$server on 127.0.0.1:$port (pid $pid)"
}

# launch SERVER [VAR=VALUE ...]: starts one of hello, orderd, node, go on a
# free port, with the given environment on top of the usual.
launch() {
    local server=$1 port
    shift
    port=$(services_free_port)
    case $server in
    hello) start_server hello "$port" / env "$@" "$hello_bin" "$port" "$THREADS" ;;
    # /readyz, as a load balancer would: ready means the change feed has
    # caught up (at start it replays the seeded orders) and Redis has settled
    orderd | orderd-auth | orderd-limit)
        start_server "$server" "$port" /readyz env ORDERD_LISTEN="127.0.0.1:$port" ORDERD_DB_URL="$db_url" \
            "$@" "$orderd_bin"
        ;;
    node)
        if [[ ! -d bench/node/node_modules ]]; then
            log "npm ci in bench/node"
            (cd bench/node && npm ci --no-audit --no-fund >"$work/npm.log" 2>&1) ||
                { tail -n 30 "$work/npm.log" >&2; die "npm ci failed"; }
        fi
        start_server node "$port" /healthz env PORT="$port" DATABASE_URL="$db_url" \
            REDIS_URL="$SERVICES_REDIS_URL" WORKERS="$NODE_WORKERS" "$@" node "$root/bench/node/server.js"
        ;;
    go)
        start_server go "$port" /healthz env PORT="$port" DATABASE_URL="$(server_db_url go)" \
            REDIS_URL="$SERVICES_REDIS_URL" ACCESS_LOG="$ACCESS_LOG" "$@" "$go_bin"
        ;;
    esac
}

# server_db_url SERVER: the database SERVER works on.
server_db_url() {
    if [[ $1 == go && -n ${go_db_url:-} ]]; then
        echo "$go_db_url"
    else
        echo "$db_url"
    fi
}

# plain_copy SOURCE COPY: database COPY made from SOURCE (no one may be
# connected to it) without orderd's change-feed triggers, for a peer that
# has no caches to keep coherent.  FILE_COPY copies the files instead of
# writing them all to the WAL, which matters at ten million orders.
plain_copy() {
    local base=${SERVICES_PG_URL%/*}
    psql -X -q -v ON_ERROR_STOP=1 "$SERVICES_PG_URL" \
        -c "CREATE DATABASE $2 TEMPLATE $1 STRATEGY FILE_COPY" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 "$base/$2" >/dev/null <<'SQL'
DROP TRIGGER orders_changes_insert ON orders;
DROP TRIGGER orders_changes_update ON orders;
DROP TRIGGER orders_changes_delete ON orders;
DROP TRIGGER orders_raise_version ON orders;
SQL
}

# What turns every cache of a server off, for the nocache scenario.
caches_off_env() {
    case $1 in
    orderd) echo ORDERD_REDIS_URL= ORDERD_HOT_CACHE_ENTRIES=0 ;;
    go) echo REDIS_URL= ;;
    esac
}

# ---- one measurement ------------------------------------------------------------

wrk_out_path() {
    echo "$work/wrk-$1-${2//[^A-Za-z0-9]/_}.txt"
}

# bench_wrk SERVER SCENARIO CONNECTIONS SECONDS SCRIPT URL: one wrk run; the
# script's WRK_* settings come from the caller's environment.  Server logs
# are emptied first, so what is left after a failure is this scenario's.
bench_wrk() {
    local server=$1 scenario=$2 conns=$3 secs=$4 script=$5 url=$6 threads=$WRK_THREADS out s
    ((threads <= conns)) || threads=$conns
    out=$(wrk_out_path "$server" "$scenario")
    for s in "${!server_pid[@]}"; do
        : >"$work/$s.log"
    done
    log "$server $scenario: wrk -t$threads -c$conns -d${secs}s $script"
    if ! WRK_LABEL="$server $scenario" timeout -k 5 $((secs + 60)) wrk -t"$threads" -c"$conns" \
        -d"${secs}s" --timeout 2s --latency -s "$root/bench/wrk/$script" "$url" >"$out" 2>&1; then
        cat "$out" >&2
        die "wrk failed in $server $scenario"
    fi
}

# add_row SERVER SCENARIO [--set KEY=VALUE ...]: the last run of that scenario.
add_row() {
    local server=$1 scenario=$2
    shift 2
    python3 bench/report.py add "$rows" --server "$server" --scenario "$scenario" \
        --wrk "$(wrk_out_path "$server" "$scenario")" "$@"
}
