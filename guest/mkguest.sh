#!/usr/bin/env bash
# guest/mkguest.sh: builds kite's default guest (Debian cloud kernel + busybox initramfs).
#
# Usage: guest/mkguest.sh OUTDIR
#
# Leaves in OUTDIR: vmlinuz (bzImage), vmlinux (the same kernel as a PVH-bootable
# ELF) and initramfs.cpio.gz. Packages are fetched with `apt-get download` and
# unpacked with `dpkg -x` into OUTDIR: nothing touches the host's /boot or its
# package database. Work whose outputs are newer than their inputs is skipped.
set -euo pipefail

# Modules the guest loads at boot (names as the kernel spells them, '-' or
# '_' alike). Ones built into the kernel are skipped; dependencies are added.
WANT_MODULES=(
	virtio_mmio virtio_pci
	virtio_blk virtio_net virtio_console virtio_rng virtio_balloon
	vmw_vsock_virtio_transport
	ext4 crc32c_generic
	# Reports a kernel panic to kite (the QEMU0001 device in kite's DSDT).
	pvpanic_mmio
)
KERNEL_META=linux-image-cloud-amd64
BUSYBOX_PKG="busybox-static"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/mkguest.sh"

die() {
	echo "mkguest: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)

for tool in apt-cache apt-get dpkg dpkg-deb depmod cpio gzip od dd readelf; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

# stale TARGET INPUT...: true if TARGET is missing or older than any input.
stale() {
	local target=$1 dep
	shift
	[ -e "$target" ] || return 0
	for dep in "$@"; do
		[ "$dep" -nt "$target" ] && return 0
	done
	return 1
}

# Local inputs; the packages are inputs too but are only looked at below.
inputs=("$self" "$here/init" "$here/udhcpc.script")
scripts=()
if [ -d "$here/scripts" ]; then
	mapfile -t scripts < <(find "$here/scripts" -maxdepth 1 -type f | LC_ALL=C sort)
	inputs+=("$here/scripts" "${scripts[@]}")
fi
# Small static tools the guest runs (bench/): built from guest/tools/*.c,
# which may share guest/tools/*.h.
tools=()
if [ -d "$here/tools" ]; then
	mapfile -t tools < <(find "$here/tools" -maxdepth 1 -name '*.c' | LC_ALL=C sort)
	mapfile -t tool_headers < <(find "$here/tools" -maxdepth 1 -name '*.h' | LC_ALL=C sort)
	inputs+=("$here/tools" "${tools[@]}" "${tool_headers[@]}")
fi

# Up to date: skip even apt, whose cache takes seconds to load. A newer
# Debian kernel is picked up only after `rm -rf OUTDIR`, which keeps
# benchmarks on one kernel until someone chooses otherwise.
# The summary is written last, so one newer than the inputs vouches for the
# outputs that still exist.
if [ -s "$out/summary" ] && ! stale "$out/summary" "${inputs[@]}" &&
	[ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio.gz" ]; then
	cat "$out/summary"
	exit 0
fi

# apt refuses to drop privileges to _apt for a directory _apt cannot write;
# as root we tell it so up front instead of printing a warning each time.
apt_opts=()
if [ "$(id -u)" -eq 0 ]; then
	apt_opts=(-o APT::Sandbox::User=root)
fi

# fetch PKG: prints the path of PKG's .deb in $out/debs, downloading it once.
fetch() {
	local pkg=$1 ver deb
	ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		die "no candidate version of $pkg (run scripts/install-deps.sh, which runs apt-get update)"
	fi
	# apt-get download names files with ':' escaped as %3a.
	deb="$out/debs/${pkg}_${ver//:/%3a}_amd64.deb"
	if [ ! -s "$deb" ]; then
		mkdir -p "$out/debs"
		(cd "$out/debs" && apt-get download -qq "${apt_opts[@]}" "$pkg=$ver") >&2 ||
			die "apt-get download $pkg=$ver failed"
		[ -s "$deb" ] || die "apt-get download did not leave $deb"
	fi
	echo "$deb"
}

# unpack DEB DIR: dpkg -x DEB into DIR unless DIR already holds it.
unpack() {
	local deb=$1 dir=$2
	if stale "$dir/.unpacked" "$deb"; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg -x "$deb" "$dir" || die "dpkg -x $deb failed"
		touch "$dir/.unpacked"
	fi
}

# The metapackage only depends on the versioned image package; resolve it
# from apt's lists rather than downloading the metapackage.
kpkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-cloud-amd64$/ { print $2; exit }')
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind $KERNEL_META (run scripts/install-deps.sh)"
kver=${kpkg#linux-image-}

kdeb=$(fetch "$kpkg")
bdeb=$(fetch "$BUSYBOX_PKG")
unpack "$kdeb" "$out/pkg/kernel"
unpack "$bdeb" "$out/pkg/busybox"

kroot="$out/pkg/kernel"
kimage="$kroot/boot/vmlinuz-$kver"
[ -f "$kimage" ] || die "$kpkg has no boot/vmlinuz-$kver"
moddir=
for d in "$kroot/lib/modules/$kver" "$kroot/usr/lib/modules/$kver"; do
	[ -d "$d" ] && moddir=$d && break
done
[ -n "$moddir" ] || die "$kpkg has no modules directory for $kver"
busybox="$out/pkg/busybox/bin/busybox"
[ -x "$busybox" ] || die "$BUSYBOX_PKG has no bin/busybox"

# ---- vmlinuz -----------------------------------------------------------------
# cp without -p so the copy's mtime says when we made it, not when Debian did.
if stale "$out/vmlinuz" "$kroot/.unpacked" "$self"; then
	cp "$kimage" "$out/vmlinuz.tmp"
	mv "$out/vmlinuz.tmp" "$out/vmlinuz"
fi

# ---- vmlinux -----------------------------------------------------------------
# le FILE OFFSET BYTES: unsigned little-endian integer at OFFSET.
le() {
	local v
	v=$(od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' ')
	[ -n "$v" ] || die "$1: cannot read $3 bytes at offset $2"
	echo "$v"
}

# magic FILE: the first 6 bytes as lowercase hex, no spaces.
magic() {
	od -An -t x1 -N 6 "$1" | tr -d ' \n'
}

# The bzImage's protected-mode payload is the compressed vmlinux followed by
# 4 bytes holding its uncompressed size (for gzip those are gzip's own ISIZE).
extract_vmlinux() {
	local bz=$1 dst=$2 tmp=$2.tmp
	local setup_sects ver poff plen start m isize osize
	[ "$(od -An -c -j $((0x202)) -N 4 "$bz" | tr -d ' ')" = HdrS ] ||
		die "$bz: no HdrS boot header"
	ver=$(le "$bz" $((0x206)) 2)
	[ "$ver" -ge $((0x208)) ] ||
		die "$bz: boot protocol $(printf %#x "$ver") predates payload fields (2.08)"
	setup_sects=$(le "$bz" $((0x1f1)) 1)
	[ "$setup_sects" -ne 0 ] || setup_sects=4 # the boot protocol's historical default
	poff=$(le "$bz" $((0x248)) 4)
	plen=$(le "$bz" $((0x24c)) 4)
	start=$(((setup_sects + 1) * 512 + poff))
	if [ "$plen" -le 4 ] || [ $((start + plen)) -gt "$(stat -c %s "$bz")" ]; then
		die "$bz: payload ($start+$plen) lies outside the file"
	fi

	dd if="$bz" of="$tmp.payload" bs=64K iflag=skip_bytes,count_bytes \
		skip="$start" count="$plen" status=none
	isize=$(le "$tmp.payload" $((plen - 4)) 4)
	m=$(magic "$tmp.payload")
	local dec
	case "$m" in
	1f8b*) dec=(gzip -dc) ;;
	fd377a585a00) dec=(xz -dc --single-stream) ;;
	28b52ffd*) dec=(zstd -dcq) ;;
	5d0000*) dec=(xz -dc --format=lzma) ;;
	02214c18*) dec=(lz4 -dc) ;;
	425a68*) dec=(bzip2 -dc) ;;
	894c5a4f*) dec=(lzop -dc) ;;
	*) die "$bz: payload has unknown compression magic $m" ;;
	esac
	command -v "${dec[0]}" >/dev/null ||
		die "$bz: payload needs ${dec[0]} (run scripts/install-deps.sh)"
	# gzip carries its size itself; every other format had the size
	# appended by the kernel build, which the decompressors call garbage.
	if [ "${dec[0]}" = gzip ]; then
		"${dec[@]}" <"$tmp.payload" >"$tmp" || die "$bz: ${dec[0]} failed"
	else
		head -c $((plen - 4)) "$tmp.payload" | "${dec[@]}" >"$tmp" ||
			die "$bz: ${dec[0]} failed"
	fi
	rm -f "$tmp.payload"

	osize=$(stat -c %s "$tmp")
	[ $((osize % 4294967296)) -eq "$isize" ] ||
		die "$bz: decompressed $osize bytes but the trailer says $isize"
	[ "$(magic "$tmp" | cut -c1-8)" = 7f454c46 ] || die "$bz: payload is not an ELF"
	# XEN_ELFNOTE_PHYS32_ENTRY (0x12) is the PVH entry point kite boots by.
	readelf -n "$tmp" | grep -Eq '^ *Xen +0x[0-9a-f]+[[:space:]]+(Unknown note type: \(0x00000012\)|.*PHYS32_ENTRY)' ||
		die "$bz: vmlinux has no Xen PHYS32_ENTRY (PVH) note"
	mv "$tmp" "$dst"
}

if stale "$out/vmlinux" "$kroot/.unpacked" "$self"; then
	extract_vmlinux "$kimage" "$out/vmlinux"
fi

# ---- modules -----------------------------------------------------------------
# Debian ships no modules.dep (its postinst runs depmod); make one in our copy.
if stale "$moddir/modules.dep" "$kroot/.unpacked"; then
	depmod -b "$kroot" "$kver" || die "depmod for $kver failed"
fi

# modname PATH: sets name to PATH's module name. Names compare with '-' and
# '_' equal, as the kernel does. (No $(...): this runs for every module.)
modname() {
	name=${1##*/}
	name=${name%%.ko*}
	name=${name//-/_}
}

declare -A modpath=() moddeps=() builtin=() visited=()
order=()
while IFS= read -r line; do
	key=${line%%:*}
	modname "$key"
	modpath[$name]=$key
	moddeps[$name]=${line#*:}
done <"$moddir/modules.dep"
while IFS= read -r line; do
	modname "$line"
	builtin[$name]=1
done <"$moddir/modules.builtin"

# visit NAME: appends NAME's dependencies, then NAME, to order (post-order DFS,
# so every module follows what it needs, whatever order modules.dep uses).
visit() {
	local mod=$1 dep d
	[ -z "${visited[$mod]:-}" ] || return 0
	visited[$mod]=1
	for dep in ${moddeps[$mod]}; do
		modname "$dep"
		d=$name
		[ -n "${modpath[$d]:-}" ] || die "$mod needs $d, which modules.dep does not list"
		visit "$d"
	done
	order+=("$mod")
}

builtins=()
for m in "${WANT_MODULES[@]}"; do
	m=${m//-/_}
	if [ -n "${builtin[$m]:-}" ]; then
		builtins+=("$m")
	elif [ -n "${modpath[$m]:-}" ]; then
		visit "$m"
	else
		die "module $m is neither built into $kver nor in its modules.dep"
	fi
done

# ---- initramfs ---------------------------------------------------------------
inputs+=("$kroot/.unpacked" "$out/pkg/busybox/.unpacked")

# decompress_ko SRC DST: plain .ko, since busybox insmod may not decompress.
decompress_ko() {
	case "$1" in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -dcq "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) die "$1: unknown module compression" ;;
	esac
}

build_initramfs() {
	local stage="$out/staging" dst="$out/initramfs.cpio.gz" d name rel ko
	rm -rf "$stage"
	mkdir -p "$stage"
	for d in bin sbin usr/bin usr/sbin etc proc sys dev tmp mnt root scripts \
		"lib/modules/$kver"; do
		mkdir -p "$stage/$d"
	done
	chmod 1777 "$stage/tmp"
	chmod 700 "$stage/root"

	cp "$busybox" "$stage/bin/busybox"
	# Symlinks made now, not by `busybox --install` at boot, so the guest's
	# first command already finds its applets.
	"$busybox" --list-full | while IFS= read -r app; do
		[ "$app" = bin/busybox ] && continue
		mkdir -p "$stage/$(dirname "$app")"
		ln -sf /bin/busybox "$stage/$app"
	done
	[ -L "$stage/bin/sh" ] || die "busybox has no sh applet"

	install -m 755 "$here/init" "$stage/init"
	# Debian's busybox looks for udhcpc's script in /etc/udhcpc, upstream's
	# in /usr/share/udhcpc: a udhcpc typed at the shell finds it either way.
	install -D -m 755 "$here/udhcpc.script" "$stage/etc/udhcpc/default.script"
	mkdir -p "$stage/usr/share/udhcpc"
	ln -s /etc/udhcpc/default.script "$stage/usr/share/udhcpc/default.script"
	local s
	for s in "${scripts[@]}"; do
		install -m 755 "$s" "$stage/scripts/"
	done
	for s in "${tools[@]}"; do
		cc -static -O2 -Wall -Wextra -Werror -o "$stage/bin/$(basename "$s" .c)" "$s" ||
			die "cannot build guest tool $s"
	done

	# /etc/modules.order: "name path" per line, dependencies first. A
	# modules.dep for the plain files lets busybox modprobe work too.
	: >"$stage/etc/modules.order"
	: >"$stage/lib/modules/$kver/modules.dep"
	for name in "${order[@]}"; do
		rel=${modpath[$name]%.ko*}.ko
		ko="$stage/lib/modules/$kver/$rel"
		mkdir -p "$(dirname "$ko")"
		decompress_ko "$moddir/${modpath[$name]}" "$ko" ||
			die "cannot decompress ${modpath[$name]}"
		echo "$name /lib/modules/$kver/$rel" >>"$stage/etc/modules.order"
		local deps="" dep
		for dep in ${moddeps[$name]}; do
			deps+=" ${dep%.ko*}.ko"
		done
		echo "$rel:$deps" >>"$stage/lib/modules/$kver/modules.dep"
	done
	echo kite >"$stage/etc/hostname"

	# Fixed owners and times so the archive depends only on its contents.
	find "$stage" -exec touch -h -d @0 {} +
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -9 >"$dst.tmp" ||
		die "cpio/gzip of $stage failed"
	mv "$dst.tmp" "$dst"
}

if stale "$out/initramfs.cpio.gz" "${inputs[@]}"; then
	build_initramfs
fi

size() {
	numfmt --to=iec-i --suffix=B "$(stat -c %s "$1")"
}
echo "guest: kernel $kver vmlinuz $(size "$out/vmlinuz") vmlinux $(size "$out/vmlinux")" \
	"initramfs $(size "$out/initramfs.cpio.gz") (${#order[@]} modules; built in: ${builtins[*]:-none}) in $out" \
	>"$out/summary"
cat "$out/summary"
