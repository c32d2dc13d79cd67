#!/usr/bin/env bash
# The VM scenarios of `make check`: each runs in a fresh virtme-ng guest on
# Debian's 6.12 backports kernel (ESP, AH, xfrm interfaces), because the
# host kernel has none of them.
set -u
cd "$(dirname "$0")/.."
rc=0
for guest in vmtest/guest_*.sh; do
	echo "# $guest"
	vmtest/vm.sh bash "$guest" || rc=1
done
exit $rc
