#!/usr/bin/env bash
# IKEv2 interop with strongSwan's charon on the host, where no ESP state can
# be installed: the IKE SA alone (the VM scenarios vmtest/guest_ike_swan.sh
# and guest_ike_nat.sh do the CHILD SAs).  ipsec-xdpd in A, charon in B
# (vmtest/swan_lib.sh):
# - we initiate offering X25519 then MODP-2048, charon allows only
#   MODP-2048: it asks for that KE (INVALID_KE_PAYLOAD), we start again;
# - charon initiates a childless IKE SA with an X25519 KE in a first
#   proposal that we do not allow: we pick its second proposal and ask for
#   the MODP-2048 KE; charon starts again;
# - each side deletes, the other follows; a wrong key is refused and counted.
. "$(dirname "$0")/lib.sh"
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
[ -x /usr/lib/ipsec/charon ] || { echo "skip: no charon (scripts/install-deps.sh --vm)"; exit 77; }
ns_setup
. "$TOP/vmtest/ike_lib.sh"
. "$TOP/vmtest/swan_lib.sh"
A=10.77.0.1 B=10.77.0.2 SW=$T/swan
BPFA=$T/bpffs/a	# xa (vmtest/ike_lib.sh): no dataplane loaded here
KEY="correct horse battery staple"
trap 'rc=$?; stop_daemons; swan_stop; (exit $rc); ns_teardown' EXIT

ours() { xa -j show sa | json_get "$1" 2>/dev/null; }
ikestat() { xa -j show ikestats | json_get "d['stats']['$1']"; }
# charon_conf PROPOSALS KEY: connection xdp, transport (its CHILD SA part
# fails here: no ESP in this kernel; the IKE SA stays).
charon_conf() {
	echo "connections {"
	swan_psk_conn xdp $B $A transport "$1" aes256gcm16 dynamic dynamic
	echo "}"
	echo "secrets {"
	swan_psk_secret $B $A "$2"
	echo "}"
}

conf "$T/confA" $B
policy_case transport aes256gcm16 "aes256gcm16-prfsha256-curve25519, aes256gcm16-prfsha256-modp2048" \
	"{ psk: lab }" $A $B >"$T/confA/policy.yaml"
start A "$NS_A" "$T/confA" "$T/runA" || exit 1
swan_start "$NS_B" "$SW" || exit 1

# ---- we initiate; charon asks for another KE ----------------------------------------
charon_conf aes256gcm16-prfsha256-modp2048 "$KEY" | swan_case "$SW" 1 || exit 1
ke0=$(ikestat invalid_ke_received)
check "we initiate (the IKE SA; its CHILD SA where the kernel has ESP)" ike_sa_up xa sa initiate $B
check_eq "charon asked for MODP-2048 once (invalid_ke_received)" $((ke0 + 1)) "$(ikestat invalid_ke_received)"
check_eq "charon: ESTABLISHED, MODP_2048" "ESTABLISHED MODP_2048" \
	"$(swan_field "$SW" state) $(swan_field "$SW" dh-group)"
check_eq "same IKE SPIs" "$(swan_field "$SW" initiator-spi):$(swan_field "$SW" responder-spi)" \
	"$(ours 'd["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]')"
check_eq "we: DH_MODP_2048, initiator" "DH_MODP_2048 initiator" \
	"$(ours 'd["ike_sas"][0]["dh"]+" "+d["ike_sas"][0]["role"]')"
check "charon deletes" swanctl_in "$SW" --terminate --ike xdp --timeout 10
check "gone on our side" wait_ike_sas 0 xa

# ---- charon initiates: its first proposal is not ours, its KE is the wrong one -----
charon_conf "aes128-sha256-x25519, aes256gcm16-prfsha256-modp2048" "$KEY" | swan_case "$SW" 2 || exit 1
ke0=$(ikestat invalid_ke_sent)
check "charon initiates a childless IKE SA" swanctl_in "$SW" --initiate --ike xdp --timeout 20
check "up on our side" wait_ike_sas 1 xa
check_eq "we asked for MODP-2048 once (invalid_ke_sent)" $((ke0 + 1)) "$(ikestat invalid_ke_sent)"
check_eq "we: responder, childless, AES-GCM, MODP-2048" "responder True ENCR_AES_GCM_16 DH_MODP_2048" \
	"$(ours '" ".join(str(d["ike_sas"][0][k]) for k in ("role", "childless", "encr", "dh"))')"
check_eq "charon: AES_GCM_16 MODP_2048" "AES_GCM_16 MODP_2048" \
	"$(swan_field "$SW" encr-alg) $(swan_field "$SW" dh-group)"
check_eq "same IKE SPIs" "$(swan_field "$SW" initiator-spi):$(swan_field "$SW" responder-spi)" \
	"$(ours 'd["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]')"
check "we delete" xa sa delete $B
check "gone on charon" swan_wait "$SW" 0

# ---- a wrong key ----------------------------------------------------------------------
charon_conf aes256gcm16-prfsha256-modp2048 "not the same key" | swan_case "$SW" 3 || exit 1
af0=$(ikestat authentication_failures)
refute "charon with a wrong key is refused" swanctl_in "$SW" --initiate --ike xdp --timeout 10
check_eq "counted as an authentication failure" $((af0 + 1)) "$(ikestat authentication_failures)"
check_eq "no IKE SA on our side" 0 "$(ours 'len(d["ike_sas"])')"
check "no IKE SA on charon" swan_wait "$SW" 0
check "no key in our log" sh -c "! grep -qi -e horse -e 'same key' '$T/A.log'"

finish
