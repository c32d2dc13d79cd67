#!/usr/bin/env bash
# A rule applies only on the interfaces it selects (ipsec-xdp.policy(5),
# connection-type and interfaces; docs/behaviour.md §3): real TCP and ICMP
# through a host A with three links -- a veth to B, a veth to C, and a
# point-to-point tun link to B (connection-type remote) -- and a fourth
# interface that appears after the policy was applied and is loaded then.
. "$(dirname "$0")/lib.sh"
ns_setup

NS_C=ixc$NS_ID IF_A2=vya$NS_ID IF_C=vyc$NS_ID
TUN_A=tua$NS_ID TUN_B=tub$NS_ID LATE_A=vza$NS_ID LATE_C=vzc$NS_ID
trap 'rc=$?; ip netns del "$NS_C" 2>/dev/null; (exit $rc); ns_teardown' EXIT
ip netns add "$NS_C" && ip -n "$NS_C" link set lo up &&
	ip link add "$IF_A2" netns "$NS_A" type veth peer name "$IF_C" netns "$NS_C" ||
	{ echo "cannot create $NS_C and veth $IF_A2"; exit 1; }
ip -n "$NS_A" addr add 10.78.0.1/24 dev "$IF_A2"
ip -n "$NS_C" addr add 10.78.0.2/24 dev "$IF_C"
ip -n "$NS_A" link set "$IF_A2" up
ip -n "$NS_C" link set "$IF_C" up

# the point-to-point link: two tun devices, one relay
python3 "$TOP/tests/ns/tun_pair.py" "$NS_A" "$TUN_A" "$NS_B" "$TUN_B" >"$T/tun.out" 2>&1 &
wait_until 10 grep -q ready "$T/tun.out" || { echo "tun_pair: $(cat "$T/tun.out")"; exit 1; }
ip -n "$NS_A" addr add 10.79.0.1 peer 10.79.0.2 dev "$TUN_A"
ip -n "$NS_B" addr add 10.79.0.2 peer 10.79.0.1 dev "$TUN_B"
ip -n "$NS_A" link set "$TUN_A" up
ip -n "$NS_B" link set "$TUN_B" up

# tcp_to NS ADDR PORT: a listener in NS, a connection from A to ADDR:PORT
tcp_to() {
	local ns=$1 addr=$2 port=$3
	ip netns exec "$ns" timeout 5 nc -l -n "$port" >/dev/null 2>&1 &
	local l=$!
	wait_listen "$ns" tcp "$port"
	ina timeout 4 nc -n -z -w 2 "$addr" "$port"
	local rc=$?
	kill $l 2>/dev/null; wait $l 2>/dev/null
	return $rc
}

sed -e "s/@IF_A@/$IF_A/" -e "s/@IF_A2@/$IF_A2/" -e "s/@LATE@/$LATE_A/" >"$T/ifaces.yaml" <<'YAML'
filter-lists:
  tcp9000: { filters: [ { src: me, dst: any, protocol: tcp, dst-port: 9000 } ] }
  tcp9001: { filters: [ { src: me, dst: any, protocol: tcp, dst-port: 9001 } ] }
  tcp9002: { filters: [ { src: me, dst: any, protocol: tcp, dst-port: 9002 } ] }
  tcp9003: { filters: [ { src: me, dst: any, protocol: tcp, dst-port: 9003 } ] }
  ping: { filters: [ { src: me, dst: any, protocol: icmp } ] }
  udp-in: { filters: [ { src: any, dst: me, protocol: udp, dst-port: 9101, mirrored: no } ] }
policies:
  ifaces:
    rules:
      # the same filter everywhere and on one interface: kept apart, so
      # the block holds on @IF_A@ and the permit elsewhere
      - { name: only-a1, filter-list: tcp9000, action: block, interfaces: [@IF_A@] }
      - { name: permit-9000, filter-list: tcp9000, action: permit }
      - { name: remote-only, filter-list: tcp9001, action: block, connection-type: remote }
      - { name: lan-only, filter-list: tcp9002, action: block, connection-type: lan }
      - { name: later, filter-list: tcp9003, action: block, interfaces: [@LATE@] }
      - { name: no-ping-a2, filter-list: ping, action: block, interfaces: [@IF_A2@] }
      # inbound only: decided by XDP on ingress, nothing on egress
      - { name: udp-in-remote, filter-list: udp-in, action: block, connection-type: remote }
YAML

# udp_from_b ADDR PORT: B sends one datagram to A's ADDR; 0 if A got it
udp_from_b() {
	local addr=$1 port=$2 out="$T/udp.$2.$RANDOM" i
	ip netns exec "$NS_A" timeout 8 nc -u -l -n -W 1 "$port" >"$out" 2>/dev/null &
	local l=$!
	wait_listen "$NS_A" udp "$port"
	echo hello | inb timeout 4 nc -u -n -w 1 "$addr" "$port" 2>/dev/null
	for i in $(seq 1 20); do
		grep -q hello "$out" && break
		sleep 0.1
	done
	kill $l 2>/dev/null; wait $l 2>/dev/null
	grep -q hello "$out"
}

check "load on $IF_A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "load on $IF_A2" ixa load "$IF_A2" --xdp-mode "$XDP_MODE"
check "load on the tun $TUN_A" ixa load "$TUN_A"
check "policy check accepts connection-type and interfaces" ixa policy check "$T/ifaces.yaml"
ixa policy check "$T/ifaces.yaml" >"$T/check.txt" 2>&1
check "policy check warns that $LATE_A does not exist yet" \
	grep -q "no interface '$LATE_A' now" "$T/check.txt"
check "policy apply" ixa policy apply "$T/ifaces.yaml"

# interfaces: [IF_A]
refute "tcp 9000 to B on $IF_A: blocked (its rule names $IF_A)" tcp_to "$NS_B" 10.77.0.2 9000
check "tcp 9000 to C on $IF_A2: the permit of every interface" tcp_to "$NS_C" 10.78.0.2 9000
# connection-type remote: the tun link only
refute "tcp 9001 to B over the tun: blocked (remote)" tcp_to "$NS_B" 10.79.0.2 9001
check "tcp 9001 to B on $IF_A: passes (lan)" tcp_to "$NS_B" 10.77.0.2 9001
check "tcp 9001 to C on $IF_A2: passes (lan)" tcp_to "$NS_C" 10.78.0.2 9001
# connection-type lan: both veths, not the tun
refute "tcp 9002 to B on $IF_A: blocked (lan)" tcp_to "$NS_B" 10.77.0.2 9002
refute "tcp 9002 to C on $IF_A2: blocked (lan)" tcp_to "$NS_C" 10.78.0.2 9002
check "tcp 9002 to B over the tun: passes (remote)" tcp_to "$NS_B" 10.79.0.2 9002
# inbound UDP: XDP on the tun sees IP packets without a link layer
refute "udp 9101 from B over the tun: blocked on ingress (remote)" udp_from_b 10.79.0.1 9101
check "udp 9101 from B on $IF_A: passes (lan)" udp_from_b 10.77.0.1 9101
# ICMP blocked on IF_A2 alone
refute "ping C on $IF_A2: blocked" ina ping -c 1 -W 1 10.78.0.2
check "ping B on $IF_A: passes" ping_a_to_b
check "ping B over the tun: passes" ina ping -c 1 -W 1 10.79.0.2

# what the commands say
ixa show filters --specific >"$T/filters.txt" 2>&1
check "show filters: the block of only-a1 is on $IF_A" \
	grep -Eq "only-a1 .* on $IF_A\$" "$T/filters.txt"
check "show filters: remote-only is on remote interfaces" grep -Eq "remote-only .* on remote\$" "$T/filters.txt"
check "show filters: permit-9000 names no interface" \
	bash -c "grep permit-9000 '$T/filters.txt' | grep -vq ' on '"
check "show filters -j: interfaces of lan-only" \
	bash -c "ip netns exec $NS_A env IPSEC_XDP_CONFDIR=$T/confA IPSEC_XDP_BPFFS=$T/bpffs/a \
		$IXDP -j show filters --specific | grep -Eq '\"interfaces\": ?\"lan\"'"
check_eq "match on the tun: drop" drop \
	"$(ixa -j match 10.79.0.1 10.79.0.2 tcp 40000 9001 --interface "$TUN_A" |
	   sed -n 's/.*"verdict": *"\([a-z]*\)".*/\1/p')"
check_eq "match on $IF_A: pass" pass \
	"$(ixa -j match 10.79.0.1 10.79.0.2 tcp 40000 9001 --interface "$IF_A" |
	   sed -n 's/.*"verdict": *"\([a-z]*\)".*/\1/p')"
refute "match --interface of no interface: refused" ixa match 10.0.0.1 10.0.0.2 tcp 1 2 --interface nosuch0

# an interface that appears after the apply gets the rules naming it when
# the dataplane is loaded on it
ip link add "$LATE_A" netns "$NS_A" type veth peer name "$LATE_C" netns "$NS_C"
ip -n "$NS_A" addr add 10.80.0.1/24 dev "$LATE_A"
ip -n "$NS_C" addr add 10.80.0.2/24 dev "$LATE_C"
ip -n "$NS_A" link set "$LATE_A" up
ip -n "$NS_C" link set "$LATE_C" up
check "tcp 9003 over $LATE_A before load: passes (no dataplane there)" tcp_to "$NS_C" 10.80.0.2 9003
check "load on $LATE_A" ixa load "$LATE_A" --xdp-mode "$XDP_MODE"
refute "tcp 9003 over $LATE_A: blocked (its rule names it)" tcp_to "$NS_C" 10.80.0.2 9003
check "tcp 9003 to C on $IF_A2: passes" tcp_to "$NS_C" 10.78.0.2 9003

finish
