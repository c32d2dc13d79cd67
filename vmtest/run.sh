#!/usr/bin/env bash
# The VM scenarios of `make check`: each runs in a fresh virtme-ng guest on
# Debian's 6.12 backports kernel (ESP, AH, xfrm interfaces), because the
# host kernel has none of them.  The output of every guest is shown as it
# comes; at the end, the guests that failed are named again with their
# failed checks, so a long log still ends with what went wrong.  The build
# directory B (default build) is passed into each guest.
set -u
cd "$(dirname "$0")/.."
rc=0 failed=()
out=$(mktemp /tmp/ixdp-vmrun.XXXXXX)
trap 'rm -f "$out" "$out.summary"' EXIT
for guest in vmtest/guest_*.sh; do
	echo "# $guest"
	vmtest/vm.sh "B=${B:-build} bash $guest" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	[ "$st" -eq 0 ] && continue
	rc=1
	failed+=("$guest (exit $st)")
	{
		echo "## $guest failed (exit $st):"
		grep -E '^(FAIL|not ok)|FAIL -|vm\.sh:' "$out"
		# no exit code from the guest: its last lines say where it died
		if [ "$st" -eq 255 ] || ! grep -qE '^(FAIL|not ok)|FAIL -' "$out"; then
			echo "## the guest's last lines:"
			tail -n 30 "$out"
		fi
	} >>"$out.summary"
done
if [ $rc -ne 0 ]; then
	echo "# failed guests: ${failed[*]}"
	cat "$out.summary"
fi
rm -f "$out.summary"
exit $rc
