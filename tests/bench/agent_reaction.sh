#!/usr/bin/env bash
# tests/bench/agent_reaction.sh - how long ipsec-xdpd's policy agent takes
# from a policy file written into the configuration directory until a probe
# packet sees the new verdict (target: 1000 ms at most).  One JSON line on
# stdout: {"bench":"agent_reaction","event":"policy_file_changed","ms":MEDIAN,
# "ms_min":..,"ms_max":..,"rounds":N}; progress on stderr.
#
# Two namespaces (tests/ns/lib.sh), the dataplane on A, ipsec-xdpd in A.
# Each round: a policy that blocks A -> B is in force; the one that permits
# it replaces the stored file by rename (as configuration management does)
# at t0; from t0 on, A pings B every 10 ms until the first reply (an
# answer needs both directions to pass the new list): ms = reply - t0,
# 10 ms resolution.  Then the blocking policy is put back (not measured).
# BENCH_AGENT_ROUNDS (default 7) rounds.
. "$(dirname "$0")/../ns/lib.sh"
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
ROUNDS=${BENCH_AGENT_ROUNDS:-7}
log() { echo "bench: agent_reaction: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ -x "$IXDPD" ] || die "build first: $IXDPD is missing"
ns_setup >&2

DPID=
trap 'rc=$?; [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID"; (exit $rc); ns_teardown' EXIT

policy() { # NAME ACTION
	printf 'filter-lists:\n  b: { filters: [ { src: me, dst: 10.77.0.2 } ] }\n'
	printf 'policies:\n  %s:\n    rules:\n      - { name: r, filter-list: b, action: %s }\n' "$1" "$2"
}
policy open permit >"$T/open.yaml"
policy closed block >"$T/closed.yaml"
STORED=$T/confA/policy.yaml
put() { cp "$1" "$STORED.new" && mv -f "$STORED.new" "$STORED"; }
blocked() { ! ina ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1; }
now_ns() { date +%s%N; }

ixa load "$IF_A" --xdp-mode "$XDP_MODE" >/dev/null || die "load failed"
ixa policy apply "$T/closed.yaml" >/dev/null || die "policy apply failed"
ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$T/bpffs/a" \
	"$IXDPD" -f -C "$T/confA" -R "$T/runA" >"$T/d.log" 2>&1 &
DPID=$!
wait_until 30 test -S "$T/runA/ipsec-xdpd.sock" || die "ipsec-xdpd did not start"
blocked || die "the blocking policy does not block"

ms=()
for r in $(seq 1 "$ROUNDS"); do
	t0=$(now_ns)
	put "$T/open.yaml"
	ina ping -c 1 -i 0.01 -w 10 10.77.0.2 >/dev/null 2>&1 ||
		die "round $r: no reply within 10 s"
	t1=$(now_ns)
	ms+=($(( (t1 - t0) / 1000000 )))
	log "round $r: ${ms[-1]} ms"
	put "$T/closed.yaml"
	wait_until 10 blocked || die "round $r: the blocking policy did not come back"
done
printf '%s\n' "${ms[@]}" |
	"$(dirname "$0")/ms_json.py" agent_reaction event=policy_file_changed
