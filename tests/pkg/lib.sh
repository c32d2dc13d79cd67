# tests/pkg/lib.sh - checks shared by the packaging tests (no namespaces).
CHECKS=0
FAILS=0

# check DESCRIPTION CMD...: CMD succeeds.
check() {
	local what=$1 out
	shift
	CHECKS=$((CHECKS + 1))
	if out=$("$@" 2>&1); then
		echo "ok   - $what"
	else
		FAILS=$((FAILS + 1))
		echo "FAIL - $what"
		[ -n "$out" ] && sed 's/^/#   /' <<<"$out" | head -20
	fi
	return 0
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL - $*"
}

finish() {
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
