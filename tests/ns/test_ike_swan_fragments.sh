#!/usr/bin/env bash
# IKE fragmentation (RFC 7383) against strongSwan's charon on the host:
# both sides send IP datagrams of at most 200 bytes (ours:
# IPSEC_XDPD_FRAGMENT_SIZE, charon: fragment_size), so IKE_AUTH goes in
# Encrypted Fragments each way.  Childless IKE SAs (no ESP in this kernel):
# charon initiates (its IKE_AUTH in fragments; our childless answer is
# small and goes whole), then we do (our IKE_AUTH asks for a CHILD SA: in
# fragments); each time both ends agree on the SPIs, and no datagram above
# 200 bytes was sent.
. "$(dirname "$0")/lib.sh"
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
[ -x /usr/lib/ipsec/charon ] || { echo "skip: no charon (scripts/install-deps.sh --vm)"; exit 77; }
ns_setup
. "$TOP/vmtest/ike_lib.sh"
SWAN_FRAGMENT_SIZE=200
. "$TOP/vmtest/swan_lib.sh"
A=10.77.0.1 B=10.77.0.2 SW=$T/swan
BPFA=$T/bpffs/a	# xa (vmtest/ike_lib.sh): no dataplane loaded here
KEY="correct horse battery staple"
trap 'rc=$?; stop_daemons; swan_stop; (exit $rc); ns_teardown' EXIT

ours() { xa -j show sa | json_get "$1" 2>/dev/null; }
same_spis() {
	[ "$(swan_field "$SW" initiator-spi):$(swan_field "$SW" responder-spi)" = \
	  "$(ours 'd["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]')" ]
}
# the largest IP datagram of an IKE message after IKE_SA_INIT (which
# cannot be fragmented) either side sent, from a capture on A's veth
largest_sent() {
	python3 - "$T/cap.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
off, big = 24, 0
while off + 16 <= len(data):
    incl, orig = struct.unpack("<II", data[off + 8:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = pkt[14:]
    if len(ip) < 20 or ip[9] != 17:
        continue
    udp = ip[(ip[0] & 15) * 4:]
    ike = udp[8:]
    if struct.unpack(">H", udp[2:4])[0] == 4500 or \
       struct.unpack(">H", udp[0:2])[0] == 4500:
        if ike[:4] != b"\0\0\0\0":
            continue	# ESP or a keepalive
        ike = ike[4:]
    if len(ike) >= 28 and ike[18] != 34:	# not IKE_SA_INIT
        big = max(big, orig - 14)
print(big)
PY
}

conf "$T/confA" $B
policy_case transport aes256gcm16 "aes256gcm16-prfsha256-curve25519" \
	"{ psk: lab }" $A $B >"$T/confA/policy.yaml"
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDPD_FRAGMENT_SIZE=200 || exit 1
swan_start "$NS_B" "$SW" || exit 1
{
	echo "connections {"
	swan_psk_conn xdp $B $A transport aes256gcm16-prfsha256-curve25519 aes256gcm16 dynamic dynamic
	echo "}"
	echo "secrets {"
	swan_psk_secret $B $A "$KEY"
	echo "}"
} | swan_case "$SW" 1 || exit 1
capture_start "$NS_A" "$IF_A" "$T/cap.pcap" udp port 500 or udp port 4500

check "charon initiates" swanctl_in "$SW" --initiate --ike xdp --timeout 20
check "up on our side" wait_ike_sas 1 xa
check "same IKE SPIs (charon initiated)" same_spis
check "charon sent its IKE_AUTH in fragments" \
	grep -q 'splitting IKE message' "$SW/charon.log"
check "we took them (IKE_AUTH in, answered)" grep -q 'sent IKE_AUTH response' "$T/A.log"
check "we delete" xa sa delete $B
check "gone on charon" swan_wait "$SW" 0

check "we initiate (the IKE SA; its CHILD SA where the kernel has ESP)" ike_sa_up xa sa initiate $B
check "same IKE SPIs (we initiated)" same_spis
check "we sent our IKE_AUTH in fragments" grep -q 'IKE_AUTH request.*in fragments' "$T/A.log"
check "charon took them" grep -q 'received fragment #' "$SW/charon.log"
check "charon deletes" swanctl_in "$SW" --terminate --ike xdp --timeout 10
check "gone on our side" wait_ike_sas 0 xa

capture_stop "$T/cap.pcap"
big=$(largest_sent)
check "no IKE_AUTH datagram above 200 bytes on the wire (largest: $big)" \
	test "$big" -gt 0 -a "$big" -le 200
finish
