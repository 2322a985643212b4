#!/usr/bin/env bash
# make fuzz / make fuzz-regress: run the libFuzzer targets of tests/fuzz/.
#
#   run.sh --bin build/fuzz --seconds 60 TARGET...   replay, then fuzz each target
#   run.sh --bin build/fuzz --regress TARGET...      replay only (seconds)
#
# Replay: every kept regression (tests/fuzz/regressions/<target>/) and seed
# (corpus/<target>/) once. Fuzzing: a scratch copy of both in
# build/fuzz/work/<target>/ (new inputs land there, never in the tree), the
# target's dictionary and input size cap; one line per target with its
# executions, exec/s, coverage, corpus and crashes. A crash leaves its input in
# build/fuzz/crashes/<target>/. Exit 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/../.."

FUZZ_DIR=tests/fuzz
bin= seconds=60 regress=0 targets=()
while (($#)); do
	case "$1" in
	--bin)
		bin=$2
		shift
		;;
	--seconds)
		seconds=$2
		shift
		;;
	--regress) regress=1 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
[[ -n "$bin" && ${#targets[@]} -gt 0 ]] || {
	echo "usage: $0 --bin DIR [--seconds N | --regress] TARGET..." >&2
	exit 2
}

# The largest input each target is given: what its parser meets in practice.
max_len() {
	case "$1" in
	http) echo 8192 ;;            # requests (headers are capped at 8 KiB)
	json_config) echo 4096 ;;     # bodies and config files
	snapshot_state) echo 16384 ;; # state files without vCPU sections
	loaders) echo 32768 ;;        # the test guests are about 21 KiB
	*) echo 4096 ;;
	esac
}

# Each kept input once; false if one crashes.
replay() {
	local t=$1 files
	mapfile -t files < <(find "$FUZZ_DIR/regressions/$t" "$FUZZ_DIR/corpus/$t" -type f 2>/dev/null | sort)
	((${#files[@]})) || return 0
	local log=$bin/log/$t.replay
	if ! "$bin/fuzz_$t" -runs=1 "${files[@]}" >"$log" 2>&1; then
		echo "fuzz: $t: a kept input crashes (${#files[@]} replayed): see $log" >&2
		grep -m1 -A3 -E "ERROR: |runtime error|invariant broken" "$log" >&2
		return 1
	fi
	echo "fuzz: $t: ${#files[@]} regressions and seeds replayed, no crash"
}

# The last value of `key: N` (or `key N`) in a libFuzzer log.
stat_of() {
	grep -oE "$2:? +[0-9]+" "$1" | tail -1 | grep -oE '[0-9]+$' || echo '?'
}

fuzz() {
	local t=$1 work=$bin/work/$t crashes=$bin/crashes/$t log=$bin/log/$t.fuzz rc
	rm -rf "$work" && mkdir -p "$work" "$crashes"
	find "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/regressions/$t" -type f -exec cp -t "$work" {} + 2>/dev/null
	local dict=()
	[[ -f $FUZZ_DIR/dict/$t.dict ]] && dict=(-dict="$FUZZ_DIR/dict/$t.dict")
	"$bin/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "${dict[@]}" "$work" >"$log" 2>&1
	rc=$?
	local n found
	found=$(find "$crashes" -type f | wc -l)
	n=$(stat_of "$log" 'stat::number_of_executed_units')
	printf 'fuzz: %-15s %10s executions %8s exec/s  cov %5s  ft %6s  corpus %5s  crashes %s\n' \
		"$t" "$n" "$(stat_of "$log" 'stat::average_exec_per_sec')" "$(stat_of "$log" cov)" \
		"$(stat_of "$log" ft)" "$(find "$work" -type f | wc -l)" "$found"
	if ((rc != 0 || found > 0)); then
		echo "fuzz: $t: exit $rc, inputs in $crashes/ (log $log); minimise one with" >&2
		echo "  $bin/fuzz_$t -minimize_crash=1 -runs=100000 FILE" >&2
		echo "  and keep it in $FUZZ_DIR/regressions/$t/ with the fix" >&2
		grep -m1 -A3 -E "ERROR: |runtime error|invariant broken" "$log" >&2
		return 1
	fi
}

# Stack traces with file and line: llvm-14's symbolizer, wherever it is.
for s in /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer)"; do
	[[ -x "$s" ]] && export ASAN_SYMBOLIZER_PATH=$s && break
done
mkdir -p "$bin/log"
failed=()
for t in "${targets[@]}"; do
	if ! replay "$t"; then
		failed+=("$t")
		continue
	fi
	((regress)) && continue
	fuzz "$t" || failed+=("$t")
done
if ((${#failed[@]})); then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
