#!/usr/bin/env bash
# bench/run.sh: side-by-side benchmarks against QEMU, one run, printed as a
# table with ratios. Not a test: it measures, it does not assert.
#
#   bench/run.sh [kvm-start] ...   (default: every benchmark this host can run)
#
# kvm-start: the tiny PVH guest that prints one line and resets at once, under
#   kite --accel kvm and qemu-system-x86_64 -M microvm -accel kvm, alternately;
#   wall time from process start to exit (median, min, max) and peak RSS.
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

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(kvm-start)
for b in "${benches[@]}"; do
	case "$b" in
	kvm-start) bench_kvm_start ;;
	*) echo "unknown benchmark '$b'" >&2; exit 2 ;;
	esac
done
