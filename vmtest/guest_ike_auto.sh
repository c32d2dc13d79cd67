#!/usr/bin/env bash
# Inside the 6.12 VM: SPEC §4 "with no SA yet, IKE is started", transport
# mode, end to end.  A runs the dataplane with a policy whose negotiate rule
# covers B, and ipsec-xdpd, which links to it (ike/dplink.c): it creates the
# plain xfrm interface ixdp-xfrm0 (if_id 0x1a5e0001) and reads the need-SA
# events.  B runs ipsec-xdpd only (plain kernel IPsec peer).  A plain ping
# from A to B: the first packets are dropped (negotiate_no_sa), the event
# starts IKE, the CHILD SA is installed with A's SAs and policies carrying
# the if_id, the bundle goes UP, and ping then goes through ESP.  Deleting
# the IKE SA deletes the bundle again.
#
#   vmtest/vm.sh bash vmtest/guest_ike_auto.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
IXDPD=$TOP/${B:-build}/ipsec-xdpd
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
ns_setup
echo "kernel $(uname -r)"
. vmtest/ike_lib.sh
A=10.77.0.1 B=10.77.0.2

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

BPFA="$T/bpffs/a"
xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$BPFA" "$IXDP" "$@"; }
xb() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" IPSEC_XDP_CONFDIR="$T/confB" "$IXDP" "$@"; }
drop_of() { xa -j show stats | json_get "d[\"drops\"][\"$1\"]"; }


# ---- A: the dataplane and its policy; then both daemons ------------------------------
policy $B >"$T/lab.yaml"
check "load the dataplane on A" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the policy on A" xa policy apply "$T/lab.yaml"
conf "$T/confA" $B
conf "$T/confB" $A
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "A: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/A.log"
check "A: plain xfrm interface ixdp-xfrm0" sh -c "ip -n $NS_A -d link show ixdp-xfrm0 | grep -q 'if_id 0x1a5e0001'"
check_eq "A: no SA yet" 0 "$(nstates "$NS_A")"
check "B: daemon not linked (no dataplane)" sh -c "! grep -q 'dataplane: linked' $T/B.log"

# ---- a plain ping: dropped at first, then through ESP --------------------------------
d0=$(drop_of negotiate_no_sa)
ip netns exec "$NS_B" timeout 20 tcpdump -n -i "$IF_B" -c 4 esp >"$T/esp.txt" 2>/dev/null &
tcpd=$!
sleep 1
ok=0 tries=0
for i in $(seq 1 20); do
	tries=$i
	if ip netns exec "$NS_A" ping -c 1 -W 1 $B >/dev/null 2>&1; then ok=1; break; fi
done
echo "# ping answered after $tries tries"
check "ping A -> B succeeds within a few seconds" test $ok = 1
check "the first packets were dropped (negotiate_no_sa)" test "$(drop_of negotiate_no_sa)" -gt "${d0:-0}"
check "A: IKE started by the dataplane" grep -q "need-SA rule=.*starting IKE" "$T/A.log"
check "A: bundle up" grep -q "bundle rule=.* peer=$B up" "$T/A.log"
check "ping A -> B through the SAs" ip netns exec "$NS_A" ping -c 3 -W 2 $B
check "ping B -> A" ip netns exec "$NS_B" ping -c 2 -W 2 $A
wait $tcpd 2>/dev/null
check "ESP on the veth" grep -q ESP "$T/esp.txt"
check_eq "A: 2 ESP states" 2 "$(nstates "$NS_A")"
check_eq "B: 2 ESP states" 2 "$(nstates "$NS_B")"
check "A: SAs carry the if_id" sh -c "ip -n $NS_A xfrm state | grep -q 'if_id 0x1a5e0001'"
check "A: policies carry the if_id" sh -c "ip -n $NS_A xfrm policy | grep -q 'if_id 0x1a5e0001'"
check "B: plain SAs (no if_id)" sh -c "! ip -n $NS_B xfrm state | grep -q if_id"
check "A: transport mode" sh -c "ip -n $NS_A xfrm state | grep -q 'mode transport'"
pk=$(ip -n "$NS_A" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | tr '\n' ' ')
check "A: both SAs counted packets ($pk)" sh -c "for n in $pk; do [ \$n -gt 0 ] || exit 1; done; [ \$(echo $pk | wc -w) -eq 2 ]"
check_eq "A: show sa lists the CHILD SA" 1 "$(xa -j show sa | json_get 'len(d["child_sas"])')"
check_eq "A: CHILD SA of rule to-peer" to-peer "$(xa -j show sa | json_get 'd["child_sas"][0]["rule"]')"

# ---- the IKE SA goes: the SAs and the bundle go with it ------------------------------
ispi=$(xa -j show sa | json_get 'd["ike_sas"][0]["ispi"]')
check "sa delete on A" xa sa delete "$ispi"
sleep 1
check_eq "A: no ESP state left" 0 "$(nstates "$NS_A")"
check_eq "B: no ESP state left" 0 "$(nstates "$NS_B")"
check "A: bundle deleted" grep -q "bundle rule=.* peer=$B deleted" "$T/A.log"

echo "---- A.log"; grep -h "dataplane\|CHILD SA" "$T/A.log" | head -12
echo "---- B.log"; grep -h "CHILD SA" "$T/B.log" | head -4
finish
