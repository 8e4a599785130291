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

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(kvm-start soft-cpu soft-boot virtio-blk api)
for b in "${benches[@]}"; do
	case "$b" in
	kvm-start) bench_kvm_start ;;
	soft-cpu) bench_soft_cpu ;;
	soft-boot) bench_soft_boot ;;
	virtio-blk) bench_virtio_blk ;;
	api) bench_api ;;
	*) echo "unknown benchmark '$b'" >&2; exit 2 ;;
	esac
done
