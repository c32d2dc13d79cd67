#!/usr/bin/env bash
# filter_edit_lib.sh - what test_filter_edit.sh and
# test_filter_edit_daemon.sh share.  Source it after daemon_lib.sh (ixr).
#
#   rule_count RULE      the packets RULE's specific filters counted
#   ixr_ro ARGS...       ixr with $T/confA read-only, in a mount namespace
#                        of its own (the stored policy cannot be written)
#   adds_at_once PORT... `filter add blocked` of TCP to 10.77.0.2:PORT, one
#                        command per port, all started at once; prints
#                        their exit statuses
rule_count() {
	ixr -j show filters --specific | json_get \
		"sum(f['packets_out'] + f['packets_in'] for f in d['specific_filters'] if f['rule'] == '$1')"
}

ixr_ro() {
	ip netns exec "$NS_A" unshare -m env D="$T/confA" IXDP="$IXDP" \
		IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
		IPSEC_XDP_RUNDIR="$T/runA" sh -c \
		'mount --bind "$D" "$D" && mount -o remount,bind,ro "$D" && exec "$IXDP" "$@"' \
		ixr_ro "$@"
}

adds_at_once() {
	local pids=() rcs=() p
	for p in "$@"; do
		ixr filter add blocked "{src: me, dst: 10.77.0.2, protocol: tcp, dst-port: $p}" \
			>"$T/add$p.out" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
		rcs+=($?)
	done
	echo "${rcs[*]}"
}
