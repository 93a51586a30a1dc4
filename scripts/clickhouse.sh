#!/usr/bin/env bash
# Runs a private ClickHouse server on loopback for tests, the demo and CI.
#
#   scripts/clickhouse.sh start    install if missing, configure, start, wait for /ping
#   scripts/clickhouse.sh stop     stop the server started from this data dir
#   scripts/clickhouse.sh status   exit 0 when it answers /ping
#   scripts/clickhouse.sh dsn      print the DSN the Go code takes
#
# Environment: CH_DIR (default <repo>/.local/clickhouse), CH_TCP_PORT (9000),
# CH_HTTP_PORT (8123). No systemd: the server runs in the background with a
# pidfile, so the same script works in a container and on a fresh machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CH_DIR="${CH_DIR:-$ROOT/.local/clickhouse}"
CH_TCP_PORT="${CH_TCP_PORT:-9000}"
CH_HTTP_PORT="${CH_HTTP_PORT:-8123}"
PIDFILE="$CH_DIR/clickhouse.pid"
CONF="$CH_DIR/config.xml"

log() { echo "clickhouse.sh: $*" >&2; }

ping_ok() {
	# /ping answers "Ok." on every version; bash's /dev/tcp avoids needing curl.
	local out
	out="$( (exec 3<>"/dev/tcp/127.0.0.1/$CH_HTTP_PORT" &&
		printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
		timeout 2 cat <&3) 2>/dev/null)" || return 1
	[[ "$out" == *"Ok."* ]]
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

our_pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local pid
	pid="$(cat "$PIDFILE")"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_server() {
	command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null && return 0
	[[ $(id -u) -eq 0 ]] || { log "clickhouse-server is missing and installing it needs root (apt-get)"; exit 1; }
	log "installing clickhouse-server and clickhouse-client (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q clickhouse-server clickhouse-client >"$CH_DIR/apt.log" 2>&1; then
		log "install failed; running apt-get update and retrying"
		apt-get update -q >>"$CH_DIR/apt.log" 2>&1
		apt-get install -y -q clickhouse-server clickhouse-client >>"$CH_DIR/apt.log" 2>&1 ||
			{ log "apt-get install failed, see $CH_DIR/apt.log"; tail -n 20 "$CH_DIR/apt.log" >&2; exit 1; }
	fi
}

write_config() {
	mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/format_schemas" "$CH_DIR/log"
	cat >"$CONF" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CH_DIR/log/clickhouse-server.log</log>
        <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <http_port>$CH_HTTP_PORT</http_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>1073741824</uncompressed_cache_size>
    <mark_cache_size>1073741824</mark_cache_size>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
	cat >"$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>8000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start() {
	mkdir -p "$CH_DIR"
	if pid="$(our_pid)" && ping_ok; then
		log "already running (pid $pid, tcp $CH_TCP_PORT, http $CH_HTTP_PORT)"
		return 0
	fi
	for p in "$CH_TCP_PORT" "$CH_HTTP_PORT"; do
		if port_busy "$p"; then
			log "port $p on 127.0.0.1 is already in use by another process;"
			log "stop it or choose other ports: CH_TCP_PORT=19000 CH_HTTP_PORT=18123 $0 start"
			exit 1
		fi
	done
	install_server
	write_config
	log "starting clickhouse-server (data $CH_DIR, tcp $CH_TCP_PORT, http $CH_HTTP_PORT)"
	# setsid detaches the server from the caller's process group so CI's
	# job control does not kill it when the script returns.
	setsid clickhouse-server --config-file="$CONF" >"$CH_DIR/log/stdout.log" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 300); do
		if ping_ok; then
			log "ready (pid $(cat "$PIDFILE"))"
			return 0
		fi
		if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			log "server exited during start; last log lines:"
			tail -n 20 "$CH_DIR/log/clickhouse-server.err.log" "$CH_DIR/log/stdout.log" >&2 2>/dev/null || true
			rm -f "$PIDFILE"
			exit 1
		fi
		sleep 0.1
	done
	log "server did not answer /ping on port $CH_HTTP_PORT within 30 s"
	exit 1
}

stop() {
	local pid
	if ! pid="$(our_pid)"; then
		log "not running"
		rm -f "$PIDFILE"
		return 0
	fi
	kill "$pid"
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
		sleep 0.1
	done
	log "server did not stop in 10 s; sending SIGKILL to $pid"
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$PIDFILE"
}

status() {
	if ping_ok; then
		echo "running (tcp $CH_TCP_PORT, http $CH_HTTP_PORT, pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
		return 0
	fi
	echo "not running"
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
dsn) echo "clickhouse://127.0.0.1:$CH_TCP_PORT/default" ;;
*)
	echo "usage: $0 start|stop|status|dsn" >&2
	exit 2
	;;
esac
