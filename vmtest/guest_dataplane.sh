#!/usr/bin/env bash
# Inside the 6.12 VM: the dataplane loads there too, and permit / block
# behave as on the host (the namespace tests, run on this kernel).
set -u
cd "$(dirname "$0")/.."
modprobe veth 2>/dev/null
rc=0
for t in tests/ns/test_policy.sh; do
	echo "## $t (kernel $(uname -r))"
	bash "$t" || rc=1
done
exit $rc
