#!/usr/bin/env bash
# Fuzz the key holder message codec (tests/fuzz/fuzz_keymsg.c) for a bounded time.
#
#   tests/fuzz/run_keymsg.sh [seconds]      default 15
#
# Step 1 replays each seed of tests/fuzz/corpus/keymsg/ on its own; step 2
# fuzzes from those seeds.  New inputs go to a scratch directory, so the
# committed corpus never changes; a crashing input is kept under
# $B/fuzz/artifacts/ (B defaults to build).  Closes with "N passed, N failed"
# and exits non-zero when anything failed.  The seeds are one message of
# each kind (written by hand from the layout in ike/wire/wire_keymsg.h).
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
fuzzer=$B/fuzz/fuzz_keymsg
seeds=tests/fuzz/corpus/keymsg
seconds=${1:-15}
pass=0 fail=0

if [ ! -x "$fuzzer" ]; then
	echo "$fuzzer is missing: run make $fuzzer"
	echo "0 passed, 1 failed"
	exit 1
fi
artifacts=$B/fuzz/artifacts
scratch=$(mktemp -d /tmp/ixdp-fuzz-keymsg.XXXXXX)
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
