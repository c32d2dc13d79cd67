#!/usr/bin/env bash
# daemon_lib.sh - one ipsec-xdpd in namespace A with the dataplane pinned
# under $T/bpffs/a, for the tests of its policy agent, policy sources and
# loadinterfaces (test_autoload.sh).
# Source it after lib.sh; it sets up the namespaces (ns_setup).  The caller
# sets its own EXIT trap and calls stop_daemon in it.
#
#   start_daemon   ipsec-xdpd -f in A (CONFDIR $T/confA, RUNDIR $T/runA,
#                  and the options in the array IXDPD_ARGS, if set),
#                  its log appended to $T/d.log; 1 (with the log) when its
#                  control socket does not appear within 30 s
#   stop_daemon    TERM it and wait (nothing when none runs)
#   ixr CMD...     ipsec-xdp in A with A's configuration, pins and daemon
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
ns_setup

DPID=
stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

ixr() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
		IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"
}

start_daemon() {
	ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$T/bpffs/a" \
		"$IXDPD" -f -C "$T/confA" -R "$T/runA" ${IXDPD_ARGS[@]+"${IXDPD_ARGS[@]}"} \
		>>"$T/d.log" 2>&1 &
	DPID=$!
	wait_until 30 test -S "$T/runA/ipsec-xdpd.sock" && return 0
	echo "ipsec-xdpd did not start:"; cat "$T/d.log"
	return 1
}
