#!/usr/bin/env bash
# build-rootfs.sh [OUTDIR]
#
# Build mvm's minimal guest root filesystem from Debian's busybox-static:
#   OUTDIR/rootfs.ext4   32 MiB ext4 image (mkfs.ext4 -d, no loop mount),
#                        /sbin/init = guest-init.sh, /bin/mvm-vsock,
#                        /bin/mvm-iobench
#   OUTDIR/initrd.cpio   the same tree as a newc initramfs, plus /init, minus
#                        the applet symlinks (guest-init.sh creates them)
# OUTDIR defaults to <repo>/build/guest. Takes about a second, so it always
# rebuilds; both images are replaced atomically.
set -euo pipefail

prog=build-rootfs
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
init_script=$here/guest-init.sh
busybox=${MVM_BUSYBOX:-/bin/busybox}
image_size=32M

case ${1:-} in
-h | --help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
-*) die "unknown option '$1' (usage: build-rootfs.sh [OUTDIR])" ;;
esac
[[ $# -le 1 ]] || die "usage: build-rootfs.sh [OUTDIR]"
outdir=${1:-$repo/build/guest}

# --- inputs -----------------------------------------------------------------
[[ -r $init_script ]] || die "$init_script missing"
[[ -x $busybox ]] || die "$busybox missing: apt-get install busybox-static"
if file_out=$(LC_ALL=C file -L "$busybox" 2>/dev/null); then
	[[ $file_out == *"statically linked"* || $file_out == *"static-pie"* ]] ||
		die "$busybox is not statically linked: apt-get install busybox-static"
fi
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found: apt-get install e2fsprogs"
command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"

mkdir -p "$outdir" || die "cannot create $outdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mvm-rootfs.XXXXXX")
ext4_tmp=$outdir/.rootfs.ext4.$$
cpio_tmp=$outdir/.initrd.cpio.$$
trap 'rm -rf "$tmp" "$ext4_tmp" "$cpio_tmp"' EXIT
root=$tmp/root

# --- the tree -----------------------------------------------------------------
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,mnt,root,run,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 755 "$busybox" "$root/bin/busybox"
# One symlink per applet, at the path busybox wants (bin/sh, sbin/reboot, ...);
# init and linuxrc are ours.
while IFS= read -r applet; do
	case $applet in
	'' | sbin/init | linuxrc | bin/busybox) continue ;;
	esac
	[[ -e $root/$applet || -L $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
[[ -L $root/bin/sh ]] || die "$busybox --list-full gave no bin/sh"
install -m 755 "$init_script" "$root/sbin/init"
# mvm-vsock (guest-tools/vsock.c): an AF_VSOCK client and echo server.
${CC:-gcc} -static -O2 -Wall -Werror -o "$root/bin/mvm-vsock" "$here/guest-tools/vsock.c" ||
	die "cannot build guest-tools/vsock.c (static: needs libc6-dev)"
# mvm-iobench (guest-tools/iobench.c): block (O_DIRECT, Linux AIO) and TCP
# throughput for tests/perf/bench_io.py.
${CC:-gcc} -static -O2 -Wall -Werror -o "$root/bin/mvm-iobench" "$here/guest-tools/iobench.c" ||
	die "cannot build guest-tools/iobench.c (static: needs libc6-dev)"

# busybox's own passwd parser rejects an empty password field in /etc/passwd
# ("whoami: unknown uid 0"), so the (empty) password lives in /etc/shadow.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/shadow" <<'EOF'
root::19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
echo mvm-guest >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	mvm-guest
EOF
cat >"$root/etc/fstab" <<'EOF'
/dev/root	/	ext4	rw	0	1
proc		/proc	proc	defaults	0	0
sysfs		/sys	sysfs	defaults	0	0
EOF
cat >"$root/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
PS1='mvm-guest:\w\$ '
EOF
# The kernel's DHCP client (ip=dhcp) writes resolver lines to /proc/net/pnp.
ln -s /proc/net/pnp "$root/etc/resolv.conf"
chmod 644 "$root"/etc/{passwd,group,hostname,hosts,fstab,profile}
chmod 600 "$root/etc/shadow"

# --- images -------------------------------------------------------------------
# Files in the images must belong to root. As root that is automatic; otherwise
# run mkfs inside a user namespace where our uid maps to 0.
as_root=()
if [[ $(id -u) != 0 ]]; then
	if unshare --map-root-user true 2>/dev/null; then
		as_root=(unshare --map-root-user)
	else
		log "warning: not root and no user namespaces: files in rootfs.ext4 belong to uid $(id -u)"
	fi
fi

"${as_root[@]}" mkfs.ext4 -q -F -L mvm-root -d "$root" "$ext4_tmp" "$image_size" >"$tmp/mkfs.log" 2>&1 ||
	die "mkfs.ext4 -d $root $ext4_tmp $image_size failed: $(cat "$tmp/mkfs.log")"
mv -f "$ext4_tmp" "$outdir/rootfs.ext4"

# The initramfs leaves out the applet symlinks except bin/sh: on kvm_pvm the
# kernel's unpacking is emulated and each cpio entry costs about as much as
# 8 KiB of data (~300 links doubled the unpack time). guest-init.sh runs
# `busybox --install -s` when it finds them missing.
install -m 755 "$init_script" "$root/init"
(cd "$root" && find . -mindepth 1 ! \( -type l -lname /bin/busybox ! -path ./bin/sh \) |
	LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$cpio_tmp" ||
	die "cpio of $root failed"
mv -f "$cpio_tmp" "$outdir/initrd.cpio"

size() { du -k --apparent-size "$1" | cut -f1; }
log "busybox $("$busybox" | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p'): rootfs.ext4 $(size "$outdir/rootfs.ext4") KiB, initrd.cpio $(size "$outdir/initrd.cpio") KiB -> $outdir"
