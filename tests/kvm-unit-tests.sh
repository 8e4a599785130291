#!/usr/bin/env bash
# tests/kvm-unit-tests.sh: runs kvm-unit-tests' x86_64 suite on kite's soft
# engine, one line per unittests.cfg entry: result, wall time, the suite's
# SUMMARY. Not part of `make test`: the suite is fetched and built apart
#
#   git clone https://gitlab.com/kvm-unit-tests/kvm-unit-tests
#   cd kvm-unit-tests && ./configure --arch=x86_64 && make
#   tests/kvm-unit-tests.sh /path/to/kvm-unit-tests [TEST...]
#
# Entries the suite's own runner skips under TCG (accel = kvm, the
# nodefault group, arch = i386) are SKIP here too. KITE_ARGS adds flags
# (e.g. "--soft-cpu interp"); ENGINE picks the engine (default soft).
set -uo pipefail

KUT=${1:?usage: tests/kvm-unit-tests.sh KVM_UNIT_TESTS_DIR [TEST...]}
shift
KITE=${KITE:-$(dirname "$0")/../build/kite}
ENGINE=${ENGINE:-soft}
read -r -a EXTRA <<<"${KITE_ARGS:-}"
CFG=$KUT/x86/unittests.cfg
[ -r "$CFG" ] || { echo "no $CFG: build kvm-unit-tests first" >&2; exit 2; }
OUT=$(mktemp -d /tmp/kite-kut.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# Prints name, file, smp, args, arch, accel, groups, timeout per section, split by
# the unit separator (tabs would merge the empty fields).
sections() {
	awk '
	function flush() {
		if (name != "")
			printf "%s\037%s\037%s\037%s\037%s\037%s\037%s\037%s\n", name, file, smp, args, arch, accel, groups, timeout
	}
	/^\[/ { flush(); name = substr($0, 2, length($0) - 2); file = ""; smp = "1"; args = "";
		arch = ""; accel = ""; groups = ""; timeout = "90"; next }
	/^[a-z_]+ *=/ {
		key = $0; sub(/ *=.*/, "", key)
		val = $0; sub(/^[a-z_]+ *= */, "", val)
		gsub(/^["'"'"']|["'"'"']$/, "", val)
		if (key == "file") file = val
		else if (key == "smp") smp = val
		else if (key == "test_args") args = val
		else if (key == "arch") arch = val
		else if (key == "accel") accel = val
		else if (key == "groups") groups = val
		else if (key == "timeout") { timeout = val; gsub(/[^0-9]/, "", timeout) }
	}
	END { flush() }' "$CFG"
}

selected() {
	local t
	[ ${#SELECT[@]} -eq 0 ] && return 0
	for t in "${SELECT[@]}"; do [ "$t" = "$1" ] && return 0; done
	return 1
}

SELECT=("$@")
pass=0 fail=0 skip=0
while IFS=$'\037' read -r name file smp args arch accel groups timeout; do
	selected "$name" || continue
	smp=${smp//\$MAX_SMP/2}
	smp=$((smp))
	args=${args//\`date +%s\`/$(date +%s)}
	if [ "$arch" = i386 ] || [ "$accel" = kvm ] || [[ $groups == *nodefault* ]]; then
		printf '%-30s SKIP   %8s  %s\n' "$name" "" "the suite's runner skips it under TCG"
		skip=$((skip + 1))
		continue
	fi
	flat=$KUT/x86/${file%.flat}.flat
	if [ ! -f "$flat" ]; then
		printf '%-30s SKIP   %8s  %s\n' "$name" "" "$flat not built"
		skip=$((skip + 1))
		continue
	fi
	t0=$(date +%s%N)
	timeout -k 2 "${timeout:-90}" "$KITE" run --accel "$ENGINE" "${EXTRA[@]}" --testdev \
		--mem 256M --cpus "$smp" --kernel "$flat" --cmdline "$args" \
		</dev/null >"$OUT/$name.out" 2>"$OUT/$name.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	summary=$(tr -d '\r' <"$OUT/$name.out" | grep -a '^SUMMARY' | tail -n 1)
	summary=${summary#SUMMARY: }
	# isa-debug-exit: status 1 is "all passed", 3 a failure, 77 "nothing to run".
	case $rc in
	1) if [ "$summary" = "0 tests" ] ||
		{ [[ $summary =~ ^([0-9]+)\ tests,\ ([0-9]+)\ skipped$ ]] &&
		  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; }; then
		   r=SKIP skip=$((skip + 1))
	   else
		   r=PASS pass=$((pass + 1))
	   fi ;;
	77) r=SKIP skip=$((skip + 1)) ;; # the test found nothing it could run
	124 | 137) r=TIMEOUT fail=$((fail + 1)) ;;
	*) r=FAIL fail=$((fail + 1)) ;;
	esac
	printf '%-30s %-6s %6d ms  %s\n' "$name" "$r" "$ms" "${summary:-exit status $rc}"
done < <(sections)
echo "$pass passed, $fail failed, $skip skipped"
