#!/bin/bash
# tests/run.sh: kite's test runner: unit tests, the tiny guests on each engine,
# and bad inputs. Prints "PASS name" / "FAIL name: why" per test and ends with
# "N passed, N failed, N skipped"; exits 1 if anything failed.
#
# Environment: BUILD (build), KITE_ENGINES ("kvm soft"), KITE_LINUX_ENGINES
# ("soft": the engines that boot Debian's kernel; "" skips it), KITE_GUESTS (all cases;
# a space-separated list of case or guest names selects a subset).
set -u

cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
KITE=$BUILD/kite
GUESTS=$BUILD/guests
SRC=tests/guests
# interp: the soft engine with its interpreter only (--soft-cpu interp).
ENGINES=${KITE_ENGINES:-kvm soft interp}
SELECT=${KITE_GUESTS:-}
TIMEOUT="timeout -k 5 30"

passed=0
failed=0
skipped=0

TMP=$(mktemp -d /tmp/kite-test.XXXXXX) || exit 1
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A sanitizer report fails a run even when the exit status looks right.
sanitized() {
	grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$1"
}

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# A case this host cannot run: reported with its reason, never counted as passed.
skip() {
	echo "SKIP $1: $2"
	skipped=$((skipped + 1))
}

# What this host offers, probed once: "" when the kvm engine can run here,
# else why not (kite probe: /dev/kvm opens and creates a VM and a vCPU).
KVM_UNUSABLE=""
probe_host() {
	local out

	[ -x "$KITE" ] || return 0
	if out=$("$KITE" probe 2>&1); then
		echo "host: $(echo "$out" | tr '\n' ';' | sed 's/;$//')"
		return 0
	fi
	KVM_UNUSABLE=$(echo "$out" | sed -n 's/^kvm: unusable: //p')
	KVM_UNUSABLE=${KVM_UNUSABLE:-$out}
	echo "host: the kvm cases are skipped: $KVM_UNUSABLE"
}

# engine_skipped ID ENGINE: true (after reporting the skip) when this host
# cannot run ENGINE.
# The flags that select an engine.
engine_args() {
	case $1 in
	interp) echo "--accel soft --soft-cpu interp" ;;
	*) echo "--accel $1" ;;
	esac
}

engine_skipped() {
	if [ "$2" = kvm ] && [ -n "$KVM_UNUSABLE" ]; then
		skip "$1" "no usable KVM here: $KVM_UNUSABLE"
		return 0
	fi
	return 1
}

# Shows the head of a file, indented, when a test failed.
show() {
	local what=$1 file=$2

	[ -s "$file" ] || return 0
	echo "    --- $what"
	head -n 20 "$file" | cat -v | sed 's/^/    /'
}

# ---- a) unit tests ---------------------------------------------------------

unit_tests() {
	local bin name out rc p f np nf

	for bin in "$BUILD"/tests/test_*; do
		if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
			continue
		fi
		name=unit/$(basename "$bin")
		out=$TMP/unit.out
		CMOCKA_MESSAGE_OUTPUT=stdout timeout -k 5 120 "$bin" </dev/null >"$out" 2>&1
		rc=$?
		np=0
		nf=0
		for p in $(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out"); do
			np=$((np + p))
		done
		for f in $(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out"); do
			nf=$((nf + f))
		done
		for p in $(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test(s).*/\1/p' "$out"); do
			skipped=$((skipped + p))
			grep '^\[  SKIPPED \] [a-z]' "$out" | sed "s|^\[  SKIPPED \] |SKIP $name/|"
		done
		# A crash, a timeout or a bad exit that the summary does not explain.
		if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
			nf=1
		fi
		passed=$((passed + np))
		failed=$((failed + nf))
		if [ "$nf" -eq 0 ] && [ "$np" -gt 0 ]; then
			echo "PASS $name ($np tests)"
		elif [ "$nf" -eq 0 ]; then
			fail "$name" "no cmocka summary (exit $rc)"
		else
			echo "FAIL $name: $nf failed, $np passed (exit $rc)"
			sed 's/^/    /' "$out" | head -n 100
		fi
	done
}

# ---- a2) the soft CPU against the host CPU ---------------------------------

# Each instruction group of the differential harness counts as one test,
# once through the translator (diff/x86) and once through the interpreter
# (diff/x86-interp).
diff_tests() {
	diff_run diff/x86 bt
	diff_run diff/x86-interp interp
}

diff_run() {
	local id=$1 cpu=$2 bin=$BUILD/tests/diff_x86 out=$TMP/diff.out rc np nf

	if [ ! -x "$bin" ]; then
		fail "$id" "$bin not built"
		return
	fi
	timeout -k 5 300 "$bin" --quick --soft-cpu "$cpu" </dev/null >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 77 ]; then
		skip "$id" "$(tail -n 1 "$out")"
		return
	fi
	np=$(grep -c '^PASS ' "$out")
	nf=$(grep -c '^FAIL ' "$out")
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		nf=1
	fi
	passed=$((passed + np))
	failed=$((failed + nf))
	if [ "$nf" -eq 0 ]; then
		echo "PASS $id ($np instruction groups: $(grep ' cases in ' "$out"))"
		# Cases the ISA leaves undefined, or this host's vendor defines otherwise.
		grep '^  skipped ' "$out" | sed 's/^ */    /'
		grep '^host ' "$out" | sed 's/^/    /'
	else
		echo "FAIL $id: $nf groups failed (exit $rc)"
		grep -v '^PASS ' "$out" | head -n 60 | sed 's/^/    /'
	fi
}

# ---- b) tiny guests --------------------------------------------------------

selected() {
	local name=$1 guest=$2 s

	[ -z "$SELECT" ] && return 0
	for s in $SELECT; do
		[ "$s" = "$name" ] || [ "$s" = "$guest" ] && return 0
	done
	return 1
}

# guest_case NAME KERNEL STATUS STDERR_PATTERNS ENGINE [kite args...]
# Runs KERNEL and checks the exit status, that stdout is byte-for-byte
# tests/guests/NAME.expected and that stderr contains every pattern
# (";"-separated, case-insensitive).
guest_case() {
	local name=$1 kernel=$2 want=$3 patterns=$4 engine=$5
	shift 5
	local guest id out err rc why="" pat

	guest=$(basename "$kernel")
	guest=${guest%.*}
	selected "$name" "$guest" || return 0
	id="guest/$engine/$name"
	out=$TMP/$name.out
	err=$TMP/$name.err
	engine_skipped "$id" "$engine" && return
	if [ ! -f "$kernel" ]; then
		fail "$id" "$kernel not built"
		return
	fi
	# shellcheck disable=SC2046 # engine_args's words are meant to split
	$TIMEOUT "$KITE" run $(engine_args "$engine") --kernel "$kernel" "$@" \
		</dev/null >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after 30 s"
	elif sanitized "$err"; then
		why="sanitizer report"
	elif [ "$rc" -ne "$want" ]; then
		why="exit status $rc, want $want"
	elif ! cmp -s "$SRC/$name.expected" "$out"; then
		why="stdout differs from $SRC/$name.expected"
	else
		IFS=';'
		for pat in $patterns; do
			if ! grep -qiF -- "$pat" "$err"; then
				why="stderr lacks \"$pat\""
				break
			fi
		done
		unset IFS
	fi
	if [ -z "$why" ]; then
		pass "$id"
		return
	fi
	fail "$id" "$why"
	if [ -f "$SRC/$name.expected" ]; then
		echo "    --- stdout diff (expected, actual)"
		diff "$SRC/$name.expected" "$out" | head -n 20 | cat -v | sed 's/^/    /'
	fi
	show stderr "$err"
}

# signal_case NAME SIGNAL ENGINE: a guest that never stops by itself; once it
# has printed its line, SIGNAL must end kite with status 0 and that output.
signal_case() {
	local name=$1 sig=$2 engine=$3
	local id="guest/$engine/$name" kernel=$GUESTS/spin.elf out=$TMP/$engine-$name.out
	local err=$TMP/$engine-$name.err pid rc i why=""

	selected "$name" spin || return 0
	engine_skipped "$id" "$engine" && return
	if [ ! -f "$kernel" ]; then
		fail "$id" "$kernel not built"
		return
	fi
	# The shell truncates $out only once the child runs: a stale "spinning"
	# would send the signal before kite blocks it (a background shell ignores
	# SIGINT, so it would be lost).
	rm -f "$out" "$err"
	# shellcheck disable=SC2046
	"$KITE" run $(engine_args "$engine") --kernel "$kernel" --mem 64M \
		</dev/null >"$out" 2>"$err" &
	pid=$!
	for i in $(seq 100); do
		grep -q spinning "$out" 2>/dev/null && break
		sleep 0.1
	done
	kill "-$sig" "$pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		why="still running 10 s after SIG$sig"
	fi
	wait "$pid"
	rc=$?
	if [ -z "$why" ] && [ "$rc" -ne 0 ]; then
		why="exit status $rc after SIG$sig, want 0"
	elif [ -z "$why" ] && ! cmp -s "$SRC/spin.expected" "$out"; then
		why="stdout differs from $SRC/spin.expected"
	elif [ -z "$why" ] && sanitized "$err"; then
		why="sanitizer report"
	fi
	if [ -z "$why" ]; then
		pass "$id"
	else
		fail "$id" "$why"
		show stderr "$err"
	fi
}

# The sector tests/guests/virtio.S writes: its text line, then each byte's offset & 0xff.
virtio_pattern() {
	local i o

	printf 'kite-virtio-guest-wrote-this\n'
	for ((i = 29; i < 512; i++)); do
		printf -v o '\\%03o' $((i & 255))
		printf '%b' "$o"
	done
}

# Sectors 2 and 3: the code tests/guests/virtio.S loads into one page and
# calls, each sector padded with zeros.
#   sector 2: b8 02 00 c7 5e   mov $0x5ec70002, %eax
#             c3               ret
#   sector 3: b8 03 00 c7 5e   mov $0x5ec70003, %eax
#             c3               ret
virtio_code() {
	printf '\xb8\x02\x00\xc7\x5e\xc3'
	head -c 506 /dev/zero
	printf '\xb8\x03\x00\xc7\x5e\xc3'
	head -c 506 /dev/zero
}

# virtio_case ENGINE: the guest reads sector 0 of a fresh image, writes
# sector 1 and runs the code it reads from sectors 2 and 3; afterwards the
# whole image must be exactly what it should hold.
virtio_case() {
	local engine=$1 img=$TMP/virtio.img want=$TMP/virtio.want id="guest/$1/virtio-written"
	local diff

	selected virtio virtio || return 0
	if engine_skipped "guest/$engine/virtio" "$engine"; then
		engine_skipped "$id" "$engine"
		return
	fi
	printf 'kite test disk, sector 0\n' >"$img"
	truncate -s 1024 "$img"
	virtio_code >>"$img"
	truncate -s 4096 "$img"
	guest_case virtio "$GUESTS/virtio.elf" 0 "" "$engine" --mem 64M --no-rng --disk "$img"
	printf 'kite test disk, sector 0\n' >"$want"
	truncate -s 512 "$want"
	virtio_pattern >>"$want"
	virtio_code >>"$want"
	truncate -s 4096 "$want"
	if diff=$(cmp "$want" "$img" 2>&1); then
		pass "$id"
	else
		fail "$id" "image differs from the expected bytes: ${diff##*differ: }"
	fi
	rm -f "$img" "$want"
}

# netarp_tap_case ENGINE: tests/guests/netarp.S over a TAP whose side of the
# link is 10.0.2.2, in a network namespace of its own so that no route of
# this host changes (the host's kernel answers the ARP request).
netarp_tap_case() {
	local engine=$1 ns=kite-arp$$ why=""

	selected netarp_tap netarp || return 0
	engine_skipped "guest/$engine/netarp_tap" "$engine" && return
	if [ ! -c /dev/net/tun ]; then
		why="/dev/net/tun is missing"
	elif ! ip netns add "$ns" 2>/dev/null; then
		why="cannot create a network namespace (ip netns add: not root?)"
	elif ! { ip -n "$ns" tuntap add dev kt0 mode tap &&
		ip -n "$ns" addr add 10.0.2.2/24 dev kt0 && ip -n "$ns" link set kt0 up; }; then
		why="cannot set up a TAP interface in a namespace"
	fi
	if [ -n "$why" ]; then
		skip "guest/$engine/netarp_tap" "$why"
	else
		TIMEOUT="ip netns exec $ns $TIMEOUT" guest_case netarp_tap "$GUESTS/netarp.elf" 0 "" \
			"$engine" --mem 64M --no-rng --net tap=kt0,mac=02:6b:69:74:65:02
	fi
	ip netns del "$ns" 2>/dev/null
}

guest_tests() {
	local e g=$GUESTS

	for e in $ENGINES; do
		guest_case hello "$g/hello.elf" 0 "" "$e" --cmdline "kite test" --mem 64M
		guest_case hello_initrd "$g/hello.elf" 0 "" "$e" --cmdline "kite test" \
			--mem 64M --initrd "$SRC/initrd.txt"
		guest_case hello_4g "$g/hello.elf" 0 "" "$e" --cmdline "4g" --mem 4G
		guest_case multiboot "$g/multiboot.elf" 0 "" "$e" --cmdline "kite test" \
			--mem 64M --initrd "$SRC/initrd.txt"
		guest_case testdev "$g/testdev.elf" 85 "" "$e" --testdev --mem 64M --cpus 2
		guest_case testdev_off "$g/testdev.elf" 0 "" "$e" --mem 64M
		guest_case realmode "$g/realmode.elf" 0 "" "$e" --mem 64M
		guest_case bzimage "$g/bzimage.bin" 0 "" "$e" --cmdline "kite test" \
			--mem 64M --initrd "$SRC/initrd.txt"
		guest_case mmio "$g/mmio.elf" 0 "" "$e" --mem 64M
		guest_case uart "$g/uart.elf" 0 "" "$e" --mem 64M
		guest_case rtc "$g/rtc.elf" 0 "" "$e" --mem 64M
		guest_case timer "$g/timer.elf" 0 "" "$e" --mem 64M
		guest_case hpet "$g/hpet.elf" 0 "" "$e" --mem 64M
		guest_case smp "$g/smp.elf" 0 "" "$e" --mem 64M --cpus 2
		guest_case smp_4cpus "$g/smp.elf" 0 "" "$e" --mem 64M --cpus 4
		guest_case reset "$g/reset.elf" 0 "" "$e" --mem 64M
		guest_case port92 "$g/port92.elf" 0 "" "$e" --mem 64M
		guest_case triplefault "$g/triplefault.elf" 3 "triple fault;rip=" "$e" --mem 64M
		guest_case panic "$g/panic.elf" 4 "panicked" "$e" --mem 64M
		guest_case bench "$g/bench.elf" 0 "" "$e"
		signal_case sigterm TERM "$e"
		signal_case sigint INT "$e"
		guest_case modes "$g/modes.elf" 0 "" "$e" --mem 64M
		guest_case divide "$g/divide.elf" 0 "" "$e" --mem 64M
		guest_case apicctl "$g/apicctl.elf" 0 "" "$e" --mem 64M
		guest_case ptloop "$g/ptloop.elf" 3 "triple fault;rip=" "$e" --mem 64M
		guest_case longinsn "$g/longinsn.elf" 3 "triple fault;rip=" "$e" --mem 64M
		virtio_case "$e"
		# libslirp answers for 10.0.2.2 inside kite: no host set-up, no traffic.
		guest_case netarp "$g/netarp.elf" 0 "" "$e" --mem 64M --no-rng \
			--net user,mac=02:6b:69:74:65:02
		netarp_tap_case "$e"
		# Paging outside long mode, invalid opcodes, VMCALL, faulting INT
		# delivery and 32-bit IRET at CPL 0, which kvm-pvm does not run (a KVM
		# internal error there, or a hang).
		[ "$e" = kvm ] && continue
		guest_case hypercall "$g/hypercall.elf" 0 "" "$e" --mem 64M
		guest_case intfault "$g/intfault.elf" 0 "" "$e" --mem 64M
		guest_case nmi "$g/nmi.elf" 0 "" "$e" --mem 64M
		guest_case debug "$g/debug.elf" 0 "" "$e" --mem 64M
		guest_case x2apic "$g/x2apic.elf" 0 "" "$e" --mem 64M
		guest_case apicid "$g/apicid.elf" 0 "" "$e" --mem 64M
		guest_case btcode "$g/btcode.elf" 0 "" "$e" --mem 64M
		guest_case btsmp "$g/btsmp.elf" 0 "" "$e" --mem 64M --cpus 2
		guest_case nmishadow "$g/nmishadow.elf" 0 "" "$e" --mem 64M --cpus 2
		guest_case nmitwo "$g/nmitwo.elf" 0 "" "$e" --mem 64M --cpus 2
		guest_case lowprio "$g/lowprio.elf" 0 "" "$e" --mem 64M --cpus 2
		guest_case udstream "$g/udstream.elf" 3 "triple fault;rip=" "$e" --mem 64M
		guest_case cpuloop "$g/cpuloop.elf" 0 "" "$e" --mem 64M
		guest_case pagefault "$g/pagefault.elf" 0 "" "$e" --mem 64M
		guest_case smc "$g/smc.elf" 0 "" "$e" --mem 64M
		guest_case wildjump "$g/wildjump.elf" 3 "triple fault;rip=" "$e" --mem 64M
		guest_case fpu "$g/fpu.elf" 0 "" "$e" --mem 64M
	done
}

# ---- c) --config-file ------------------------------------------------------

# config_file FILE ENGINE KERNEL INITRD ARGS DRIVES: writes a Firecracker-style
# config file for ENGINE (kite's own "kite" section picks it). INITRD is a
# JSON value (a quoted path or null), DRIVES the array's contents.
config_file() {
	local file=$1 engine=$2 kernel=$3 initrd=$4 args=$5 drives=$6 accel=$2 cpu=bt

	if [ "$engine" = interp ]; then
		accel=soft
		cpu=interp
	fi
	cat >"$file" <<EOF
{
  "boot-source": {
    "kernel_image_path": "$kernel",
    "initrd_path": $initrd,
    "boot_args": "$args"
  },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64, "smt": false },
  "drives": [ $drives ],
  "network-interfaces": [],
  "kite": { "accel": "$accel", "soft_cpu": "$cpu" }
}
EOF
}

# config_case NAME ENGINE CONFIG: boots CONFIG; stdout must be
# tests/guests/NAME.expected, as from the same machine given by flags.
config_case() {
	local name=$1 engine=$2 cfg=$3 id="config/$2/$1" out=$TMP/config.out
	local err=$TMP/config.err rc why=""

	$TIMEOUT "$KITE" run --config-file "$cfg" </dev/null >"$out" 2>"$err"
	rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after 30 s"
	elif sanitized "$err"; then
		why="sanitizer report"
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc, want 0"
	elif ! cmp -s "$SRC/$name.expected" "$out"; then
		why="stdout differs from $SRC/$name.expected"
	fi
	if [ -z "$why" ]; then
		pass "$id"
		return
	fi
	fail "$id" "$why"
	show stdout "$out"
	show stderr "$err"
}

config_tests() {
	local e cfg=$TMP/vm.json img=$TMP/config.img

	selected config config || return 0
	for e in $ENGINES; do
		engine_skipped "config/$e/hello_initrd" "$e" && continue
		config_file "$cfg" "$e" "$GUESTS/hello.elf" "\"$SRC/initrd.txt\"" "kite test" ""
		config_case hello_initrd "$e" "$cfg"
		# A drive from the file: the virtio guest reads and writes it as from --disk.
		printf 'kite test disk, sector 0\n' >"$img"
		truncate -s 1024 "$img"
		virtio_code >>"$img"
		truncate -s 4096 "$img"
		config_file "$cfg" "$e" "$GUESTS/virtio.elf" null "" \
			"{\"drive_id\": \"disk0\", \"is_root_device\": false, \"is_read_only\": false,
			  \"path_on_host\": \"$img\", \"cache_type\": \"Unsafe\"}"
		config_case virtio "$e" "$cfg"
		rm -f "$img"
	done
	# A root drive takes the first slot and, as in Firecracker, root=/dev/vda
	# and ro or rw on the command line, which hello.elf prints.
	truncate -s 4096 "$img"
	config_file "$cfg" soft "$GUESTS/hello.elf" null "kite test" \
		"{\"drive_id\": \"rootfs\", \"is_root_device\": true, \"is_read_only\": true,
		  \"path_on_host\": \"$img\"}"
	if $TIMEOUT "$KITE" run --config-file "$cfg" </dev/null 2>"$TMP/config.err" |
		grep -qx 'cmdline: kite test root=/dev/vda ro'; then
		pass config/soft/root-drive
	else
		fail config/soft/root-drive "no \"cmdline: kite test root=/dev/vda ro\" line"
		show stderr "$TMP/config.err"
	fi
	rm -f "$img"
	# The file's logger and metrics take effect without --api-sock too: the log
	# at Debug gets kite's lines, the metrics file the VM's last counters.
	printf '{"boot-source": {"kernel_image_path": "%s"}, "drives": [],
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
	  "logger": {"log_path": "%s", "level": "Debug"},
	  "metrics": {"metrics_path": "%s"}, "kite": {"accel": "soft"}}\n' \
		"$GUESTS/hello.elf" "$TMP/config.log" "$TMP/config.metrics" >"$cfg"
	rm -f "$TMP/config.log" "$TMP/config.metrics"
	if ! $TIMEOUT "$KITE" run --config-file "$cfg" </dev/null >"$TMP/config.out" \
		2>"$TMP/config.err"; then
		fail config/soft/logger-metrics "exit status $?"
		show stderr "$TMP/config.err"
	elif ! grep -q 'debug' "$TMP/config.log" 2>/dev/null; then
		fail config/soft/logger-metrics "no debug line in the logger's file"
	elif ! grep -Eq '"uart": *\{[^}]*"tx_bytes": *[1-9]' "$TMP/config.metrics" 2>/dev/null; then
		fail config/soft/logger-metrics "no final metrics line with the UART's bytes"
	else
		pass config/soft/logger-metrics
	fi
	# Flags that shape the machine do not mix with a config file.
	bad_case config-and-flag 2 "--cpus;not with --config-file" \
		"$KITE" run --config-file "$cfg" --cpus 2
	bad_case config-missing 1 "$TMP/none.json;no such file" \
		"$KITE" run --config-file "$TMP/none.json"
	printf '{"boot-source": {"kernel_image_path": "%s"}, "drives": [],
	  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "vcpus": 2}}\n' \
		"$GUESTS/hello.elf" >"$cfg"
	bad_case config-unknown-field 2 "$cfg;machine-config.vcpus: unknown field" \
		"$KITE" run --config-file "$cfg"
	printf '{"boot-source": {"kernel_image_path": "%s"}, "drives": [
	  {"drive_id": "root", "is_root_device": "yes", "path_on_host": "/dev/null"}]}\n' \
		"$GUESTS/hello.elf" >"$cfg"
	bad_case config-wrong-type 2 "drives[0].is_root_device: must be true or false" \
		"$KITE" run --config-file "$cfg"
	printf '{"boot-source": {}, "drives": []}\n' >"$cfg"
	bad_case config-missing-field 2 "boot-source.kernel_image_path: missing" \
		"$KITE" run --config-file "$cfg"
	truncate -s 2M "$cfg"
	bad_case config-too-big 1 "more than the 1048576" "$KITE" run --config-file "$cfg"
	# A valid file naming a kernel that is not there: the builder's error, status 1.
	printf '{"boot-source": {"kernel_image_path": "%s"}, "drives": [],
	  "kite": {"accel": "kvm"}}\n' "$TMP/does-not-exist" >"$cfg"
	bad_case config-missing-kernel 1 "$TMP/does-not-exist;no such file" \
		"$KITE" run --config-file "$cfg"
	rm -f "$cfg"
}

# ---- d) bad inputs ---------------------------------------------------------

# bad_case NAME STATUSES PATTERNS command...
# The command must exit with one of STATUSES (space-separated), not crash
# (status >= 128) and say something on stderr containing every pattern.
bad_case() {
	local name=$1 statuses=$2 patterns=$3
	shift 3
	local id="bad/$name" err=$TMP/bad.err rc s ok=0 why="" pat

	timeout -k 5 30 "$@" </dev/null >/dev/null 2>"$err"
	rc=$?
	for s in $statuses; do
		[ "$rc" -eq "$s" ] && ok=1
	done
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after 30 s"
	elif [ "$rc" -ge 128 ]; then
		why="crashed (status $rc)"
	elif sanitized "$err"; then
		why="sanitizer report"
	elif [ "$ok" -eq 0 ]; then
		why="exit status $rc, want ${statuses// / or }"
	elif [ ! -s "$err" ]; then
		why="nothing on stderr"
	else
		IFS=';'
		for pat in $patterns; do
			if ! grep -qiF -- "$pat" "$err"; then
				why="stderr lacks \"$pat\""
				break
			fi
		done
		unset IFS
	fi
	if [ -z "$why" ]; then
		pass "$id"
	else
		fail "$id" "$why"
		show stderr "$err"
	fi
}

bad_tests() {
	local k=$GUESTS/hello.elf bz=$GUESTS/bzimage.bin nb=$TMP/nobody
	# --accel kvm on purpose: what the user gave is checked before an engine
	# opens anything, so these pass the same on a host without /dev/kvm.
	local run=("$KITE" run --accel kvm)

	bad_case missing-kernel 1 "no such file" "${run[@]}" --kernel "$TMP/does-not-exist"
	bad_case not-a-kernel 1 "not a kernel" "${run[@]}" --kernel /etc/passwd

	if [ -f "$bz" ]; then
		head -c 600 "$bz" >"$TMP/truncated.bin"
		bad_case truncated-bzimage 1 "truncated" "${run[@]}" --kernel "$TMP/truncated.bin"
		cp "$bz" "$TMP/old.bin"
		printf '\001\002' | dd of="$TMP/old.bin" bs=1 seek=$((0x206)) conv=notrunc 2>/dev/null
		bad_case old-boot-protocol 1 "boot protocol" "${run[@]}" --kernel "$TMP/old.bin"
	else
		fail bad/bzimage "$bz not built"
	fi

	truncate -s 64M "$TMP/big.initrd"
	bad_case initrd-too-big 1 "initrd" "${run[@]}" --kernel "$k" --mem 32M --initrd "$TMP/big.initrd"
	rm -f "$TMP/big.initrd"

	bad_case mem-zero 2 "--mem" "${run[@]}" --kernel "$k" --mem 0
	bad_case mem-huge "1 2" "--mem" "${run[@]}" --kernel "$k" --mem 64T
	bad_case mem-banana 2 "--mem" "${run[@]}" --kernel "$k" --mem banana
	bad_case cpus-zero 2 "--cpus" "${run[@]}" --kernel "$k" --cpus 0
	bad_case cpus-huge 2 "--cpus" "${run[@]}" --kernel "$k" --cpus 100000
	bad_case unknown-option 2 "unknown option" "${run[@]}" --kernel "$k" --frobnicate
	bad_case bad-accel 2 "--accel" "$KITE" run --kernel "$k" --accel warp
	bad_case bad-soft-cpu 2 "--soft-cpu;warp" "$KITE" run --kernel "$k" --soft-cpu warp
	bad_case bad-soft-code-cache 2 "--soft-code-cache;1K" "$KITE" run --kernel "$k" \
		--soft-code-cache 1K
	bad_case missing-disk 1 "$TMP/no-disk.img;no such file" "${run[@]}" --kernel "$k" \
		--disk "$TMP/no-disk.img"
	usernet_bad_tests "$k"
	bad_case net-mtu-range 2 "--net;mtu '67';68 to 65535" "${run[@]}" --kernel "$k" \
		--net tap=kite-none0,mtu=67
	bad_case net-bad-limit 2 "--net;tx-bw;SIZE/REFILL_MS" "${run[@]}" --kernel "$k" \
		--net tap=kite-none0,tx-bw=1M
	bad_case disk-bad-limit 2 "--disk;ops;'1K' is not a number" "${run[@]}" --kernel "$k" \
		--disk "$TMP/no-disk.img,ops=1K/10"

	kvm_device_tests "$k" "$nb"
}

# --net user: each bad part of a hostfwd rule is named, and a host port that
# another program listens on is an error naming the rule and the port.
usernet_bad_tests() {
	local k=$1 port pid
	local run=("$KITE" run --accel kvm --kernel "$k")

	bad_case net-hostfwd-port 2 "--net;hostfwd 'tcp::99999-:22';host port '99999'" \
		"${run[@]}" --net user,hostfwd=tcp::99999-:22
	bad_case net-hostfwd-proto 2 "hostfwd 'sctp::22-:22';protocol 'sctp'" \
		"${run[@]}" --net user,hostfwd=sctp::22-:22
	bad_case net-hostfwd-guest-addr 2 "guest address '10.0.9.15' is not in 10.0.2.0/24" \
		"${run[@]}" --net user,hostfwd=tcp::2222-10.0.9.15:22
	bad_case net-hostfwd-shape 2 "hostfwd 'tcp:2222:22';not [tcp|udp]" \
		"${run[@]}" --net user,hostfwd=tcp:2222:22
	bad_case net-hostfwd-tap 2 "hostfwd= is for user networking" \
		"${run[@]}" --net tap=tap0,hostfwd=tcp::2222-:22
	bad_case net-user-mtu-range 2 "--net: mtu 65522 is above 65521, the most the user network takes" \
		"${run[@]}" --net user,mtu=65522
	bad_case net-user-bad-limit 2 "--net;rx-ops;'1K' is not a number" \
		"${run[@]}" --net user,hostfwd=tcp::2222-:22,rx-ops=1K/10
	bad_case net-user-and-tap 2 "--net;'tap=tap0': tap=IFNAME or user, once" \
		"${run[@]}" --net user,tap=tap0
	bad_case net-hostfwd-twice 2 "--net;hostfwd 'tcp::2222-:23': tcp host port 2222 is forwarded already" \
		"${run[@]}" --net user,hostfwd=tcp::2222-:22 --net user,hostfwd=tcp::2222-:23
	if ! command -v python3 >/dev/null; then
		skip bad/net-hostfwd-port-in-use "python3 is not installed (the listener on the port)"
		return
	fi
	python3 -u -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1]); time.sleep(60)' >"$TMP/listener" &
	pid=$!
	for _ in $(seq 100); do
		port=$(cat "$TMP/listener")
		[ -n "$port" ] && break
		sleep 0.05
	done
	# The soft engine: the port is found busy when the device is built.
	bad_case net-hostfwd-port-in-use 1 "eth0: hostfwd tcp:127.0.0.1:$port-10.0.2.15:22;host port $port is in use" \
		"$KITE" run --accel soft --kernel "$k" --net "user,hostfwd=tcp::$port-:22"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# /dev/kvm missing, replaced by another device, or not for this user: each in
# a private mount namespace with its own /dev (a tmpfs), so the set-up does
# not depend on what the host's /dev/kvm is. kite must name /dev/kvm and exit 1.
kvm_device_tests() {
	local k=$1 nb=$2 why=""

	if [ "$(id -u)" -ne 0 ]; then
		why="needs root for a private mount namespace"
	elif ! unshare -m sh -c 'mount -t tmpfs none /dev' 2>/dev/null; then
		why="cannot make a mount namespace with its own /dev here"
	fi
	if [ -n "$why" ]; then
		skip bad/no-dev-kvm "$why"
		skip bad/not-a-kernel-no-dev-kvm "$why"
		skip bad/dev-kvm-not-kvm "$why"
		skip bad/dev-kvm-permission "$why"
		return
	fi
	# shellcheck disable=SC2016 # expanded by the inner shell
	bad_case no-dev-kvm 1 "/dev/kvm;no such file" unshare -m sh -c \
		'mount -t tmpfs none /dev && exec "$0" run --accel kvm --kernel "$1"' \
		"$KITE" "$k"
	# A bad kernel is reported as such where there is no /dev/kvm at all.
	# shellcheck disable=SC2016
	bad_case not-a-kernel-no-dev-kvm 1 "not a kernel" unshare -m sh -c \
		'mount -t tmpfs none /dev && exec "$0" run --accel kvm --kernel /etc/passwd' "$KITE"
	# /dev/null's device numbers under the name /dev/kvm.
	# shellcheck disable=SC2016
	bad_case dev-kvm-not-kvm 1 "/dev/kvm;not a KVM device" unshare -m sh -c \
		'mount -t tmpfs none /dev && mknod -m 666 /dev/kvm c 1 3 &&
		 exec "$0" run --accel kvm --kernel "$1"' "$KITE" "$k"
	# KVM's device numbers, root's alone; nobody runs a copy of kite it can read.
	mkdir -p "$nb" && cp "$KITE" "$k" "$nb/" && chmod 755 "$TMP" "$nb" "$nb/kite" &&
		chmod 644 "$nb/hello.elf"
	# shellcheck disable=SC2016
	bad_case dev-kvm-permission 1 "/dev/kvm;permission" unshare -m sh -c \
		'mount -t tmpfs none /dev && mknod -m 600 /dev/kvm c 10 232 &&
		 exec setpriv --reuid=65534 --regid=65534 --clear-groups \
		 "$0" run --accel kvm --kernel "$1"' "$nb/kite" "$nb/hello.elf"
	chmod 700 "$TMP"
}

# ---- main ------------------------------------------------------------------

probe_host
unit_tests
diff_tests
# shellcheck source=tests/linux.sh
. "$(dirname "$0")/linux.sh"
# shellcheck source=tests/api.sh
. "$(dirname "$0")/api.sh"
if [ -x "$KITE" ]; then
	guest_tests
	config_tests
	bad_tests
	api_tests
	for e in ${KITE_LINUX_ENGINES-soft}; do
		linux_tests "$e"
	done
else
	fail kite "$KITE not built"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
