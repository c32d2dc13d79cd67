#!/usr/bin/env bash
# Every environment variable the programs read is documented in the
# ENVIRONMENT section of the man page of the program that reads it:
# getenv("NAME") and tunable_from_env("NAME", ...) in ctl/ and the lib/
# files the command uses go to ipsec-xdp(8), those in ike/ to
# ipsec-xdpd(8); a name read in lib/ must be in at least one of them.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/pkg/lib.sh"

# The names read in the files under the given directories.
names_read() {
	grep -rhoE '(getenv|tunable_from_env)\("[A-Z_][A-Z0-9_]*"' "$@" |
		sed -E 's/.*\("//; s/"$//' | sort -u
}

# The .B lines of the ENVIRONMENT section of a man page.
env_section() {
	awk '/^\.SH ENVIRONMENT/ { on = 1; next } /^\.SH / { on = 0 }
	     on && /^\.B [A-Z_]/ { print $2 }' "$1" | sort -u
}

ctl_names=$(names_read "$TOP/ctl")
ike_names=$(names_read "$TOP/ike")
lib_names=$(names_read "$TOP/lib")
ctl_doc=$(env_section "$TOP/man/ipsec-xdp.8")
ike_doc=$(env_section "$TOP/man/ipsec-xdpd.8")

[ -n "$ctl_names" ] && [ -n "$ike_names" ] && [ -n "$lib_names" ] ||
	fail "no getenv found: the pattern no longer matches the sources"
for n in $ctl_names; do
	check "ipsec-xdp(8) ENVIRONMENT documents $n (read in ctl/)" grep -qx "$n" <<<"$ctl_doc"
done
for n in $ike_names; do
	check "ipsec-xdpd(8) ENVIRONMENT documents $n (read in ike/)" grep -qx "$n" <<<"$ike_doc"
done
for n in $lib_names; do
	check "a man page's ENVIRONMENT documents $n (read in lib/)" \
		grep -qx "$n" <<<"$ctl_doc"$'\n'"$ike_doc"
done
# The command reads what lib/ reads for it (pin root, lock, directories).
for n in IPSEC_XDP_CONFDIR IPSEC_XDP_STATEDIR IPSEC_XDP_BPFFS IPSEC_XDP_LOCK_WAIT IPSEC_XDP_RESOLV_CONF; do
	check "ipsec-xdp(8) ENVIRONMENT documents $n" grep -qx "$n" <<<"$ctl_doc"
done
for n in IPSEC_XDP_CONFDIR IPSEC_XDP_STATEDIR IPSEC_XDP_BPFFS IPSEC_XDP_RESOLV_CONF JOURNAL_STREAM NOTIFY_SOCKET; do
	check "ipsec-xdpd(8) ENVIRONMENT documents $n" grep -qx "$n" <<<"$ike_doc"
done
finish
