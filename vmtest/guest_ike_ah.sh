#!/usr/bin/env bash
# Inside the 6.12 VM: an AH CHILD SA (docs/behaviour.md §6 "CHILD SAs: ESP or AH")
# between two ipsec-xdpd.  A runs the dataplane, whose negotiate filter
# hands the traffic to the SA (ike/daemon/daemon_dplink.c); B is a plain kernel IPsec
# peer.  The rule's methods are an AH+ESP method (not negotiable in IKEv2,
# RFC 7296 §3.3: skipped with a log line) and AH with HMAC-SHA-256.  A
# ping from A starts IKE; then the wire carries AH (protocol 51), no ESP
# and no bare ICMP; both kernels hold AH states (hmac(sha256), no cipher)
# and policies asking for AH; `show sa` on both sides names the AH CHILD
# SA with crosswise SPIs; a rekey (short lifetime) keeps the ping going.
#
#   vmtest/vm.sh bash vmtest/guest_ike_ah.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth ah4 ah6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
ike_scenario_start
A=10.77.0.1 B=10.77.0.2
trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

sa_field() { "$1" -j show sa | json_get "$2"; }

ah_policy() {	# PEER
	cat <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $1 } ] }
filter-actions:
  signed:
    action: negotiate
    methods:
      - { ah-esp: { ah: sha256, esp: aes128-sha256 } }
      - { ah: sha256, lifetime: 20 }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: signed, authentication: [ { psk: lab } ] }
YAML
}

conf "$T/confA" $B
conf "$T/confB" $A
ah_policy $B >"$T/confA/policy.yaml"
ah_policy $A >"$T/confB/policy.yaml"
check "load the dataplane on A" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the AH policy on A" xa policy apply "$T/confA/policy.yaml"
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "A: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/A.log"

capture_start "$NS_B" "$IF_B" "$T/wire.pcap" \
	"host $A and not udp port 500 and not udp port 4500"
ok=0
for i in $(seq 1 20); do
	if ip netns exec "$NS_A" ping -c 1 -W 1 $B >/dev/null 2>&1; then ok=1; break; fi
done
check "ping A -> B once the AH SA is up" test $ok = 1
check "A: the AH+ESP method skipped, RFC 7296 §3.3 named" \
	grep -q "AH+ESP method is not offered.*RFC 7296 §3.3" "$T/A.log"
check_eq "A: the CHILD SA is AH" ah "$(sa_field xa 'd["child_sas"][0]["protocol"]')"
check_eq "B: the CHILD SA is AH" ah "$(sa_field xb 'd["child_sas"][0]["protocol"]')"
check_eq "A: integrity HMAC-SHA2-256, no cipher" "AUTH_HMAC_SHA2_256_128 none" \
	"$(sa_field xa 'd["child_sas"][0]["integ"]+" "+d["child_sas"][0]["encr"]')"
check_eq "SPIs crosswise (A in = B out)" "$(sa_field xa 'd["child_sas"][0]["spi_in"]')" \
	"$(sa_field xb 'd["child_sas"][0]["spi_out"]')"
check "A: kernel AH states with hmac(sha256)" sh -c \
	"ip -n $NS_A xfrm state | grep -q 'proto ah' && ip -n $NS_A xfrm state | grep -q 'hmac(sha256)'"
check "A: no ESP state" sh -c "! ip -n $NS_A xfrm state | grep -q 'proto esp'"
check "B: kernel policy asks for AH" sh -c "ip -n $NS_B xfrm policy | grep -q 'proto ah'"

# a continuous ping across the rekey (lifetime 20 s: soft at 17-18 s)
spi0=$(sa_field xa 'd["child_sas"][0]["spi_in"]')
ip netns exec "$NS_A" ping -i 0.2 -c 125 -W 1 $B >"$T/ping.txt" 2>&1
check "rekeys under the ping: no ping lost" grep -q " 0% packet loss" "$T/ping.txt"
check "A: the AH CHILD SA was rekeyed" grep -q "CHILD SA rekeyed" "$T/A.log" "$T/B.log"
spi1=$(sa_field xa 'd["child_sas"][0]["spi_in"]')
check "A: a new SPI after the rekey ($spi0 -> $spi1)" test -n "$spi1" -a "$spi0" != "$spi1"
check_eq "after the rekey: still AH" ah "$(sa_field xa 'd["child_sas"][0]["protocol"]')"
capture_stop "$T/wire.pcap"
check "the wire carries AH" grep -q "AH(spi=" "$T/wire.pcap.txt"
check "no ESP on the wire" sh -c "! grep -q 'ESP(spi=' $T/wire.pcap.txt"
check "no bare ICMP on the wire (each ping inside AH)" \
	sh -c "! grep -v 'AH(spi=' $T/wire.pcap.txt | grep -q ICMP"

if [ "$FAILS" -gt 0 ]; then
	for f in A B; do echo "---- $f.log"; tail -30 "$T/$f.log"; done
	cat "$T/wire.pcap.txt" | head -20
fi
finish
