#!/usr/bin/env bash
# tests/bench/policy_update.sh - how long a policy change over 10000
# specific filters takes, end to end: from the command's start until a
# probe packet sees the new verdict (the probe runs from before the
# command starts, as a user's traffic would).  JSON lines on stdout:
#   {"bench":"policy_update","filters":N,"policy":P,"op":OP,"ms":MEDIAN,
#    "ms_min":..,"ms_max":..,"rounds":R}
# with OP
#   apply_file_one_change  `policy apply` of the file in force with one
#                          rule's action changed (the probe's filter);
#                          first for the worst case, P = range-heavy
#                          (below), then for P = hosts
#   apply_file_full        `policy apply` of a wholly different file of as
#                          many filters (and the probe's new verdict)
#   filter_add             `filter add opener '{src: 10.77.0.1, dst:
#                          10.77.0.2}'`: a permit filter heavier than the
#                          block rule `wall` (10.77.0.1 <-> 10.77.0.0/24)
#   filter_delete          `filter delete closer '{...}'`: the block
#                          filter of the probe taken out of its list
# The filter edits push the list as `policy apply` does, only the
# difference from the list in force (docs/classifier.md, "Incremental
# updates"): what they add is the edit of the stored file (read and
# parsed once before the push; the edited text read back and written
# after it).
#
# Two namespaces (tests/ns/lib.sh), the dataplane on A, no daemon.  The
# policies (P = hosts): 5000 mirrored host filters me(10.77.0.1) <-> 10.S.x.y
# (10000 specific filters, action permit) and the probe rule, 10.77.0.1 <->
# 10.77.0.2, block or permit.  P = range-heavy: 5000 mirrored filters
# between prefixes of every length, a third with a port range, a third
# with one source port, a quarter IPv6: over the tuple space's limits, so
# only the decision tree holds the list and it is built before the flip.  Each round starts with the probe blocked;
# B sends A an echo request every 1 ms (probe.py, started before t0 and
# not answered), at t0 the apply starts, and ms = the first reply's time - t0
# (an answer needs A's ingress and egress to pass the new list).  Then the
# blocking policy is put back (not measured).  BENCH_UPDATE_ROUNDS (default 5) rounds.  First, the
# floor: the wrapper and a command that does nothing (policy_update_floor).
. "$(dirname "$0")/../ns/lib.sh"
ROUNDS=${BENCH_UPDATE_ROUNDS:-5}
HOSTS=5000
log() { echo "bench: policy_update: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ns_setup >&2
trap 'ns_teardown' EXIT

policy() { # SECOND-OCTET PROBE-ACTION: 2 x HOSTS + 2 specific filters
	local s=$1 act=$2
	printf 'filter-lists:\n  bulk:\n    filters:\n'
	python3 -c '
import sys
s, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    print("      - { src: 10.77.0.1, dst: 10.%d.%d.%d }" % (s, i // 250, i % 250 + 1))
' "$s" "$HOSTS"
	printf '  probe: { filters: [ { src: 10.77.0.1, dst: 10.77.0.2 } ] }\n'
	printf 'policies:\n  p:\n    rules:\n'
	printf '      - { name: probe, filter-list: probe, action: %s }\n' "$act"
	printf '      - { name: bulk, filter-list: bulk, action: permit }\n'
}
bulk() { # the bulk list and the lists of the filter edits' policies
	printf 'filter-lists:\n  bulk:\n    filters:\n'
	python3 -c '
import sys
for i in range(int(sys.argv[1])):
    print("      - { src: 10.77.0.1, dst: 10.1.%d.%d }" % (i // 250, i % 250 + 1))
' "$HOSTS"
	printf '  wall: { filters: [ { src: 10.77.0.1, dst: 10.77.0.0/24 } ] }\n'
	printf '  opener:\n    filters:\n      - { src: 10.77.0.1, dst: 10.77.0.250 }\n'
	printf '  closer:\n    filters:\n      - { src: 10.77.0.1, dst: 10.77.0.250 }\n'
	printf '      - { src: 10.77.0.1, dst: 10.77.0.2 }\n'
	printf 'policies:\n  p:\n    rules:\n'
	printf '      - { name: bulk, filter-list: bulk, action: permit }\n'
}
ranges() { # PROBE-ACTION: the range-heavy policy, 2 x HOSTS + 2 specific filters
	python3 - "$1" "$HOSTS" <<'PY'
import ipaddress, random, sys
act, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
def net(a):
    return str(ipaddress.ip_network(a, strict=False))
print("filter-lists:\n  bulk:\n    filters:")
for i in range(n):
    if i % 4 == 3:
        s = "fd%02x:%x::%x/%d" % (i % 256, i, i, rnd.choice([48, 56, 64, 72, 80, 96, 112, 128]))
        d = "fd99:%x::/%d" % (i, rnd.choice([32, 48, 64, 128]))
    else:
        s = "10.%d.%d.%d/%d" % (i % 200, i // 200 % 250, i % 250, rnd.randint(8, 32))
        d = "172.%d.%d.0/%d" % (16 + i % 16, i % 250, rnd.randint(12, 32))
    ports = ""
    if i % 3 == 1:
        lo = rnd.randint(1, 60000)
        ports = ", protocol: tcp, dst-port: %d-%d" % (lo, lo + rnd.randint(1, 500))
    elif i % 3 == 2:
        ports = ", protocol: udp, src-port: %d" % rnd.randint(1, 65535)
    print("      - { src: %s, dst: %s%s }" % (net(s), net(d), ports))
print("  probe: { filters: [ { src: 10.77.0.1, dst: 10.77.0.2 } ] }")
print("policies:\n  p:\n    rules:")
print("      - { name: probe, filter-list: probe, action: %s }" % act)
print("      - { name: bulk, filter-list: bulk, action: permit }")
PY
}
PROBE='{src: 10.77.0.1, dst: 10.77.0.2}'
{ bulk; printf '      - { name: wall, filter-list: wall, action: block }\n'
  printf '      - { name: opener, filter-list: opener, action: permit }\n'; } >"$T/add.yaml"
{ bulk; printf '      - { name: closer, filter-list: closer, action: block }\n'; } >"$T/delete.yaml"
policy 1 block >"$T/closed.yaml"
policy 1 permit >"$T/open.yaml"
policy 2 permit >"$T/other.yaml"
ranges block >"$T/ranges-closed.yaml"
ranges permit >"$T/ranges-open.yaml"
blocked() { ! ina ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1; }
now_ns() { date +%s%N; }

# What each OP does (timed), and what puts the probe's block back (not).
apply_file_one_change_do() { ixa policy apply "$T/open.yaml"; }
apply_file_one_change_undo() { ixa policy apply "$T/closed.yaml"; }
ranges_one_change_do() { ixa policy apply "$T/ranges-open.yaml"; }
ranges_one_change_undo() { ixa policy apply "$T/ranges-closed.yaml"; }
apply_file_full_do() { ixa policy apply "$T/other.yaml"; }
apply_file_full_undo() { ixa policy apply "$T/closed.yaml"; }
filter_add_do() { ixa filter add opener "$PROBE"; }
filter_add_undo() { ixa filter delete opener "$PROBE"; }
filter_delete_do() { ixa filter delete closer "$PROBE"; }
filter_delete_undo() { ixa filter add closer "$PROBE"; }
# The same edits with ipsec-xdpd running (started below): it makes the
# change in the stored policy it holds read, and pushes it before the
# command reads the file (ipsec-xdp(8), FILTER EDITS).  A round counts only
# when the daemon did (the command's "daemon": "pushed"), and starts when
# the daemon holds the stored file as it is (its agent's in-force hash).
ixd() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
		IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"
}
pushed_by_daemon() { # ARGS: ipsec-xdp -j ARGS, and the daemon made the change
	local out
	out=$(ixd -j "$@") || { echo "$out"; return 1; }
	grep -q '"daemon":"pushed"' <<<"$out" || { echo "not made by ipsec-xdpd: $out"; return 1; }
}
daemon_holds_stored() {
	[ "$(ixd -j status | python3 -c 'import json,sys; print((json.load(sys.stdin)["agent"]["in_force"] or {}).get("sha256"))')" = \
	  "$(sha256sum <"$T/confA/policy.yaml" | cut -d' ' -f1)" ]
}
filter_add_daemon_ready() { daemon_holds_stored; }
filter_add_daemon_do() { pushed_by_daemon filter add opener "$PROBE"; }
filter_add_daemon_undo() { ixd filter delete opener "$PROBE"; }
filter_delete_daemon_ready() { daemon_holds_stored; }
filter_delete_daemon_do() { pushed_by_daemon filter delete closer "$PROBE"; }
filter_delete_daemon_undo() { ixd filter add closer "$PROBE"; }

ixa load "$IF_A" --xdp-mode "$XDP_MODE" >/dev/null || die "load failed"

# The probe (tests/bench/probe.py): B sends A an ICMP echo request every
# 1 ms, on its own schedule whether answers come or not (iputils ping, while
# unanswered, sends only every 10 ms or so, whatever its -i: a blocked
# probe saw the new verdict up to 10 ms late), started before t0 so that
# its own start is not timed; it prints the first reply's arrival time.
# From B, not A: A's egress refusing a packet fails the send; B's sends
# always leave, and A's XDP drops them until the change.  Started without
# a shell function between, so $! is the probe itself and the round's
# kill ends it.
probe_start() {
	rm -f "$T/probe.out"    # the last round's must not be read as this one's
	ip netns exec "$NS_B" python3 "$(dirname "$0")/probe.py" 10.77.0.1 \
		>"$T/probe.out" 2>&1 &
	PROBE_PID=$!
	wait_until 10 grep -q '^sending' "$T/probe.out" ||
		die "the probe did not start: $(cat "$T/probe.out")"
	sleep 0.05      # sending, and not answered
}
# The round's probe ended, and no other left running.
probe_stop() {
	kill "$PROBE_PID" 2>/dev/null
	wait "$PROBE_PID" 2>/dev/null
	[ -z "$(ip netns pids "$NS_B")" ] ||
		die "a process is left in namespace B: $(ip netns pids "$NS_B" | xargs ps -o pid=,args= -p)"
}
probe_answered() { grep -q '^[0-9]' "$T/probe.out"; }
# ms from T0 (ns) to the probe's first reply, once there is one
first_reply_ms() {
	local at
	at=$(grep -m1 '^[0-9]' "$T/probe.out" | cut -d' ' -f1) || return 1
	[ "$at" -ge "$1" ] || { log "a reply before the change: the probe was not blocked"; return 1; }
	echo $(( (at - $1) / 1000000 ))
}

# OP FILE [POLICY [JSON-OP [DAEMON]]]: FILE applied (the probe blocked),
# then ROUNDS timed OPs over it (each once OP_ready holds, if defined), one
# JSON line
measure() {
	local op=$1 file=$2 pol=${3:-hosts} jop=${4:-$1} daemon=${5:-none} ms=() r t0 n
	ixa policy apply "$file" >/dev/null || die "$op: policy apply $file failed"
	n=$(ixa show filters --specific | grep -c '^ *[0-9]') ||
		die "cannot count the specific filters"
	wait_until 10 blocked || die "$op: the blocking policy does not block"
	log "$op: $n specific filters in force"
	for r in $(seq 1 "$ROUNDS"); do
		! declare -F "${op}_ready" >/dev/null || wait_until 10 "${op}_ready" ||
			die "$op round $r: not ready"
		probe_start
		t0=$(now_ns)
		# the command alone on the CPUs with the probe: the probe notes
		# when the reply came, so nothing else runs until the command ends
		"${op}_do" >"$T/apply.out" 2>&1 ||
			die "$op round $r: $op failed: $(cat "$T/apply.out")"
		wait_until 30 probe_answered ||
			die "$op round $r: no reply within 30 s"
		ms+=($(first_reply_ms "$t0")) || die "$op round $r: no time for the reply"
		probe_stop
		log "$op round $r: ${ms[-1]} ms"
		"${op}_undo" >"$T/undo.out" 2>&1 || die "$op round $r: undo failed: $(cat "$T/undo.out")"
		wait_until 10 blocked || die "$op round $r: the block did not come back"
	done
	printf '%s\n' "${ms[@]}" |
		"$(dirname "$0")/ms_json.py" policy_update filters="$n" policy="$pol" op="$jop" \
		daemon="$daemon"
}
# The floor under every figure: the same wrapper (`ip netns exec`, env)
# starting the command, which then does nothing (`--version`), timed alike:
#   {"bench":"policy_update_floor","op":"version","ms":MEDIAN,...}
floor() {
	local ms=() r t0
	for r in $(seq 1 "$ROUNDS"); do
		t0=$(now_ns)
		ixa --version >/dev/null || die "ipsec-xdp --version failed"
		ms+=($(( ($(now_ns) - t0) / 1000000 )))
	done
	printf '%s\n' "${ms[@]}" |
		"$(dirname "$0")/ms_json.py" policy_update_floor op=version
}
floor
measure ranges_one_change "$T/ranges-closed.yaml" range-heavy apply_file_one_change
measure apply_file_one_change "$T/closed.yaml"
measure apply_file_full "$T/closed.yaml"
measure filter_add "$T/add.yaml"
measure filter_delete "$T/delete.yaml"
IXDPD=${IXDPD:-$(dirname "$IXDP")/ipsec-xdpd}
ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$T/bpffs/a" \
	"$IXDPD" -f -C "$T/confA" -R "$T/runA" >"$T/d.log" 2>&1 &
wait_until 30 test -S "$T/runA/ipsec-xdpd.sock" || die "ipsec-xdpd did not start: $(cat "$T/d.log")"
measure filter_add_daemon "$T/add.yaml" hosts filter_add ipsec-xdpd
measure filter_delete_daemon "$T/delete.yaml" hosts filter_delete ipsec-xdpd
