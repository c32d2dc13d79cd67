#!/usr/bin/env bash
# IKEv2 between two ipsec-xdpd authenticating with ECDSA certificates
# (RFC 7427): the PKI is made by tests/lib/mkcerts.sh (openssl command
# line) in the test's temp dir.  A childless IKE SA comes up on both sides
# with strong CRL checking; a peer whose certificate comes from another CA
# is refused (counted, logged as untrusted); a private key others may read
# stops the daemon from starting.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "needs the openssl command"; exit 77; }
. "$(dirname "$0")/ike_lib.sh"

sa_field() { "${@:2}" -j show sa | json_get "d['ike_sas'][0]['$1']"; }

# The PKI: a trusted CA with host certificates for A and B, and another CA
# whose host 1 certificate A will later present.
"$TOP/tests/lib/mkcerts.sh" "$T/pki" 10.77.0.1 10.77.0.2 || exit 1
CA_CN="untrusted CA" "$TOP/tests/lib/mkcerts.sh" "$T/evil" 10.77.0.1 10.77.0.2 ||
	exit 1

# conf DIR PEER N PKI: policy naming the peer with a certificate method
# (strong CRL checking), host certificate N of PKI, the CA's CRL.
conf() {
	mkdir -p "$1/certs" "$1/private" "$1/crls"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $2 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    ike: { proposals: [ aes256gcm16-prfsha256-ecp256 ] }
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { certificate: { ca: $T/pki/ca.pem, crl: strong } } ] }
YAML
	cp "$4/host$3.pem" "$1/certs/host.pem"
	install -m 600 "$4/host$3.key" "$1/private/host.key"
	cp "$T/pki/ca.crl.pem" "$1/crls/ca.pem"
	echo "ikelogging = 1" >"$1/config"
}

conf "$T/confA" 10.77.0.2 1 "$T/pki"
conf "$T/confB" 10.77.0.1 2 "$T/pki"

# A private key others may read is refused at start, with the fix.
conf "$T/confX" 10.77.0.2 1 "$T/pki"
chmod 644 "$T/confX/private/host.key"
out=$(ip netns exec "$NS_A" "$IXDPD" -f -C "$T/confX" -R "$T/runX" 2>&1)
check "a world-readable host key is refused" test $? -ne 0
check "and the message says how to fix it" grep -q "chmod 600" <<<"$out"

start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1

# The rule wants an ESP CHILD SA: a kernel without ESP (the host's) makes
# `sa initiate` exit 1 with an IKE SA up all the same; the IKE SA is what
# this test is about (test_ike_childless.sh checks the exit status).
check "certificates: sa initiate from A: an IKE SA, or only its CHILD SA missing" \
	ike_sa_up xa sa initiate 10.77.0.2
check_eq "certificates: IKE SA established on A" established "$(sa_field state xa)"
check_eq "certificates: IKE SA established on B" established "$(sa_field state xb)"
check_eq "certificates: same SPIs" "$(sa_field ispi xa):$(sa_field rspi xa)" \
	"$(sa_field ispi xb):$(sa_field rspi xb)"
check_eq "A authenticated by certificate" certificate "$(sa_field auth xa)"
check_eq "B authenticated by certificate" certificate "$(sa_field auth xb)"
check_eq "B knows A by the address its certificate names" 10.77.0.1 \
	"$(sa_field peer_id xb)"
check "B's log names A's certificate" \
	grep -q 'peer certificate CN=host1.ixdp.test' "$T/B.log"
check "show sa (text) says certificate" \
	bash -c "ip netns exec $NS_B env IPSEC_XDP_RUNDIR=$T/runB $IXDP show sa | grep -q '(certificate)'"
check "sa delete from A" xa sa delete 10.77.0.2
for i in $(seq 1 20); do [ "$(count_sas xb)" = 0 ] && break; sleep 0.1; done
check_eq "gone on B" 0 "$(count_sas xb)"

# ---- a peer whose certificate another CA issued --------------------------------
cp "$T/evil/host1.pem" "$T/confA/certs/host.pem"
install -m 600 "$T/evil/host1.key" "$T/confA/private/host.key"
kill -HUP "${PIDS[0]}"
sleep 0.3
before=$(ikestat xb authentication_failures)
out=$(xa sa initiate 10.77.0.2 2>&1)
check "wrong CA: initiate fails" test $? -ne 0
check "wrong CA: the reason is an authentication failure" \
	grep -qi "authentication failed" <<<"$out"
check_eq "wrong CA: B counted it" $((before + 1)) \
	"$(ikestat xb authentication_failures)"
check_eq "wrong CA: no IKE SA on B" 0 "$(count_sas xb)"
check "wrong CA: B's log says untrusted" \
	grep -q 'failed reason="authentication failed: .*untrusted' "$T/B.log"
check "no private key in the logs" \
	bash -c "! grep -q -e 'PRIVATE KEY' -e \"\$(sed -n 2p '$T/pki/host1.key')\" '$T/A.log' '$T/B.log'"

finish
