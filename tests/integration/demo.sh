#!/usr/bin/env bash
# make demo: boot the default Linux guest once and show how long it took.
set -euo pipefail
MVM=${1:-build/bin/mvm}
GUEST=${2:-build/guest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A fresh copy: boots here end without unmounting the root filesystem.
cp "$GUEST/rootfs.ext4" "$work/rootfs.ext4"
cat >"$work/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$GUEST/vmlinux",
                  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$work/rootfs.ext4",
              "is_root_device": true, "is_read_only": false}],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}
}
JSON

if [[ -e /sys/module/kvm_pvm ]]; then
	echo "demo: this host's /dev/kvm is kvm_pvm (software): Linux takes about a minute to"
	echo "demo: reach init here and its user space cannot run, so the boot ends at"
	echo "demo: 'Run /sbin/init' and a clean reset. On hardware KVM it takes milliseconds."
fi
echo "demo: $MVM --no-api --config-file $work/vm.json --boot-timer"
start=$(date +%s%N)
"$MVM" --no-api --config-file "$work/vm.json" --boot-timer 2>&1 | tee "$work/console.log" |
	while IFS= read -r line; do
		now=$(date +%s%N)
		printf '[+%6d ms] %s\n' $(((now - start) / 1000000)) "$line"
	done
rc=${PIPESTATUS[0]}
end=$(date +%s%N)
echo
echo "demo: mvm exited with $rc after $(((end - start) / 1000000)) ms"
grep -E 'VM built|first KVM_RUN|Guest-boot-time' "$work/console.log" | sed 's/^[^]]*] /demo: /' || true
init=$(grep -m1 -E 'Run /s?b?i?n?/?init as init process' "$work/console.log" || true)
[[ -n "$init" ]] && echo "demo: kernel reached init: ${init}"
exit "$rc"
