#!/bin/busybox sh
# The test bed's /init, inside its initramfs (testbed prepare fills in the
# module list). It loads the modules, mounts the host's / over 9p, gives it
# what a host's root has at run time (proc, sys, dev, tmpfs on /tmp, /run and
# /dev/shm, cgroup2), switches root into it and runs the command that
# `testbed run` left in the folder named by mvm_testbed= on the kernel command
# line, then writes its exit status there and powers the bed off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

off() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}

work=$(sed -n 's/.*mvm_testbed=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$work" ] || { echo "testbed: no mvm_testbed= on the command line"; off; }

for m in @MODULES@; do
	insmod /mods/$m.ko 2>/dev/null || echo "testbed: module $m did not load"
done
ip link set lo up
hostname mvm-testbed

# cache=loose: the host does not change these files while the bed runs, and
# every exec and read of the host's binaries would otherwise cross 9p again.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,access=any,cache=loose hostroot /host ||
	{ echo "testbed: cannot mount the host's / over 9p"; off; }
[ -d "/host$work" ] || { echo "testbed: /host$work is not there"; off; }

# Sockets and FIFOs cannot be made on 9p: /tmp, /run and /dev/shm are tmpfs.
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=755 tmpfs /host/run
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup
ln -sf /proc/self/fd /host/dev/fd
# As udev leaves them on a host.
chmod 666 /host/dev/net/tun 2>/dev/null
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
# The way out: after the command, 9p may already be going away.
mkdir -p /host/run/testbed
cp /bin/busybox /host/run/testbed/busybox

exec switch_root /host /bin/bash -c '
	w=$1
	. "$w/env"
	export MVM_IN_TESTBED=1
	cd "$(cat "$w/cwd")" && mapfile -d "" -t A <"$w/cmd" || exit 98
	# The console is a terminal; where the caller'"'"'s output is not, the
	# command'"'"'s is not either (no progress bars redrawn with CRs in a log).
	# Everything before this line is firmware and kernel noise (the host
	# drops it); a newline first, in case the noise did not end its line.
	printf "\n@@mvm-testbed-begin@@\n"
	if [ -e "$w/notty" ]; then
		"${A[@]}" </dev/null 2>&1 | cat
		rc=${PIPESTATUS[0]}
	else
		"${A[@]}" </dev/null
		rc=$?
	fi
	echo $rc >"$w/rc"
	sync
	exec /run/testbed/busybox poweroff -f' bed "$work"
