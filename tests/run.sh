#!/usr/bin/env bash
# Run each test program or script given, one after another, and close with
# one line "check: N passed, N failed".  A test that exits 77 is skipped.
# Output of a failing test is shown in full; a passing one is kept short
# unless VERBOSE=1.
set -u
pass=0 fail=0 skip=0 failed=()
logdir=$(mktemp -d /tmp/ixdp-check.XXXXXX)
for t in "$@"; do
	name=${t#./}
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	"$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${secs}s)"
		[ "${VERBOSE:-0}" = 1 ] && cat "$log"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)"
		sed 's/^/    /' "$log"
	fi
done
rm -rf "$logdir"
[ $fail -eq 0 ] || echo "failed: ${failed[*]}"
echo "check: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
