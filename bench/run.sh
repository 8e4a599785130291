#!/usr/bin/env bash
# bench/run.sh: side-by-side benchmarks against QEMU, one run, printed as a
# table with ratios. Not a test: it measures, it does not assert.
#
#   bench/run.sh [kvm-start] ...   (default: every benchmark this host can run)
#
# kvm-start: the tiny PVH guest that prints one line and resets at once, under
#   kite --accel kvm and qemu-system-x86_64 -M microvm -accel kvm, alternately;
#   wall time from process start to exit (median, min, max) and peak RSS.
# soft-cpu: the CPU-bound tiny guests (cpuloop: integer, memory and SSE2
#   work; hashloop: multiply, rotate, divide, add-with-carry, pshufd) under
#   kite --accel soft (translator, then --soft-cpu interp) and QEMU TCG,
#   alternately; wall time and ratios, kite's guest instructions per second
#   and translation figures, and hashloop's loop as a host process.
# soft-boot: the default guest (same vmlinux and initramfs) to a marker line
#   and to exit, under kite --accel soft and QEMU microvm TCG; plus the wall
#   time of a CPU-bound command inside the guest.
# api: kite run --api-sock: start-up to the socket, GET / and PATCH /vm
#   latency (p50/p99) while a guest runs, RSS, InstanceStart to first byte.
# virtio-blk: in the guest, sequential O_DIRECT read and write of 256 MiB in
#   1 MiB blocks and 4 KiB random O_DIRECT reads for 5 s (3 rounds), on the same raw
#   image, under kite --accel soft and QEMU microvm TCG with
#   virtio-blk-device (cache=none, aio=io_uring); plus the host's own
#   O_DIRECT read of the file for scale.
# net: virtio-net under kite --accel soft and QEMU microvm TCG, the same
#   kernel, initramfs and guest commands, with the TAP back-end (QEMU:
#   -netdev tap,vhost=off) and the user-mode one (kite --net user, QEMU
#   -netdev user: guest 10.0.2.15, host 10.0.2.2). guest/tools/tcpbench
#   against build/bench/tcpbench: TCP bulk guest->host and host->guest (MB/s)
#   and 1-byte request/response over one connection (transactions/s), each
#   NET_SECONDS (4) long, NET_REPS (2) rounds in one boot, medians timed by the
#   host's end; then the guest's ping RTT, -c NET_PINGS (20) -i 0.2 (an idle
#   guest: includes waking its vCPU) and -c 100 -A (back to back). Runs in a
#   network namespace of its own (root); NET_KEEP=1 keeps consoles and host
#   lines. The guest's TSC is trusted (tsc=reliable): loaded, QEMU's guest
#   otherwise falls back to a 4 ms clock.
# vsock: kite's virtio-vsock, its host side Firecracker's UNIX socket: bulk
#   guest->host (guest connects, kite reaches PATH_PORT), host->guest (host
#   writes "CONNECT PORT"), and request/response, as net does; beside kite's
#   TAP figures when net ran first. QEMU has no figure: its virtio-vsock is
#   vhost-vsock only, and needs /dev/vhost-vsock.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
RUNS=${RUNS:-15}
KITE=$BUILD/kite
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${MEM:-128M}

now_ns() { date +%s%N; }

# Runs "$@" once; prints "wall_ns peak_rss_kib status".
measure() {
	local t0 t1 rss status tf
	tf=$(mktemp)
	t0=$(now_ns)
	/usr/bin/time -f %M -o "$tf" "$@" </dev/null >/dev/null 2>&1
	status=$?
	t1=$(now_ns)
	rss=$(tail -n1 "$tf")
	rm -f "$tf"
	echo "$((t1 - t0)) $rss $status"
}

# Median of the numbers on stdin (mawk-compatible: no asort).
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Reads a file of "wall rss status" lines; prints "median min max rss_median failures".
summarize() {
	local f=$1 m min max rss fails
	m=$(cut -d' ' -f1 "$f" | median)
	min=$(cut -d' ' -f1 "$f" | sort -n | head -n1)
	max=$(cut -d' ' -f1 "$f" | sort -n | tail -n1)
	rss=$(cut -d' ' -f2 "$f" | median)
	fails=$(awk '$3 != 0' "$f" | wc -l)
	echo "$m $min $max $rss $fails"
}

ms() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e6 }'; }

bench_kvm_start() {
	local guest=$BUILD/guests/bench.elf kite_runs qemu_runs k q
	[ -f "$guest" ] || { echo "kvm-start: $guest missing (run make)"; return 1; }
	kite_runs=$(mktemp)
	qemu_runs=$(mktemp)
	# Warm the page cache and check both work before timing.
	"$KITE" run --accel kvm --mem "$MEM" --kernel "$guest" </dev/null >/dev/null 2>&1 ||
		echo "kvm-start: warning: kite run failed"
	for _ in $(seq "$RUNS"); do
		measure "$KITE" run --accel kvm --mem "$MEM" --kernel "$guest" >>"$kite_runs"
		measure "$QEMU" -M microvm,x-option-roms=off,rtc=off -accel kvm -cpu host \
			-m "$MEM" -nodefaults -no-user-config -nographic -no-reboot \
			-serial stdio -device i8042 -kernel "$guest" >>"$qemu_runs"
	done
	k=$(summarize "$kite_runs")
	q=$(summarize "$qemu_runs")
	rm -f "$kite_runs" "$qemu_runs"
	read -r km kmin kmax krss kfail <<<"$k"
	read -r qm qmin qmax qrss qfail <<<"$q"
	echo "kvm-start: tiny PVH guest, print + reset, $RUNS runs each, alternating, --mem $MEM"
	printf '  %-6s %10s %10s %10s %12s %6s\n' engine "median ms" "min ms" "max ms" "peak RSS KiB" fails
	printf '  %-6s %10s %10s %10s %12s %6s\n' kite "$(ms "$km")" "$(ms "$kmin")" "$(ms "$kmax")" "$krss" "$kfail"
	printf '  %-6s %10s %10s %10s %12s %6s\n' qemu "$(ms "$qm")" "$(ms "$qmin")" "$(ms "$qmax")" "$qrss" "$qfail"
	awk -v k="$km" -v q="$qm" 'BEGIN { if (q > 0) printf "  ratio kite/qemu (median wall time): %.3f\n", k / q }'
}

QEMU_TCG=(-M microvm,x-option-roms=off,rtc=off -accel tcg -cpu qemu64 -nodefaults
	-no-user-config -nographic -no-reboot -serial stdio -device i8042)
SOFT_RUNS=${SOFT_RUNS:-5}

# Prints a "kite  median min max" style row and the ratio for two run files.
compare_rows() {
	local label=$1 kite_runs=$2 qemu_runs=$3 k q km kmin kmax qm qmin qmax rest
	k=$(summarize "$kite_runs")
	q=$(summarize "$qemu_runs")
	read -r km kmin kmax rest <<<"$k"
	read -r qm qmin qmax rest <<<"$q"
	printf '  %-16s kite %9s ms (%s..%s)   qemu %9s ms (%s..%s)   ratio %s\n' "$label" \
		"$(ms "$km")" "$(ms "$kmin")" "$(ms "$kmax")" "$(ms "$qm")" "$(ms "$qmin")" \
		"$(ms "$qmax")" "$(awk -v k="$km" -v q="$qm" 'BEGIN { if (q > 0) printf "%.2f", k / q }')"
}

# The CPU-bound tiny guests: kite's translator (the default), its
# interpreter and QEMU TCG side by side, and for hashloop the same loop as a
# host process (the physical limit).
bench_soft_cpu() {
	local name guest kr ki qr hr out insns st
	for name in cpuloop hashloop; do
		guest=$BUILD/guests/$name.elf
		[ -f "$guest" ] || { echo "soft-cpu: $guest missing (run make)"; return 1; }
		kr=$(mktemp); ki=$(mktemp); qr=$(mktemp); hr=$(mktemp); out=$(mktemp)
		for _ in $(seq "$SOFT_RUNS"); do
			measure "$KITE" run --accel soft --mem 64M --kernel "$guest" >>"$kr"
			measure "$KITE" run --accel soft --soft-cpu interp --mem 64M --kernel "$guest" >>"$ki"
			measure "$QEMU" "${QEMU_TCG[@]}" -m 64M -kernel "$guest" >>"$qr"
			[ "$name" = hashloop ] && measure "$BUILD/bench/hashloop_host" >>"$hr"
		done
		"$KITE" run --accel soft --mem 64M --kernel "$guest" --log-level info </dev/null \
			>"$out" 2>&1
		insns=$(sed -n 's/.*retired \([0-9]*\) instructions.*/\1/p' "$out" | head -n 1)
		st=$(sed -n 's/.*translated \([0-9]*\) blocks (\([0-9]*\) guest bytes -> \([0-9]*\) host bytes) in \([0-9.]*\) s.*/\1 blocks, \2 guest bytes -> \3 host bytes, \4 s translating/p' "$out")
		echo "soft-cpu: $name, $SOFT_RUNS runs each"
		compare_rows "bt vs QEMU" "$kr" "$qr"
		compare_rows "interp vs QEMU" "$ki" "$qr"
		if [ -s "$hr" ]; then
			awk -v k="$(summarize "$kr" | cut -d' ' -f1)" -v h="$(summarize "$hr" | cut -d' ' -f1)" \
				'BEGIN { printf "  host process: %.2f ms; ratio kite bt/native %.2f\n", h / 1e6, k / h }'
		fi
		if [ -n "$insns" ]; then
			awk -v n="$insns" -v t="$(summarize "$kr" | cut -d' ' -f1)" \
				'BEGIN { printf "  kite bt: %d guest instructions, %.0f M instructions/s\n", n, n / (t / 1e9) / 1e6 }'
		fi
		[ -n "$st" ] && echo "  translator: $st"
		rm -f "$kr" "$ki" "$qr" "$hr" "$out"
	done
}

# Runs "$@" and records wall time to the marker line and to exit.
measure_marker() {
	local marker=$1 t0 t_mark="" t1 line
	shift
	t0=$(now_ns)
	while IFS= read -r line; do
		if [ -z "$t_mark" ] && [[ "$line" == *"$marker"* ]]; then
			t_mark=$(now_ns)
		fi
	done < <("$@" </dev/null 2>/dev/null)
	t1=$(now_ns)
	echo "$(( ${t_mark:-$t1} - t0 )) $((t1 - t0)) ${t_mark:+0}${t_mark:-1}"
}

bench_soft_boot() {
	local g=build/guest kr qr kw qw kc qc km qm khz marker=KITE-BENCH-BOOTED cmd b64
	[ -f "$g/vmlinux" ] || { echo "soft-boot: $g missing (run make guest)"; return 1; }
	khz=$(awk '/cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
	kr=$(mktemp); qr=$(mktemp); kw=$(mktemp); qw=$(mktemp)
	for _ in $(seq "$SOFT_RUNS"); do
		measure_marker "$marker" "$KITE" run --accel soft --mem 256M --kernel "$g/vmlinux" \
			--initrd "$g/initramfs.cpio.gz" \
			--cmdline "console=ttyS0 quiet reboot=k panic=1 kite.marker=$marker" >>"$kr"
		measure_marker "$marker" "$QEMU" "${QEMU_TCG[@]}" -m 256M -kernel "$g/vmlinux" \
			-initrd "$g/initramfs.cpio.gz" \
			-append "console=ttyS0 quiet reboot=k panic=1 tsc_early_khz=$khz kite.marker=$marker" >>"$qr"
	done
	# A CPU-bound command in the guest, timed by the guest's own clock, the
	# two alternated SOFT_RUNS times (this kind of host drifts by tens of
	# percent from one minute to the next).
	cmd='a=$(cut -d" " -f1 /proc/uptime); i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; b=$(cut -d" " -f1 /proc/uptime); echo "cpu-seconds=$(awk -v a=$a -v b=$b "BEGIN{print b-a}")"'
	b64=$(printf '%s' "$cmd" | base64 -w0)
	kc=""
	qc=""
	for _ in $(seq "$SOFT_RUNS"); do
		kc="$kc $("$KITE" run --accel soft --mem 256M --kernel "$g/vmlinux" \
			--initrd "$g/initramfs.cpio.gz" \
			--cmdline "console=ttyS0 quiet reboot=k panic=1 kite.cmd=$b64" </dev/null 2>/dev/null |
			tr -d '\r' | sed -n 's/^cpu-seconds=//p')"
		qc="$qc $("$QEMU" "${QEMU_TCG[@]}" -m 256M -kernel "$g/vmlinux" -initrd "$g/initramfs.cpio.gz" \
			-append "console=ttyS0 quiet reboot=k panic=1 tsc_early_khz=$khz kite.cmd=$b64" \
			</dev/null 2>/dev/null | tr -d '\r' | sed -n 's/^cpu-seconds=//p')"
	done
	echo "soft-boot: Debian $(cat "$g/summary" 2>/dev/null | head -c 40) vmlinux, 1 vCPU, 256M, $SOFT_RUNS runs each"
	awk '{ print $1, 0, $3 }' "$kr" >"$kw.m"; awk '{ print $1, 0, $3 }' "$qr" >"$qw.m"
	compare_rows "to marker" "$kw.m" "$qw.m"
	awk '{ print $2, 0, 0 }' "$kr" >"$kw.e"; awk '{ print $2, 0, 0 }' "$qr" >"$qw.e"
	compare_rows "to exit" "$kw.e" "$qw.e"
	km=$(echo $kc | tr ' ' '\n' | median)
	qm=$(echo $qc | tr ' ' '\n' | median)
	echo "  in-guest shell loop (200k iterations, medians): kite $km s, qemu $qm s," \
		"ratio $(awk -v k="$km" -v q="$qm" 'BEGIN { if (q > 0) printf "%.2f", k / q }')"
	echo "    every run: kite ($(echo $kc | tr ' ' '/')) qemu ($(echo $qc | tr ' ' '/'))"
	rm -f "$kr" "$qr" "$kw" "$qw" "$kw".* "$qw".*
}

# The guest's measurements, BLK_REPS times each in one boot: "read MB/s",
# "write MB/s", "randread IOPS" lines (see guest/tools/blkbench.c).
BLK_REPS=${BLK_REPS:-3}
BLK_RAND_SECONDS=${BLK_RAND_SECONDS:-5}
BLK_CMD="for i in \$(seq $BLK_REPS); do blkbench read /dev/vda 256; blkbench write /dev/vda 256; blkbench randread /dev/vda $BLK_RAND_SECONDS; done"

# blk_figures FILE: "read_median write_median iops_median (read list) (write list) (iops list)".
blk_figures() {
	local f=$1 r w i
	r=$(awk '/^blkbench read:/ { print $(NF-1) }' "$f")
	w=$(awk '/^blkbench write:/ { print $(NF-1) }' "$f")
	i=$(awk '/^blkbench randread:/ { print $(NF-1) }' "$f")
	echo "$(echo "$r" | median) $(echo "$w" | median) $(echo "$i" | median)" \
		"($(echo $r | tr ' ' '/')) ($(echo $w | tr ' ' '/')) ($(echo $i | tr ' ' '/'))"
}

bench_virtio_blk() {
	local g=build/guest img kout qout khz b64 host k q
	[ -f "$g/vmlinux" ] || { echo "virtio-blk: $g missing (run make guest)"; return 1; }
	img=$(mktemp -p "${TMPDIR:-/var/tmp}" kite-blk.XXXXXX)
	kout=$(mktemp)
	qout=$(mktemp)
	# A written (not sparse) 512 MiB image, so reads reach the host's disk.
	dd if=/dev/urandom of="$img" bs=1M count=512 status=none
	sync
	host=$(dd if="$img" of=/dev/null bs=1M iflag=direct 2>&1 | tail -n 1)
	khz=$(awk '/cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
	b64=$(printf '%s' "$BLK_CMD" | base64 -w0)
	echo "virtio-blk: 512 MiB raw image, 1 vCPU, 256M; guest: O_DIRECT 1 MiB x 256 read and write," \
		"4 KiB random reads for $BLK_RAND_SECONDS s; $BLK_REPS rounds each, medians"
	echo "  host O_DIRECT read of the image: $host"
	"$KITE" run --accel soft --mem 256M --kernel "$g/vmlinux" --initrd "$g/initramfs.cpio.gz" \
		--disk "$img" --cmdline "console=ttyS0 quiet reboot=k panic=1 kite.cmd=$b64" \
		</dev/null 2>/dev/null | tr -d '\r' | grep '^blkbench' >"$kout"
	"$QEMU" "${QEMU_TCG[@]}" -m 256M -kernel "$g/vmlinux" -initrd "$g/initramfs.cpio.gz" \
		-drive "file=$img,if=none,id=d0,format=raw,cache=none,aio=io_uring" \
		-device virtio-blk-device,drive=d0 -M acpi=on \
		-append "console=ttyS0 quiet reboot=k panic=1 tsc_early_khz=$khz kite.cmd=$b64" \
		</dev/null 2>/dev/null | tr -d '\r' | grep '^blkbench' >"$qout"
	read -r -a k <<<"$(blk_figures "$kout")"
	read -r -a q <<<"$(blk_figures "$qout")"
	printf '  %-34s %12s %12s %8s\n' "" "kite (soft)" "QEMU TCG" "kite/QEMU"
	printf '  %-34s %12s %12s %8s\n' "sequential read, MB/s" "${k[0]}" "${q[0]}" \
		"$(awk -v a="${k[0]}" -v b="${q[0]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
	printf '  %-34s %12s %12s %8s\n' "sequential write, MB/s" "${k[1]}" "${q[1]}" \
		"$(awk -v a="${k[1]}" -v b="${q[1]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
	printf '  %-34s %12s %12s %8s\n' "4 KiB random reads, IOPS" "${k[2]}" "${q[2]}" \
		"$(awk -v a="${k[2]}" -v b="${q[2]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
	echo "  every round: kite read ${k[3]} write ${k[4]} IOPS ${k[5]}"
	echo "               qemu read ${q[3]} write ${q[4]} IOPS ${q[5]}"
	rm -f "$img" "$kout" "$qout"
}

# kite's VmRSS in KiB, from /proc.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# api: the Firecracker-shaped API (Firecracker itself is not in Debian: its
#   published figures are quoted beside ours): start-up to the socket answering,
#   request latency while a guest runs, RSS with the API thread, and
#   InstanceStart to the guest's first console byte.
bench_api() {
	local ab=$BUILD/bench/api_bench sock out pid i e n=${API_PAIRS:-10000}
	local g=$BUILD/guests
	sock=$(mktemp -u /tmp/kite-bench-api.XXXXXX)
	out=$(mktemp)
	echo "api: kite run --api-sock (Firecracker's SPECIFICATION.md: socket within 8 CPU ms," \
		"typically 12 ms wall; VMM threads <= 5 MiB for 1 vCPU, 128 MiB)"
	for i in 1 2 3 4 5; do
		"$ab" startup "$sock" "$KITE" run --api-sock "$sock" --accel soft --mem 128M \
			--kernel "$g/spin.elf" || return
	done | sed 's/^/  start-up: /'
	"$KITE" run --api-sock "$sock" --accel soft --mem 128M --kernel "$g/spin.elf" \
		</dev/null >"$out" 2>/dev/null &
	pid=$!
	for i in $(seq 200); do [ -S "$sock" ] && break; sleep 0.01; done
	echo "  RSS before InstanceStart (API thread up, no guest run): $(rss_kib "$pid") KiB"
	"$ab" first-byte "$sock" "$out" | sed 's/^/  soft, spin guest: /'
	sleep 1
	echo "  RSS with the spin guest running on soft: $(rss_kib "$pid") KiB"
	"$ab" latency "$sock" "$n" | sed 's/^/  while the guest runs: /'
	kill "$pid"
	wait "$pid" 2>/dev/null
	for e in kvm soft; do
		[ "$e" = kvm ] && ! "$KITE" probe >/dev/null 2>&1 && continue
		for i in 1 2 3 4 5; do
			: >"$out"
			"$KITE" run --api-sock "$sock" --accel "$e" --mem 128M --kernel "$g/hello.elf" \
				</dev/null >"$out" 2>/dev/null &
			pid=$!
			for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.01; done
			"$ab" first-byte "$sock" "$out"
			wait "$pid" 2>/dev/null
		done | sed "s/^/  $e, hello guest: /"
	done
	rm -f "$out" "$sock"
}

# ---- net and vsock -----------------------------------------------------------
# Both run in a network namespace of their own: its TAP and addresses cannot
# clash with the host's or with a test running at the same time (two TAPs
# with one subnet would route each other's replies away), and its loopback is
# what QEMU's and kite's user-mode back-ends reach as 10.0.2.2.
NET_SECONDS=${NET_SECONDS:-4}
NET_REPS=${NET_REPS:-2}
NET_PINGS=${NET_PINGS:-20}
NET_TAP_HOST=10.77.0.1
NET_TAP_GUEST=10.77.0.2
NET_USER_HOST=10.0.2.2
TCPBENCH=$BUILD/bench/tcpbench
# On a loaded host, QEMU TCG's guest declares its TSC unstable against the
# jiffies watchdog and falls back to a 4 ms clock, and ping then reads 0 or
# 4 ms: both guests are told to trust their TSC.
NET_CMDLINE="tsc=reliable"
net_ns=""
net_pids=()

# Ends the host's tcpbench processes and deletes the namespace (and its TAP).
net_cleanup() {
	local p
	for p in "${net_pids[@]}"; do kill "$p" 2>/dev/null; done
	net_pids=()
	[ -n "$net_ns" ] && ip netns del "$net_ns" 2>/dev/null
	net_ns=""
}

# Temporary directories of the benchmark running now, for the exit trap.
bench_tmp=()
on_exit() {
	net_cleanup
	[ ${#bench_tmp[@]} -eq 0 ] || rm -rf "${bench_tmp[@]}"
}
# Ctrl-C reaches the VMM too (timeout --foreground keeps it in our process
# group); the script then exits through on_exit.
trap on_exit EXIT
trap "exit 130" INT TERM

# What keeps this host from running the net benchmark, or "".
net_why_not() {
	[ "$(id -u)" = 0 ] || { echo "not root (ip netns, ip tuntap)"; return; }
	[ -c /dev/net/tun ] || { echo "/dev/net/tun is missing"; return; }
	command -v ip >/dev/null || { echo "ip (iproute2) is not installed"; return; }
	[ -x "$TCPBENCH" ] || { echo "$TCPBENCH missing (run make)"; return; }
	[ -f build/guest/vmlinux ] || echo "build/guest missing (run make guest)"
}

# Makes the namespace and its TAP ktap0 (NET_TAP_HOST/24, up); 1 if it cannot.
net_ns_setup() {
	net_ns=kite-bench-$$
	ip netns add "$net_ns" && ip -n "$net_ns" link set lo up &&
		ip -n "$net_ns" tuntap add dev ktap0 mode tap &&
		ip -n "$net_ns" addr add "$NET_TAP_HOST/24" dev ktap0 &&
		ip -n "$net_ns" link set ktap0 up
}

in_ns() { ip netns exec "$net_ns" "$@"; }

# The guest's part: bring eth0 up (BACKEND tap: static addresses; user: the
# address /init's DHCP got, else QEMU's fixed one), wait until HOST answers,
# then NET_REPS rounds of bulk out, bulk in, request/response against the
# host's listeners on ports 7RR1-7RR3, then the ping RTT.
net_guest_cmd() {
	local backend=$1 host=$2 r p
	if [ "$backend" = tap ]; then
		printf 'ip addr add %s/24 dev eth0; ip link set eth0 up; ' "$NET_TAP_GUEST"
	else
		printf 'ip link set eth0 up; ip -4 addr show dev eth0 | grep -q inet || { ip addr add 10.0.2.15/24 dev eth0; ip route add default via %s; }; ' "$NET_USER_HOST"
	fi
	printf 'i=0; until ping -c 1 -W 1 %s >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 30 ] || break; done; ' "$host"
	for r in $(seq "$NET_REPS"); do
		p=$((7000 + r * 10))
		printf 'tcpbench connect send tcp:%s:%d %s; ' "$host" $((p + 1)) "$NET_SECONDS"
		printf 'tcpbench connect recv tcp:%s:%d; ' "$host" $((p + 2))
		printf 'tcpbench connect rr tcp:%s:%d %s; ' "$host" $((p + 3)) "$NET_SECONDS"
	done
	# An idle guest's RTT includes waking its vCPU; back to back (-A) it is
	# the path alone.
	printf 'ping -c %d -i 0.2 %s; ping -q -A -c 100 %s' "$NET_PINGS" "$host" "$host"
}

# net_run VMM BACKEND DIR: boots the guest under VMM (kite, qemu) with
# BACKEND (tap, user) inside the namespace, the host's listeners beside it;
# leaves the host's lines in DIR/host, the console in DIR/console and kite's
# or QEMU's stderr in DIR/err.
net_run() {
	local vmm=$1 backend=$2 dir=$3 host=$NET_TAP_HOST g=build/guest r p khz b64 limit
	local extra="$NET_CMDLINE kite.net=static"
	# user: /init asks the back-end's DHCP server; on the TAP nobody answers.
	[ "$backend" = user ] && host=$NET_USER_HOST && extra=$NET_CMDLINE
	mkdir -p "$dir"
	: >"$dir/host"
	net_pids=()
	for r in $(seq "$NET_REPS"); do
		p=$((7000 + r * 10))
		ip netns exec "$net_ns" "$TCPBENCH" listen recv "tcp:0.0.0.0:$((p + 1))" >>"$dir/host" 2>&1 &
		net_pids+=($!)
		ip netns exec "$net_ns" "$TCPBENCH" listen send "tcp:0.0.0.0:$((p + 2))" "$NET_SECONDS" >>"$dir/host" 2>&1 &
		net_pids+=($!)
		ip netns exec "$net_ns" "$TCPBENCH" listen rr "tcp:0.0.0.0:$((p + 3))" >>"$dir/host" 2>&1 &
		net_pids+=($!)
	done
	b64=$(net_guest_cmd "$backend" "$host" | base64 -w0)
	khz=$(awk '/cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
	limit=$((60 + NET_REPS * (3 * NET_SECONDS + 20) + NET_PINGS))
	if [ "$vmm" = kite ]; then
		local net="tap=ktap0"
		[ "$backend" = user ] && net=user
		in_ns timeout --foreground -k 5 "$limit" "$KITE" run --accel soft --mem 256M --kernel "$g/vmlinux" \
			--initrd "$g/initramfs.cpio.gz" --net "$net" \
			--cmdline "console=ttyS0 quiet reboot=k panic=1 $extra kite.cmd=$b64" \
			</dev/null >"$dir/console" 2>"$dir/err"
		echo $? >"$dir/rc"
	else
		local netdev="tap,id=n0,ifname=ktap0,script=no,downscript=no,vhost=off"
		[ "$backend" = user ] && netdev="user,id=n0"
		in_ns timeout --foreground -k 5 "$limit" "$QEMU" "${QEMU_TCG[@]}" -M acpi=on -m 256M \
			-kernel "$g/vmlinux" -initrd "$g/initramfs.cpio.gz" \
			-device virtio-net-device,netdev=n0 -netdev "$netdev" \
			-append "console=ttyS0 quiet reboot=k panic=1 $extra tsc_early_khz=$khz kite.cmd=$b64" \
			</dev/null >"$dir/console" 2>"$dir/err"
		echo $? >"$dir/rc"
	fi
	# Listeners whose guest never came are killed (the namespace keeps
	# their ports otherwise, and the next run would not get them).
	for p in "${net_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	net_pids=()
}

# net_figures DIR: "g2h h2g rr rtt rtt_a": medians of the host's figures
# (g2h: the host's receiver, h2g: the host's sender, which waits for the
# guest's close, rr: the host's echo server) and the guest's two ping
# averages (-i 0.2, then -A); "-" if missing.
net_figures() {
	local dir=$1 v f
	for f in "recv.*MBps" "send.*MBps" "rr.*tps"; do
		v=$(grep "^tcpbench $f=" "$dir/host" | sed 's/.*=//' | median)
		[ "$(grep -c "^tcpbench $f=" "$dir/host")" -gt 0 ] || v=-
		[ "$v" = - ] || v=$(awk -v v="$v" 'BEGIN { printf "%.1f", v }')
		printf '%s ' "$v"
	done
	tr -d '\r' <"$dir/console" | sed -n 's|^round-trip min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p' |
		awk '{ v[NR] = $1 } END { print (NR > 0 ? v[1] : "-"), (NR > 1 ? v[2] : "-") }'
}

# net_ping_spread DIR: the -i 0.2 ping's "min/avg/max" (one slow reply moves the average).
net_ping_spread() {
	tr -d '\r' <"$1/console" | sed -n 's|^round-trip min/avg/max = \([0-9./]*\) ms|\1|p' | head -n 1
}

# ratio A B: A/B to 2 places, "-" if either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# Set by bench_net for bench_vsock's comparison: kite's TAP figures.
net_kite_tap=""

bench_net() {
	local why tmp backend k q label vmm
	why=$(net_why_not)
	[ -z "$why" ] || { echo "net: skipped: $why"; return 0; }
	tmp=$(mktemp -d)
	[ -n "${NET_KEEP:-}" ] || bench_tmp=("$tmp")
	net_ns_setup || { echo "net: cannot set up the namespace and its TAP"; net_cleanup; return 1; }
	echo "net: virtio-net, guest tcpbench against the host's, 1 vCPU, 256M, kite --accel soft" \
		"against QEMU microvm TCG; $NET_REPS rounds of $NET_SECONDS s each (medians, host-timed)," \
		"ping -c $NET_PINGS -i 0.2 and -c 100 -A averages"
	printf '  %-42s %12s %12s %9s\n' "" "kite (soft)" "QEMU TCG" "kite/QEMU"
	for backend in tap user; do
		net_run kite "$backend" "$tmp/kite-$backend"
		net_run qemu "$backend" "$tmp/qemu-$backend"
		read -r -a k <<<"$(net_figures "$tmp/kite-$backend")"
		read -r -a q <<<"$(net_figures "$tmp/qemu-$backend")"
		[ "$backend" = tap ] && net_kite_tap="${k[*]}"
		label=$backend
		[ "$backend" = tap ] && label="tap (QEMU vhost=off)"
		[ "$backend" = user ] && label="user (slirp)"
		echo "  $label"
		printf '  %-42s %12s %12s %9s\n' "  TCP guest->host, MB/s (higher better)" "${k[0]}" "${q[0]}" "$(ratio "${k[0]}" "${q[0]}")"
		printf '  %-42s %12s %12s %9s\n' "  TCP host->guest, MB/s (higher better)" "${k[1]}" "${q[1]}" "$(ratio "${k[1]}" "${q[1]}")"
		printf '  %-42s %12s %12s %9s\n' "  TCP 1-byte req/resp /s (higher better)" "${k[2]}" "${q[2]}" "$(ratio "${k[2]}" "${q[2]}")"
		printf '  %-42s %12s %12s %9s\n' "  ping -i 0.2 RTT avg, ms (lower better)" "${k[3]}" "${q[3]}" "$(ratio "${k[3]}" "${q[3]}")"
		printf '  %-42s %12s %12s %9s\n' "  ping -A RTT avg, ms (lower better)" "${k[4]}" "${q[4]}" "$(ratio "${k[4]}" "${q[4]}")"
		echo "    ping -i 0.2 min/avg/max ms: kite $(net_ping_spread "$tmp/kite-$backend")," \
			"QEMU $(net_ping_spread "$tmp/qemu-$backend")"
		for vmm in kite qemu; do
			if ! grep -q 'kite-guest: cmd exit' "$tmp/$vmm-$backend/console"; then
				echo "    $vmm $backend: the guest did not finish (exit status" \
					"$(cat "$tmp/$vmm-$backend/rc")): $(tail -n 1 "$tmp/$vmm-$backend/err")"
			fi
		done
	done
	net_cleanup
	if [ -n "${NET_KEEP:-}" ]; then
		echo "  consoles and host lines kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}

# vsock: kite's virtio-vsock with Firecracker's UNIX-socket host side.
# Guest->host: the guest connects to the host's port (kite connects to the
# listener PATH_PORT); host->guest: the host connects to PATH, says
# "CONNECT PORT" and sends once "OK" came; request/response over a guest's
# connection. Each round's host steps run in order, as the guest's do.
bench_vsock() {
	local tmp uds g=build/guest r p cmd="" b64 k=() n limit t rc f
	[ -x "$TCPBENCH" ] || { echo "vsock: $TCPBENCH missing (run make)"; return 1; }
	[ -f "$g/vmlinux" ] || { echo "vsock: $g missing (run make guest)"; return 1; }
	tmp=$(mktemp -d)
	bench_tmp=("$tmp")
	uds=$tmp/v.sock
	for r in $(seq "$NET_REPS"); do
		p=$((5000 + r * 10))
		cmd+="tcpbench connect send vsock:2:$((p + 1)) $NET_SECONDS; "
		cmd+="tcpbench listen recv vsock:3:$((p + 2)); "
		cmd+="tcpbench connect rr vsock:2:$((p + 3)) $NET_SECONDS; "
	done
	b64=$(printf '%s' "$cmd" | base64 -w0)
	# Killed, the subshell takes the step it waits for along.
	(
		c=""
		trap 'kill $c 2>/dev/null; exit 1' TERM
		for r in $(seq "$NET_REPS"); do
			p=$((5000 + r * 10))
			"$TCPBENCH" listen recv "unix:${uds}_$((p + 1))" & c=$!; wait $c
			"$TCPBENCH" connect send "fc:$uds:$((p + 2))" "$NET_SECONDS" & c=$!; wait $c
			"$TCPBENCH" listen rr "unix:${uds}_$((p + 3))" & c=$!; wait $c
		done
	) >"$tmp/host" 2>&1 &
	t=$!
	net_pids=("$t")
	limit=$((60 + NET_REPS * (3 * NET_SECONDS + 20)))
	timeout --foreground -k 5 "$limit" "$KITE" run --accel soft --mem 256M --kernel "$g/vmlinux" \
		--initrd "$g/initramfs.cpio.gz" --vsock "cid=3,uds=$uds" \
		--cmdline "console=ttyS0 quiet reboot=k panic=1 $NET_CMDLINE kite.cmd=$b64" \
		</dev/null >"$tmp/console" 2>"$tmp/err"
	rc=$?
	kill "$t" 2>/dev/null
	wait "$t" 2>/dev/null
	net_pids=()
	for f in "recv.*MBps" "send.*MBps" "rr.*tps"; do
		n=$(grep -c "^tcpbench $f=" "$tmp/host")
		if [ "$n" -gt 0 ]; then
			k+=("$(grep "^tcpbench $f=" "$tmp/host" | sed 's/.*=//' | median |
				awk '{ printf "%.1f", $1 }')")
		else
			k+=(-)
		fi
	done
	read -r -a n <<<"${net_kite_tap:-- - - -}"
	echo "vsock: kite --accel soft, guest tcpbench against the host's through kite's UNIX socket;" \
		"$NET_REPS rounds of $NET_SECONDS s (medians, host-timed)"
	if [ -c /dev/vhost-vsock ]; then
		echo "  no QEMU figure: QEMU's virtio-vsock is vhost-vsock, whose host side is AF_VSOCK, not a UNIX socket"
	else
		echo "  no QEMU figure: QEMU's only virtio-vsock is vhost-vsock-device, which needs" \
			"/dev/vhost-vsock (the host's vhost_vsock module), absent here"
	fi
	printf '  %-42s %12s %14s\n' "" "kite vsock" "kite TAP TCP"
	printf '  %-42s %12s %14s\n' "guest->host, MB/s (higher better)" "${k[0]}" "${n[0]}"
	printf '  %-42s %12s %14s\n' "host->guest, MB/s (higher better)" "${k[1]}" "${n[1]}"
	printf '  %-42s %12s %14s\n' "1-byte req/resp /s (higher better)" "${k[2]}" "${n[2]}"
	[ -n "$net_kite_tap" ] || echo "  (the TAP column comes from 'bench/run.sh net vsock')"
	grep -q 'kite-guest: cmd exit' "$tmp/console" ||
		echo "  the guest did not finish (exit status $rc): $(tail -n 1 "$tmp/err")"
	rm -rf "$tmp"
}

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(kvm-start soft-cpu soft-boot virtio-blk api net vsock)
for b in "${benches[@]}"; do
	case "$b" in
	kvm-start) bench_kvm_start ;;
	soft-cpu) bench_soft_cpu ;;
	soft-boot) bench_soft_boot ;;
	virtio-blk) bench_virtio_blk ;;
	api) bench_api ;;
	net) bench_net ;;
	vsock) bench_vsock ;;
	*) echo "unknown benchmark '$b'" >&2; exit 2 ;;
	esac
done
