#!/usr/bin/env bash
# tests/api.sh: kite run --api-sock driven with curl over the UNIX socket, as
# Firecracker's users drive it. Sourced by tests/run.sh, which provides
# pass/fail/skip/show/sanitized, TMP, KITE, GUESTS, SRC and engine_skipped.
#
#   api_tests

API_SOCK=$TMP/api.sock

# api_start NAME kite-run-args...: starts kite serving $API_SOCK ($api_pid),
# stdout in $TMP/NAME.out, stderr in $TMP/NAME.err; waits for the socket.
api_start() {
	local name=$1 i
	shift
	timeout -k 5 60 "$KITE" run --api-sock "$API_SOCK" "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	api_pid=$!
	# Answering, not only there: a stale socket may be where the new one goes.
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 --unix-socket "$API_SOCK" http://localhost/ && return 0
		kill -0 "$api_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# api_call METHOD PATH [BODY]: one request; the status in $api_status, the
# answer in $api_body.
api_call() {
	local args=(-s -o "$TMP/api.body" -w '%{http_code}' --max-time 20 -X "$1"
		--unix-socket "$API_SOCK" "http://localhost$2")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	api_status=$(curl "${args[@]}" 2>/dev/null)
	api_body=$(cat "$TMP/api.body" 2>/dev/null)
}

# api_expect WHY_VAR METHOD PATH BODY STATUS [SUBSTRING]: appends to $api_why
# what went wrong, if anything.
api_expect() {
	local method=$1 path=$2 body=$3 want=$4 sub=${5:-}
	if [ -n "$body" ]; then api_call "$method" "$path" "$body"; else api_call "$method" "$path"; fi
	if [ "$api_status" != "$want" ]; then
		api_why="${api_why:+$api_why; }$method $path: HTTP $api_status, want $want ($api_body)"
	elif [ -n "$sub" ] && ! grep -qF -- "$sub" <<<"$api_body"; then
		api_why="${api_why:+$api_why; }$method $path: '$api_body' lacks '$sub'"
	fi
}

# api_stop: SIGTERM, then the exit status in $api_rc.
api_stop() {
	kill "$api_pid" 2>/dev/null
	wait "$api_pid"
	api_rc=$?
}

api_report() {
	local id=$1 name=$2
	if [ -z "$api_why" ] && sanitized "$TMP/$name.err"; then
		api_why="sanitizer report"
	fi
	if [ -z "$api_why" ]; then
		pass "$id"
	else
		fail "$id" "$api_why"
		show stderr "$TMP/$name.err"
	fi
}

# The highest "tick N" the ticker guest has printed.
api_ticks() {
	tr -d '\r' <"$TMP/$1.out" | sed -n 's/^tick \([0-9]*\)$/\1/p' | tail -n 1
}

# api_wait_ticks NAME N: waits (10 s at most) for tick N.
api_wait_ticks() {
	local i
	for i in $(seq 100); do
		[ "$(api_ticks "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# hello.elf booted on ENGINE by boot-source, machine-config and InstanceStart alone.
api_boot_case() {
	local e=$1 id=api/$1/hello name=api_$1_hello
	api_why=""
	engine_skipped "$id" "$e" && return
	# shellcheck disable=SC2046 # engine_args is words
	if ! api_start "$name" $(engine_args "$e"); then
		fail "$id" "no socket"
		return
	fi
	api_expect GET / "" 200 '"state":"Not started"'
	api_expect PUT /boot-source \
		"{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"boot_args\": \"kite test\"}" 204
	api_expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 204
	wait "$api_pid"
	api_rc=$?
	if [ -z "$api_why" ] && [ "$api_rc" -ne 0 ]; then
		api_why="exit status $api_rc, want 0"
	elif [ -z "$api_why" ] && ! diff -q <(tr -d '\r' <"$TMP/$name.out") "$SRC/hello.expected" >/dev/null; then
		api_why="output differs from hello.expected: $(head -c 200 "$TMP/$name.out")"
	elif [ -z "$api_why" ] && [ -e "$API_SOCK" ]; then
		api_why="the socket is left behind"
	fi
	api_report "$id" "$name"
}

# The ticker guest paused three times: no tick while paused, more after resume.
api_pause_case() {
	local e=$1 id=api/$1/pause-resume name=api_$1_pause n1 n2 n3 round
	api_why=""
	engine_skipped "$id" "$e" && return
	# shellcheck disable=SC2046
	api_start "$name" $(engine_args "$e") --kernel "$GUESTS/ticker.elf" --mem 64M ||
		{ fail "$id" "no socket"; return; }
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 204
	api_wait_ticks "$name" 3 || api_why="the guest did not tick"
	for round in 1 2 3; do
		[ -n "$api_why" ] && break
		api_expect PATCH /vm '{"state": "Paused"}' 204
		api_expect GET / "" 200 '"state":"Paused"'
		n1=$(api_ticks "$name")
		sleep 0.5
		n2=$(api_ticks "$name")
		api_expect PATCH /vm '{"state": "Resumed"}' 204
		api_expect GET / "" 200 '"state":"Running"'
		api_wait_ticks "$name" $((n2 + 2)) || api_why="round $round: no tick after resume (tick $n2)"
		n3=$(api_ticks "$name")
		[ "$n1" = "$n2" ] || api_why="round $round: ticked from $n1 to $n2 while paused"
	done
	# Pausing twice and resuming twice are no-ops, as in Firecracker.
	api_expect PATCH /vm '{"state": "Paused"}' 204
	api_expect PATCH /vm '{"state": "Paused"}' 204
	api_expect PATCH /vm '{"state": "Resumed"}' 204
	api_expect PATCH /vm '{"state": "Resumed"}' 204
	api_stop
	[ -z "$api_why" ] && [ "$api_rc" -ne 0 ] && api_why="exit status $api_rc after SIGTERM, want 0"
	[ -z "$api_why" ] && [ -e "$API_SOCK" ] && api_why="the socket is left behind"
	: "$n3"
	api_report "$id" "$name"
}

# Every endpoint's bad input before boot, then after boot, on one kite.
api_bad_case() {
	local id=api/bad-input name=api_bad img=$TMP/api-disk.img
	api_why=""
	truncate -s 1M "$img"
	api_start "$name" --accel soft --kernel "$GUESTS/ticker.elf" --mem 64M ||
		{ fail "$id" "no socket"; return; }
	# Paths and methods.
	api_expect GET /nope "" 400 "Invalid request method and/or path: GET /nope."
	api_expect DELETE / "" 400 "Invalid request method and/or path"
	api_expect POST /actions '{"action_type": "InstanceStart"}' 400 "Invalid request method"
	api_expect PUT /version '{}' 400 "Invalid request method"
	api_expect PUT /machine-config "" 400 "Empty PUT request."
	api_expect PATCH /vm "" 400 "Empty PATCH request."
	api_expect GET / '{}' 400 "GET request cannot have a body."
	# Bodies: not JSON, wrong types, unknown and missing fields, bad values.
	api_expect PUT /machine-config 'not json' 400 "not JSON"
	api_expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64} {}' 400 "not JSON"
	api_expect PUT /machine-config '[1]' 400 "body: must be an object"
	api_expect PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 64}' 400 "vcpu_count: must be an integer"
	api_expect PUT /machine-config '{"vcpu_count": 2}' 400 "mem_size_mib: missing"
	api_expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "bogus": 1}' 400 "bogus: unknown field"
	api_expect PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}' 400 "vcpu_count: 0 is outside"
	api_expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "smt": true}' 400 "smt"
	api_expect PATCH /machine-config '{"mem_size_mib": 1}' 400 "mem_size_mib"
	api_expect PATCH /machine-config '{"huge_pages": "2M"}' 400 "huge_pages"
	api_expect PUT /boot-source '{}' 400 "kernel_image_path: missing"
	api_expect PUT /boot-source '{"kernel_image_path": 5}' 400 "kernel_image_path: must be a string"
	api_expect PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}' 400 "No such file"
	api_expect PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\", \"initrd_path\": \"/nonexistent\"}" 400 "initrd_path"
	api_expect PUT /drives/d1 "{\"drive_id\": \"d2\", \"path_on_host\": \"$img\", \"is_root_device\": false}" 400 "is not the path's"
	api_expect PUT /drives/d1 '{"drive_id": "d1", "is_root_device": false}' 400 "path_on_host: missing"
	api_expect PUT /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$img\"}" 400 "is_root_device: missing"
	api_expect PUT /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$img\", \"is_root_device\": \"no\"}" 400 "is_root_device: must be true or false"
	api_expect PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "/nonexistent", "is_root_device": false}' 400 "No such file"
	api_expect PUT /drives/bad-id '{}' 400 "alphanumeric characters and underscores"
	api_expect PUT /drives/ '{}' 400 "The ID cannot be empty."
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0"}' 400 "host_dev_name: missing"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth1", "host_dev_name": "tap0"}' 400 "is not the path's"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz"}' 400 "guest_mac"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "user": {"hostfwd": ["tcp::70000-:22"]}}' 400 "user.hostfwd[0]: host port '70000' is not 1 to 65535"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "user": {}, "host_dev_name": "tap0"}' 400 "host_dev_name: not with"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "mtu": 67}' 400 "mtu: 67 is outside 68 to 65535"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "rx_rate_limiter": {"bandwidth": {"size": 1}}}' 400 "rx_rate_limiter.bandwidth.refill_time: missing"
	api_expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "tx_rate_limiter": {"ops": {"size": 1, "refill_time": -5}}}' 400 "tx_rate_limiter.ops.refill_time"
	api_expect PUT /vsock '{"guest_cid": 2, "uds_path": "/tmp/v.sock"}' 400 "guest_cid"
	api_expect PUT /vsock '{"guest_cid": 3}' 400 "uds_path: missing"
	api_expect PUT /entropy '{"rate_limiter": 1}' 400 "rate_limiter: must be an object"
	api_expect PUT /entropy '{"bogus": {}}' 400 "bogus: unknown field"
	api_expect PUT /logger '{"level": "Loud"}' 400 "level"
	api_expect PUT /logger '{"log_path": 3}' 400 "log_path: must be a string"
	api_expect PUT /metrics '{}' 400 "metrics_path: missing"
	api_expect PUT /metrics '{"metrics_path": "/nonexistent/dir/m"}' 400 "No such file"
	api_expect PUT /actions '{"action_type": "Reboot"}' 400 "is not one of"
	api_expect PUT /actions '{}' 400 "action_type: missing"
	api_expect PUT /actions '{"action_type": 1}' 400 "action_type: must be a string"
	# Post-boot-only requests before boot.
	api_expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 400 "before starting the microVM"
	api_expect PUT /actions '{"action_type": "FlushMetrics"}' 400 "before starting the microVM"
	api_expect PATCH /vm '{"state": "Paused"}' 400 "before starting the microVM"
	api_expect PATCH /drives/d1 '{"drive_id": "d1"}' 400 "before starting the microVM"
	api_expect PATCH /network-interfaces/eth0 '{"iface_id": "eth0"}' 400 "before starting the microVM"
	# A failed request changed nothing; good ones do.
	api_expect GET /machine-config "" 200 '"mem_size_mib":64'
	api_expect PUT /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$img\", \"is_root_device\": false}" 204
	api_expect PUT /metrics "{\"metrics_path\": \"$TMP/api-metrics.json\"}" 204
	api_expect PUT /metrics "{\"metrics_path\": \"$TMP/api-metrics.json\"}" 400 "already"
	api_expect PUT /entropy '{}' 204
	api_expect PATCH /machine-config '{"vcpu_count": 2}' 204
	api_expect GET /vm/config "" 200 "\"path_on_host\":\"$img\""
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 204
	# Pre-boot-only requests after boot.
	api_expect GET / "" 200 '"state":"Running"'
	api_expect GET /vm/config "" 200 '"vcpu_count":2'
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 400 "after starting the microVM"
	api_expect PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}" 400 "after starting the microVM"
	api_expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 400 "after starting the microVM"
	api_expect PATCH /machine-config '{"vcpu_count": 1}' 400 "after starting the microVM"
	api_expect PUT /drives/d2 "{\"drive_id\": \"d2\", \"path_on_host\": \"$img\", \"is_root_device\": false}" 400 "after starting the microVM"
	api_expect PUT /logger '{"level": "Debug"}' 400 "after starting the microVM"
	api_expect PUT /entropy '{}' 400 "after starting the microVM"
	api_expect PATCH /vm '{"state": "Stopped"}' 400 "is not one of"
	api_expect PATCH /vm '{"state": "Paused", "extra": 1}' 400 "extra: unknown field"
	api_expect PATCH /drives/nodrive '{"drive_id": "nodrive"}' 400 "no drive"
	api_expect PATCH /drives/d1 '{"drive_id": "d2"}' 400 "is not the path's"
	api_expect PATCH /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/other.img\"}" 400 "other.img"
	api_expect PATCH /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$img\"}" 204
	# Rate limiters change on the running machine.
	api_expect PATCH /drives/d1 '{"drive_id": "d1", "rate_limiter": {"ops": {"size": 1000, "refill_time": 10}}}' 204
	api_expect PATCH /drives/d1 '{"drive_id": "d1", "rate_limiter": {"ops": {"size": -1, "refill_time": 1}}}' 400 "rate_limiter.ops.size"
	api_expect GET /vm/config "" 200 '"rate_limiter":{"ops":{"size":1000,"refill_time":10}}'
	api_expect PATCH /network-interfaces/eth0 '{"iface_id": "eth0"}' 400 "no network interface"
	api_expect PUT /actions '{"action_type": "FlushMetrics"}' 204
	grep -q '"utc_timestamp_ms"' "$TMP/api-metrics.json" 2>/dev/null ||
		api_why="${api_why:+$api_why; }FlushMetrics wrote no metrics line"
	# The VM's own counters ride along: its vCPUs and the UART the ticker printed through.
	grep -q '"vcpus": *\[' "$TMP/api-metrics.json" 2>/dev/null &&
		grep -Eq '"uart": *\{[^}]*"tx_bytes": *[1-9]' "$TMP/api-metrics.json" ||
		api_why="${api_why:+$api_why; }the metrics line lacks the vCPU and UART counters"
	api_expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
	api_wait_ticks "$name" 3 || api_why="${api_why:+$api_why; }the guest stopped ticking"
	api_stop
	api_report "$id" "$name"
}

# Oversized, slow and many requests against a running guest.
api_robust_case() {
	local id=api/robustness name=api_robust big=$TMP/api-big.json t0 t1 slow_pid i
	api_why=""
	api_start "$name" --accel soft --kernel "$GUESTS/ticker.elf" --mem 64M ||
		{ fail "$id" "no socket"; return; }
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 204
	# 10 MiB: refused from its Content-Length, then sent chunked (no length).
	head -c $((10 << 20)) /dev/zero | tr '\0' ' ' >"$big"
	api_status=$(curl -s -o "$TMP/api.body" -w '%{http_code}' --max-time 20 -X PUT \
		--unix-socket "$API_SOCK" --data-binary @"$big" http://localhost/machine-config)
	[ "$api_status" = 400 ] && grep -q "larger than the limit" "$TMP/api.body" ||
		api_why="10 MiB body: HTTP $api_status, $(head -c 100 "$TMP/api.body")"
	api_status=$(curl -s -o "$TMP/api.body" -w '%{http_code}' --max-time 20 -X PUT \
		-H 'Transfer-Encoding: chunked' --unix-socket "$API_SOCK" --data-binary @"$big" \
		http://localhost/machine-config)
	[ "$api_status" = 400 ] && grep -q "larger than the limit" "$TMP/api.body" ||
		api_why="${api_why:+$api_why; }chunked 10 MiB body: HTTP $api_status"
	# Half a request that then hangs: others are served meanwhile, and the
	# server drops it after its timeout, so the rest, sent later, finds no one.
	(printf '{"vcpu_count": '; sleep 8; printf '1, "mem_size_mib": 64}') |
		curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X PUT -H 'Content-Length: 38' -H 'Expect:' \
			--unix-socket "$API_SOCK" -T - http://localhost/machine-config \
			>"$TMP/api-slow.txt" 2>/dev/null &
	slow_pid=$!
	sleep 0.3
	t0=$(date +%s%N)
	api_expect GET / "" 200 '"state":"Running"'
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 2000 ] ||
		api_why="${api_why:+$api_why; }GET / took $(((t1 - t0) / 1000000)) ms beside a hanging client"
	wait "$slow_pid"
	[ "$(cat "$TMP/api-slow.txt")" = 000 ] ||
		api_why="${api_why:+$api_why; }the hanging client was answered $(cat "$TMP/api-slow.txt"), not dropped"
	# 1000 GET / on one connection while the guest runs; it keeps ticking.
	i=$(api_ticks "$name")
	# shellcheck disable=SC2046 # 1000 URLs, each with its own -o
	curl -s --unix-socket "$API_SOCK" -w '%{http_code} %{time_total}\n' \
		$(for _ in $(seq 1000); do echo -o /dev/null http://localhost/; done) >"$TMP/api-1000.txt"
	[ "$(grep -c '^200 ' "$TMP/api-1000.txt")" = 1000 ] ||
		api_why="${api_why:+$api_why; }$(grep -c '^200 ' "$TMP/api-1000.txt") of 1000 GET / answered 200"
	api_wait_ticks "$name" $((i + 2)) || api_why="${api_why:+$api_why; }the guest stopped ticking"
	echo "    1000 GET /: p50 $(cut -d' ' -f2 "$TMP/api-1000.txt" | sort -n | sed -n 500p) s," \
		"p99 $(cut -d' ' -f2 "$TMP/api-1000.txt" | sort -n | sed -n 990p) s"
	api_stop
	api_report "$id" "$name"
}

# The socket: refused in use and when not a socket, a stale one replaced, removed on exit.
api_socket_case() {
	local id=api/socket name=api_sock first
	api_why=""
	# Without timeout(1) in between: SIGKILL must reach kite itself.
	"$KITE" run --api-sock "$API_SOCK" --accel soft --kernel "$GUESTS/ticker.elf" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	first=$!
	for _ in $(seq 100); do
		[ -S "$API_SOCK" ] && break
		sleep 0.05
	done
	timeout 10 "$KITE" run --api-sock "$API_SOCK" --accel soft </dev/null >/dev/null 2>"$TMP/$name.2.err"
	[ $? -eq 1 ] && grep -q "in use" "$TMP/$name.2.err" ||
		api_why="a second kite on the socket: $(cat "$TMP/$name.2.err")"
	"$KITE" ctl --api-sock "$API_SOCK" info >"$TMP/$name.ctl" || api_why="${api_why:+$api_why; }ctl info failed"
	grep -q '"state":"Not started"' "$TMP/$name.ctl" || api_why="${api_why:+$api_why; }ctl info: $(cat "$TMP/$name.ctl")"
	"$KITE" ctl --api-sock "$API_SOCK" put /actions '{"action_type": "Bogus"}' >/dev/null 2>&1 &&
		api_why="${api_why:+$api_why; }ctl: exit 0 for a 400"
	# SIGKILL leaves a stale socket, which the next kite replaces.
	kill -9 "$first"
	wait "$first" 2>/dev/null
	[ -S "$API_SOCK" ] || api_why="${api_why:+$api_why; }no stale socket after SIGKILL"
	api_start "$name" --accel soft --kernel "$GUESTS/ticker.elf" || api_why="${api_why:+$api_why; }a stale socket was not replaced"
	"$KITE" ctl --api-sock "$API_SOCK" start >/dev/null || api_why="${api_why:+$api_why; }ctl start failed"
	api_wait_ticks "$name" 1 || api_why="${api_why:+$api_why; }ctl start: no tick"
	"$KITE" ctl --api-sock "$API_SOCK" pause >/dev/null || api_why="${api_why:+$api_why; }ctl pause failed"
	"$KITE" ctl --api-sock "$API_SOCK" info | grep -q Paused || api_why="${api_why:+$api_why; }not Paused"
	"$KITE" ctl --api-sock "$API_SOCK" resume >/dev/null || api_why="${api_why:+$api_why; }ctl resume failed"
	api_stop
	[ -e "$API_SOCK" ] && api_why="${api_why:+$api_why; }the socket is left after SIGTERM"
	# Not a socket: refused, and the file is left alone.
	echo keep >"$API_SOCK"
	timeout 10 "$KITE" run --api-sock "$API_SOCK" --accel soft </dev/null >/dev/null 2>"$TMP/$name.3.err"
	[ $? -eq 1 ] && grep -q "not a socket" "$TMP/$name.3.err" && grep -q keep "$API_SOCK" ||
		api_why="${api_why:+$api_why; }a file at the path: $(cat "$TMP/$name.3.err")"
	rm -f "$API_SOCK"
	"$KITE" ctl --api-sock "$API_SOCK" info >/dev/null 2>&1 &&
		api_why="${api_why:+$api_why; }ctl: exit 0 with no server"
	api_report "$id" "$name"
}

# --config-file with --api-sock boots at once; the logger goes to a FIFO nobody reads.
api_config_file_case() {
	local id=api/config-file name=api_cfg cfg=$TMP/api-cfg.json fifo=$TMP/api-log.fifo i
	api_why=""
	cat >"$cfg" <<-EOF
		{"boot-source": {"kernel_image_path": "$GUESTS/ticker.elf"}, "drives": [],
		 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "kite": {"accel": "soft"}}
	EOF
	mkfifo "$fifo"
	api_start "$name" --config-file "$cfg" || { fail "$id" "no socket"; return; }
	api_wait_ticks "$name" 2 || api_why="the guest did not boot at once"
	api_expect GET / "" 200 '"state":"Running"'
	api_expect PUT /logger "{\"log_path\": \"$fifo\", \"level\": \"Debug\"}" 400 "after starting"
	api_stop
	# Pre-boot: a FIFO with no reader takes the debug log of 300 requests and never stalls.
	api_start "$name" --accel soft --kernel "$GUESTS/ticker.elf" || { fail "$id" "no socket"; return; }
	api_expect PUT /logger "{\"log_path\": \"$fifo\", \"level\": \"debug\", \"show_level\": true}" 204
	api_expect PUT /actions '{"action_type": "InstanceStart"}' 204
	for i in $(seq 300); do
		api_call PUT /nope '{}'
	done
	[ "$api_status" = 400 ] || api_why="${api_why:+$api_why; }request 300: HTTP $api_status"
	api_wait_ticks "$name" 3 || api_why="${api_why:+$api_why; }the guest stalled"
	api_stop
	api_report "$id" "$name"
}

api_tests() {
	local e
	if ! command -v curl >/dev/null; then
		skip api "curl is not installed (scripts/install-deps.sh)"
		return
	fi
	for e in $ENGINES; do
		api_boot_case "$e"
	done
	for e in kvm soft; do
		api_pause_case "$e"
	done
	api_bad_case
	api_robust_case
	api_socket_case
	api_config_file_case
}
