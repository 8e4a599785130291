#!/usr/bin/env bash
# tests/linux.sh: boots Debian's kernel (the default guest from `make guest`)
# on an engine and checks what the guest did. Sourced by tests/run.sh, which
# provides pass/fail/show/sanitized, TMP, KITE and the counters.
#
#   linux_tests ENGINE
#
# Each case passes its instructions to the guest's /init on the kernel
# command line (kite.cmd=BASE64, kite.script=NAME) and reads the answers back
# from the serial console.

LINUX_DIR=${LINUX_DIR:-build/guest}
LINUX_TIMEOUT=${LINUX_TIMEOUT:-300}
LINUX_BASE_CMDLINE="console=ttyS0 reboot=k panic=1 quiet"

# linux_boot NAME ENGINE KERNEL STDIN_FILE CMDLINE_EXTRA kite-args...
# Runs kite; leaves stdout in $TMP/NAME.out, stderr in $TMP/NAME.err and the
# exit status in $linux_rc.
linux_boot() {
	local name=$1 engine=$2 kernel=$3 input=$4 extra=$5
	shift 5
	timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --accel "$engine" \
		--kernel "$LINUX_DIR/$kernel" --initrd "$LINUX_DIR/initramfs.cpio.gz" \
		--cmdline "$LINUX_BASE_CMDLINE $extra" "$@" \
		<"$input" >"$TMP/$name.out" 2>"$TMP/$name.err"
	linux_rc=$?
}

# linux_value NAME KEY: the value of the guest's "KEY=value" line.
linux_value() {
	tr -d '\r' <"$TMP/$1.out" | sed -n "s/^$2=//p" | head -n 1
}

linux_report() {
	local id=$1 name=$2 why=$3
	if [ -z "$why" ] && sanitized "$TMP/$name.err"; then
		why="sanitizer report"
	fi
	if [ -z "$why" ]; then
		pass "$id"
	else
		fail "$id" "$why"
		echo "    --- console (last 25 lines)"
		tr -d '\r' <"$TMP/$name.out" | tail -n 25 | sed 's/^/    /'
		show stderr "$TMP/$name.err"
	fi
}

# The facts one boot reports: vCPUs, memory, time, command line.
LINUX_FACTS='echo nproc=$(nproc); echo memtotal=$(awk "/^MemTotal/ {print \$2}" /proc/meminfo); echo date=$(date +%s); echo cmdline=$(cat /proc/cmdline)'

# linux_facts_case ID ENGINE KERNEL CPUS MEM
linux_facts_case() {
	local id=$1 engine=$2 kernel=$3 cpus=$4 mem=$5
	local name=${id//\//_} token="kite.token=$RANDOM$RANDOM" b64 why="" v host_now
	local mem_kib lo_kib

	b64=$(printf '%s' "$LINUX_FACTS" | base64 -w0)
	linux_boot "$name" "$engine" "$kernel" /dev/null "$token kite.cmd=$b64" \
		--cpus "$cpus" --mem "$mem"
	host_now=$(date +%s)
	mem_kib=$(($(numfmt --from=iec "$mem") / 1024))
	# The kernel keeps some memory for itself: accept up to 96 MiB less.
	lo_kib=$((mem_kib - 96 * 1024))
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif ! grep -q 'kite-guest: cmd exit 0' "$TMP/$name.out"; then
		why="the guest did not finish its command"
	elif [ "$(linux_value "$name" nproc)" != "$cpus" ]; then
		why="nproc is '$(linux_value "$name" nproc)', want $cpus"
	else
		v=$(linux_value "$name" memtotal)
		if [ -z "$v" ] || [ "$v" -gt "$mem_kib" ] || [ "$v" -lt "$lo_kib" ]; then
			why="MemTotal ${v:-?} kB is not within [$lo_kib, $mem_kib] for --mem $mem"
		fi
		v=$(linux_value "$name" date)
		if [ -z "$why" ] && { [ -z "$v" ] || [ $((host_now - v)) -gt 10 ] ||
			[ $((v - host_now)) -gt 10 ]; }; then
			why="guest date ${v:-?} is not within 10 s of the host's $host_now"
		fi
		if [ -z "$why" ] && ! linux_value "$name" cmdline | grep -qF -- "$token"; then
			why="the guest's /proc/cmdline lacks $token"
		fi
	fi
	linux_report "$id" "$name" "$why"
}

# linux_at_prompt NAME ENGINE kite-args...: starts kite ($linux_pid) with
# its stdin on fd 9 of this shell and returns once the guest's shell is ready.
linux_at_prompt() {
	local name=$1 engine=$2 fifo=$TMP/$1.in i
	shift 2

	mkfifo "$fifo"
	timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --accel "$engine" "$@" \
		<"$fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	linux_pid=$!
	exec 9>"$fifo"
	for i in $(seq $((LINUX_TIMEOUT * 5))); do
		grep -q 'kite-guest: ready' "$TMP/$name.out" 2>/dev/null && break
		kill -0 "$linux_pid" 2>/dev/null || break
		sleep 0.2
	done
	sleep 1
}

# linux_typed_case ID ENGINE LINE WANT kite-args...: once the guest is ready,
# LINE is typed on kite's stdin and executed by the interactive shell, whose
# output must contain the line WANT; then poweroff must end kite with 0.
linux_typed_case() {
	local id=$1 engine=$2 line=$3 want=$4 name=${1//\//_} why=""
	shift 4

	linux_at_prompt "$name" "$engine" --kernel "$LINUX_DIR/vmlinux" \
		--initrd "$LINUX_DIR/initramfs.cpio.gz" "$@"
	printf '%s\npoweroff -f\n' "$line" >&9
	exec 9>&-
	wait "$linux_pid"
	linux_rc=$?
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif ! tr -d '\r' <"$TMP/$name.out" | grep -qxF -- "$want"; then
		why="the shell did not print $want"
	fi
	linux_report "$id" "$name" "$why"
}

# linux_typed_exit_case ID ENGINE LINE KERNEL_SAYS: once the default guest
# (its default command line) is at its prompt, LINE alone is typed; it must
# end kite with status 0, the kernel must have printed KERNEL_SAYS, and the
# boot must not have shown a "Fatal" line.
linux_typed_exit_case() {
	local id=$1 engine=$2 line=$3 says=$4 name=${1//\//_} why=""

	linux_at_prompt "$name" "$engine"
	printf '%s\n' "$line" >&9
	wait "$linux_pid"
	linux_rc=$?
	exec 9>&-
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc after typing '$line', want 0"
	elif ! tr -d '\r' <"$TMP/$name.out" | grep -qF -- "$says"; then
		why="the kernel did not print '$says'"
	elif grep -q 'Fatal' "$TMP/$name.out"; then
		why="the boot printed: $(grep -m1 'Fatal' "$TMP/$name.out" | tr -d '\r')"
	fi
	linux_report "$id" "$name" "$why"
}

# linux_exit_case ID ENGINE WANT_STATUS PATTERN CMDLINE_EXTRA
linux_exit_case() {
	local id=$1 engine=$2 want=$3 pattern=$4 extra=$5 name=${1//\//_} why=""

	linux_boot "$name" "$engine" vmlinux /dev/null "$extra"
	if [ "$linux_rc" -ne "$want" ]; then
		why="exit status $linux_rc, want $want"
	elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$TMP/$name.out"; then
		why="the console lacks \"$pattern\""
	fi
	linux_report "$id" "$name" "$why"
}

# The workload prints the same bytes in the guest as the same busybox on the host.
linux_workload_case() {
	local id=$1 engine=$2 name=${1//\//_} why="" bin host_out guest_out

	bin=$TMP/busybox-bin
	host_out=$TMP/$name.host
	guest_out=$TMP/$name.guest
	mkdir -p "$bin"
	"$LINUX_DIR/pkg/busybox/bin/busybox" --install -s "$bin"
	PATH=$bin TMPDIR=$TMP "$LINUX_DIR/pkg/busybox/bin/busybox" sh guest/scripts/workload.sh \
		>"$host_out" 2>&1
	linux_boot "$name" "$engine" vmlinux /dev/null "kite.script=workload.sh" --cpus 2
	tr -d '\r' <"$TMP/$name.out" |
		sed -n '/^hash sha256:/,/^workload done$/p' >"$guest_out"
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif ! grep -q '^workload done$' "$host_out"; then
		why="the workload failed on the host"
	elif ! cmp -s "$host_out" "$guest_out"; then
		why="guest output differs from the host's"
		diff "$host_out" "$guest_out" | head -n 20 | sed 's/^/    /'
	fi
	linux_report "$id" "$name" "$why"
}

linux_tests() {
	local e=$1

	if [ ! -f "$LINUX_DIR/vmlinux" ] || [ ! -f "$LINUX_DIR/initramfs.cpio.gz" ]; then
		fail "linux/$e" "$LINUX_DIR has no guest (run make guest)"
		return
	fi
	linux_facts_case "linux/$e/pvh-1cpu-256M" "$e" vmlinux 1 256M
	linux_api_case "linux/$e/api" "$e"
	linux_api_cad_case "linux/$e/api-ctrl-alt-del" "$e"
	linux_api_swap_case "linux/$e/api-drive-swap" "$e"
	linux_facts_case "linux/$e/bzimage-1cpu-256M" "$e" vmlinuz 1 256M
	linux_facts_case "linux/$e/pvh-2cpu-1G" "$e" vmlinux 2 1G
	linux_facts_case "linux/$e/pvh-4cpu-256M" "$e" vmlinux 4 256M
	# The shell, not the console's echo, computes 6*7 and names its tty.
	linux_typed_case "linux/$e/stdin" "$e" 'echo typed-$((6 * 7))' typed-42
	# What a person types at the default guest's prompt to leave it.
	linux_typed_exit_case "linux/$e/typed-poweroff" "$e" poweroff "reboot: Power down"
	linux_typed_exit_case "linux/$e/typed-reboot" "$e" reboot "reboot: Restarting system"
	linux_typed_exit_case "linux/$e/typed-exit" "$e" exit "reboot: Power down"
	linux_exit_case "linux/$e/reboot" "$e" 0 "" "kite.cmd=$(printf 'reboot -f' | base64 -w0)"
	linux_exit_case "linux/$e/poweroff" "$e" 0 "kite-guest: ready" "kite.poweroff"
	linux_exit_case "linux/$e/panic" "$e" 4 "Kernel panic - not syncing" \
		"init=/nonexistent"
	linux_workload_case "linux/$e/workload" "$e"
	linux_virtio_tests "$e"
	[ "$e" = soft ] && linux_net_tests "$e"
	linux_vsock_case "linux/$e/virtio-vsock" "$e"
	linux_vsock_bulk_case "linux/$e/virtio-vsock-64m" "$e"
	linux_vsock_many_case "linux/$e/virtio-vsock-many" "$e"
	linux_vsock_close_case "linux/$e/virtio-vsock-early-close" "$e"
	linux_typed_case "linux/$e/virtio-console-hvc0" "$e" \
		'echo on-$(tty | cut -c6-)-$((6 * 7))' on-hvc0-42 --console virtio
}

# ---- virtio devices (issue: split drivers) ---------------------------------

# linux_cmd_case ID ENGINE CMD kite-args...: runs CMD in the guest (via
# kite.cmd), expects exit 0 and "kite-guest: cmd exit 0"; the console is in
# $TMP/<name>.out for further checks by the caller ($linux_why is set on failure).
# LINUX_CMDLINE_EXTRA adds words to the guest's command line.
linux_cmd() {
	local name=$1 engine=$2 cmd=$3 b64
	shift 3
	b64=$(printf '%s' "$cmd" | base64 -w0)
	linux_boot "$name" "$engine" vmlinux /dev/null "kite.cmd=$b64 ${LINUX_CMDLINE_EXTRA:-}" "$@"
	linux_why=""
	if [ "$linux_rc" -ne 0 ]; then
		linux_why="exit status $linux_rc, want 0"
	elif ! grep -q 'kite-guest: cmd exit 0' "$TMP/$name.out"; then
		linux_why="the guest command failed"
	fi
}

# linux_vsock_case ID ENGINE: vsock both ways through kite's UNIX sockets. The
# host connects with "CONNECT 5000" to the guest's listener and they swap
# 2-3 MiB; then the guest connects to host port 6000 (the listener PATH_6000)
# and sends its file again. Every stream is checked by sha256. Connections to
# a port nobody listens on fail both ways.
linux_vsock_case() {
	local id=$1 e=$2 name=${1//\//_} uds cmd why="" peer_l peer_c want
	if ! command -v python3 >/dev/null; then
		skip "$id" "the host has no python3 for the UNIX-socket peer"
		return
	fi
	uds=$TMP/$name.sock
	head -c 3000000 /dev/urandom >"$TMP/$name.h2g"
	cmd='dd if=/dev/urandom of=/tmp/out bs=1k count=2048 2>/dev/null
echo outsum=$(sha256sum </tmp/out | cut -d" " -f1)
vsockio listen 5000 </tmp/out >/tmp/in || exit 1
echo insum=$(sha256sum </tmp/in | cut -d" " -f1)
vsockio connect 2 6000 </tmp/out >/tmp/back || exit 1
echo back=$(cat /tmp/back)
vsockio connect 2 6001 </dev/null 2>/dev/null && echo refused=no || echo refused=yes'
	: >"$TMP/$name.out"
	tests/vsock_peer.py listen "${uds}_6000" "$TMP/$name.g2h" &
	peer_l=$!
	tests/vsock_peer.py connect "$uds" 5000 "$TMP/$name.h2g" "$TMP/$name.got" \
		"$TMP/$name.out" 2>"$TMP/$name.peer" &
	peer_c=$!
	linux_cmd "$name" "$e" "$cmd" --vsock "cid=3,uds=$uds"
	wait "$peer_c" || why="host peer: $(cat "$TMP/$name.peer")"
	kill "$peer_l" 2>/dev/null
	wait "$peer_l" 2>/dev/null
	want=$(sha256sum <"$TMP/$name.h2g" | cut -d' ' -f1)
	if [ -n "$linux_why" ]; then
		why=$linux_why
	elif [ -n "$why" ]; then
		:
	elif [ "$(linux_value "$name" insum)" != "$want" ]; then
		why="the guest received sha256 $(linux_value "$name" insum), the host sent $want"
	elif [ "$(sha256sum <"$TMP/$name.got" | cut -d' ' -f1)" != "$(linux_value "$name" outsum)" ]; then
		why="the host's sha256 of the guest's stream differs from the guest's"
	elif [ "$(sha256sum <"$TMP/$name.g2h" | cut -d' ' -f1)" != "$(linux_value "$name" outsum)" ]; then
		why="the listener on PATH_6000 got other bytes than the guest sent"
	elif [ "$(linux_value "$name" back)" != ack ]; then
		why="the guest did not get the host listener's ack"
	elif [ "$(linux_value "$name" refused)" != yes ]; then
		why="the guest's connect to a host port with no listener did not fail"
	fi
	linux_report "$id" "$name" "$why"
}

# ---- vsock: bulk streams, many connections, early closes (issue 13) --------

# vsock_kv FILE CONN KEY: KEY's value in connection CONN's line of a
# tests/vsock_peer.py report ("conn=I key=value ...").
vsock_kv() {
	local kv
	for kv in $(grep "^conn=$2 " "$1" 2>/dev/null); do
		case $kv in "$3="*) echo "${kv#*=}" ;; esac
	done
}

# vsock_seeds FILE KEY: the sorted values of KEY over a report's lines, or over
# the guest's "conn N got seed S" lines (KEY "guest").
vsock_seeds() {
	if [ "$2" = guest ]; then
		tr -d '\r' <"$1" | sed -n 's/^vsockio: conn [0-9]* got seed \([0-9]*\)$/\1/p'
	else
		sed -n "s/^conn=.* $2=\([^ ]*\).*/\1/p" "$1"
	fi | sort -n | tr '\n' ' '
}

# vsock_peer_start NAME MODE ARGS...: tests/vsock_peer.py in the background,
# its report in $TMP/NAME, its pid added to $vsock_peers.
vsock_peers=""
vsock_peer_start() {
	local out=$TMP/$1
	shift
	timeout 120 python3 tests/vsock_peer.py "$@" >"$out" 2>&1 &
	vsock_peers="$vsock_peers $!"
}

vsock_peers_wait() {
	local p
	for p in $vsock_peers; do wait "$p" 2>/dev/null; done
	vsock_peers=""
}

# linux_vsock_bulk_case ID ENGINE: 64 MiB each way through one connection,
# checked by sha256 on both ends. The host sends a stream (seed 100) to the
# guest's port 5000, which hashes what arrives; the guest sends its own (seed
# 7) to host port 6000 and hashes it apart; the host checks every byte.
linux_vsock_bulk_case() {
	local id=$1 e=$2 name=${1//\//_} uds why="" cmd bytes=67108864
	local h2g g2h

	if ! command -v python3 >/dev/null; then
		skip "$id" "the host has no python3 for the UNIX-socket peer"
		return
	fi
	uds=$TMP/$name.sock h2g=$TMP/$name.h2g g2h=$TMP/$name.g2h
	cmd="echo h2g_sha=\$(vsockio listen 5000 </dev/null | sha256sum | cut -d' ' -f1)
echo g2h_sha=\$(vsockio gen $bytes 7 | sha256sum | cut -d' ' -f1)
vsockio gen $bytes 7 | vsockio connect 2 6000 >/dev/null && echo g2h=sent"
	: >"$TMP/$name.out"
	vsock_peer_start "$name.h2g" to-guest "$uds" 5000 "$TMP/$name.out" 1 $bytes 0 100
	vsock_peer_start "$name.g2h" from-guest "${uds}_6000" 1 0 $bytes 0
	linux_cmd "$name" "$e" "$cmd" --vsock "cid=3,uds=$uds"
	vsock_peers_wait
	why=$linux_why
	if [ -z "$why" ] && [ "$(vsock_kv "$h2g" 0 sent)" != $bytes ]; then
		why="the host sent $(vsock_kv "$h2g" 0 sent) of $bytes bytes: $(cat "$h2g")"
	elif [ -z "$why" ] && [ "$(linux_value "$name" h2g_sha)" != "$(vsock_kv "$h2g" 0 sent_sha)" ]; then
		why="the guest's sha256 $(linux_value "$name" h2g_sha) is not that of the host's stream"
	elif [ -z "$why" ] && [ "$(linux_value "$name" g2h)" != sent ]; then
		why="the guest could not send its stream"
	elif [ -z "$why" ] && [ "$(vsock_kv "$g2h" 0 verdict)" != whole ] ||
		[ "$(vsock_kv "$g2h" 0 seed)" != 7 ]; then
		why=${why:-"the host got $(vsock_kv "$g2h" 0 got) bytes of seed $(vsock_kv "$g2h" 0 seed): $(vsock_kv "$g2h" 0 verdict)"}
	elif [ -z "$why" ] && [ "$(linux_value "$name" g2h_sha)" != "$(vsock_kv "$g2h" 0 got_sha)" ]; then
		why="the host's sha256 of the guest's stream differs from the guest's"
	fi
	linux_report "$id" "$name" "$why"
	[ -z "$why" ] && echo "    64 MiB host to guest $(vsock_kv "$h2g" 0 sent_mbs) MB/s, guest to host $(vsock_kv "$g2h" 0 got_mbs) MB/s"
}

# linux_vsock_many_case ID ENGINE: 16 host connections to the guest's port
# 5000 and 16 guest connections to host port 6000, all at once, each carrying
# 512 KiB of its own stream both ways; every receiver checks every byte and
# names the seeds it got, which must be exactly the ones sent.
linux_vsock_many_case() {
	local id=$1 e=$2 name=${1//\//_} uds why="" cmd n=16 bytes=524288 r v
	local want_ml want_mc want_h2g want_g2h

	if ! command -v python3 >/dev/null; then
		skip "$id" "the host has no python3 for the UNIX-socket peer"
		return
	fi
	uds=$TMP/$name.sock
	cmd="vsockio multi listen 5000 $n $bytes 300 >/tmp/ml & ml=\$!
vsockio multi connect 2 6000 $n $bytes 400 >/tmp/mc; echo mc_rc=\$?
wait \$ml; echo ml_rc=\$?
sed 's/^/ml: /' /tmp/ml; sed 's/^/mc: /' /tmp/mc"
	: >"$TMP/$name.out"
	vsock_peer_start "$name.h2g" to-guest "$uds" 5000 "$TMP/$name.out" $n $bytes $bytes 100
	vsock_peer_start "$name.g2h" from-guest "${uds}_6000" $n $bytes $bytes 200
	linux_cmd "$name" "$e" "$cmd" --vsock "cid=3,uds=$uds"
	vsock_peers_wait
	want_ml=$(seq 100 $((100 + n - 1)) | tr '\n' ' ') want_mc=$(seq 200 $((200 + n - 1)) | tr '\n' ' ')
	want_h2g=$(seq 300 $((300 + n - 1)) | tr '\n' ' ') want_g2h=$(seq 400 $((400 + n - 1)) | tr '\n' ' ')
	why=$linux_why
	if [ -z "$why" ] && [ "$(linux_value "$name" ml_rc)/$(linux_value "$name" mc_rc)" != 0/0 ]; then
		why="the guest's connections were not all whole: $(tr -d '\r' <"$TMP/$name.out" | grep -E '^m[lc]: vsockio: [0-9]+ of' | tr '\n' ' ')"
	fi
	v=$(tr -d '\r' <"$TMP/$name.out" | sed -n 's/^ml: //p' >"$TMP/$name.ml"; vsock_seeds "$TMP/$name.ml" guest)
	[ -z "$why" ] && [ "$v" != "$want_ml" ] && why="the guest's listener got seeds '$v', want '$want_ml'"
	v=$(tr -d '\r' <"$TMP/$name.out" | sed -n 's/^mc: //p' >"$TMP/$name.mc"; vsock_seeds "$TMP/$name.mc" guest)
	[ -z "$why" ] && [ "$v" != "$want_mc" ] && why="the guest's connections got seeds '$v', want '$want_mc'"
	for r in h2g g2h; do
		v=$(grep -c ' verdict=whole$' "$TMP/$name.$r")
		[ -z "$why" ] && [ "$v" != $n ] && why="$v of $n host $r connections whole: $(grep -v 'verdict=whole' "$TMP/$name.$r" | head -n 3)"
	done
	v=$(vsock_seeds "$TMP/$name.h2g" seed)
	[ -z "$why" ] && [ "$v" != "$want_h2g" ] && why="the host's connections got seeds '$v', want '$want_h2g'"
	v=$(vsock_seeds "$TMP/$name.g2h" seed)
	[ -z "$why" ] && [ "$v" != "$want_g2h" ] && why="the host's listener got seeds '$v', want '$want_g2h'"
	linux_report "$id" "$name" "$why"
}

# linux_vsock_close_case ID ENGINE: a peer closing in the middle of a stream.
# a) the host closes after sending 4 MiB to the guest: the guest reads exactly
#    those bytes, then the end; b) the host closes after receiving 1 MiB of the
#    guest's 64: the guest's send fails; c) the guest closes after 1 MiB of
#    the host's 64: the host's send fails; d) the same with the guest as the
#    one that connected. Then new connections both ways carry whole streams.
linux_vsock_close_case() {
	local id=$1 e=$2 name=${1//\//_} uds why="" cmd big=67108864 mib=1048576 v
	local f=$TMP/$name

	if ! command -v python3 >/dev/null; then
		skip "$id" "the host has no python3 for the UNIX-socket peer"
		return
	fi
	uds=$TMP/$name.sock
	cmd="echo a_bytes=\$(vsockio listen 5001 </dev/null | wc -c)
vsockio gen $big 8 | vsockio connect 2 6001 >/dev/null; echo b_rc=\$?
echo c_bytes=\$(vsockio listen 5002 </dev/null | head -c $mib | wc -c)
echo d_bytes=\$(vsockio connect 2 6002 </dev/null | head -c $mib | wc -c)
vsockio multi listen 5003 1 65536 900 && vsockio multi connect 2 6003 1 65536 910 && echo fresh=ok"
	: >"$f.out"
	vsock_peer_start "$name.a" to-guest "$uds" 5001 "$f.out" 1 $big 0 100 $((4 * mib))
	vsock_peer_start "$name.b" from-guest "${uds}_6001" 1 0 0 0 $mib
	vsock_peer_start "$name.c" to-guest "$uds" 5002 "$f.out" 1 $big 0 200
	vsock_peer_start "$name.d" from-guest "${uds}_6002" 1 $big 0 300
	vsock_peer_start "$name.e1" to-guest "$uds" 5003 "$f.out" 1 65536 65536 400
	vsock_peer_start "$name.e2" from-guest "${uds}_6003" 1 65536 65536 500
	linux_cmd "$name" "$e" "$cmd" --vsock "cid=3,uds=$uds"
	vsock_peers_wait
	why=$linux_why
	if [ -z "$why" ] && [ "$(vsock_kv "$f.a" 0 end)" != closed ]; then
		why="a) the host did not close mid-stream: $(cat "$f.a")"
	elif [ -z "$why" ] && [ "$(linux_value "$name" a_bytes)" != $((4 * mib)) ]; then
		why="a) the guest read $(linux_value "$name" a_bytes) bytes, the host sent $((4 * mib)) and closed"
	elif [ -z "$why" ] && { [ "$(linux_value "$name" b_rc)" = 0 ] ||
		[ "$(vsock_kv "$f.b" 0 got)" -lt $mib ]; }; then
		why="b) after the host closed at $(vsock_kv "$f.b" 0 got) bytes the guest's send ended with $(linux_value "$name" b_rc)"
	elif [ -z "$why" ] && [ "$(linux_value "$name" c_bytes)" != $mib ]; then
		why="c) the guest read $(linux_value "$name" c_bytes) bytes before closing, want $mib"
	elif [ -z "$why" ] && [ "$(vsock_kv "$f.c" 0 end)" != send-failed ]; then
		why="c) the host's send did not fail when the guest closed: $(cat "$f.c")"
	elif [ -z "$why" ] && [ "$(linux_value "$name" d_bytes)" != $mib ]; then
		why="d) the guest read $(linux_value "$name" d_bytes) bytes before closing, want $mib"
	elif [ -z "$why" ] && [ "$(vsock_kv "$f.d" 0 end)" != send-failed ]; then
		why="d) the host's send did not fail when the guest closed: $(cat "$f.d")"
	elif [ -z "$why" ] && { [ "$(linux_value "$name" fresh)" != ok ] ||
		[ "$(vsock_kv "$f.e1" 0 verdict)/$(vsock_kv "$f.e1" 0 seed)" != whole/900 ] ||
		[ "$(vsock_kv "$f.e2" 0 verdict)/$(vsock_kv "$f.e2" 0 seed)" != whole/910 ]; }; then
		why="e) new connections after the early closes: guest '$(linux_value "$name" fresh)', host $(vsock_kv "$f.e1" 0 verdict), $(vsock_kv "$f.e2" 0 verdict)"
	fi
	linux_report "$id" "$name" "$why"
}

linux_virtio_tests() {
	local e=$1 id name img img2 want got pid i

	# A pattern written by the guest is in the image after poweroff.
	id=linux/$e/virtio-blk-write name=${id//\//_} img=$TMP/$name.img
	truncate -s 16M "$img"
	linux_cmd "$name" "$e" 'yes kite-pattern | head -c 1048576 | dd of=/dev/vda bs=65536 2>/dev/null && sync' \
		--disk "$img"
	if [ -z "$linux_why" ] && ! yes kite-pattern | head -c 1048576 | cmp -s - <(head -c 1048576 "$img"); then
		linux_why="the image does not hold the pattern the guest wrote"
	fi
	linux_report "$id" "$name" "$linux_why"

	# The guest reads the whole disk and hashes it.
	id=linux/$e/virtio-blk-read name=${id//\//_} img=$TMP/$name.img
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$img"
	want=$(sha256sum <"$img" | cut -d' ' -f1)
	linux_cmd "$name" "$e" 'echo sha=$(sha256sum </dev/vda | cut -d" " -f1)' --disk "$img"
	got=$(linux_value "$name" sha)
	if [ -z "$linux_why" ] && [ "$got" != "$want" ]; then
		linux_why="guest sha256 ${got:-none} is not the host's $want"
	fi
	linux_report "$id" "$name" "$linux_why"

	# An image of 1 MiB + 1000 bytes: 2050 sectors, the last one zero-padded;
	# writing that sector completes the file.
	id=linux/$e/virtio-blk-odd-size name=${id//\//_} img=$TMP/$name.img
	head -c $((1048576 + 1000)) /dev/urandom >"$img"
	want=$( { cat "$img"; head -c 24 /dev/zero; } | sha256sum | cut -d' ' -f1)
	cp "$img" "$img.orig"
	linux_cmd "$name" "$e" 'echo sectors=$(cat /sys/block/vda/size); echo sha=$(sha256sum </dev/vda | cut -d" " -f1); yes tail-sector | head -c 512 | dd of=/dev/vda bs=512 seek=2049 count=1 oflag=direct 2>/dev/null && echo tail=written' \
		--disk "$img"
	if [ -z "$linux_why" ] && [ "$(linux_value "$name" sectors)" != 2050 ]; then
		linux_why="the guest sees $(linux_value "$name" sectors) sectors, want 2050"
	elif [ -z "$linux_why" ] && [ "$(linux_value "$name" sha)" != "$want" ]; then
		linux_why="guest sha256 $(linux_value "$name" sha) is not that of the image and 24 zero bytes"
	elif [ -z "$linux_why" ] && [ "$(linux_value "$name" tail)" != written ]; then
		linux_why="the guest could not write the last sector"
	elif [ -z "$linux_why" ] && ! { head -c 1049088 "$img.orig"; yes tail-sector | head -c 512; } | cmp -s - "$img"; then
		linux_why="the image is not the original with the guest's last sector ($(stat -c %s "$img") bytes)"
	fi
	linux_report "$id" "$name" "$linux_why"

	# A read-only disk refuses writes and keeps every byte.
	id=linux/$e/virtio-blk-ro name=${id//\//_} img=$TMP/$name.img
	head -c $((4 * 1024 * 1024)) /dev/urandom >"$img"
	want=$(sha256sum <"$img" | cut -d' ' -f1)
	linux_cmd "$name" "$e" 'echo ro=$(cat /sys/block/vda/ro); if echo x | dd of=/dev/vda conv=fsync oflag=direct bs=512 count=1 2>/dev/null; then echo write=accepted; else echo write=refused; fi' \
		--disk "$img,ro"
	if [ -z "$linux_why" ] && [ "$(linux_value "$name" write)" != refused ]; then
		linux_why="a write to the read-only disk was $(linux_value "$name" write)"
	elif [ -z "$linux_why" ] && [ "$(sha256sum <"$img" | cut -d' ' -f1)" != "$want" ]; then
		linux_why="the read-only image changed"
	fi
	linux_report "$id" "$name" "$linux_why"

	# Two disks at once, with their sizes and serials.
	id=linux/$e/virtio-blk-two name=${id//\//_} img=$TMP/$name.a img2=$TMP/$name.b
	truncate -s 8M "$img"
	truncate -s 12M "$img2"
	linux_cmd "$name" "$e" 'for d in vda vdb; do echo $d=$(cat /sys/block/$d/size)/$(cat /sys/block/$d/serial 2>/dev/null); done' \
		--disk "$img,id=first" --disk "$img2,id=second"
	if [ -z "$linux_why" ] && { [ "$(linux_value "$name" vda)" != 16384/first ] ||
		[ "$(linux_value "$name" vdb)" != 24576/second ]; }; then
		linux_why="disks seen as vda=$(linux_value "$name" vda) vdb=$(linux_value "$name" vdb)"
	fi
	linux_report "$id" "$name" "$linux_why"

	# A disk limited to 512 KiB/s (--disk ...,bw=): 2.5 MiB read past the page
	# cache take 4 s (the first 512 KiB are the full bucket); 3 s at least.
	id=linux/$e/virtio-blk-rate-limit name=${id//\//_} img=$TMP/$name.img
	head -c 2621440 /dev/urandom >"$img"
	linux_cmd "$name" "$e" 'time -p -o /tmp/t sh -c "dd if=/dev/vda bs=64k iflag=direct 2>/dev/null | wc -c >/tmp/n"; echo bytes=$(cat /tmp/n); echo secs=$(awk "/^real/ {print \$2}" /tmp/t)' \
		--disk "$img,bw=512K/1000"
	got=$(linux_guest_centis "$name" secs)
	if [ -z "$linux_why" ] && [ "$(linux_value "$name" bytes)" != 2621440 ]; then
		linux_why="the guest read $(linux_value "$name" bytes) bytes, want 2621440"
	elif [ -z "$linux_why" ] && { [ -z "$got" ] || [ "$got" -lt 300 ]; }; then
		linux_why="2.5 MiB came through a 512 KiB/s limit in $(linux_value "$name" secs) s, want 3 s or more"
	fi
	linux_report "$id" "$name" "$linux_why"

	# Boot from an ext4 root disk; the file the guest created is there after poweroff.
	id=linux/$e/virtio-blk-ext4-root name=${id//\//_} img=$TMP/$name.img
	rm -rf "$TMP/rootfs"
	mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/sbin" "$TMP/rootfs/dev" "$TMP/rootfs/proc" "$TMP/rootfs/root"
	cp "$LINUX_DIR/pkg/busybox/bin/busybox" "$TMP/rootfs/bin/busybox"
	ln -s busybox "$TMP/rootfs/bin/sh"
	printf '#!/bin/sh\n/bin/busybox mount -t proc proc /proc\necho root=$(/bin/busybox stat -c %%m /)\necho made-by-the-guest >/root/proof.txt\n/bin/busybox sync\necho kite-guest: cmd exit 0\n/bin/busybox poweroff -f\n' \
		>"$TMP/rootfs/sbin/init"
	chmod 755 "$TMP/rootfs/sbin/init"
	truncate -s 32M "$img"
	mkfs.ext4 -q -F -d "$TMP/rootfs" "$img"
	linux_boot "$name" "$e" vmlinux /dev/null "root=/dev/vda rootfstype=ext4" --disk "$img"
	got=$(debugfs -R "cat /root/proof.txt" "$img" 2>/dev/null)
	linux_why=""
	if [ "$linux_rc" -ne 0 ]; then
		linux_why="exit status $linux_rc, want 0"
	elif [ "$got" != made-by-the-guest ]; then
		linux_why="debugfs finds '${got}' in /root/proof.txt"
	fi
	linux_report "$id" "$name" "$linux_why"

	# A flush the guest saw complete survives SIGKILL of kite.
	id=linux/$e/virtio-blk-flush-kill name=${id//\//_} img=$TMP/$name.img
	truncate -s 8M "$img"
	# kite itself in the background (no timeout wrapper): SIGKILL must reach it.
	"$KITE" run --accel "$e" --kernel "$LINUX_DIR/vmlinux" \
		--initrd "$LINUX_DIR/initramfs.cpio.gz" --disk "$img" \
		--cmdline "$LINUX_BASE_CMDLINE kite.cmd=$(printf '%s' 'yes durable | head -c 65536 | dd of=/dev/vda bs=65536 2>/dev/null; sync; echo synced; sleep 600' | base64 -w0)" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	for i in $(seq $((LINUX_TIMEOUT * 5))); do
		grep -q '^synced' "$TMP/$name.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	linux_rc=$?
	linux_why=""
	if [ "$linux_rc" -ne 137 ]; then
		linux_why="kite ended with status $linux_rc before the SIGKILL"
	elif ! grep -q '^synced' "$TMP/$name.out"; then
		linux_why="the guest never reported its sync"
	elif ! yes durable | head -c 65536 | cmp -s - <(head -c 65536 "$img"); then
		linux_why="data the guest synced is not in the image after SIGKILL"
	fi
	linux_report "$id" "$name" "$linux_why"

	# The entropy device gives bytes.
	id=linux/$e/virtio-rng name=${id//\//_}
	linux_cmd "$name" "$e" 'echo hwrng=$(cat /sys/class/misc/hw_random/rng_current); echo bytes=$(head -c 4096 /dev/hwrng | wc -c); echo distinct=$(head -c 4096 /dev/hwrng | od -An -v -tx1 | tr -s " " "\n" | sort -u | grep -c .)'
	if [ -z "$linux_why" ] && [ "$(linux_value "$name" bytes)" != 4096 ]; then
		linux_why="read $(linux_value "$name" bytes) of 4096 bytes from /dev/hwrng"
	elif [ -z "$linux_why" ] && [ "$(linux_value "$name" distinct)" -lt 200 ]; then
		linux_why="only $(linux_value "$name" distinct) distinct byte values in 4 KiB of entropy"
	fi
	linux_report "$id" "$name" "$linux_why"
}

# ---- through the API (docs/api.md) ------------------------------------------

# linux_api_start NAME SOCK ENGINE [ARGS...]: kite --api-sock in the background
# (linux_pid), its console in $TMP/NAME.out; returns once the socket is there.
linux_api_start() {
	local name=$1 sock=$2 engine=$3 i
	shift 3
	timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --api-sock "$sock" --accel "$engine" "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	linux_pid=$!
	for i in $(seq 100); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
}

# linux_api_send SOCK METHOD URL BODY: one request that must answer 204; what
# else it answered joins $why.
linux_api_send() {
	local st body
	body=$(mktemp)
	st=$(curl -s -o "$body" -w '%{http_code}' -X "$2" --unix-socket "$1" \
		--data-binary "$4" "http://localhost$3")
	[ "$st" = 204 ] || why="${why:+$why; }$2 $3: HTTP $st $(cat "$body")"
	rm -f "$body"
}

# linux_api_wait_line NAME PATTERN: waits up to 30 s for a console line matching PATTERN.
linux_api_wait_line() {
	local i
	for i in $(seq 300); do
		tr -d '\r' <"$TMP/$1.out" | grep -qx "$2" && return 0
		sleep 0.1
	done
	return 1
}

# linux_api_case ID ENGINE: the default guest configured and started with curl
# over --api-sock alone; it must run its command and power off.
linux_api_case() {
	local id=$1 engine=$2 name=${1//\//_} sock=$TMP/linux-api.sock why="" b64
	b64=$(printf 'echo via-api-$((6 * 7))' | base64 -w0)
	linux_api_start "$name" "$sock" "$engine"
	linux_api_send "$sock" PUT /boot-source "{\"kernel_image_path\": \"$LINUX_DIR/vmlinux\",
		\"initrd_path\": \"$LINUX_DIR/initramfs.cpio.gz\",
		\"boot_args\": \"$LINUX_BASE_CMDLINE kite.cmd=$b64\"}"
	linux_api_send "$sock" PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
	linux_api_send "$sock" PUT /actions '{"action_type": "InstanceStart"}'
	wait "$linux_pid"
	linux_rc=$?
	if [ -z "$why" ] && [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif [ -z "$why" ] && ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'via-api-42'; then
		why="the guest did not run its command"
	elif [ -z "$why" ] && [ -e "$sock" ]; then
		why="the socket is left behind"
	fi
	linux_report "$id" "$name" "$why"
}

# linux_api_swap_case ID ENGINE: PATCH /drives with another path_on_host while
# Linux runs: the guest reads the old image, then sees the new capacity
# (the config interrupt) and, its page cache dropped, the new image's bytes.
linux_api_swap_case() {
	local id=$1 engine=$2 name=${1//\//_} sock=$TMP/linux-swap.sock why="" b64
	local a=$TMP/swap-a.img b=$TMP/swap-b.img
	printf 'image-A\n' >"$a"
	truncate -s 1M "$a"
	printf 'image-B\n' >"$b"
	truncate -s 2M "$b"
	b64=$(printf '%s' 'head -c 8 /dev/vda; echo swap-ready; i=0
while [ "$(cat /sys/block/vda/size)" = 2048 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "size $(cat /sys/block/vda/size)"; echo 3 >/proc/sys/vm/drop_caches; head -c 8 /dev/vda' |
		base64 -w0)
	linux_api_start "$name" "$sock" "$engine" --kernel "$LINUX_DIR/vmlinux" \
		--initrd "$LINUX_DIR/initramfs.cpio.gz" --disk "$a,id=data" \
		--cmdline "$LINUX_BASE_CMDLINE kite.cmd=$b64"
	linux_api_send "$sock" PUT /actions '{"action_type": "InstanceStart"}'
	linux_api_wait_line "$name" swap-ready
	linux_api_send "$sock" PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$b\"}"
	wait "$linux_pid"
	linux_rc=$?
	if [ -z "$why" ] && [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif [ -z "$why" ] && ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'image-A'; then
		why="the guest did not read the first image"
	elif [ -z "$why" ] && ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'size 4096'; then
		why="the guest did not see the new capacity"
	elif [ -z "$why" ] && ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'image-B'; then
		why="the guest did not read the new image"
	fi
	rm -f "$a" "$b"
	linux_report "$id" "$name" "$why"
}

# linux_api_cad_case ID ENGINE: Linux paused and resumed through the API, then
# SendCtrlAltDel: the keys reach its i8042 keyboard and the kernel restarts
# (kernel.ctrl-alt-del is 1 with no init to signal), which ends kite with 0.
linux_api_cad_case() {
	local id=$1 engine=$2 name=${1//\//_} sock=$TMP/linux-cad.sock why="" b64
	b64=$(printf 'echo cad-ready; sleep 60' | base64 -w0)
	linux_api_start "$name" "$sock" "$engine" --kernel "$LINUX_DIR/vmlinux" \
		--initrd "$LINUX_DIR/initramfs.cpio.gz" --cmdline "$LINUX_BASE_CMDLINE kite.cmd=$b64"
	linux_api_send "$sock" PUT /actions '{"action_type": "InstanceStart"}'
	linux_api_wait_line "$name" cad-ready
	linux_api_send "$sock" PATCH /vm '{"state": "Paused"}'
	sleep 0.5
	linux_api_send "$sock" PATCH /vm '{"state": "Resumed"}'
	linux_api_send "$sock" PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait "$linux_pid"
	linux_rc=$?
	if [ -z "$why" ] && [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif [ -z "$why" ] && ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'cad-ready'; then
		why="the guest never ran its command"
	elif [ -z "$why" ] && ! grep -q 'reboot: Restarting system' "$TMP/$name.out"; then
		why="the kernel did not restart on Ctrl-Alt-Del"
	fi
	linux_report "$id" "$name" "$why"
}

# net_features_why FEATURES ON OFF: why the guest's negotiated virtio-net
# features (the 0/1 string of /sys/class/net/eth0/device/features) do not
# have every bit of ON set and every bit of OFF clear; "" when they do.
net_features_why() {
	local feat=$1 bit

	for bit in $2; do
		[ "${feat:$bit:1}" = 1 ] || { echo "feature bit $bit not negotiated (features $feat)"; return; }
	done
	for bit in $3; do
		[ "${feat:$bit:1}" = 0 ] || { echo "feature bit $bit negotiated, want it off (features $feat)"; return; }
	done
}

# ---- virtio-net over a host TAP (issue 13) ----------------------------------

NET_HOST=192.168.100.1
NET_GUEST=192.168.100.2
NET_BYTES=1048576

# What keeps this host from running the TAP test, or "" (then $net_tap exists and is up).
# Runs in a subshell: the caller sets net_tap.
net_setup() {
	[ "$(id -u)" = 0 ] || { echo "not root: ip tuntap needs CAP_NET_ADMIN"; return; }
	[ -c /dev/net/tun ] || { echo "/dev/net/tun is missing"; return; }
	command -v ip >/dev/null || { echo "ip (iproute2) is not installed"; return; }
	command -v python3 >/dev/null || { echo "python3 is not installed"; return; }
	ip tuntap add dev "$net_tap" mode tap 2>/dev/null ||
		{ echo "ip tuntap add failed: /dev/net/tun is unusable here"; return; }
	ip addr add "$NET_HOST/24" dev "$net_tap" && ip link set "$net_tap" up ||
		{ ip tuntap del dev "$net_tap" mode tap; echo "cannot configure $net_tap"; }
}

net_cleanup() {
	ip tuntap del dev "$net_tap" mode tap 2>/dev/null
}

# The guest pings the host, fetches a file over TCP and sends one back; both
# arrive intact (sha256), and the driver negotiated MAC, STATUS, checksum and
# TSO offloads.
linux_net_case() {
	local id=$1 e=$2 name=${1//\//_} why peer cmd feat bit
	local a=$TMP/$name.to-guest b=$TMP/$name.from-guest

	net_tap=kt$$
	why=$(net_setup)
	if [ -n "$why" ]; then
		skip "$id" "$why"
		return
	fi
	head -c "$NET_BYTES" /dev/urandom >"$a"
	rm -f "$b"
	timeout 250 python3 tests/net_peer.py "$NET_HOST" "$a" "$b" "$NET_BYTES" >"$TMP/$name.peer" &
	peer=$!
	for _ in $(seq 50); do grep -q listening "$TMP/$name.peer" 2>/dev/null && break; sleep 0.1; done
	cmd="ip addr add $NET_GUEST/24 dev eth0 && ip link set eth0 up && sleep 1"
	cmd+=" && echo mac=\$(cat /sys/class/net/eth0/address)"
	cmd+=" && echo features=\$(cat /sys/class/net/eth0/device/features)"
	cmd+=" && echo addrs=\$(ip -4 -o addr show dev eth0 | awk '{print \$4}')"
	cmd+=" && ping -c 3 $NET_HOST && echo ping=ok"
	cmd+=" && nc -w 60 $NET_HOST 7001 </dev/null >/tmp/a && echo a_sha=\$(sha256sum </tmp/a | cut -d' ' -f1)"
	cmd+=" && head -c $NET_BYTES /dev/urandom >/tmp/b && echo b_sha=\$(sha256sum </tmp/b | cut -d' ' -f1)"
	cmd+=" && nc -w 60 $NET_HOST 7002 </tmp/b"
	# kite.net=static: /init leaves eth0 to the command rather than asking for DHCP.
	LINUX_CMDLINE_EXTRA=kite.net=static linux_cmd "$name" "$e" "$cmd" \
		--net "tap=$net_tap,mac=02:6b:69:74:65:01"
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	net_cleanup
	why=$linux_why
	feat=$(linux_value "$name" features)
	if [ -z "$why" ] && [ "$(linux_value "$name" mac)" != 02:6b:69:74:65:01 ]; then
		why="eth0 has address '$(linux_value "$name" mac)', want 02:6b:69:74:65:01"
	elif [ -z "$why" ] && [ "$(linux_value "$name" addrs)" != "$NET_GUEST/24" ]; then
		why="eth0 has '$(linux_value "$name" addrs)', want only the static $NET_GUEST/24"
	elif [ -z "$why" ] && [ "$(linux_value "$name" ping)" != ok ]; then
		why="the guest could not ping the host"
	elif [ -z "$why" ] && [ "$(linux_value "$name" a_sha)" != "$(sha256sum <"$a" | cut -d' ' -f1)" ]; then
		why="the file the guest received has sha256 '$(linux_value "$name" a_sha)'"
	elif [ -z "$why" ] && [ "$(linux_value "$name" b_sha)" != "$(sha256sum <"$b" 2>/dev/null | cut -d' ' -f1)" ]; then
		why="the host received $(stat -c %s "$b" 2>/dev/null || echo no) bytes, not the guest's file"
	fi
	# CSUM, GUEST_CSUM, MAC, GUEST_TSO4/6, HOST_TSO4/6, MRG_RXBUF, STATUS, VERSION_1.
	[ -n "$why" ] || why=$(net_features_why "$feat" "0 1 5 7 8 11 12 15 16 32" "")
	linux_report "$id" "$name" "$why"
}

# A TAP that does not exist is an error naming it, before the guest runs.
linux_net_missing_case() {
	local id=$1 e=$2 name=${1//\//_} why=""

	linux_boot "$name" "$e" vmlinux /dev/null "kite.poweroff" --net tap=kite-none0
	if [ "$linux_rc" -eq 0 ]; then
		why="kite ran with a missing TAP"
	elif ! grep -q "tap kite-none0: .*no such TAP" "$TMP/$name.err"; then
		why="the error does not name the missing TAP"
	fi
	linux_report "$id" "$name" "$why"
}

# ---- user-mode networking, --net user (issue 13) -----------------------------

USERNET_BYTES=3000000

# usernet_setup NAME: what keeps this host from running the user-network
# cases, or "" with $usernet_kite set: a wrapper that runs kite in a mount
# namespace of its own where /etc/resolv.conf names 127.0.0.1, so that no
# DNS query the guest makes leaves the machine (libslirp forwards what the
# hosts file does not answer to the host's resolver), and /etc/hosts is
# $TMP/NAME.hosts, a copy of the host's that a case may add names to (the
# host's own file is never written).
usernet_setup() {
	local name=$1
	[ "$(id -u)" = 0 ] || { echo "not root: the private /etc/hosts needs a mount namespace"; return; }
	command -v python3 >/dev/null || { echo "python3 is not installed"; return; }
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m sh -c 'mount --bind /etc/hosts /etc/hosts' 2>/dev/null ||
		{ echo "cannot bind-mount over /etc/hosts in a mount namespace here"; return; }
	cp /etc/hosts "$TMP/$name.hosts"
	echo "nameserver 127.0.0.1" >"$TMP/$name.resolv"
	usernet_kite=$TMP/$name.kite
	cat >"$usernet_kite" <<WRAP
#!/bin/sh
exec unshare -m sh -c 'mount --bind "\$0" /etc/hosts || exit 1
if [ -e /etc/resolv.conf ]; then mount --bind "\$1" /etc/resolv.conf || exit 1; fi
shift
exec "\$@"' "$TMP/$name.hosts" "$TMP/$name.resolv" "$KITE" "\$@"
WRAP
	chmod +x "$usernet_kite"
}

# usernet_http NAME DIR: serves DIR on the host's loopback (the guest's
# 10.0.2.2); sets $usernet_http_pid and $usernet_http_port, or returns 1.
usernet_http() {
	local name=$1 dir=$2
	python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$dir" >"$TMP/$name.http" 2>&1 &
	usernet_http_pid=$!
	for _ in $(seq 100); do
		usernet_http_port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\).*/\1/p' "$TMP/$name.http")
		[ -n "$usernet_http_port" ] && return 0
		sleep 0.05
	done
	kill "$usernet_http_pid" 2>/dev/null
	return 1
}

# usernet_blob_setup ID NAME WWW: the user network wrapper ($usernet_kite)
# and the host's HTTP server of WWW holding a random $USERNET_BYTES blob;
# returns 1 after skip or fail for ID when either cannot be had.
usernet_blob_setup() {
	local id=$1 name=$2 www=$3 why

	why=$(usernet_setup "$name")
	if [ -n "$why" ]; then
		skip "$id" "$why"
		return 1
	fi
	usernet_kite=$TMP/$name.kite
	mkdir -p "$www"
	head -c "$USERNET_BYTES" /dev/urandom >"$www/blob"
	if ! usernet_http "$name" "$www"; then
		fail "$id" "the host's HTTP server did not start: $(head -c 300 "$TMP/$name.http")"
		return 1
	fi
}

# A free TCP port on the host's loopback (free when asked: the kernel picks it).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The guest gets 10.0.2.15 by DHCP from /init, downloads a file from an HTTP
# server on the host's loopback (10.0.2.2) and serves one through a hostfwd
# rule that the host reads from 127.0.0.1; both intact (sha256). A datagram
# the host sends to a hostfwd=udp port reaches the guest's listener and comes
# back. The driver
# negotiated no checksum or TSO offloads, and a second --net user is eth1
# with its own MAC.
linux_usernet_case() {
	local id=$1 e=$2 name=${1//\//_} why cmd feat bit hport uport peer upeer want
	local www=$TMP/$name.www

	usernet_blob_setup "$id" "$name" "$www" || return 0
	hport=$(free_port)
	uport=$(free_port)
	: >"$TMP/$name.out"
	timeout 250 python3 tests/hostfwd_peer.py tcp "$TMP/$name.out" hostfwd=listening "$hport" \
		"$USERNET_BYTES" "$TMP/$name.fwd" 2>"$TMP/$name.peer" &
	peer=$!
	timeout 250 python3 tests/hostfwd_peer.py udp "$TMP/$name.out" udpfwd=listening "$uport" \
		"udp-hello-$$" 2>"$TMP/$name.upeer" &
	upeer=$!
	cmd='echo addr=$(ip -4 -o addr show dev eth0 | awk "{print \$4}")'
	cmd+='; echo gw=$(ip route | awk "/^default/ {print \$3}")'
	cmd+='; echo dns=$(awk "/^nameserver/ {print \$2}" /etc/resolv.conf)'
	cmd+='; echo features=$(cat /sys/class/net/eth0/device/features)'
	cmd+='; echo mtu=$(cat /sys/class/net/eth0/mtu)'
	cmd+='; echo macs=$(cat /sys/class/net/eth0/address),$(cat /sys/class/net/eth1/address)'
	cmd+="; wget -q -O /tmp/d http://10.0.2.2:$usernet_http_port/blob && echo d_sha=\$(sha256sum </tmp/d | cut -d' ' -f1)"
	cmd+="; head -c $USERNET_BYTES /dev/urandom >/tmp/g && echo g_sha=\$(sha256sum </tmp/g | cut -d' ' -f1)"
	cmd+=' && echo hostfwd=listening && nc -l -p 8080 </tmp/g'
	# The host sends datagrams until one comes back from the guest's echo.
	cmd+='; udpecho 5353 60 >/tmp/u & sleep 0.2; echo udpfwd=listening; wait'
	cmd+='; echo udp_got=$(head -n 1 /tmp/u)'
	KITE=$usernet_kite linux_cmd "$name" "$e" "$cmd" \
		--net "user,hostfwd=tcp:127.0.0.1:$hport-:8080,hostfwd=udp::$uport-:5353,mac=02:6b:69:74:65:11" \
		--net user,mac=02:6b:69:74:65:12
	wait "$peer"
	local peer_rc=$?
	wait "$upeer"
	local upeer_rc=$?
	kill "$usernet_http_pid" 2>/dev/null
	wait "$usernet_http_pid" 2>/dev/null
	why=$linux_why
	feat=$(linux_value "$name" features)
	want=$(sha256sum <"$www/blob" | cut -d' ' -f1)
	if [ -z "$why" ] && [ "$(linux_value "$name" addr)" != 10.0.2.15/24 ]; then
		why="eth0 has '$(linux_value "$name" addr)' by DHCP, want 10.0.2.15/24"
	elif [ -z "$why" ] && [ "$(linux_value "$name" gw)" != 10.0.2.2 ]; then
		why="the default route is '$(linux_value "$name" gw)', want 10.0.2.2"
	elif [ -z "$why" ] && [ "$(linux_value "$name" dns)" != 10.0.2.3 ]; then
		why="/etc/resolv.conf names '$(linux_value "$name" dns)', want 10.0.2.3"
	elif [ -z "$why" ] && [ "$(linux_value "$name" macs)" != 02:6b:69:74:65:11,02:6b:69:74:65:12 ]; then
		why="eth0,eth1 have addresses '$(linux_value "$name" macs)', want the two --net in order"
	elif [ -z "$why" ] && [ "$(linux_value "$name" d_sha)" != "$want" ]; then
		why="the guest's download from 10.0.2.2 has sha256 '$(linux_value "$name" d_sha)', want $want"
	elif [ -z "$why" ] && [ "$peer_rc" -ne 0 ]; then
		why="the host's read through hostfwd: $(cat "$TMP/$name.peer")"
	elif [ -z "$why" ] && [ "$(sha256sum <"$TMP/$name.fwd" | cut -d' ' -f1)" != "$(linux_value "$name" g_sha)" ]; then
		why="what the host read through hostfwd differs from the guest's file"
	elif [ -z "$why" ] && [ "$(linux_value "$name" udp_got)" != "udp-hello-$$" ]; then
		why="the guest's UDP listener got '$(linux_value "$name" udp_got)' through hostfwd=udp, want udp-hello-$$"
	elif [ -z "$why" ] && [ "$upeer_rc" -ne 0 ]; then
		why="the host's UDP peer: $(cat "$TMP/$name.upeer")"
	fi
	# Without mtu= the user network's MTU is its largest (USERNET_MTU_DEFAULT).
	if [ -z "$why" ] && [ "$(linux_value "$name" mtu)" != 65520 ]; then
		why="eth0's MTU is '$(linux_value "$name" mtu)', want the user network's 65520"
	fi
	# MAC, MTU, MRG_RXBUF, STATUS, VERSION_1 on; CSUM, GUEST_CSUM, GUEST/HOST_TSO4/6 off.
	[ -n "$why" ] || why=$(net_features_why "$feat" "3 5 15 16 32" "0 1 7 8 11 12")
	linux_report "$id" "$name" "$why"
}

# The guest resolves a name that only the host's /etc/hosts knows (here the
# case's private copy with a unique name added) through 10.0.2.3: A and AAAA,
# in any case, and wget by that name reaches the host's HTTP server.
linux_usernet_dns_case() {
	local id=$1 e=$2 name=${1//\//_} why cmd host www
	www=$TMP/$name.www

	why=$(usernet_setup "$name")
	if [ -n "$why" ]; then
		skip "$id" "$why"
		return
	fi
	usernet_kite=$TMP/$name.kite
	host=kite-$$-$RANDOM.hosts.test
	printf '\n# kite test\n10.0.2.2 %s\n2001:db8::7 %s\n' "$host" "$host" >>"$TMP/$name.hosts"
	mkdir -p "$www"
	echo "hello-by-name-$$" >"$www/hello"
	if ! usernet_http "$name" "$www"; then
		fail "$id" "the host's HTTP server did not start: $(head -c 300 "$TMP/$name.http")"
		return
	fi
	cmd="echo a=\$(nslookup -type=A ${host^^} 10.0.2.3 | awk '/^Address: / {print \$2}')"
	cmd+="; echo aaaa=\$(nslookup -type=AAAA $host 10.0.2.3 | awk '/^Address: / {print \$2}')"
	cmd+="; echo by_name=\$(wget -q -O - http://$host:$usernet_http_port/hello)"
	KITE=$usernet_kite linux_cmd "$name" "$e" "$cmd" --net user
	kill "$usernet_http_pid" 2>/dev/null
	wait "$usernet_http_pid" 2>/dev/null
	why=$linux_why
	if [ -z "$why" ] && [ "$(linux_value "$name" a)" != 10.0.2.2 ]; then
		why="${host^^} resolved to '$(linux_value "$name" a)', want 10.0.2.2 from /etc/hosts"
	elif [ -z "$why" ] && [ "$(linux_value "$name" aaaa)" != 2001:db8::7 ]; then
		why="$host's AAAA is '$(linux_value "$name" aaaa)', want 2001:db8::7 from /etc/hosts"
	elif [ -z "$why" ] && [ "$(linux_value "$name" by_name)" != "hello-by-name-$$" ]; then
		why="wget by name got '$(linux_value "$name" by_name)'"
	fi
	linux_report "$id" "$name" "$why"
}

# --net user with mtu= and a receive limit, the merged features together:
# eth0 comes up with the MTU kite announced (4000) and the driver took
# mergeable receive buffers; a 3000-byte datagram from the host through
# hostfwd=udp reaches the guest's listener whole and its echo, 3028 bytes of
# IP the guest sends unfragmented, comes back (the user network runs with
# the same MTU); a 3 MB download from the host's loopback through
# rx-bw=100K/100 (about 1 MB/s after a 100 KiB bucket) takes 2.5 s or more
# and arrives intact.
linux_usernet_tuned_case() {
	local id=$1 e=$2 name=${1//\//_} why cmd feat bit uport upeer want msg secs
	local www=$TMP/$name.www

	usernet_blob_setup "$id" "$name" "$www" || return 0
	uport=$(free_port)
	msg=$(printf '%-3000s' "big-$$-" | tr ' ' x)
	: >"$TMP/$name.out"
	timeout 250 python3 tests/hostfwd_peer.py udp "$TMP/$name.out" udpfwd=listening "$uport" \
		"$msg" 2>"$TMP/$name.upeer" &
	upeer=$!
	cmd='echo mtu=$(cat /sys/class/net/eth0/mtu)'
	cmd+='; echo features=$(cat /sys/class/net/eth0/device/features)'
	cmd+="; time -p -o /tmp/t wget -q -O /tmp/d http://10.0.2.2:$usernet_http_port/blob"
	cmd+="; echo d_sha=\$(sha256sum </tmp/d | cut -d' ' -f1)"
	cmd+="; echo secs=\$(awk '/^real/ {print \$2}' /tmp/t)"
	cmd+='; udpecho 5353 60 >/tmp/u & sleep 0.2; echo udpfwd=listening; wait'
	cmd+="; echo udp_sum=\$(head -n 1 /tmp/u | md5sum | cut -d' ' -f1)"
	KITE=$usernet_kite linux_cmd "$name" "$e" "$cmd" \
		--net "user,hostfwd=udp::$uport-:5353,mtu=4000,rx-bw=100K/100"
	wait "$upeer"
	local upeer_rc=$?
	kill "$usernet_http_pid" 2>/dev/null
	wait "$usernet_http_pid" 2>/dev/null
	why=$linux_why
	feat=$(linux_value "$name" features)
	want=$(sha256sum <"$www/blob" | cut -d' ' -f1)
	secs=$(linux_guest_centis "$name" secs)
	if [ -z "$why" ] && [ "$(linux_value "$name" mtu)" != 4000 ]; then
		why="eth0's MTU is '$(linux_value "$name" mtu)', want the 4000 kite announced"
	elif [ -z "$why" ] && [ "$(linux_value "$name" d_sha)" != "$want" ]; then
		why="the guest's download from 10.0.2.2 has sha256 '$(linux_value "$name" d_sha)', want $want"
	elif [ -z "$why" ] && { [ -z "$secs" ] || [ "$secs" -lt 250 ]; }; then
		why="3 MB came in through a 1 MB/s rx limit in '$(linux_value "$name" secs)' s, want 2.5 s or more"
	elif [ -z "$why" ] && [ "$(linux_value "$name" udp_sum)" != "$(printf '%s\n' "$msg" | md5sum | cut -d' ' -f1)" ]; then
		why="the guest's UDP listener did not get the 3000-byte datagram whole"
	elif [ -z "$why" ] && [ "$upeer_rc" -ne 0 ]; then
		why="the 3000-byte echo did not come back to the host: $(head -c 300 "$TMP/$name.upeer")"
	fi
	# MTU, MRG_RXBUF, STATUS, VERSION_1 on; CSUM, GUEST_CSUM, GUEST/HOST_TSO4/6 off.
	[ -n "$why" ] || why=$(net_features_why "$feat" "3 15 16 32" "0 1 7 8 11 12")
	echo "    user network, rx-bw=100K/100: 3 MB in $(linux_value "$name" secs) s"
	linux_report "$id" "$name" "$why"
}

# ---- the TAP in one network namespace, the peer in another -------------------

# Namespace A holds the TAP (kite runs there) and routes to namespace B over a
# veth pair; the peer runs in B. Nothing is left in the host's own namespace.
NETNS_TAP_NET=10.201.1
NETNS_VETH_NET=10.201.2

# What keeps this host from running the namespace test, or "" (then both
# namespaces exist and are wired). Runs in a subshell: net_ns_cleanup undoes it.
net_ns_setup() {
	local a=$net_ns_a b=$net_ns_b

	[ "$(id -u)" = 0 ] || { echo "not root: network namespaces need CAP_SYS_ADMIN"; return; }
	command -v ip >/dev/null || { echo "ip (iproute2) is not installed"; return; }
	command -v python3 >/dev/null || { echo "python3 is not installed"; return; }
	[ -c /dev/net/tun ] || { echo "/dev/net/tun is missing"; return; }
	ip netns add "$a" 2>/dev/null && ip netns add "$b" 2>/dev/null ||
		{ echo "ip netns add failed: no network namespaces here"; return; }
	ip -n "$a" tuntap add dev tap0 mode tap 2>/dev/null ||
		{ echo "ip tuntap add failed in a namespace: /dev/net/tun is unusable here"; return; }
	ip -n "$a" link add veth0 type veth peer name veth0 netns "$b" 2>/dev/null ||
		{ echo "cannot create a veth pair between namespaces"; return; }
	{ ip -n "$a" link set lo up && ip -n "$b" link set lo up &&
		ip -n "$a" addr add "$NETNS_TAP_NET.1/24" dev tap0 && ip -n "$a" link set tap0 up &&
		ip -n "$a" addr add "$NETNS_VETH_NET.1/24" dev veth0 && ip -n "$a" link set veth0 up &&
		ip -n "$b" addr add "$NETNS_VETH_NET.2/24" dev veth0 && ip -n "$b" link set veth0 up &&
		ip -n "$b" route add "$NETNS_TAP_NET.0/24" via "$NETNS_VETH_NET.1" &&
		ip netns exec "$a" sysctl -qw net.ipv4.ip_forward=1; } >/dev/null 2>&1 ||
		echo "cannot configure the namespaces' links and routes"
}

# Undoes net_ns_setup and stops what runs in the namespaces; safe to call twice.
net_ns_cleanup() {
	[ -n "${net_ns_pids:-}" ] && kill $net_ns_pids 2>/dev/null
	net_ns_pids=""
	# Deleting a namespace takes its TAP and veth end with it.
	[ -n "${net_ns_a:-}" ] && ip netns del "$net_ns_a" 2>/dev/null
	[ -n "${net_ns_b:-}" ] && ip netns del "$net_ns_b" 2>/dev/null
	net_ns_a="" net_ns_b=""
}

# Runs net_ns_cleanup before whatever EXIT trap the runner has (a failure
# anywhere, ^C, kill), until net_ns_trap_restore.
net_ns_trap_set() {
	local cmd=""

	net_ns_old_trap=$(trap -p EXIT)
	[ -n "$net_ns_old_trap" ] && cmd=$(eval "set -- $net_ns_old_trap"; printf '%s' "$3")
	# shellcheck disable=SC2064 # the runner's command is fixed now, on purpose
	trap "net_ns_cleanup; $cmd" EXIT
}

net_ns_trap_restore() {
	eval "${net_ns_old_trap:-trap - EXIT}"
}

# net_ns_begin: the two namespaces, wired, with the EXIT trap that removes
# them; prints why not (and leaves nothing behind) when this host cannot.
# Must not run in a subshell: the caller's shell holds the trap and names.
net_ns_begin() {
	net_ns_a=kiteA$$ net_ns_b=kiteB$$ net_ns_pids=""
	# Whatever happens from here (a failure, ^C), the namespaces go.
	net_ns_trap_set
	net_ns_why=$(net_ns_setup)
	if [ -n "$net_ns_why" ]; then
		net_ns_cleanup
		net_ns_trap_restore
	fi
}

net_ns_end() {
	net_ns_cleanup
	net_ns_trap_restore
}

# The guest, in namespace A behind its TAP, and the peer in namespace B ping
# each other through A's routing and move a file each way over TCP (sha256);
# the guest's eth0 has the MTU kite announced (VIRTIO_NET_F_MTU), and the
# driver took mergeable receive buffers.
linux_net_netns_case() {
	local id=$1 e=$2 name=${1//\//_} why cmd b64 kite peer i feat bit
	local a=$TMP/$name.to-guest b=$TMP/$name.from-guest guest=$NETNS_TAP_NET.2
	local peer_ip=$NETNS_VETH_NET.2

	net_ns_begin
	if [ -n "$net_ns_why" ]; then
		skip "$id" "$net_ns_why"
		return
	fi
	head -c "$NET_BYTES" /dev/urandom >"$a"
	rm -f "$b"
	ip netns exec "$net_ns_b" timeout 250 python3 tests/net_peer.py "$peer_ip" "$a" "$b" \
		"$NET_BYTES" >"$TMP/$name.peer" 2>&1 &
	peer=$!
	net_ns_pids=$peer
	for _ in $(seq 50); do grep -q listening "$TMP/$name.peer" 2>/dev/null && break; sleep 0.1; done
	cmd="ip addr add $guest/24 dev eth0 && ip link set eth0 up && ip route add default via $NETNS_TAP_NET.1"
	cmd+=" && echo mtu=\$(cat /sys/class/net/eth0/mtu)"
	cmd+=" && echo features=\$(cat /sys/class/net/eth0/device/features)"
	cmd+=" && ping -c 3 -W 5 $peer_ip && echo ping=ok && echo net-up"
	# The peer pings back now: wait (up to 30 s) until three echo requests came in.
	cmd+=" && i=0; while [ \$(awk '/^Icmp:/ { if (!c) { for (k = 1; k <= NF; k++) if (\$k == \"InEchos\") c = k } else { print \$c; exit } }' /proc/net/snmp) -lt 3 ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done"
	cmd+="; echo echoes=\$(awk '/^Icmp:/ { if (!c) { for (k = 1; k <= NF; k++) if (\$k == \"InEchos\") c = k } else { print \$c; exit } }' /proc/net/snmp)"
	cmd+=" && nc -w 60 $peer_ip 7001 </dev/null >/tmp/a && echo a_sha=\$(sha256sum </tmp/a | cut -d' ' -f1)"
	cmd+=" && head -c $NET_BYTES /dev/urandom >/tmp/b && echo b_sha=\$(sha256sum </tmp/b | cut -d' ' -f1)"
	cmd+=" && nc -w 60 $peer_ip 7002 </tmp/b"
	b64=$(printf '%s' "$cmd" | base64 -w0)
	ip netns exec "$net_ns_a" timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --accel "$e" \
		--kernel "$LINUX_DIR/vmlinux" --initrd "$LINUX_DIR/initramfs.cpio.gz" \
		--cmdline "$LINUX_BASE_CMDLINE kite.cmd=$b64" \
		--net "tap=tap0,mac=02:6b:69:74:65:02,mtu=1400" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	kite=$!
	net_ns_pids="$peer $kite"
	for i in $(seq $((LINUX_TIMEOUT * 5))); do
		grep -q '^net-up' "$TMP/$name.out" 2>/dev/null && break
		kill -0 "$kite" 2>/dev/null || break
		sleep 0.2
	done
	why=""
	# The guest's busybox, which runs on the host too: hosts may lack ping.
	ip netns exec "$net_ns_b" "$LINUX_DIR/pkg/busybox/bin/busybox" ping -c 3 -i 0.2 -W 5 \
		"$guest" >"$TMP/$name.ping" 2>&1 ||
		why="the peer in namespace B could not ping the guest: $(tail -n 2 "$TMP/$name.ping" | tr '\n' ' ')"
	wait "$kite"
	linux_rc=$?
	wait "$peer" 2>/dev/null
	net_ns_end
	feat=$(linux_value "$name" features)
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0${why:+ ($why)}"
	elif [ -n "$why" ]; then
		:
	elif ! grep -q 'kite-guest: cmd exit 0' "$TMP/$name.out"; then
		why="the guest command failed"
	elif [ "$(linux_value "$name" ping)" != ok ]; then
		why="the guest could not ping the peer in the other namespace"
	elif [ "$(linux_value "$name" echoes)" -lt 3 ] 2>/dev/null; then
		why="the guest saw $(linux_value "$name" echoes) echo requests from the peer, want 3"
	elif [ "$(linux_value "$name" mtu)" != 1400 ]; then
		why="eth0's MTU is '$(linux_value "$name" mtu)', want the 1400 kite announced"
	elif [ "$(linux_value "$name" a_sha)" != "$(sha256sum <"$a" | cut -d' ' -f1)" ]; then
		why="the file the guest received has sha256 '$(linux_value "$name" a_sha)'"
	elif [ "$(linux_value "$name" b_sha)" != "$(sha256sum <"$b" 2>/dev/null | cut -d' ' -f1)" ]; then
		why="the peer received $(stat -c %s "$b" 2>/dev/null || echo no) bytes, not the guest's file"
	fi
	# MTU, MRG_RXBUF, VERSION_1.
	[ -n "$why" ] || why=$(net_features_why "$feat" "3 15 32" "")
	linux_report "$id" "$name" "$why"
}

# ---- rate limiters (docs/api.md) ---------------------------------------------

# linux_guest_centis NAME KEY: KEY's value (seconds, "2.51") in hundredths, or "".
linux_guest_centis() {
	linux_value "$1" "$2" | awk '/^[0-9]+(\.[0-9]+)?$/ { printf "%d\n", $1 * 100 }'
}

# The guest (behind the TAP in namespace A, as in the namespace case) moves
# data both ways with the peer in B through limiters given on --net (rx
# 1 MB/s, tx 500 kB/s): the transfers take at least what the buckets allow,
# and the device counts its throttling. Then PATCH /network-interfaces lifts
# both limits at run time, and the same transfers take less than half as long.
linux_net_ratelimit_case() {
	local id=$1 e=$2 name=${1//\//_} sock=$TMP/netlim.sock why="" cmd b64 p1 p2 m i
	local rx_bytes=3000000 tx_bytes=2000000 fifo=$TMP/$name.in v rl tl rf tf
	local host=$NETNS_VETH_NET.2 guest=$NETNS_TAP_NET.2

	net_ns_begin
	if [ -n "$net_ns_why" ]; then
		skip "$id" "$net_ns_why"
		return
	fi
	head -c "$rx_bytes" /dev/urandom >"$TMP/$name.h2g"
	# Ports 7001/7002 while limited, 7011/7012 once the limits are lifted.
	ip netns exec "$net_ns_b" timeout 250 python3 tests/net_peer.py "$host" "$TMP/$name.h2g" \
		"$TMP/$name.g2h.7000" "$tx_bytes" 7000 >"$TMP/$name.peer.7000" 2>&1 &
	p1=$!
	ip netns exec "$net_ns_b" timeout 250 python3 tests/net_peer.py "$host" "$TMP/$name.h2g" \
		"$TMP/$name.g2h.7010" "$tx_bytes" 7010 >"$TMP/$name.peer.7010" 2>&1 &
	p2=$!
	net_ns_pids="$p1 $p2"
	for _ in $(seq 50); do
		grep -q listening "$TMP/$name.peer.7000" 2>/dev/null &&
			grep -q listening "$TMP/$name.peer.7010" 2>/dev/null && break
		sleep 0.1
	done
	# nc in, nc out; time -p's "real" is the wall time in the guest.
	cmd="ip addr add $guest/24 dev eth0 && ip link set eth0 up && ip route add default via $NETNS_TAP_NET.1"
	cmd+=" && ping -c 2 -W 5 $host >/dev/null"
	cmd+=" && time -p -o /tmp/t1 sh -c 'head -c $tx_bytes /dev/zero | nc -w 60 $host 7002'"
	cmd+=" && time -p -o /tmp/t2 sh -c 'nc -w 60 $host 7001 </dev/null | wc -c >/tmp/n2'"
	cmd+=" && echo tx_limited=\$(awk '/^real/ {print \$2}' /tmp/t1)"
	cmd+=" && echo rx_limited=\$(awk '/^real/ {print \$2}' /tmp/t2)"
	cmd+=" && echo rx_limited_bytes=\$(cat /tmp/n2) && echo limited-done && read go && echo got-\$go"
	cmd+=" && time -p -o /tmp/t3 sh -c 'head -c $tx_bytes /dev/zero | nc -w 60 $host 7012'"
	cmd+=" && time -p -o /tmp/t4 sh -c 'nc -w 60 $host 7011 </dev/null | wc -c >/tmp/n4'"
	cmd+=" && echo tx_free=\$(awk '/^real/ {print \$2}' /tmp/t3) && echo rx_free=\$(awk '/^real/ {print \$2}' /tmp/t4)"
	cmd+=" && echo rx_free_bytes=\$(cat /tmp/n4)"
	b64=$(printf '%s' "$cmd" | base64 -w0)
	mkfifo "$fifo"
	ip netns exec "$net_ns_a" timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --api-sock "$sock" \
		--accel "$e" --kernel "$LINUX_DIR/vmlinux" --initrd "$LINUX_DIR/initramfs.cpio.gz" \
		--cmdline "$LINUX_BASE_CMDLINE kite.cmd=$b64" \
		--net "tap=tap0,rx-bw=100000/100,tx-bw=50000/100" \
		<"$fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	linux_pid=$!
	net_ns_pids="$p1 $p2 $linux_pid"
	exec 9>"$fifo"
	for i in $(seq 100); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	linux_api_send "$sock" PUT /actions '{"action_type": "InstanceStart"}'
	for i in $(seq $((LINUX_TIMEOUT * 5))); do
		tr -d '\r' <"$TMP/$name.out" | grep -qx 'limited-done' && break
		kill -0 "$linux_pid" 2>/dev/null || break
		sleep 0.2
	done
	m=$(curl -s --unix-socket "$sock" http://localhost/metrics)
	linux_api_send "$sock" PATCH /network-interfaces/eth0 '{"iface_id": "eth0",
		"rx_rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}},
		"tx_rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}}}'
	echo go >&9
	wait "$linux_pid"
	linux_rc=$?
	exec 9>&-
	kill $p1 $p2 2>/dev/null
	wait $p1 $p2 2>/dev/null
	net_ns_end
	rl=$(linux_guest_centis "$name" rx_limited) tl=$(linux_guest_centis "$name" tx_limited)
	rf=$(linux_guest_centis "$name" rx_free) tf=$(linux_guest_centis "$name" tx_free)
	if [ -n "$why" ]; then
		:
	elif [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif ! grep -q 'kite-guest: cmd exit 0' "$TMP/$name.out"; then
		why="the guest command failed"
	elif [ "$(linux_value "$name" rx_limited_bytes)" != "$rx_bytes" ] ||
		[ "$(linux_value "$name" rx_free_bytes)" != "$rx_bytes" ]; then
		why="the guest received $(linux_value "$name" rx_limited_bytes) and $(linux_value "$name" rx_free_bytes) bytes, want $rx_bytes twice"
	elif [ "$(stat -c %s "$TMP/$name.g2h.7000" 2>/dev/null)" != "$tx_bytes" ] ||
		[ "$(stat -c %s "$TMP/$name.g2h.7010" 2>/dev/null)" != "$tx_bytes" ]; then
		why="the host did not receive $tx_bytes bytes twice from the guest"
	elif [ -z "$rl" ] || [ -z "$tl" ] || [ -z "$rf" ] || [ -z "$tf" ]; then
		why="the guest did not report its times"
	# 3 MB at 1 MB/s, less the first 100 kB bucket and one 64 kB frame's debt: 2.8 s.
	elif [ "$rl" -lt 250 ]; then
		why="3 MB came in through a 1 MB/s rx limit in ${rl}0 ms, want 2.5 s or more"
	# 2 MB at 500 kB/s, less the first 50 kB and one frame's debt: 3.7 s.
	elif [ "$tl" -lt 350 ]; then
		why="2 MB went out through a 500 kB/s tx limit in ${tl}0 ms, want 3.5 s or more"
	elif [ "$rf" -ge $((rl / 2)) ] || [ "$tf" -ge $((tl / 2)) ]; then
		why="with the limits lifted the transfers took ${rf}0 ms (rx) and ${tf}0 ms (tx), not under half of ${rl}0 and ${tl}0 ms"
	else
		for v in rx_throttled tx_throttled; do
			if [ -z "$why" ] && ! grep -qE "\"$v\": ?[1-9]" <<<"$m"; then
				why="the metrics show no $v while limited: $(grep -oE "\"(rx|tx)_throttled\": ?[0-9]+" <<<"$m" | tr '\n' ' ')"
			fi
		done
	fi
	echo "    rate limits: rx ${rl}0 ms limited, ${rf}0 ms free; tx ${tl}0 ms limited, ${tf}0 ms free"
	linux_report "$id" "$name" "$why"
}

linux_net_tests() {
	linux_net_case "linux/$1/virtio-net-tap" "$1"
	linux_net_missing_case "linux/$1/virtio-net-missing-tap" "$1"
	linux_usernet_case "linux/$1/virtio-net-user" "$1"
	linux_usernet_dns_case "linux/$1/virtio-net-user-dns" "$1"
	linux_usernet_tuned_case "linux/$1/virtio-net-user-mtu-limit" "$1"
	linux_net_netns_case "linux/$1/virtio-net-netns" "$1"
	linux_net_ratelimit_case "linux/$1/virtio-net-rate-limit" "$1"
}
