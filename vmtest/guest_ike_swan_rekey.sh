#!/usr/bin/env bash
# Inside the 6.12 VM: rekeying under traffic between ipsec-xdpd (A, with the
# dataplane) and strongSwan's charon (B; vmtest/swan_lib.sh).  One transport
# CHILD SA, PSK, AES-GCM; traffic runs the whole time:
#
#   - charon starts CHILD SA rekeys: rekey_time = 15s in swanctl.conf (our
#     rule's time lifetime is long, so its timer always fires first while the
#     traffic is light);
#   - ipsec-xdpd starts CHILD SA rekeys: the rule's lifetime-kb (1024, the
#     least) is reached in a few seconds by a flood of large pings (charon's
#     timer may fire meanwhile: a collision, resolved by the nonces);
#   - ipsec-xdpd rekeys the IKE SA: the policy's IKE lifetime is 60 s.
#
# Each phase ends on the rekeys it waits for, not after a time.  Then: no
# ping lost, the SPIs of the IKE SA and of the CHILD SA agree on both sides
# (read at a moment no rekey was under way), one CHILD SA pair only on each
# side (the old ones are gone).
#
#   vmtest/vm.sh "B=build bash vmtest/guest_ike_swan_rekey.sh"
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
. vmtest/swan_lib.sh
swan_scenario_start
A=10.77.0.1 B=10.77.0.2
SW=$T/swan
KEY="correct horse battery staple"
trap 'rc=$?; stop_daemons; swan_stop; (exit $rc); ns_teardown' EXIT

ours() { xa -j show sa | json_get "$1" 2>/dev/null; }
stat_of() { xa -j show ikestats | json_get "d['stats']['$1']"; }
esp_spis() { ip -n "$1" xfrm state | sed -n 's/.*proto esp spi \(0x[0-9a-f]*\).*/\1/p' | sort; }

# ---- set up -----------------------------------------------------------------------
cat >"$T/policy.yaml" <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $B } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16, lifetime: 3600, lifetime-kb: 1024 } ] }
policies:
  lab:
    ike: { proposals: [ aes256gcm16-prfsha256-curve25519 ], lifetime: 60 }
    rules:
      - { name: to-peer, filter-list: peer, action: secure, authentication: [ { psk: lab } ] }
YAML
check "load the dataplane on A" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the policy" xa policy apply "$T/policy.yaml"
conf "$T/confA" $B
cp "$T/policy.yaml" "$T/confA/policy.yaml"
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" || exit 1
swan_start "$NS_B" "$SW" || exit 1
# charon: CHILD SA rekey every 15 s exactly (rand_time 0), no IKE rekey of
# its own, long hard lifetimes (ours end the SAs, not its).
swan_case_conf transport aes256gcm16-prfsha256-x25519 aes256gcm16 $B $A "$KEY" |
	sed -e '0,/rekey_time = 0/s//rekey_time = 0\n\t\treauth_time = 0/' \
	    -e '/children/,$s/rekey_time = 0/rekey_time = 15s\n\t\t\t\trand_time = 0\n\t\t\t\tlife_time = 600s\n\t\t\t\trekey_bytes = 0/' |
	swan_case "$SW" rekey || echo "FAIL - charon did not load the case"
grep -q "rekey_time = 15s" "$SW/swanctl.conf" || echo "FAIL - swanctl.conf lacks the CHILD rekey_time"

check "ipsec-xdp sa initiate" xa sa initiate $B
child0=$(ours 'd["child_sas"][0]["spi_in"]')
ike0=$(ours 'd["ike_sas"][0]["ispi"]')
t0=$SECONDS

# ---- traffic through the rekeys ----------------------------------------------------------
# A light ping the whole time: rounds of 25 pings every 0.2 s, each run to
# its end (none cut short, so none counted lost for stopping it).  Once
# charon rekeyed twice, a flood of 1400-byte pings that fills the 1 MiB byte
# lifetime twice or more; then until ipsec-xdpd rekeyed the IKE SA (60 s).
# The phases end on counted rekeys, not after a time.
ping_rounds() {
	while [ ! -e "$T/stop-ping" ]; do
		ip netns exec "$NS_A" ping -q -i 0.2 -c 25 -W 3 $B
	done
}
nlog() { grep -c "$1" "$T/A.log"; }
log_has() { [ "$(nlog "$1")" -ge "$2" ]; }	# PATTERN N: N lines or more
ike_rekeyed() { sleep 1; [ "$(stat_of ike_sa_rekeys)" -ge 1 ]; }	# (asked once a second)
ping_rounds >"$T/ping.txt" 2>&1 &
PING=$!
check "charon rekeyed the CHILD SA twice under light traffic (rekey_time 15 s)" \
	wait_until 120 log_has "CHILD SA rekeyed by the peer" 2
peer_rekeys_light=$(nlog "CHILD SA rekeyed by the peer")
ours_light=$(nlog "CHILD SA rekeyed old=")
ip netns exec "$NS_A" ping -q -s 1400 -i 0.01 -c 2000 -W 3 $B >"$T/flood.txt" 2>&1
ours_flood=$(( $(nlog "CHILD SA rekeyed old=") - ours_light ))
check "ipsec-xdpd rekeyed the IKE SA under traffic (lifetime 60 s)" wait_until 120 ike_rekeyed
touch "$T/stop-ping"
wait $PING
echo "# traffic over after $((SECONDS - t0)) s"

sent=$(awk '/packets transmitted/ { n += $1 } END { print n + 0 }' "$T/ping.txt")
got=$(awk '/packets transmitted/ { n += $4 } END { print n + 0 }' "$T/ping.txt")
check "light ping: pings sent ($sent)" test "$sent" -gt 0
check_eq "light ping: none lost (received of $sent sent)" "$sent" "$got"
check "flood: none lost ($(grep -o '[0-9]* received' "$T/flood.txt"))" \
	grep -q ' 2000 received' "$T/flood.txt"
check "charon's log: it sent the rekey requests ($peer_rekeys_light rekeys by the peer)" \
	grep -q "generating CREATE_CHILD_SA request.*REKEY_SA" "$SW/charon.log"
check "ipsec-xdpd started CHILD SA rekeys under the flood ($ours_flood, byte lifetime)" \
	test "$ours_flood" -ge 1
# Both sides may start a rekey of the CHILD SA at once (charon's timer
# during the flood): RFC 7296 §2.8.1, resolved by the nonces; the checks
# below (one pair left, the same SPIs, none lost) hold either way.
echo "# rekey collisions (resolved): $(nlog "rekey collision")"

# ---- after the rekeys: one pair, same SPIs on both sides ------------------------------
# charon rekeys every 15 s: compare the sides at one moment, charon's SAs
# and both kernels' states read between two equal readings of ipsec-xdpd's SAs,
# with one IKE SA and one CHILD SA on each side and one pair of ESP states
# in each kernel: then no rekey was half done or ended meanwhile (a side
# that answers a rekey holds the old and the new SA until the old is
# deleted; one that starts it holds the old and then both).
our_view() {
	ours '(d["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]+" "+
		d["child_sas"][0]["spi_in"]+":"+d["child_sas"][0]["spi_out"]
		if len(d["ike_sas"]) == 1 and len(d["child_sas"]) == 1 else "")'
}
moment() {
	local sw again
	M_OURS=$(our_view)
	sw=$(swan_sas "$SW")
	M_KA=$(esp_spis "$NS_A" | tr '\n' ' ') M_KB=$(esp_spis "$NS_B" | tr '\n' ' ')
	again=$(our_view)
	M_SWAN="$(field_of "$sw" initiator-spi):$(field_of "$sw" responder-spi) $(field_of "$sw" spi-out):$(field_of "$sw" spi-in)"
	[ -n "$M_OURS" ] && [ "$M_OURS" = "$again" ] &&
		[ "$(grep -c '^list-sa event' <<<"$sw")" = 1 ] &&
		[ "$(grep -o '\bspi-in=' <<<"$sw" | wc -l)" = 1 ] &&
		[ "$(grep -o 'state=INSTALLED' <<<"$sw" | wc -l)" = 1 ] &&
		[ "$(wc -w <<<"$M_KA")" = 2 ] && [ "$(wc -w <<<"$M_KB")" = 2 ]
}
field_of() { grep -o "\b$2=[^ }]*" <<<"$1" | head -1 | cut -d= -f2; }
if ! check "one IKE SA and one CHILD SA pair on each side at one moment (the old ones gone)" \
	wait_until 120 moment; then
	echo "ours: $(xa show sa 2>&1 | tr '\n' ' ')"
	echo "A: $M_KA B: $M_KB"
fi
check_eq "IKE SPIs agree (ours = charon's)" "${M_SWAN%% *}" "${M_OURS%% *}"
check_eq "ESP SPIs agree (our in/out = charon's out/in)" "${M_SWAN#* }" "${M_OURS#* }"
check_eq "the kernels agree on the ESP SPIs" "${M_KA:-<none>}" "$M_KB"
child1=$(ours 'd["child_sas"][0]["spi_in"]')
ike1=$(ours 'd["ike_sas"][0]["ispi"]')
check "the CHILD SA is a new one ($child0 -> $child1)" test -n "$child1" -a "$child0" != "$child1"
check "the IKE SA is a new one ($ike0 -> $ike1)" test -n "$ike1" -a "$ike0" != "$ike1"
refute "the first CHILD SA's SPI is gone from A's kernel" grep -qi "0x0*${child0#0x}\$" <(esp_spis "$NS_A")

grep -h "CHILD SA\|IKE SA rekey" "$T/A.log" | tail -12
if [ "$FAILS" -gt 0 ]; then
	echo "---- charon.log (rekeys)"; grep -i "rekey\|CREATE_CHILD\|delet" "$SW/charon.log" | tail -40
	echo "---- A.log (tail)"; tail -40 "$T/A.log"
fi
finish
