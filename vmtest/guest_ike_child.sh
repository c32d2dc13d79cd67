#!/usr/bin/env bash
# Inside the 6.12 VM: two ipsec-xdpd in two namespaces negotiate a CHILD SA
# in IKE_AUTH (ike/sa/sa_child.c) from a PSK policy whose negotiate rule names the
# peer; `ipsec-xdp sa initiate` brings it up, each side then has two ESP
# states and out/in policies, ping goes through them (counters move, ESP
# on the veth), `show sa` lists the CHILD SA, and deleting the IKE SA
# removes the kernel state on both sides.  Transport mode.  A's network
# process runs as the user ipsec-xdp (--user), B's as root.
# Then (exchange_create.c), with short lifetimes and PFS: an xfrm policy
# without state and traffic make the kernel's ACQUIRE start the
# negotiation; a continuous ping lives through CHILD SA rekeys (soft
# EXPIRE) and IKE SA rekeys (lifetime) without losing a packet, SPIs
# changed and both sides agree on them (read at a moment no rekey was
# under way); once the traffic stops, the idle CHILD SA is removed
# (IPSEC_XDPD_CHILD_IDLE shortens the 5 minutes).  The traffic lasts until
# the rekeys were counted, not a fixed time.
#
#   vmtest/vm.sh bash vmtest/guest_ike_child.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
ike_scenario_start

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
xb() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" "$IXDP" "$@"; }

npols() { ip -n "$1" xfrm policy | grep -B3 'tmpl' | grep -c '^src'; }

conf "$T/confA" 10.77.0.2
conf "$T/confB" 10.77.0.1
# A's network process runs as the user ipsec-xdp (--user; no dataplane
# here): its CHILD SAs, the ACQUIREs and the rekeys go through xfrm
# netlink with the CAP_NET_ADMIN it kept across the change; B stays root.
chmod 0711 "$T"		# (the user reaches CONFDIR)
IXDPD_ARGS="--user ipsec-xdp" start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
uid_of() { awk '$1 == "Uid:" { print $2 }' "/proc/$1/status"; }
check_eq "A runs as ipsec-xdp" "$(id -u ipsec-xdp)" "$(uid_of "${PIDS[0]}")"

check "sa initiate from A" xa sa initiate 10.77.0.2
# (initiate answers when A is done; B installed its SAs before answering)
check_eq "A: 2 ESP states" 2 "$(nstates "$NS_A")"
check_eq "B: 2 ESP states" 2 "$(nstates "$NS_B")"
check_eq "A: out+in IPsec policies" 2 "$(npols "$NS_A")"
check_eq "B: out+in IPsec policies" 2 "$(npols "$NS_B")"
check "A: transport mode, AES-GCM" sh -c "ip -n $NS_A xfrm state | grep -q 'mode transport' && ip -n $NS_A xfrm state | grep -q 'rfc4106(gcm(aes))'"
check_eq "A: show sa lists one CHILD SA (if control.c calls child_sas_json)" 1 \
	"$(xa -j show sa | json_get 'len(d["child_sas"])')"
check_eq "A: not childless" False "$(xa -j show sa | json_get 'd["ike_sas"][0]["childless"]')"

capture_start "$NS_B" "$IF_B" "$T/esp.pcap" esp
check "ping A -> B through the SAs" ip netns exec "$NS_A" ping -c 3 -W 2 10.77.0.2
capture_stop "$T/esp.pcap"
check "ESP on the veth" grep -q ESP "$T/esp.pcap.txt"
pk=$(ip -n "$NS_A" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | tr '\n' ' ')
check "A: both SAs counted packets ($pk)" sh -c "for n in $pk; do [ \$n -gt 0 ] || exit 1; done; [ \$(echo $pk | wc -w) -eq 2 ]"
check "ping B -> A" ip netns exec "$NS_B" ping -c 2 -W 2 10.77.0.1

ispi=$(xa -j show sa | json_get 'd["ike_sas"][0]["ispi"]')
check "sa delete on A" xa sa delete "$ispi"
no_states() { [ "$(nstates "$NS_A") $(nstates "$NS_B")" = "0 0" ]; }
wait_until 30 no_states
check_eq "A: no ESP state left" 0 "$(nstates "$NS_A")"
check_eq "B: no ESP state left" 0 "$(nstates "$NS_B")"
check_eq "A: no IPsec policy left" 0 "$(npols "$NS_A")"
check_eq "B: no IPsec policy left" 0 "$(npols "$NS_B")"
check "clear ping after the delete" ip netns exec "$NS_A" ping -c 1 -W 2 10.77.0.2

# ---- the life cycle: ACQUIRE, rekeys under traffic, idle removal -------------

# CHILD SAs of 20 s (soft EXPIRE at 17-18 s), IKE SAs of 60 s, PFS.
short_policy() {	# PEER
	cat <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $1 } ] }
filter-actions:
  secure: { action: negotiate, pfs: yes, methods: [ { esp: aes256gcm16, lifetime: 20 } ] }
policies:
  lab:
    ike: { lifetime: 60 }
    rules:
      - { name: to-peer, filter-list: peer, action: secure, authentication: [ { psk: lab } ] }
YAML
}
# the daemons again, with that policy and a CHILD SA idle time of IDLE s
IDLE=10
stop_daemons
short_policy 10.77.0.2 >"$T/confA/policy.yaml"
short_policy 10.77.0.1 >"$T/confB/policy.yaml"
IXDPD_ARGS="--user ipsec-xdp" start A2 "$NS_A" "$T/confA" "$T/runA" \
	IPSEC_XDPD_CHILD_IDLE=$IDLE || exit 1
check_eq "A2 runs as ipsec-xdp" "$(id -u ipsec-xdp)" "$(uid_of "${PIDS[0]}")"
start B2 "$NS_B" "$T/confB" "$T/runB" IPSEC_XDPD_CHILD_IDLE=$IDLE || exit 1

sa_field() {	# SIDE-FUNCTION EXPR
	"$1" -j show sa | json_get "$2" 2>/dev/null
}
stat_of() {	# SIDE-FUNCTION NAME
	"$1" -j show ikestats | json_get "d['stats']['$2']" 2>/dev/null
}
# ESP states with an SPI (not the kernel's ACQUIRE placeholder, SPI 0).
nesp() { ip -n "$1" xfrm state | grep 'proto esp spi' | grep -vc 'spi 0x00000000'; }
larval() { ip -n "$1" xfrm state | grep -c 'spi 0x00000000'; }

# A policy with no state, for ICMP only (IKE must pass): the first ping
# makes the kernel ACQUIRE.
acq_pol="src 10.77.0.1/32 dst 10.77.0.2/32 proto icmp dir out"
# shellcheck disable=SC2086
ip -n "$NS_A" xfrm policy add $acq_pol \
	tmpl src 10.77.0.1 dst 10.77.0.2 proto esp mode transport
ip netns exec "$NS_A" ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1
settled() {	# both sides one CHILD SA pair (no rekey half done)
	[ "$(nesp "$NS_A")" = 2 ] && [ "$(nesp "$NS_B")" = 2 ]
}
check "ACQUIRE: the SAs are up on both sides" wait_until 30 settled
check "ACQUIRE: A's daemon heard the kernel" grep -q "kernel ACQUIRE for 10.77.0.2" "$T/A2.log"
# The outbound SA names the ACQUIRE (its seq): the kernel drops its larval
# placeholder at once, not after xfrm_acq_expires (30 s).
check_eq "ACQUIRE: no larval placeholder left on A" 0 "$(larval "$NS_A")"
# Its template asks for reqid 0, which the daemon's SAs do not have: from
# here the daemon's own policies carry the traffic.
# shellcheck disable=SC2086
ip -n "$NS_A" xfrm policy del $acq_pol
check "ACQUIRE: ping through them" ip netns exec "$NS_A" ping -c 2 -W 2 10.77.0.2

spi0=$(sa_field xa 'd["child_sas"][0]["spi_in"]')
ike0=$(sa_field xa 'd["ike_sas"][0]["ispi"]')
# Traffic until both sides counted 4 CHILD SA rekeys and 2 IKE SA rekeys
# (about 60 s: CHILD SAs of 20 s, IKE SAs of 60 s), however long that
# takes: rounds of 25 pings every 0.2 s, each run to its end (none cut short,
# so none counted lost for stopping it), until the file stop-ping exists.
ping_rounds() {
	while [ ! -e "$T/stop-ping" ]; do
		ip netns exec "$NS_A" ping -q -i 0.2 -c 25 -W 2 10.77.0.2
	done
}
rekeys() {	# NAME: the counter NAME of both daemons, added
	echo $(( $(stat_of xa "$1") + $(stat_of xb "$1") ))
}
enough_rekeys() {	# (asked once a second: each ask costs the guest's CPU)
	sleep 1
	[ "$(rekeys child_sa_rekeys)" -ge 4 ] && [ "$(rekeys ike_sa_rekeys)" -ge 2 ]
}
# one_moment: B's SPIs read between two equal readings of A's, with one
# IKE SA and one CHILD SA on each side: then no rekey was half done or ended
# meanwhile (a side that answers a rekey holds the old and the new SA until
# the old is deleted; one that starts it holds the old and then both).
# Sets SEEN_A "ike ispi:rspi child in:out" of A and SEEN_B the same of B
# with its CHILD SA's SPIs swapped; 1 if a rekey was in the way.
view() {	# SIDE-FUNCTION [swap]
	sa_field "$1" '(d["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]+" "+(
	d["child_sas"][0]["spi_out"]+":"+d["child_sas"][0]["spi_in"] if "'"${2:-}"'" else
	d["child_sas"][0]["spi_in"]+":"+d["child_sas"][0]["spi_out"])
	if len(d["ike_sas"]) == 1 and len(d["child_sas"]) == 1 else "busy")'
}
one_moment() {
	local again
	SEEN_A=$(view xa) SEEN_B=$(view xb swap) again=$(view xa)
	[ -n "$SEEN_A" ] && [ "$SEEN_A" = "$again" ] && [ "$SEEN_A" != busy ] &&
		[ -n "$SEEN_B" ] && [ "$SEEN_B" != busy ]
}
rm -f "$T/stop-ping"
ping_rounds >"$T/ping.txt" 2>&1 &
pinger=$!
check "rekeys under traffic: 4 CHILD SA and 2 IKE SA rekeys counted (both sides)" \
	wait_until 300 enough_rekeys
echo "# rekeys: CHILD SA $(rekeys child_sa_rekeys), IKE SA $(rekeys ike_sa_rekeys) (both sides)"
# while the traffic goes on (an idle CHILD SA would be removed meanwhile)
check "a moment between rekeys came" wait_until 120 one_moment
check_eq "both sides agree on the SPIs of that moment (ike ispi:rspi, A's child in:out)" \
	"${SEEN_A:-<none read>}" "${SEEN_B:-<none read>}"
check "after the rekeys: one pair on each side" wait_until 60 settled
pfs=$(sa_field xa 'd["child_sas"][0]["pfs_group"]')
spi1=$(sa_field xa 'd["child_sas"][0]["spi_in"]')
ike1=$(sa_field xa 'd["ike_sas"][0]["ispi"]')
touch "$T/stop-ping"
wait $pinger
ping_end=$SECONDS
sent=$(awk '/packets transmitted/ { n += $1 } END { print n + 0 }' "$T/ping.txt")
got=$(awk '/packets transmitted/ { n += $4 } END { print n + 0 }' "$T/ping.txt")
check "rekeys under traffic: pings sent ($sent)" test "$sent" -gt 0
check_eq "rekeys under traffic: no ping lost (received of $sent sent)" "$sent" "$got"
check "the rekeyed CHILD SA has PFS keys (group $pfs)" test "${pfs:-0}" != 0
check "the CHILD SA's SPI changed ($spi0 -> $spi1)" test -n "$spi1" -a "$spi0" != "$spi1"
check "the IKE SA's SPI changed ($ike0 -> $ike1)" test -n "$ike1" -a "$ike0" != "$ike1"
one_ike_sa() { [ "$(sa_field xa 'len(d["ike_sas"])')" = 1 ]; }
check "one IKE SA left on A (the rekeyed ones deleted)" wait_until 60 one_ike_sa
check "A: key updates counted" test "$(stat_of xa key_updates)" -ge 2

# no traffic: gone IDLE s after the last byte (checked every IDLE/4 s);
# a rekey just after the ping stopped starts a fresh CHILD SA's IDLE s
# (about 2 * IDLE s in all; the bound of 60 s only ends a wait that hangs).
no_esp() { [ "$(nesp "$NS_A") $(nesp "$NS_B")" = "0 0" ]; }
wait_until 60 no_esp
echo "# idle: the CHILD SA went $((SECONDS - ping_end)) s after the traffic"
check_eq "idle: the CHILD SA removed on both sides (states A B)" "0 0" \
	"$(nesp "$NS_A") $(nesp "$NS_B")"
check "idle: removed as idle (the log says)" \
	grep -q "idle for [0-9]* s: deleting" "$T/A2.log" "$T/B2.log"
# A CHILD SA rekey that met an IKE SA rekey (both refused, RFC 7296
# §2.25) goes again within a second: no SA reaches its hard lifetime.
no_hard_end() { ! grep -h "(hard lifetime)" "$T/A2.log" "$T/B2.log"; }
check "no CHILD SA ran into its hard lifetime" no_hard_end
check "idle: the IKE SA stays" test "$(sa_field xa 'len(d["ike_sas"])')" -ge 1

grep -h "CHILD SA\|IKE SA rekey" "$T/A2.log" "$T/B2.log" | tail -12
if [ "$FAILS" -gt 0 ]; then
	for f in A B A2 B2; do echo "---- $f.log"; tail -40 "$T/$f.log"; done
fi
finish
