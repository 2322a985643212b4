#!/usr/bin/env bash
# make demo [DEMO_CMD='shell command']: boot the default Linux guest, run a
# shell command in its user space, print what it printed, the guest's boot
# time (InstanceStart -> init's boot-timer write) and the wall time.
# `make demo` runs this through tests/testbed/testbed exec: directly where
# KVM runs guest user space, inside the nested-KVM test bed elsewhere.
set -euo pipefail
MVM=${1:-build/bin/mvm}
GUEST=${2:-build/guest}
CMD=${3:-'echo "hello from $(uname -sr) in a microVM: $(nproc) vCPU, $(($(sed -n "s/MemTotal: *\([0-9]*\).*/\1/p" /proc/meminfo) / 1024)) MiB, root on $(sed -n "s| / .*||p" /proc/mounts)"'}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A fresh copy: the guest reboots without unmounting its root filesystem.
cp "$GUEST/rootfs.ext4" "$work/rootfs.ext4"
# The command rides on a second drive; the guest's init runs it (mvm.exec=).
printf '%s\n' "$CMD" >"$work/cmd.img"
truncate -s 4096 "$work/cmd.img"
cat >"$work/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$GUEST/vmlinux",
                  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off quiet mvm.exec=/dev/vdb"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$work/rootfs.ext4",
              "is_root_device": true, "is_read_only": false},
             {"drive_id": "cmd", "path_on_host": "$work/cmd.img",
              "is_root_device": false, "is_read_only": true}],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}
}
JSON

echo "demo: $MVM --no-api --config-file $work/vm.json --boot-timer"
echo "demo: the guest runs: $CMD"
start=$(date +%s%N)
set +e
"$MVM" --no-api --config-file "$work/vm.json" --boot-timer >"$work/console.log" 2>&1
rc=$?
set -e
end=$(date +%s%N)
# mvm's own log lines start with a date; the kernel's with "[ seconds ]".
while IFS= read -r line; do
	case $line in
	[0-9][0-9][0-9][0-9]-*) [[ $line == *"VM built"* || $line == *Guest-boot-time* ]] &&
		echo "mvm  | ${line#*] }" ;;
	'[ '* | '') ;;
	*) echo "guest| ${line#mvm-guest: }" ;;
	esac
done <"$work/console.log"
echo
boot=$(sed -n 's/.*Guest-boot-time = *\([0-9]*\) us.*/\1/p' "$work/console.log" | head -n 1)
echo "demo: guest boot time (InstanceStart -> init): ${boot:-none} us"
echo "demo: wall time (mvm start -> exit): $(((end - start) / 1000000)) ms, mvm exit status $rc"
grep -q 'mvm-guest: exec status 0' "$work/console.log" || {
	echo "demo: the command did not run to success in the guest; its console:"
	tail -n 40 "$work/console.log"
	exit 1
}
exit "$rc"
