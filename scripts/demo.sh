#!/usr/bin/env bash
# demo.sh - ipsec-xdp in two network namespaces, narrated.
#
# Host A (10.77.0.1) runs the dataplane; host B (10.77.0.2) is its peer.
# Nothing on the machine itself is touched: both hosts are namespaces made
# here, with their own configuration directory and BPF pin root, and all of
# it is removed at the end.
. "$(dirname "$0")/../tests/ns/lib.sh"
ns_setup

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '\033[2m$ ipsec-xdp %s\033[0m\n' "$*"; ixa "$@"; }
try()  { local what=$1; shift; if "$@" >/dev/null 2>&1; then echo "   $what: passes"; else echo "   $what: dropped"; fi; }
probe() {
	try "ping B -> A          " ping_b_to_a
	try "ping A -> B          " ping_a_to_b
	try "TCP  B -> A port 3389" tcp_b_to_a 3389
	try "TCP  A -> B port 9000" tcp_a_to_b 9000
}

say "Attach the dataplane to A's interface (XDP ingress, TC egress)"
run load "$IF_A"
run status
probe

say "Boot mode 'block': everything but DHCP and the boot exemptions is dropped"
run set config bootmode block
probe

say "Boot mode 'stateful' with an exemption for inbound Remote Desktop"
run set config bootmode stateful
run set config bootexemptions TCP:0:3389:inbound
probe

say "A policy: block all, permit the lab subnet, require security with B on 9000"
cat >"$T/lab.yaml" <<'YAML'
filter-lists:
  everything: { filters: [ { src: me, dst: any } ] }
  lab:        { filters: [ { src: me, dst: 10.77.0.0/24 } ] }
  b-service:  { filters: [ { src: me, dst: 10.77.0.2, protocol: tcp, dst-port: 9000 } ] }
filter-actions:
  require: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: block-all,  filter-list: everything, action: block }
      - { name: permit-lab, filter-list: lab,        action: permit }
      - { name: secure-b,   filter-list: b-service,  action: require, authentication: [ { psk: lab } ] }
YAML
cat "$T/lab.yaml"
run policy apply "$T/lab.yaml"
probe
echo "   (TCP to B:9000 is held back: negotiate needs an SA; with ipsec-xdpd running on both hosts,"
echo "    that first packet starts IKE and the flow then goes through ESP: vmtest/guest_ike_auto.sh)"

say "The ordered list the dataplane enforces, most specific first, with counters"
run show filters --specific

say "Which filter does a packet hit, and why?"
run match 10.77.0.1 10.77.0.2 tcp 40000 9000
run match 10.77.0.1 192.0.2.7 udp 5000 53

say "An invalid policy is refused; the policy in force stays in force"
printf 'policies:\n  broken:\n    rules:\n      - { name: x, filter-list: nowhere, action: block }\n' >"$T/bad.yaml"
run policy apply "$T/bad.yaml" || true
run status

say "Counters by path and drop reason"
run show stats

say "The IKE daemon: ipsec-xdpd on both hosts, IKEv2 with a pre-shared key"
IXDPD=$TOP/${B:-build}/ipsec-xdpd
# B's policy: the mirror of A's rule.  Both read the key from a root-only file.
sed -e 's/10.77.0.2, protocol: tcp, dst-port: 9000/10.77.0.1, protocol: tcp, src-port: 9000/' \
	"$T/lab.yaml" >"$T/confB/policy.yaml"
for side in A B; do
	printf 'lab = "correct horse battery staple"\n' >"$T/conf$side/secrets"
	chmod 600 "$T/conf$side/secrets"
done
ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$T/bpffs/a" "$IXDPD" -f -C "$T/confA" -R "$T/runA" >"$T/ikeA.log" 2>&1 &
ip netns exec "$NS_B" "$IXDPD" -f -C "$T/confB" -R "$T/runB" >"$T/ikeB.log" 2>&1 &
for i in $(seq 1 50); do
	[ -S "$T/runA/ipsec-xdpd.sock" ] && [ -S "$T/runB/ipsec-xdpd.sock" ] && break
	sleep 0.1
done
ike() { printf '\033[2m$ ipsec-xdp %s\033[0m\n' "$*"
	ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
ike sa initiate 10.77.0.2
ike show sa
echo "   (this host's kernel has no ESP: the CHILD SA cannot be made here (the log below says"
echo "    why) and the IKE SA stands alone, childless (RFC 6023); in the 6.12 VM the first"
echo "    packet to B:9000 brings up ESP: vmtest/guest_ike_auto.sh)"
ike show ikestats | grep -E "statistics|ike_sas_active|negotiations_(total|failed)|authentication_failures|messages_"
echo "   the negotiation log of A:"
sed 's/^/     /' "$T/ikeA.log"
pkill -TERM -f "$IXDPD -f -C $T/conf" 2>/dev/null
wait 2>/dev/null

say "Unload: the interface is unfiltered again"
run unload
probe
echo
echo "demo finished; namespaces removed."
