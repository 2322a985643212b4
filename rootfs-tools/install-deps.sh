#!/usr/bin/env bash
# Install the Debian packages mvm needs to build, test and benchmark, if missing.
# Everything comes from Debian's archive; nothing is downloaded from elsewhere.
set -euo pipefail

PKGS=(
	# build the monitor and its tests
	gcc make libc6-dev linux-libc-dev pkg-config
	libjsmn-dev libcriterion-dev libseccomp-dev libcap-dev libhttp-parser-dev liburing-dev
	clang-format python3 util-linux iproute2
	# decode the ACPI tables mvm writes (tests/unit/test_acpi.c runs iasl -d)
	acpica-tools
	# the fuzz targets (tests/fuzz): libFuzzer, ASan and UBSan; llvm-14's symbolizer
	clang-14 libclang-rt-14-dev llvm-14
	# build the default guest kernel and root filesystems
	linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils lz4 kmod
	busybox-static e2fsprogs
	# mvm image build / mvm run IMAGE: images to root filesystems; mvm-init on musl
	skopeo umoci musl-tools
	# the peer the benchmarks compare against, and the report's plots; QEMU
	# also runs the nested-KVM test bed (tests/testbed)
	qemu-system-x86 python3-matplotlib
	# network tests: a DHCP server on the tap for the guest kernel's ip=dhcp
	dnsmasq-base
	# GET /metrics is checked by a real Prometheus text-format parser
	python3-prometheus-client
)

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ $(id -u) -ne 0 ]]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive

# The test bed (tests/testbed) fetches Debian's kernel package with
# apt-get download: the package lists must name it.
if ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-'; then
	echo "deps: apt-get update (the package lists do not name linux-image-amd64)"
	$SUDO apt-get update -qq
fi

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
