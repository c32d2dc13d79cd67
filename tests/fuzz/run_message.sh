#!/usr/bin/env bash
# Fuzz the IKE message codec (tests/fuzz/fuzz_message.c) for a bounded time.
#
#   tests/fuzz/run_message.sh [seconds]      default 30
#
# Step 1 replays each seed of tests/fuzz/corpus/message/ on its own; step 2
# fuzzes from those seeds.  New inputs go to a scratch directory, so the
# committed corpus never changes; a crashing input is kept under
# $B/fuzz/artifacts/ (B defaults to build).  Closes with "N passed, N failed"
# and exits non-zero when anything failed.  The seeds are written by
#   IKE_MSG_WRITE_SEEDS=tests/fuzz/corpus/message build/tests/test_ike_message
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
fuzzer=$B/fuzz/fuzz_message
seeds=tests/fuzz/corpus/message
seconds=${1:-30}
pass=0 fail=0

if [ ! -x "$fuzzer" ]; then
	echo "$fuzzer is missing: run make $fuzzer"
	echo "0 passed, 1 failed"
	exit 1
fi
artifacts=$B/fuzz/artifacts
scratch=$(mktemp -d /tmp/ixdp-fuzz-message.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

for seed in "$seeds"/*; do
	if "$fuzzer" -runs=1 "$seed" >"$scratch/replay.log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "seed $seed fails:"
		sed 's/^/    /' "$scratch/replay.log"
	fi
done

mkdir -p "$scratch/corpus"
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$scratch/corpus" "$seeds" \
	>"$scratch/fuzz.log" 2>&1
rc=$?
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	"$scratch/fuzz.log"
grep -E '^#[0-9]+[[:space:]]+DONE' "$scratch/fuzz.log"
if [ $rc -eq 0 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "fuzzing failed (exit $rc); artifacts in $artifacts/:"
	tail -n 60 "$scratch/fuzz.log" | sed 's/^/    /'
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
