#!/usr/bin/env bash
# mkcerts.sh DIR ADDR1 ADDR2 - a small ECDSA P-256 PKI for tests, made with
# the openssl command line: one root CA and two host certificates, all PEM,
# loadable by ipsec-xdpd and by strongSwan's swanctl alike.
#
#   DIR/ca.pem       root CA certificate (ipsec-xdpd: the rule's `ca:` file;
#                    swanctl: x509ca/)
#   DIR/ca.key       its key (kept only to sign more, e.g. revocations)
#   DIR/ca.crl.pem   an empty CRL of the CA, valid 30 days (ipsec-xdpd:
#                    CONFDIR/crls/; swanctl: x509crl/)
#   DIR/hostN.pem    host N's certificate (ipsec-xdpd: CONFDIR/certs/host.pem;
#                    swanctl: x509/)
#   DIR/hostN.key    its ECDSA P-256 key, PKCS#8 PEM, mode 0600
#                    (ipsec-xdpd: CONFDIR/private/host.key; swanctl: private/)
#
# Host N (1 or 2) has subject "C=CH, O=ipsec-xdp test, CN=hostN.ixdp.test"
# and subjectAltName IP:ADDRn, DNS:hostN.ixdp.test, so its IKE identity may be
# its address, that name, or that DN.  ADDRn is an IPv4 or IPv6 address.
# The CA's name can be changed with CA_CN=... (e.g. to make a second, untrusted CA).
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DIR ADDR1 ADDR2" >&2; exit 2; }
DIR=$1
CA_CN=${CA_CN:-ipsec-xdp test CA}
mkdir -p "$DIR"
umask 077
W=$(mktemp -d "${TMPDIR:-/tmp}/mkcerts.XXXXXX")
trap 'rm -rf "$W"' EXIT

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1" 2>/dev/null
}

make_ca() {
	newkey "$DIR/ca.key"
	openssl req -x509 -new -key "$DIR/ca.key" -sha256 -days 3650 \
		-subj "/C=CH/O=ipsec-xdp test/CN=$CA_CN" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$DIR/ca.pem"
}

# make_host N ADDR
make_host() {
	local n=$1 addr=$2 name=host$1.ixdp.test
	newkey "$DIR/host$n.key"
	cat >"$W/ext$n" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=IP:$addr,DNS:$name
EXT
	openssl req -new -key "$DIR/host$n.key" \
		-subj "/C=CH/O=ipsec-xdp test/CN=$name" -out "$W/host$n.csr"
	openssl x509 -req -in "$W/host$n.csr" -CA "$DIR/ca.pem" \
		-CAkey "$DIR/ca.key" -set_serial "$((0x1000 + n))" -sha256 \
		-days 825 -extfile "$W/ext$n" -out "$DIR/host$n.pem" 2>/dev/null
}

# An empty CRL: `openssl ca` wants a database and a configuration.
make_crl() {
	: >"$W/index.txt"
	cat >"$W/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $W/index.txt
default_md = sha256
default_crl_days = 30
crlnumber = $W/crlnumber
CNF
	echo 01 >"$W/crlnumber"
	openssl ca -config "$W/ca.cnf" -gencrl -keyfile "$DIR/ca.key" \
		-cert "$DIR/ca.pem" -out "$DIR/ca.crl.pem" 2>/dev/null
}

make_ca
make_host 1 "$2"
make_host 2 "$3"
make_crl
chmod 0644 "$DIR"/*.pem
