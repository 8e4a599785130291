#!/bin/sh
# guest/scripts/workload.sh: a CPU workload whose output must be byte-for-byte
# the same in the guest and with the same busybox on the host (tests/linux.sh).
# Only deterministic inputs: no time, no randomness, no host paths.
set -e
d=${TMPDIR:-/tmp}/kite-workload.$$
mkdir -p "$d"

# Data: about 100 KiB from a shell-arithmetic generator (an LCG).
x=12345
i=0
: >"$d/data"
while [ $i -lt 1000 ]; do
	x=$(((x * 1103515245 + 12345) % 2147483648))
	printf '%010d %08x line %d\n' "$x" "$x" "$i" >>"$d/data"
	i=$((i + 1))
done
seq 1 8000 | awk '{ printf "%d %d\n", $1, ($1 * 7919) % 10007 }' >>"$d/data"

echo "hash sha256: $(sha256sum <"$d/data" | cut -d' ' -f1)"
echo "hash md5: $(md5sum <"$d/data" | cut -d' ' -f1)"
echo "hash sha1: $(sha1sum <"$d/data" | cut -d' ' -f1)"
echo "sort: $(sort -k2,2n -k1,1r "$d/data" | sha256sum | cut -d' ' -f1)"
echo "sort -u: $(cut -d' ' -f2 "$d/data" | sort -u | wc -l)"
echo "gzip: $(gzip -9 -c <"$d/data" | sha256sum | cut -d' ' -f1)"
echo "gzip round trip: $(gzip -c <"$d/data" | gzip -dc | cmp - "$d/data" && echo same)"
echo "bzip2: $(bzip2 -c <"$d/data" | bzip2 -dc | sha256sum | cut -d' ' -f1)"

s=0
i=1
while [ $i -le 1500 ]; do
	s=$(((s + i * i * i) % 1000000007))
	i=$((i + 1))
done
echo "shell arithmetic: $s"

awk 'BEGIN {
	# Floating point without libm (Debian'\''s static busybox awk has none).
	for (i = 1; i <= 40000; i++) { basel += 1 / (i * i); harm += 1 / i }
	for (k = 0; k < 40000; k++) leibniz += (k % 2 ? -4 : 4) / (2 * k + 1)
	x = 2; for (n = 0; n < 30; n++) x = (x + 2 / x) / 2
	printf "awk float: %.15f %.12f %.12f %.17g\n", basel, harm, leibniz, x
	printf "awk format: %e %g %.3f %d %x\n", 1 / 3, 1e300 * 10, -0.0005, 2147483649, 255
}'
echo "awk fields: $(awk '{ n += $3 == "line" } END { print n, NR }' "$d/data")"
echo "sed: $(sed -n 's/^\([0-9]*\) \([0-9a-f]*\) line 1[0-9]*$/\2/p' "$d/data" | tr 'a-f' 'A-F' | sha256sum | cut -d' ' -f1)"
rm -rf "$d"
echo "workload done"
