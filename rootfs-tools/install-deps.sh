#!/usr/bin/env bash
# Install the Debian packages mvm needs to build, test and benchmark, if missing.
# Everything comes from Debian's archive; nothing is downloaded from elsewhere.
set -euo pipefail

PKGS=(
	# build the monitor and its tests
	gcc make libc6-dev linux-libc-dev pkg-config
	libjsmn-dev libcriterion-dev libseccomp-dev libcap-dev libhttp-parser-dev
	clang-format python3 util-linux iproute2
	# build the default guest kernel and root filesystems
	linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils lz4 kmod
	busybox-static e2fsprogs
	# the peer the benchmarks compare against, and the report's plots
	qemu-system-x86 python3-matplotlib
	# network tests: a DHCP server on the tap for the guest kernel's ip=dhcp
	dnsmasq-base
)

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
