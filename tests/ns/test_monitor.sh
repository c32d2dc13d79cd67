#!/usr/bin/env bash
# `ipsec-xdp monitor` (issue 14, live events): dropped packets appear with
# the filter, rule and reason; a flood is rate limited (the events shown are
# bounded by the token bucket of include/ipsec_xdp.h, and every drop is
# either shown or counted as suppressed/lost); a policy change is shown;
# the monitor stops cleanly on SIGINT and on SIGTERM.
. "$(dirname "$0")/lib.sh"
ns_setup

cat >"$T/block.yaml" <<'YAML'
filter-lists:
  udp9:
    filters:
      - { src: 10.77.0.2, dst: me, protocol: udp, dst-port: 9999 }
policies:
  mon:
    rules:
      - { name: no-udp9, filter-list: udp9, action: block }
YAML

# send_udp COUNT [GAP]: B sends COUNT datagrams to A's UDP port 9999, GAP
# seconds apart (default none).  The sender is pinned to CPU 0: a veth
# runs the receiver's XDP on the sender's CPU, so every drop is counted in
# one CPU's rate-limit state (the one a later event reports).
send_udp() {
	inb taskset -c 0 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
gap = float(sys.argv[2])
for i in range(int(sys.argv[1])):
    try:
        s.sendto(b"x", ("10.77.0.1", 9999))
    except OSError:
        pass
    if gap:
        time.sleep(gap)' "$1" "${2:-0}"
}
block_drops() { ixa -j show stats | json_get 'd["drops"]["block_filter"]'; }
# monitor_start FILE: `monitor -j` in A in the background (pid in MON),
# returns once it prints (its first policy line needs no traffic: it
# waits until the ring is open by checking its fd list).
monitor_start() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
		IPSEC_XDP_RUNDIR="$T/run-none" "$IXDP" -j monitor >"$1" 2>"$1.err" &
	MON=$!
	wait_until 10 grep -q "dataplane events only" "$1.err"
}
monitor_stop() {	# monitor_stop SIGNAL: 0 if it exited 0
	kill "-$1" "$MON"
	wait "$MON"
}
count_drops() { python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["event"] == "drop":
        n += 1
print(n)' "$1"; }
summary_of() { grep '"summary"' "$1" | json_get "$2"; }

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply a blocking policy" ixa policy apply "$T/block.yaml"

# ---- a few blocked packets: one JSON line each -----------------------------
check "monitor starts (no daemon: says so)" monitor_start "$T/m1"
check "send 5 blocked datagrams" send_udp 5
wait_until 10 test "$(count_drops "$T/m1")" -ge 5
check "monitor stops on SIGINT with 0" monitor_stop INT
check_eq "5 drop events" 5 "$(count_drops "$T/m1")"
first=$(grep -m1 '"event":"drop"' "$T/m1")
check_eq "reason" block_filter "$(json_get 'd["reason"]' <<<"$first")"
check_eq "rule" no-udp9 "$(json_get 'd["rule"]' <<<"$first")"
check "filter index" test "$(json_get 'd["filter"]' <<<"$first")" -ge 0
check_eq "packet" "in udp 10.77.0.2 -> 10.77.0.1:9999" \
	"$(json_get 'd["dir"]+" "+d["proto"]+" "+d["src"]+" -> "+d["dst"]+":"+str(d["dport"])' <<<"$first")"
check_eq "summary: nothing suppressed" 0 "$(summary_of "$T/m1" 'd["suppressed"]')"

# ---- a flood: bounded by the rate limit, every drop accounted for ----------
before=$(block_drops)
t0=$(date +%s%N)
check "monitor starts again" monitor_start "$T/m2"
check "flood: 5000 blocked datagrams" send_udp 5000
# After the flood a token comes back every 10 ms: a few datagrams 30 ms
# apart get events, and the first carries what the flood left suppressed
# (however fast the flood was).
check "after the flood: 5 datagrams 30 ms apart" send_udp 5 0.03
after=$(block_drops)
check "monitor stops on SIGTERM with 0" monitor_stop TERM
t1=$(date +%s%N)
shown=$(count_drops "$T/m2")
suppressed=$(summary_of "$T/m2" 'd["suppressed"]')
lost=$(summary_of "$T/m2" 'd["lost"]')
cpus=$(nproc --all)
# The token bucket: per CPU 32 at once, then one per 10 ms of the time the
# monitor ran (t1 - t0 is longer).
bound=$(( cpus * (32 + (t1 - t0) / 10000000 + 1) ))
echo "# flood: $((after - before)) dropped, $shown shown, $suppressed suppressed, $lost lost, bound $bound"
check "flood: events shown within the rate limit ($shown <= $bound)" test "$shown" -le "$bound"
check "flood: suppressed drops reported" test "$suppressed" -gt 0
check_eq "flood: every drop shown, suppressed or lost" "$((after - before))" \
	"$((shown + suppressed + lost))"
check_eq "summary counts the events shown" "$shown" "$(summary_of "$T/m2" 'd["drop_events"]')"
sum_field=$(python3 -c '
import json, sys
print(sum(json.loads(l).get("suppressed", 0) for l in open(sys.argv[1]) if "\"drop\"" in l))' "$T/m2")
check "the events carry the suppressed counts" test "$sum_field" -gt 0

# ---- a policy change is shown; one monitor at a time -------------------------
check "monitor starts" monitor_start "$T/m3"
out=$(ixa monitor 2>&1)
check_eq "a second monitor is refused: exit 1" 1 "$?"
check "... saying why" grep -q "one at a time" <<<"$out"
check "unassign the policy" ixa policy unassign
check "the monitor shows the policy change" wait_until 10 grep -q '"event":"policy","has_policy":false' "$T/m3"
check "monitor stops" monitor_stop INT

finish
