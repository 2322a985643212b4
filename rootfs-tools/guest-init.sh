#!/bin/sh
# mvm guest init: /sbin/init on rootfs.ext4 and /init in initrd.cpio.
#
# This script is the guest-side boot-time marker. As early as it can it
# writes the byte 123 at offset 0 of the monitor's boot-timer device
# (guest-physical 0xc0000000, Firecracker's boot-timer protocol); the monitor
# logs InstanceStart -> this write as the guest boot time. It then prints
#   mvm-guest: init ok
# on the console. With mvm.blk=write:TOKEN or mvm.blk=read on the kernel
# command line it then writes or reads the data drive /dev/vdb (see below);
# with mvm.net=HOST it exercises the network and entropy devices (below);
# with mvm.exec=/dev/vdX it runs the shell script held by that drive.
# Finally it either
#   - starts a shell on the console when the kernel command line has
#     mvm.shell=1, and reboots when the shell exits, or
#   - syncs and reboots at once.
# The kernel must be booted with reboot=k: the reset goes through the i8042
# keyboard controller, which ends the VM (mvm exits 0). Never poweroff: with
# no ACPI the guest would halt forever.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root TERM=linux
bb=/bin/busybox

# /dev first: devmem needs /dev/mem. With an ext4 root the kernel has already
# mounted devtmpfs (CONFIG_DEVTMPFS_MOUNT); an initramfs has no /dev/mem yet.
# Applets by full name: in an initramfs the links do not exist yet.
[ -e /dev/mem ] || $bb mount -t devtmpfs devtmpfs /dev 2>/dev/null

$bb devmem 0xc0000000 8 123 ||
	echo "mvm-guest: warning: boot-timer write to 0xc0000000 failed" >&2

# initrd.cpio ships busybox without its applet links (each cpio entry costs
# emulated unpacking time on kvm_pvm): create them now.
[ -e /bin/mount ] || $bb --install -s

[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run 2>/dev/null
hostname -F /etc/hostname 2>/dev/null
ip link set lo up 2>/dev/null

echo "mvm-guest: init ok"

shell=0 blk= net= script=
set -f # no globbing of command-line words
# shellcheck disable=SC2013 # words, not lines, are wanted here
for arg in $(cat /proc/cmdline); do
	case $arg in
	mvm.shell=1) shell=1 ;;
	mvm.blk=*) blk=${arg#mvm.blk=} ;;
	mvm.net=*) net=${arg#mvm.net=} ;;
	mvm.exec=*) script=${arg#mvm.exec=} ;;
	esac
done
set +f

# mvm.blk=write:TOKEN writes "TOKEN" to the start of /dev/vdb and flushes it
# (fsync, i.e. a virtio-blk flush); mvm.blk=read prints what is there. The
# integration tests use this to check persistence and read-only drives.
case $blk in
write:*)
	if printf '%s\n' "${blk#write:}" | dd of=/dev/vdb bs=512 count=1 conv=sync,fsync 2>/dev/null; then
		echo "mvm-guest: wrote vdb"
	else
		echo "mvm-guest: write to vdb failed"
	fi
	;;
read)
	echo "mvm-guest: vdb holds $(dd if=/dev/vdb bs=512 count=1 2>/dev/null | tr -d '\000' | head -n 1)"
	;;
'') ;;
*) echo "mvm-guest: unknown mvm.blk=$blk (want write:TOKEN or read)" ;;
esac

# mvm.net=HOST (eth0 set up by the kernel's ip=): ping HOST, read a line from
# HOST:8002, send one to HOST:8001, print 16 bytes of /dev/hwrng. The
# integration tests run it where guest user space works (busybox's nc: its
# wget crashes in this static build).
if [ -n "$net" ]; then
	if ping -c 3 -W 2 "$net" >/dev/null 2>&1; then
		echo "mvm-guest: ping $net ok"
	else
		echo "mvm-guest: ping $net failed"
	fi
	echo "mvm-guest: fetched $(nc -w 5 "$net" 8002 </dev/null 2>/dev/null | head -n 1)"
	echo "from-guest $(cat /etc/hostname 2>/dev/null)" | nc -w 5 "$net" 8001 && echo "mvm-guest: sent"
	echo "mvm-guest: hwrng $(head -c 16 /dev/hwrng 2>/dev/null | od -An -tx1 | tr -d ' \n')"
fi

# mvm.exec=/dev/vdX: that drive holds a shell script, padded with NULs to
# whole sectors; run it with the console as its output. The tests and
# `make demo` use it for anything that needs guest user space.
if [ -n "$script" ]; then
	tr -d '\000' <"$script" >/tmp/mvm-exec.sh
	sh /tmp/mvm-exec.sh
	echo "mvm-guest: exec status $?"
fi

if [ "$shell" = 1 ]; then
	echo "mvm-guest: starting a shell on the console; exit it to reboot"
	setsid cttyhack sh -l
fi

sync
reboot -f
# reboot(2) does not return on success; if it did, let the kernel panic
# (panic=1 on the command line turns that into a reset as well).
echo "mvm-guest: reboot -f failed" >&2
exit 1
