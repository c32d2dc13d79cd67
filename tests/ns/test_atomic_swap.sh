#!/usr/bin/env bash
# Atomic policy swap under traffic (SPEC §4): two policies that permit ping
# and block UDP port 6000 in differently shaped filters are swapped back
# and forth while B pings A and sends UDP to port 6000.  A packet sees the
# old list or the new one, never a mix: no ping is lost, no datagram
# arrives.
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

before=$(ixa -j show stats | json_get 'd["drops"]["block_filter"]')
ina timeout 30 nc -u -l -n -k 6000 >"$T/udp-received" 2>/dev/null &
inb ping -q -i 0.002 -c 3000 10.77.0.1 >"$T/ping.out" 2>&1 &
pinger=$!
( for i in $(seq 1 3000); do echo "u$i"; sleep 0.002; done ) |
	inb timeout 30 nc -u -n -q 1 10.77.0.1 6000 >/dev/null 2>&1 &
swaps=0
while kill -0 $pinger 2>/dev/null && [ $swaps -lt 200 ]; do
	ixa policy apply "$T/p1.yaml" >/dev/null && ixa policy apply "$T/p2.yaml" >/dev/null || break
	swaps=$((swaps + 2))
done
wait $pinger
echo "# $swaps swaps during the ping run"
check "at least 20 swaps happened under traffic" test "$swaps" -ge 20
check "no ping lost across the swaps" grep -q " 0% packet loss" "$T/ping.out"
check_eq "no blocked datagram got through" 0 "$(wc -c <"$T/udp-received")"
after=$(ixa -j show stats | json_get 'd["drops"]["block_filter"]')
check "the datagrams were sent and dropped by a block filter ($((after - before)))" \
	test $((after - before)) -ge 1000
finish
