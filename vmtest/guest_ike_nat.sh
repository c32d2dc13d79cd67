#!/usr/bin/env bash
# Inside the 6.12 VM: NAT traversal (RFC 7296 §2.23, RFC 3948).  Three
# namespaces: A (ipsec-xdpd with the dataplane, 10.77.0.1, behind the NAT),
# B (the NAT: forwards and masquerades A's traffic as 192.0.2.1) and C
# (the responder, 192.0.2.2, no route back to 10.77.0.0/24).
#
#   case 1  ipsec-xdpd -> charon       tunnel     10.78.1.0/24 <-> 10.78.2.0/24
#   case 2  ipsec-xdpd -> charon       transport
#   case 3  ipsec-xdpd -> ipsec-xdpd   tunnel
#   case 4  ipsec-xdpd -> ipsec-xdpd   transport
#
# Each case: NAT detected by both sides, IKE on UDP 4500 on both, the ESP
# states UDP-encapsulated, ping through the SA with only UDP 4500 on C's
# wire (no clear ICMP, no plain ESP), NAT keepalives from A (sent every 2 s
# here) seen on C's wire and counted, the dataplane's permit (tcp 8080) and
# block (tcp 9090) filters still applied, and a Delete clearing both sides.
#
#   vmtest/vm.sh bash vmtest/guest_ike_nat.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf \
	nf_tables nf_nat nft_chain_nat nft_masq 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
. vmtest/swan_lib.sh
swan_scenario_start
A=10.77.0.1 NAT_IN=10.77.0.2 NAT_OUT=192.0.2.1 C=192.0.2.2
AIN=10.78.1.1 CIN=10.78.2.1
NS_C=ixc$NS_ID IF_BC=vbc$NS_ID IF_C=vxc$NS_ID
SW=$T/swan
KEY="correct horse battery staple"

# On a failure: what each side said.
dump_logs() {
	[ "$FAILS" -gt 0 ] || [ "$1" -ne 0 ] || return 0
	echo "---- charon.log (tail)"; grep -v "^\s*$" "$SW/charon.log" 2>/dev/null | tail -60
	echo "---- C.log (tail)"; tail -20 "$T/C.log" 2>/dev/null
	echo "---- A.log (tail)"; tail -40 "$T/A.log" 2>/dev/null
}
trap 'rc=$?; stop_daemons; swan_stop; dump_logs $rc; ip netns del $NS_C 2>/dev/null; (exit $rc); ns_teardown' EXIT

xc() { ip netns exec "$NS_C" env IPSEC_XDP_RUNDIR="$T/runC" IPSEC_XDP_CONFDIR="$T/confC" "$IXDP" "$@"; }
inc() { ip netns exec "$NS_C" "$@"; }
drop_of() { xa -j show stats | json_get "d[\"drops\"][\"$1\"]"; }
ours() { xa -j show sa | json_get "$1" 2>/dev/null; }
ikestat() { "$1" -j show ikestats | json_get "d['stats']['$2']"; }

# ---- the three namespaces -------------------------------------------------------------
ip netns add "$NS_C"
ip link add "$IF_BC" netns "$NS_B" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_B" addr add $NAT_OUT/24 dev "$IF_BC"
ip -n "$NS_C" addr add $C/24 dev "$IF_C"
ip -n "$NS_B" link set "$IF_BC" up
ip -n "$NS_C" link set "$IF_C" up
ip -n "$NS_C" link set lo up
ip -n "$NS_A" route add default via $NAT_IN
ip netns exec "$NS_B" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NS_B" nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "$IF_BC" masquerade
	}
}
NFT
# inner networks of the tunnel cases
ip -n "$NS_A" addr add $AIN/32 dev lo
ip -n "$NS_C" addr add $CIN/32 dev lo
ip -n "$NS_A" route add 10.78.2.0/24 via $NAT_IN src $AIN
ip -n "$NS_C" route add 10.78.1.0/24 dev "$IF_C" src $CIN
check "C cannot reach A's network without the NAT" sh -c "! ip -n $NS_C route get $A | grep -q via"

# ---- probes -------------------------------------------------------------------------
# wait_for N CMD...: until CMD succeeds (N tenths of a second at most).
wait_for() {
	local n=$1 i
	shift
	for i in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
a_child_up() { [ "$(ours 'len(d["child_sas"])')" = 1 ]; }
swan_child_up() { swan_sas "$SW" | grep -q 'state=INSTALLED'; }
c_child_up() { [ "$(xc -j show sa | json_get 'len(d["child_sas"])')" = 1 ]; }
all_gone() {
	[ "$(ours 'len(d["ike_sas"])')" = 0 ] && [ "$(nstates "$NS_A")" = 0 ] &&
		[ "$(nstates "$NS_C")" = 0 ]
}
tcp_a_to_c() {	# PORT
	inc timeout 8 nc -l -n "$1" >/dev/null 2>&1 &
	local l=$!
	wait_listen "$NS_C" tcp "$1"
	ina timeout 4 nc -n -z -w 3 $C "$1"
	local rc=$?
	kill $l 2>/dev/null; wait $l 2>/dev/null
	return $rc
}

# our_nat_checks N: what A's daemon and kernel say about NAT-T.
our_nat_checks() {
	check_eq "$1: A: NAT detected (we are behind it), on port 4500 both ends" \
		"True True 4500 4500" "$(ours '" ".join(str(x) for x in (d["ike_sas"][0]["nat_local"], d["ike_sas"][0]["nat_t"], d["ike_sas"][0]["local_port"], d["ike_sas"][0]["peer_port"]))')"
	check_eq "$1: A: the CHILD SA is UDP-encapsulated" True "$(ours 'd["child_sas"][0]["udp_encap"]')"
	check "$1: A: kernel states espinudp 4500" sh -c \
		"[ \$(ip -n $NS_A xfrm state | grep -c 'type espinudp sport 4500 dport 4500') -eq 2 ]"
}

keepalive_sent() { [ "$(ikestat xa natt_keepalives_sent)" -gt "$1" ]; }	# N: more than N

# traffic_checks N SRC DST [SRC_SEEN]: ping through the SA (C pings A at
# SRC_SEEN, the NAT's address in transport mode), only UDP 4500 on C's
# wire, keepalives, the permit and block filters.
traffic_checks() {
	local n=$1 k0 b0
	k0=$(ikestat xa natt_keepalives_sent)
	capture_start "$NS_C" "$IF_C" "$T/wire$n.pcap" host $NAT_OUT and host $C
	check "$n: ping A -> C through the SA" ina ping -c 3 -W 2 -I "$2" "$3"
	check "$n: ping C -> A${4:+ (at $4)}" inc ping -c 2 -W 2 -I "$3" "${4:-$2}"
	# a keepalive every 2 s: until one was sent (30 s at most)
	wait_until 30 keepalive_sent "$k0"
	capture_stop "$T/wire$n.pcap"
	check "$n: UDP 4500 on C's wire" grep -q "$NAT_OUT.4500 > $C.4500" "$T/wire$n.pcap.txt"
	check "$n: ESP inside UDP (UDP-encap)" grep -q "UDP-encap" "$T/wire$n.pcap.txt"
	check "$n: no clear ICMP on C's wire" sh -c "! grep -q ICMP $T/wire$n.pcap.txt"
	check "$n: no plain ESP on C's wire" sh -c "! grep -v UDP-encap $T/wire$n.pcap.txt | grep -q ESP"
	check "$n: A sent NAT keepalives (counted)" test "$(ikestat xa natt_keepalives_sent)" -gt "$k0"
	check "$n: NAT keepalives on C's wire" grep -q "NAT-keepalive\|isakmp-nat-keep-alive\|UDP, length 1$" "$T/wire$n.pcap.txt"
	check "$n: permit filter: tcp 8080 A -> C through the NAT, in the clear" tcp_a_to_c 8080
	b0=$(drop_of block_filter)
	refute "$n: block filter: tcp 9090 A -> C does not connect" tcp_a_to_c 9090
	check "$n: block filter: dropped by the dataplane" test "$(drop_of block_filter)" -gt "$b0"
}

# ---- A: dataplane and daemon (keepalives every 2 s) -----------------------------------
policy_case tunnel aes256gcm16 aes256gcm16-prfsha256-curve25519 "{ psk: lab }" $A $C >"$T/p1.yaml"
check "load the dataplane on A" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the policy on A" xa policy apply "$T/p1.yaml"
conf "$T/confA" $C
cp "$T/p1.yaml" "$T/confA/policy.yaml"
IXDPD_ARGS="--natt-keepalive 2" start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" || exit 1
check "A: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/A.log"
swan_start "$NS_C" "$SW" || exit 1

# ---- case 1: tunnel to charon ---------------------------------------------------------
echo "# [${SECONDS}s] case 1: ipsec-xdpd behind the NAT -> charon, tunnel"
swan_case_conf tunnel aes256gcm16-prfsha256-x25519 aes256gcm16 $C %any "$KEY" |
	sed "s/id = %any/id = $A/; s/id-a = %any/id-a = $A/" | swan_case "$SW" 1 ||
	echo "FAIL - 1: charon did not load the case"
check "1: ipsec-xdp sa initiate $C" xa sa initiate $C
check "1: CHILD SA up on A" wait_for 50 a_child_up
check "1: CHILD SA up on charon" wait_for 50 swan_child_up
our_nat_checks 1
check_eq "1: charon: the peer is behind a NAT, at the NAT's address" "yes $NAT_OUT" \
	"$(swan_field "$SW" nat-remote) $(swan_field "$SW" remote-host)"
check_eq "1: charon: UDP encapsulation" yes "$(swan_field "$SW" encap)"
check_eq "1: ESP SPIs agree" "$(swan_field "$SW" spi-out):$(swan_field "$SW" spi-in)" \
	"$(ours 'd["child_sas"][0]["spi_in"]+":"+d["child_sas"][0]["spi_out"]')"
traffic_checks 1 $AIN $CIN
check "1: sa delete on A" xa sa delete $C
check "1: gone on A and C" wait_for 100 all_gone
check_eq "1: gone on charon" 0 "$(swan_count "$SW")"

# ---- case 2: transport to charon -------------------------------------------------------
echo "# [${SECONDS}s] case 2: ipsec-xdpd behind the NAT -> charon, transport"
policy_case transport aes128-sha256 aes128-sha256-modp2048 "{ psk: lab }" $A $C >"$T/p2.yaml"
check "2: policy applied, daemon reloaded" use_policy xa "${PIDS[0]}" "$T/p2.yaml"
swan_case_conf transport aes128-sha256-modp2048 aes128-sha256 $C %any "$KEY" |
	sed "s/id = %any/id = $A/; s/id-a = %any/id-a = $A/" | swan_case "$SW" 2 ||
	echo "FAIL - 2: charon did not load the case"
check "2: ipsec-xdp sa initiate $C" xa sa initiate $C
check "2: CHILD SA up on A" wait_for 50 a_child_up
check "2: CHILD SA up on charon" wait_for 50 swan_child_up
our_nat_checks 2
check_eq "2: charon: the peer is behind a NAT" yes "$(swan_field "$SW" nat-remote)"
traffic_checks 2 $A $C $NAT_OUT
check "2: sa delete on A" xa sa delete $C
check "2: gone on A and C" wait_for 100 all_gone
swan_stop

# ---- case 3: ipsec-xdpd on both sides, tunnel -------------------------------------------
echo "# [${SECONDS}s] case 3: ipsec-xdpd behind the NAT -> ipsec-xdpd, tunnel"
policy_case tunnel aes256gcm16 aes256gcm16-prfsha256-curve25519 "{ psk: lab }" $A $C >"$T/p3.yaml"
check "3: policy applied on A, daemon reloaded" use_policy xa "${PIDS[0]}" "$T/p3.yaml"
# C's mirror image: its tunnel rules name the NAT's address as A's endpoint.
mkdir -p "$T/confC"
conf "$T/confC" $NAT_OUT
sed -e "s/10.78.1.0/10.78.X.0/g; s/10.78.2.0/10.78.1.0/g; s/10.78.X.0/10.78.2.0/g" \
	-e "s/tunnel: $C/tunnel: TMP/; s/tunnel: $A/tunnel: $C/; s/tunnel: TMP/tunnel: $NAT_OUT/" \
	-e "s/dst: $C/dst: $NAT_OUT/" "$T/p3.yaml" >"$T/confC/policy.yaml"
IXDPD_ARGS="" start C "$NS_C" "$T/confC" "$T/runC" || exit 1
check "3: ipsec-xdp sa initiate $C" xa sa initiate $C
check "3: CHILD SA up on A" wait_for 50 a_child_up
check "3: CHILD SA up on C" wait_for 50 c_child_up
our_nat_checks 3
check_eq "3: C: the peer is behind a NAT, on 4500" "True 4500" \
	"$(xc -j show sa | json_get '" ".join(str(x) for x in (d["ike_sas"][0]["nat_peer"], d["ike_sas"][0]["local_port"]))')"
check_eq "3: ESP SPIs agree" \
	"$(xc -j show sa | json_get 'd["child_sas"][0]["spi_out"]+":"+d["child_sas"][0]["spi_in"]')" \
	"$(ours 'd["child_sas"][0]["spi_in"]+":"+d["child_sas"][0]["spi_out"]')"
traffic_checks 3 $AIN $CIN
check "3: sa delete on A" xa sa delete $C
check "3: gone on A and C" wait_for 100 all_gone

# ---- case 4: ipsec-xdpd on both sides, transport -----------------------------------------
# C, the responder, sees A at the NAT's address and puts that in the TSi it
# answers; A puts its own back (RFC 7296 §2.23.1).
echo "# [${SECONDS}s] case 4: ipsec-xdpd behind the NAT -> ipsec-xdpd, transport"
policy_case transport aes128-sha256 aes128-sha256-ecp256 "{ psk: lab }" $A $C >"$T/p4.yaml"
check "4: policy applied on A, daemon reloaded" use_policy xa "${PIDS[0]}" "$T/p4.yaml"
policy_case transport aes128-sha256 aes128-sha256-ecp256 "{ psk: lab }" $C $NAT_OUT >"$T/confC/policy.yaml"
check "4: C's daemon reloaded" reload "${PIDS[1]}"
check "4: ipsec-xdp sa initiate $C" xa sa initiate $C
check "4: CHILD SA up on A" wait_for 50 a_child_up
check "4: CHILD SA up on C" wait_for 50 c_child_up
our_nat_checks 4
check_eq "4: C's CHILD SA: transport, to the NAT's address" "transport $NAT_OUT/32[0]" \
	"$(xc -j show sa | json_get 'd["child_sas"][0]["mode"]+" "+d["child_sas"][0]["remote_ts"]')"
check_eq "4: A's CHILD SA: from A's own address" "$A/32[0]" "$(ours 'd["child_sas"][0]["local_ts"]')"
# C has no dataplane: the permit flow needs a bypass of its kernel policy,
# as charon's pass connection makes in the other cases.
ip -n "$NS_C" xfrm policy add src $NAT_OUT/32 dst $C/32 proto tcp dport 8080 dir in priority 1
ip -n "$NS_C" xfrm policy add src $C/32 dst $NAT_OUT/32 proto tcp sport 8080 dir out priority 1
traffic_checks 4 $A $C $NAT_OUT
check "4: sa delete on A" xa sa delete $C
check "4: gone on A and C" wait_for 100 all_gone

echo "---- A.log"; grep -h "established\|CHILD SA\|NAT\|failed" "$T/A.log" | head -24
finish
