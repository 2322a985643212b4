#!/bin/sh
# mvm-jailer's cgroup v2 path with the cpu, memory and pids controllers, on a
# kernel whose cgroup v2 has them all: for hosts where it does not (a hybrid
# host binds cpu and memory to cgroup v1, so tests/integration/test_jailer.py
# skips jail_cgroup_cpu_and_memory there).
#
# Boots Debian's cloud kernel under QEMU's software emulator (about 5 s) with
# an initramfs holding a static mvm-jailer and a static stand-in for mvm,
# jails the stand-in with --cgroup cpu.max/memory.max/pids.max, --new-pid-ns
# and --daemonize, and checks what the jailer built and what it cleaned up.
#
# Needs: make (the jailer's objects), qemu-system-x86, linux-image-cloud-amd64,
# busybox-static, libcap-dev.   Usage: jailer/cgroup-v2-check.sh
set -eu
cd "$(dirname "$0")/.."
KERNEL=${KERNEL:-$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -1)}
[ -n "$KERNEL" ] || { echo "no /boot/vmlinuz-*-cloud-amd64: apt-get install linux-image-cloud-amd64"; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/i/bin" "$W/i/proc" "$W/i/sys" "$W/i/dev" "$W/i/srv" "$W/i/new"

make -s build/bin/mvm-jailer
cc -static -o "$W/i/bin/mvm-jailer" build/obj/jailer/*.o build/obj/lib/util.o -lcap
printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' > "$W/mvm.c"
cc -static -o "$W/i/bin/mvm" "$W/mvm.c"
cp "$(command -v busybox)" "$W/i/bin/"
for c in sh mount umount cp mkdir cat grep sleep poweroff switch_root; do ln -s busybox "$W/i/bin/$c"; done

# pivot_root cannot leave the initramfs: move to a tmpfs first, as a real host would be.
cat > "$W/i/init" <<'EOF'
#!/bin/sh
mount -t tmpfs -o size=64m new /new
cp -a /bin /srv /check /new/; mkdir /new/proc /new/sys /new/dev
exec switch_root /new /check
EOF
cat > "$W/i/check" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t cgroup2 none /sys/fs/cgroup
fail() { echo "CGROUP-V2-CHECK: FAIL: $*"; poweroff -f; }
J="/bin/mvm-jailer --exec-file /bin/mvm --uid 1234 --gid 1234"
$J --id vm1 --cgroup "cpu.max=50000 100000" --cgroup memory.max=268435456 \
   --cgroup pids.max=64 --new-pid-ns --daemonize || fail "jailer exit $?"
P=$(cat /srv/jailer/mvm/vm1/root/mvm.pid)
[ "$(grep ^0:: /proc/$P/cgroup)" = "0::/mvm/vm1" ] || fail "cgroup $(cat /proc/$P/cgroup)"
[ "$(cat /sys/fs/cgroup/mvm/vm1/cpu.max)" = "50000 100000" ] || fail cpu.max
[ "$(cat /sys/fs/cgroup/mvm/vm1/memory.max)" = 268435456 ] || fail memory.max
[ "$(cat /sys/fs/cgroup/mvm/vm1/pids.max)" = 64 ] || fail pids.max
grep -q "^NSpid:	$P	1$" /proc/$P/status || fail "not PID 1 of a new namespace"
grep -q "^CapEff:	0000000000000000$" /proc/$P/status || fail capabilities
$J --id vm2 --cgroup cpu.nosuch=1 --parent-cgroup a/b 2>/dev/null && fail "bad knob accepted"
[ ! -e /sys/fs/cgroup/a ] && [ ! -e /srv/jailer/mvm/vm2 ] || fail "bad knob left things behind"
mkdir /sys/fs/cgroup/busy; echo $$ > /sys/fs/cgroup/busy/cgroup.procs
$J --id vm3 --cgroup memory.max=1000000 --parent-cgroup busy 2>&1 | grep -q "no-internal-process" ||
	fail "no clear error for a parent cgroup that holds processes"
echo "CGROUP-V2-CHECK: PASS"
poweroff -f
EOF
chmod 755 "$W/i/init" "$W/i/check"
(cd "$W/i" && find . | cpio -o -H newc 2>/dev/null) > "$W/initrd"
timeout 300 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -kernel "$KERNEL" \
	-initrd "$W/initrd" -append "console=ttyS0 quiet panic=-1" </dev/null 2>&1 |
	tee "$W/log" | grep -ao "CGROUP-V2-CHECK.*" || { tail -20 "$W/log"; exit 1; }
grep -q "CGROUP-V2-CHECK: PASS" "$W/log"
