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

# A line typed on stdin reaches the interactive shell and is executed.
linux_stdin_case() {
	local id=$1 engine=$2 name=${1//\//_} why="" fifo pid i

	fifo=$TMP/$name.in
	mkfifo "$fifo"
	timeout -k 5 "$LINUX_TIMEOUT" "$KITE" run --accel "$engine" \
		--kernel "$LINUX_DIR/vmlinux" --initrd "$LINUX_DIR/initramfs.cpio.gz" \
		--cmdline "$LINUX_BASE_CMDLINE" <"$fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	exec 9>"$fifo"
	for i in $(seq $((LINUX_TIMEOUT * 5))); do
		grep -q 'kite-guest: ready' "$TMP/$name.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	sleep 1
	# The shell, not the console echo, computes 6*7.
	printf 'echo typed-$((6 * 7))\npoweroff -f\n' >&9
	exec 9>&-
	wait "$pid"
	linux_rc=$?
	if [ "$linux_rc" -ne 0 ]; then
		why="exit status $linux_rc, want 0"
	elif ! tr -d '\r' <"$TMP/$name.out" | grep -qx 'typed-42'; then
		why="the shell did not print typed-42"
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
	linux_facts_case "linux/$e/bzimage-1cpu-256M" "$e" vmlinuz 1 256M
	linux_facts_case "linux/$e/pvh-2cpu-1G" "$e" vmlinux 2 1G
	linux_facts_case "linux/$e/pvh-4cpu-256M" "$e" vmlinux 4 256M
	linux_stdin_case "linux/$e/stdin" "$e"
	linux_exit_case "linux/$e/reboot" "$e" 0 "" "kite.cmd=$(printf 'reboot -f' | base64 -w0)"
	linux_exit_case "linux/$e/poweroff" "$e" 0 "kite-guest: ready" "kite.poweroff"
	linux_exit_case "linux/$e/panic" "$e" 4 "Kernel panic - not syncing" \
		"init=/nonexistent"
	linux_workload_case "linux/$e/workload" "$e"
}
