#!/usr/bin/env bash
# Inside the 6.12 VM: rekeying under traffic between ipsec-xdpd (A, with the
# dataplane) and strongSwan's charon (B; vmtest/swan_lib.sh).  One transport
# CHILD SA, PSK, AES-GCM; traffic runs the whole time:
#
#   - charon starts CHILD SA rekeys: rekey_time = 15s in swanctl.conf (our
#     rule's time lifetime is long, so its timer always fires first while the
#     traffic is light);
#   - ipsec-xdpd starts CHILD SA rekeys: the rule's lifetime-kb (1024, the
#     least) is reached in a few seconds by a flood of large pings, before
#     charon's 15 s;
#   - ipsec-xdpd rekeys the IKE SA: the policy's IKE lifetime is 60 s.
#
# Then: no ping lost, the SPIs of the IKE SA and of the CHILD SA agree on
# both sides, one CHILD SA pair only on each side (the old ones are gone).
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
# A light ping for 75 s (both phases); in its middle, 35 s in, a flood of
# 1400-byte pings that fills the 1 MiB byte lifetime twice or more.
ip netns exec "$NS_A" ping -q -i 0.2 -c 375 -W 3 $B >"$T/ping.txt" 2>&1 &
PING=$!
sleep 35
peer_rekeys_light=$(grep -c "CHILD SA rekeyed by the peer" "$T/A.log")
ours_light=$(grep -c "CHILD SA rekeyed old=" "$T/A.log")
ip netns exec "$NS_A" ping -q -s 1400 -i 0.01 -c 2000 -W 3 $B >"$T/flood.txt" 2>&1
ours_flood=$(( $(grep -c "CHILD SA rekeyed old=" "$T/A.log") - ours_light ))
wait $PING
echo "# traffic over after $((SECONDS - t0)) s"

check "light ping: none lost ($(grep -o '[0-9]* received' "$T/ping.txt"))" \
	grep -q ' 375 received' "$T/ping.txt"
check "flood: none lost ($(grep -o '[0-9]* received' "$T/flood.txt"))" \
	grep -q ' 2000 received' "$T/flood.txt"
check "charon started CHILD SA rekeys ($peer_rekeys_light in the first 35 s)" \
	test "$peer_rekeys_light" -ge 2
check "charon's log: it sent the rekey requests" \
	grep -q "generating CREATE_CHILD_SA request.*REKEY_SA" "$SW/charon.log"
check "ipsec-xdpd started CHILD SA rekeys under the flood ($ours_flood, byte lifetime)" \
	test "$ours_flood" -ge 1
check "ipsec-xdpd rekeyed the IKE SA ($(stat_of ike_sa_rekeys))" test "$(stat_of ike_sa_rekeys)" -ge 1
refute "no rekey collision logged" grep -q "rekey collision" "$T/A.log"

# ---- after the rekeys: one pair, same SPIs on both sides ------------------------------
# A rekey may still be under way at this moment: read both sides until they
# agree (10 s), then compare them at one moment.
settled() {
	local i
	for i in $(seq 1 50); do
		if [ "$(ours 'len(d["child_sas"])')" = 1 ] && [ "$(ours 'len(d["ike_sas"])')" = 1 ] &&
			[ "$(swan_count "$SW")" = 1 ] &&
			[ "$(swan_sas "$SW" | grep -o 'state=INSTALLED' | wc -l)" = 1 ] &&
			[ "$(esp_spis "$NS_A" | wc -l)" = 2 ] && [ "$(esp_spis "$NS_B" | wc -l)" = 2 ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "ours: $(xa show sa 2>&1 | tr '\n' ' ')"
	echo "A: $(esp_spis "$NS_A" | tr '\n' ' ') B: $(esp_spis "$NS_B" | tr '\n' ' ')"
	return 1
}
check "one IKE SA and one CHILD SA pair on each side (the old ones gone)" settled
# agree NAME LEFT RIGHT: the shell expressions LEFT and RIGHT, read one just
# after the other, give the same text; charon rekeys every 15 s, so a rekey
# may fall between the two reads: read again (5 tries) before failing.
agree() {
	local i l r
	for i in 1 2 3 4 5; do
		l=$(eval "$2") r=$(eval "$3")
		[ -n "$l" ] && [ "$l" = "$r" ] && break
		sleep 0.5
	done
	check_eq "$1" "${l:-<nothing read>}" "$r"
}
agree "IKE SPIs agree (ours = charon's)" \
	'echo "$(swan_field "$SW" initiator-spi):$(swan_field "$SW" responder-spi)"' \
	'ours '"'"'d["ike_sas"][0]["ispi"]+":"+d["ike_sas"][0]["rspi"]'"'"
agree "ESP SPIs agree (our in/out = charon's out/in)" \
	'echo "$(swan_field "$SW" spi-out):$(swan_field "$SW" spi-in)"' \
	'ours '"'"'d["child_sas"][0]["spi_in"]+":"+d["child_sas"][0]["spi_out"]'"'"
agree "the kernels agree on the ESP SPIs" \
	'esp_spis "$NS_A" | tr "\n" " "' 'esp_spis "$NS_B" | tr "\n" " "'
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
