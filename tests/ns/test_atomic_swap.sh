#!/usr/bin/env bash
# Atomic policy swap under traffic (docs/behaviour.md §4): two policies that permit ping
# and block UDP port 6000 in differently shaped filters are swapped back
# and forth while B pings A and sends UDP to port 6000.  A packet sees the
# old list or the new one, never a mix: no ping is lost, no datagram
# arrives, and every datagram B sent was counted by a block filter.
#
# Nothing here depends on how fast the machine is: the sender counts the
# datagrams it really sent, the swaps go on until the traffic and the swaps
# have overlapped (a number of each, not a time), and the counters are read
# once they have caught up (a bounded wait for a condition).
. "$(dirname "$0")/lib.sh"
ns_setup

cat >"$T/p1.yaml" <<'YAML'
filter-lists:
  ping: { filters: [ { src: me, dst: 10.77.0.2, protocol: icmp } ] }
  udp6000: { filters: [ { src: me, dst: 10.77.0.2, protocol: udp, dst-port: 6000 } ] }
  rest: { filters: [ { src: me, dst: 10.77.0.0/24 } ] }
policies:
  p1:
    rules:
      - { name: ping, filter-list: ping, action: permit }
      - { name: no-udp, filter-list: udp6000, action: block }
      - { name: rest, filter-list: rest, action: block }
YAML
cat >"$T/p2.yaml" <<'YAML'
filter-lists:
  ping: { filters: [ { src: me, dst: 10.77.0.0/25, protocol: icmp } ] }
  udp6000: { filters: [ { src: me, dst: 10.77.0.0/24, protocol: udp, dst-port: 6000-6001 } ] }
  rest: { filters: [ { src: 10.77.0.0/16, dst: 10.77.0.2 } ] }
policies:
  p2:
    rules:
      - { name: ping, filter-list: ping, action: permit }
      - { name: no-udp, filter-list: udp6000, action: block }
      - { name: rest, filter-list: rest, action: block }
YAML

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply p1" ixa policy apply "$T/p1.yaml"
check "p1: ping passes" ping_b_to_a
refute "p1: UDP 6000 blocked" udp_b_to_a 6000
check "apply p2" ixa policy apply "$T/p2.yaml"
check "p2: ping passes" ping_b_to_a
refute "p2: UDP 6000 blocked" udp_b_to_a 6000

# udp_send ADDR PORT STOP PROGRESS: one datagram every millisecond until
# the file STOP exists; PROGRESS holds how many the kernel accepted (written
# as it goes, last once it stops; "done" on a line of its own at the end).
udp_send() {
	python3 - "$@" <<'PY'
import os, socket, sys, time
addr, port, stop, progress = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def report(n, final=False):
    with open(progress + ".new", "w") as f:
        f.write("%d\n%s" % (n, "done\n" if final else ""))
    os.replace(progress + ".new", progress)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
while not os.path.exists(stop):
    try:
        s.sendto(b"u%d" % sent, (addr, port))
        sent += 1
    except OSError as e:
        print("sendto:", e, file=sys.stderr)
    if sent % 50 == 1:
        report(sent)
    time.sleep(0.001)
report(sent, True)
PY
}
# udp_count PORT STOP OUT: count the datagrams reaching PORT until the file
# STOP exists; OUT reads "listening" once bound, then the count (and "done").
udp_count() {
	python3 - "$@" <<'PY'
import os, socket, sys
port, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
s.settimeout(0.1)
with open(out, "w") as f:
    f.write("listening\n")
got = 0
while not os.path.exists(stop):
    try:
        s.recv(2048)
        got += 1
    except socket.timeout:
        pass
with open(out, "w") as f:
    f.write("%d\ndone\n" % got)
PY
}
# ping_rounds STOP: rounds of 100 pings B -> A, each run to its end (none cut
# short, so none counted lost for stopping it), until the file STOP exists.
ping_rounds() {
	while [ ! -e "$1" ]; do
		inb ping -q -i 0.002 -c 100 10.77.0.1
	done
}
sent_so_far() { head -n 1 "$T/udp-sent" 2>/dev/null || echo 0; }
ping_rounds_done() { grep -c "packets transmitted" "$T/ping.out"; }
block_drops() { ixa -j show stats | json_get 'd["drops"]["block_filter"]'; }
veth_b_tx_dropped() { inb cat "/sys/class/net/$IF_B/statistics/tx_dropped"; }

MIN_SWAPS=40 MIN_SENT=300 MIN_PING_ROUNDS=2
before=$(block_drops)
vdrop0=$(veth_b_tx_dropped)
ina bash -c "$(declare -f udp_count); udp_count 6000 '$T/stop-recv' '$T/udp-received'" &
recv=$!
check "the UDP receiver in A listens" wait_until 30 grep -q listening "$T/udp-received"
inb bash -c "$(declare -f udp_send); udp_send 10.77.0.1 6000 '$T/stop-traffic' '$T/udp-sent'" \
	2>"$T/udp-send.err" &
sender=$!
ping_rounds "$T/stop-traffic" >"$T/ping.out" 2>&1 &
pinger=$!
check "B sends datagrams" wait_until 30 test -s "$T/udp-sent"
# Swap until both kinds of traffic ran across at least MIN_SWAPS swaps; a
# bound of 300 s only ends a run that would never get there.
swaps=0 end=$((SECONDS + 300))
while [ $swaps -lt $MIN_SWAPS ] || [ "$(sent_so_far)" -lt $MIN_SENT ] ||
	[ "$(ping_rounds_done)" -lt $MIN_PING_ROUNDS ]; do
	[ $SECONDS -lt $end ] || break
	ixa policy apply "$T/p1.yaml" >/dev/null && ixa policy apply "$T/p2.yaml" >/dev/null || break
	swaps=$((swaps + 2))
done
touch "$T/stop-traffic"
wait $sender $pinger
sent=$(sent_so_far)
echo "# $swaps swaps; B sent $sent datagrams and $(ping_rounds_done) rounds of 100 pings meanwhile"
check "$MIN_SWAPS swaps, $MIN_SENT datagrams and $MIN_PING_ROUNDS ping rounds overlapped" \
	test $swaps -ge $MIN_SWAPS -a "$sent" -ge $MIN_SENT -a "$(ping_rounds_done)" -ge $MIN_PING_ROUNDS
check "the sender stopped and reported its count" grep -qx done "$T/udp-sent"
check_eq "the sender had no send error" "" "$(cat "$T/udp-send.err")"
check "no ping lost across the swaps" sh -c "! grep 'packets transmitted' '$T/ping.out' | grep -v ' 0% packet loss'"
# Datagrams a full veth queue dropped never reached the dataplane (none
# expected at one per millisecond; counted so as not to blame the filter).
vdrop=$(( $(veth_b_tx_dropped) - vdrop0 ))
expected=$((sent - vdrop))
reached() { [ $(( $(block_drops) - before )) -ge "$expected" ]; }
wait_until 30 reached
dropped=$(( $(block_drops) - before ))
check "every datagram sent was dropped by a block filter ($dropped of $sent sent, $vdrop lost on the veth)" \
	test "$dropped" -ge "$expected" -a "$expected" -ge $MIN_SENT
touch "$T/stop-recv"
wait $recv
check_eq "no blocked datagram got through" "0 done" "$(tr '\n' ' ' <"$T/udp-received" | sed 's/ $//')"
finish
