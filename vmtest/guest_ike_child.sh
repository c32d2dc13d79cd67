#!/usr/bin/env bash
# Inside the 6.12 VM: two ipsec-xdpd in two namespaces negotiate a CHILD SA
# in IKE_AUTH (ike/child.c) from a PSK policy whose negotiate rule names the
# peer; `ipsec-xdp sa initiate` brings it up, each side then has two ESP
# states and out/in policies, ping goes through them (counters move, ESP
# on the veth), `show sa` lists the CHILD SA, and deleting the IKE SA
# removes the kernel state on both sides.  Transport mode.
#
#   vmtest/vm.sh bash vmtest/guest_ike_child.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user 2>/dev/null
. tests/ns/lib.sh
IXDPD=$TOP/${B:-build}/ipsec-xdpd
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
ns_setup
echo "kernel $(uname -r)"
. vmtest/ike_lib.sh

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
xb() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" "$IXDP" "$@"; }

npols() { ip -n "$1" xfrm policy | grep -B3 'tmpl' | grep -c '^src'; }

conf "$T/confA" 10.77.0.2
conf "$T/confB" 10.77.0.1
start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1

check "sa initiate from A" xa sa initiate 10.77.0.2
sleep 0.5
check_eq "A: 2 ESP states" 2 "$(nstates "$NS_A")"
check_eq "B: 2 ESP states" 2 "$(nstates "$NS_B")"
check_eq "A: out+in IPsec policies" 2 "$(npols "$NS_A")"
check_eq "B: out+in IPsec policies" 2 "$(npols "$NS_B")"
check "A: transport mode, AES-GCM" sh -c "ip -n $NS_A xfrm state | grep -q 'mode transport' && ip -n $NS_A xfrm state | grep -q 'rfc4106(gcm(aes))'"
check_eq "A: show sa lists one CHILD SA (if control.c calls child_sas_json)" 1 \
	"$(xa -j show sa | json_get 'len(d["child_sas"])')"
check_eq "A: not childless" False "$(xa -j show sa | json_get 'd["ike_sas"][0]["childless"]')"

ip netns exec "$NS_B" timeout 5 tcpdump -n -i "$IF_B" -c 4 esp >"$T/esp.txt" 2>/dev/null &
tcpd=$!
sleep 1
check "ping A -> B through the SAs" ip netns exec "$NS_A" ping -c 3 -W 2 10.77.0.2
wait $tcpd 2>/dev/null
check "ESP on the veth" grep -q ESP "$T/esp.txt"
pk=$(ip -n "$NS_A" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | tr '\n' ' ')
check "A: both SAs counted packets ($pk)" sh -c "for n in $pk; do [ \$n -gt 0 ] || exit 1; done; [ \$(echo $pk | wc -w) -eq 2 ]"
check "ping B -> A" ip netns exec "$NS_B" ping -c 2 -W 2 10.77.0.1

ispi=$(xa -j show sa | json_get 'd["ike_sas"][0]["ispi"]')
check "sa delete on A" xa sa delete "$ispi"
sleep 1
check_eq "A: no ESP state left" 0 "$(nstates "$NS_A")"
check_eq "B: no ESP state left" 0 "$(nstates "$NS_B")"
check_eq "A: no IPsec policy left" 0 "$(npols "$NS_A")"
check_eq "B: no IPsec policy left" 0 "$(npols "$NS_B")"
check "clear ping after the delete" ip netns exec "$NS_A" ping -c 1 -W 2 10.77.0.2

grep -h "CHILD SA" "$T/A.log" "$T/B.log" | head -8
finish
