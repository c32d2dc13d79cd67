#!/usr/bin/env bash
# ipsec-xdpd keeps `me`, `dns` and `wins` true while the host changes
# (docs/behaviour.md §3, ike/daemon/daemon_hostwatch.h), checked with real
# packets: an address added in A is covered by the policy's `me` filter
# with no command, an address removed is no longer, a resolv.conf change
# re-expands `dns` and a Samba `wins server` change `wins`.  What changes
# nothing pushes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

# `dns` comes from this file, for the daemon and the command alike
export IPSEC_XDP_RESOLV_CONF=$T/resolv.conf
printf 'nameserver 192.0.2.53\n' >"$IPSEC_XDP_RESOLV_CONF"
# `wins` from this smb.conf's [global] `wins server`
export IPSEC_XDP_SMB_CONF=$T/smb.conf
printf '[global]\n  wins server = 192.0.2.137\n' >"$IPSEC_XDP_SMB_CONF"

# TCP 9000 is blocked, but to this host (`me`) it is permitted: the host
# filters weigh more than `any`.  TCP 53 from this host to its DNS servers
# is blocked, and TCP 139 (NetBIOS session) to its WINS servers.
cat >"$T/hw.yaml" <<'YAML'
filter-lists:
  any-9000: { filters: [ { src: any, dst: any, protocol: tcp, dst-port: 9000 } ] }
  me-9000:  { filters: [ { src: any, dst: me, protocol: tcp, dst-port: 9000 } ] }
  dns-tcp:  { filters: [ { src: me, dst: dns, protocol: tcp, dst-port: 53 } ] }
  wins-tcp: { filters: [ { src: me, dst: wins, protocol: tcp, dst-port: 139 } ] }
policies:
  hostwatch:
    rules:
      - { name: block-9000, filter-list: any-9000, action: block }
      - { name: me-9000, filter-list: me-9000, action: permit }
      - { name: block-dns, filter-list: dns-tcp, action: block }
      - { name: block-wins, filter-list: wins-tcp, action: block }
YAML

# the rule of the filter `ipsec-xdp match` says a TCP packet hits
rule_hit() { # SRC DST PORT
	ixa -j match "$1" "$2" tcp 40000 "$3" |
		json_get 'd["filter"]["rule"] if d.get("filter") else "none"' 2>/dev/null
}
hit() { rule_hit 10.77.0.2 "$1" "$2"; }		# from B to DST
hit_is() { [ "$(hit "$2" "$3")" = "$1" ]; }
hit_out_is() { [ "$(rule_hit 10.77.0.1 "$2" "$3")" = "$1" ]; }	# from A
pushes() { grep -c "re-expanded" "$T/A.log"; }
fails_tcp_b_to_a() { ! tcp_b_to_a "$@"; }
fails_tcp_a_to_b() { ! tcp_a_to_b "$@"; }

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy applied" ixa policy apply "$T/hw.yaml"
check "TCP 9000 to A's address passes (me)" tcp_b_to_a 9000 10.77.0.1
check "TCP 53 from A to B passes (B is not a DNS server)" tcp_a_to_b 53
check "TCP 139 from A to B passes (B is not a WINS server)" tcp_a_to_b 139

# No daemon yet: an address added now is not in the list in force.
ip -n "$NS_A" addr add 10.77.0.50/24 dev "$IF_A"
refute "no daemon: TCP 9000 to the new 10.77.0.50 is blocked (the list is stale)" \
	tcp_b_to_a 9000 10.77.0.50

check "ipsec-xdpd starts in A" start A "$NS_A" "$T/confA" "$T/runA" \
	IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RESOLV_CONF="$IPSEC_XDP_RESOLV_CONF" \
	IPSEC_XDP_SMB_CONF="$IPSEC_XDP_SMB_CONF"
check "the daemon re-expands at start: TCP 9000 to 10.77.0.50 passes" \
	wait_until 10 tcp_b_to_a 9000 10.77.0.50
# at start the policy agent (daemon_agent.c) puts the stored policy in
# force for the host as it is, or the host watch's first check does
check "and says so" grep -Eq "host addresses changed \(as the daemon started\): policy 'hostwatch' re-expanded|policy 'hostwatch' in force: .*pushed to the dataplane" "$T/A.log"

# With the daemon running: no command at all.
ip -n "$NS_A" addr add 10.77.0.51/24 dev "$IF_A"
check "address added: TCP 9000 to 10.77.0.51 passes, as to me" \
	wait_until 10 tcp_b_to_a 9000 10.77.0.51
check "TCP 9001 to 10.77.0.51 passes too (no filter), the address works" \
	tcp_b_to_a 9001 10.77.0.51
check "the log line names the address" \
	grep -q "host addresses changed (me +10.77.0.51/24): policy 'hostwatch' re-expanded" "$T/A.log"
check_eq "match: 10.77.0.51 port 9000 hits me-9000" me-9000 "$(hit 10.77.0.51 9000)"

ip -n "$NS_A" addr del 10.77.0.51/24 dev "$IF_A"
check "address removed: 10.77.0.51 port 9000 hits block-9000 again" \
	wait_until 10 hit_is block-9000 10.77.0.51 9000
live_filters() { ixa show filters --specific >"$T/filters.txt"; }
check "show filters reads the live list" live_filters
check "the live list names 10.77.0.50" grep -qw '10\.77\.0\.50' "$T/filters.txt"
refute "the live list no longer names 10.77.0.51" grep -qw '10\.77\.0\.51' "$T/filters.txt"
check "10.77.0.50 is still me" hit_is me-9000 10.77.0.50 9000

# dns: from resolv.conf, replaced as resolvers do (a new file renamed over)
n=$(pushes)
printf 'nameserver 10.77.0.2\n' >"$T/resolv.new" && mv "$T/resolv.new" "$IPSEC_XDP_RESOLV_CONF"
check "resolv.conf names B: TCP 53 from A to B is blocked (dns)" \
	wait_until 10 fails_tcp_a_to_b 53
check "match: A to B port 53 hits block-dns" hit_out_is block-dns 10.77.0.2 53
check "the log line names the server" grep -q "dns +10.77.0.2 -192.0.2.53" "$T/A.log"

# Unchanged facts push nothing: rewrite resolv.conf with the same server,
# then put the old one back; exactly one more push (the second change).
printf 'nameserver 10.77.0.2\n' >"$T/resolv.new" && mv "$T/resolv.new" "$IPSEC_XDP_RESOLV_CONF"
printf 'nameserver 192.0.2.53\n' >"$T/resolv.new" && mv "$T/resolv.new" "$IPSEC_XDP_RESOLV_CONF"
check "resolv.conf back: TCP 53 from A to B passes again" \
	wait_until 10 tcp_a_to_b 53
check_eq "two pushes for the two changes, none for the rewrite" $((n + 2)) "$(pushes)"

# wins: Samba's `wins server`, edited in place (a tag before the address)
printf '[global]\n  wins server = office:10.77.0.2\n' >"$IPSEC_XDP_SMB_CONF"
check "smb.conf names B as WINS server: TCP 139 from A to B is blocked (wins)" \
	wait_until 10 fails_tcp_a_to_b 139
check "match: A to B port 139 hits block-wins" hit_out_is block-wins 10.77.0.2 139
check "the log line names the WINS server" grep -q "wins +10.77.0.2 -192.0.2.137" "$T/A.log"
check "TCP 53 from A to B still passes (dns did not change)" tcp_a_to_b 53
rm -f "$IPSEC_XDP_SMB_CONF"
check "smb.conf removed: TCP 139 from A to B passes again" \
	wait_until 10 tcp_a_to_b 139

# A change with no policy in force pushes nothing and breaks nothing; the
# policy applied again covers the address added meanwhile.
n=$(pushes)
check "policy unassigned" ixa policy unassign
ip -n "$NS_A" addr add 10.77.0.52/24 dev "$IF_A"
check "policy applied again" ixa policy apply "$T/hw.yaml"
check "TCP 9000 to 10.77.0.52 passes (me)" tcp_b_to_a 9000 10.77.0.52
check "the daemon still runs" kill -0 "${PIDS[0]}"
check_eq "no push while no policy was in force, nor after (same filters)" \
	"$n" "$(pushes)"

finish
