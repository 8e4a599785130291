#!/usr/bin/env bash
# scripts/install-deps.sh: installs the Debian packages kite's build, tests,
# default guest build and benchmarks need. Safe to run again: apt only
# installs what is missing.
set -euo pipefail

pkgs=(
	# build and unit tests; json-c parses --config-file and API bodies,
	# libmicrohttpd serves the API, libcurl is kite ctl's client
	gcc make binutils libc6-dev libcmocka-dev libjson-c-dev pkg-config
	libmicrohttpd-dev libcurl4-openssl-dev
	# libslirp: --net user's TCP/IP stack
	libslirp-dev
	# the API tests talk to kite with curl; the network test's host end
	# (tests/net_peer.py) and iproute2's ip make and address its TAP
	curl python3 iproute2
	# fuzzing and formatting
	clang clang-format
	# guest/mkguest.sh: apt-get download + dpkg -x (apt and dpkg are
	# essential, so always there), the cpio archive, every compression a
	# Debian kernel or its modules may use, ELF checks (readelf)
	cpio gzip xz-utils zstd bzip2 lz4 lzop busybox-static file
	# guest disk images, ACPI table checks, module inspection
	e2fsprogs acpica-tools kmod ca-certificates
	# reference runs and benchmarks
	qemu-system-x86 hyperfine time
)

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${pkgs[@]}"
