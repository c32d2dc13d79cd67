#!/usr/bin/env bash
# Inside the 6.12 VM: docs/behaviour.md §4 "with no SA yet, IKE is started", end to end.
# A runs the dataplane and ipsec-xdpd, which links to it (ike/daemon/daemon_dplink.c): it
# creates the plain xfrm interface ixdp-xfrm0 (if_id 0x1a5e0001, transport
# bundles) and the collect-metadata one ixdp-xfrm1 (tunnel bundles) and
# reads the need-SA events.  B runs ipsec-xdpd only (plain kernel IPsec
# peer), with more addresses: B2 (inpass), B4 (soft), B5 (no soft).
#
#  1. transport: a plain ping from A to B; the first packets are dropped
#     (negotiate_no_sa), the event starts IKE, the CHILD SA's SAs and
#     policies carry the if_id, the bundle goes UP, ping goes through ESP.
#  2. the policy re-applied with its rules in another order (and new ones):
#     the live SA keeps working, nothing renegotiated (rule ids).
#     A new rule for TCP 5001 to the same peer: its traffic gets its CHILD
#     SA on the IKE SA that is up (CREATE_CHILD_SA): one IKE SA, two CHILD
#     SAs on both sides.  That rule changed and reloaded: its CHILD SA is
#     deleted on both sides, to-peer's (unchanged) lives on.  Traffic of
#     both rules while no IKE SA is up: one IKE SA, the second rule's CHILD
#     SA asked for once it is up.
#  3. inpass: B2's plaintext ping is let in, A starts IKE, A's replies
#     never leave in clear and flow once the SA is up.
#  4. no soft: a peer whose IKE is dropped never gets a clear packet.
#  5. soft: the same peer falls back to clear after the soft timeout
#     (soft_sas counted), and goes UP (ESP) when IKE gets through.
#  6. tunnel: after deleting the IKE SAs, a tunnel policy; a ping from A's
#     inner network to a host behind B brings up one tunnel CHILD SA with
#     B as endpoint, through ixdp-xfrm1; another host behind B uses it too.
#
#   vmtest/vm.sh bash vmtest/guest_ike_auto.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
ike_scenario_start
A=10.77.0.1 B=10.77.0.2

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

drop_of() { xa -j show stats | json_get "d[\"drops\"][\"$1\"]"; }


# ---- A: the dataplane and its policy; then both daemons ------------------------------
policy $B >"$T/lab.yaml"
check "load the dataplane on A" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the policy on A" xa policy apply "$T/lab.yaml"
conf "$T/confA" $B
conf "$T/confB" $A
# soft SAs retry IKE every 4 s here (60 s by default)
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" IPSEC_XDPD_SOFT_RETRY_S=4 || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "A: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/A.log"
check "A: plain xfrm interface ixdp-xfrm0" sh -c "ip -n $NS_A -d link show ixdp-xfrm0 | grep -q 'if_id 0x1a5e0001'"
check_eq "A: no SA yet" 0 "$(nstates "$NS_A")"
check "B: daemon not linked (no dataplane)" sh -c "! grep -q 'dataplane: linked' $T/B.log"

# ---- a plain ping: dropped at first, then through ESP --------------------------------
d0=$(drop_of negotiate_no_sa)
capture_start "$NS_B" "$IF_B" "$T/esp.pcap" esp
ok=0 tries=0
for i in $(seq 1 20); do
	tries=$i
	if ip netns exec "$NS_A" ping -c 1 -W 1 $B >/dev/null 2>&1; then ok=1; break; fi
done
echo "# ping answered after $tries tries"
check "ping A -> B succeeds within a few seconds" test $ok = 1
check "the first packets were dropped (negotiate_no_sa)" test "$(drop_of negotiate_no_sa)" -gt "${d0:-0}"
check "A: IKE started by the dataplane" grep -q "dataplane: rule=.*: starting IKE with" "$T/A.log"
check "A: bundle up" grep -q "bundle rule=.* peer=$B up" "$T/A.log"
check "ping A -> B through the SAs" ip netns exec "$NS_A" ping -c 3 -W 2 $B
check "ping B -> A" ip netns exec "$NS_B" ping -c 2 -W 2 $A
capture_stop "$T/esp.pcap"
check "ESP on the veth" grep -q ESP "$T/esp.pcap.txt"
check_eq "A: 2 ESP states" 2 "$(nstates "$NS_A")"
check_eq "B: 2 ESP states" 2 "$(nstates "$NS_B")"
check "A: SAs carry the if_id" sh -c "ip -n $NS_A xfrm state | grep -q 'if_id 0x1a5e0001'"
check "A: policies carry the if_id" sh -c "ip -n $NS_A xfrm policy | grep -q 'if_id 0x1a5e0001'"
check "B: plain SAs (no if_id)" sh -c "! ip -n $NS_B xfrm state | grep -q if_id"
check "A: transport mode" sh -c "ip -n $NS_A xfrm state | grep -q 'mode transport'"
pk=$(ip -n "$NS_A" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | tr '\n' ' ')
check "A: both SAs counted packets ($pk)" sh -c "for n in $pk; do [ \$n -gt 0 ] || exit 1; done; [ \$(echo $pk | wc -w) -eq 2 ]"
check_eq "A: show sa lists the CHILD SA" 1 "$(xa -j show sa | json_get 'len(d["child_sas"])')"
check_eq "A: CHILD SA of rule to-peer" to-peer "$(xa -j show sa | json_get 'd["child_sas"][0]["rule"]')"

# ---- 2. rules in another order: the live SA lives on --------------------------------
B2=10.77.0.3 B4=10.77.0.4 B5=10.77.0.5
for x in $B2 $B4 $B5; do ip -n "$NS_B" addr add $x/24 dev "$IF_B"; done
cat >"$T/lab2.yaml" <<YAML
filter-lists:
  b2:   { filters: [ { src: me, dst: $B2 } ] }
  b4:   { filters: [ { src: me, dst: $B4 } ] }
  b5:   { filters: [ { src: me, dst: $B5 } ] }
  peer: { filters: [ { src: me, dst: $B } ] }
filter-actions:
  secure:   { action: negotiate, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }
  answer:   { action: negotiate, inpass: yes, methods: [ { esp: aes256gcm16 } ] }
  fallback: { action: negotiate, soft: yes, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: inpass-b2, filter-list: b2, action: answer, authentication: [ { psk: lab } ] }
      - { name: soft-b4, filter-list: b4, action: fallback, authentication: [ { psk: lab } ] }
      - { name: hard-b5, filter-list: b5, action: secure, authentication: [ { psk: lab } ] }
      - { name: to-peer, filter-list: peer, action: secure, authentication: [ { psk: lab } ] }
YAML
spis0=$(ip -n "$NS_A" xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' ')
check "A: the policy with the rules in another order applied" xa policy apply "$T/lab2.yaml"
sleep 0.5
check "A: ping B through the same SA after the re-apply" ip netns exec "$NS_A" ping -c 2 -W 2 $B
check_eq "A: the same SAs (nothing renegotiated)" "$spis0" \
	"$(ip -n "$NS_A" xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' ')"
check_eq "A: one need-SA start only" 1 "$(grep -c 'need-SA rule=to-peer' "$T/A.log")"

# ---- 2b. a second rule to the same peer: a CHILD SA on the IKE SA that is up ---------
{ sed "s|^filter-lists:|filter-lists:\n  tcpb: { filters: [ { src: me, dst: $B, protocol: tcp, dst-port: 5001 } ] }|" "$T/lab2.yaml"
  echo "      - { name: tcp-b, filter-list: tcpb, action: secure, authentication: [ { psk: lab } ] }"
} >"$T/lab3.yaml"
sed 's/dst-port: 5001/dst-port: 5002/' "$T/lab3.yaml" >"$T/lab4.yaml"
check "A: the policy with rule tcp-b applied" xa policy apply "$T/lab3.yaml"
sleep 0.5
ok=0
for i in 1 2 3 4 5; do tcp_a_to_b 5001 $B && { ok=1; break; }; done
echo "# tcp-b: connected after $i tries"
check "tcp-b: TCP A -> B:5001 connects" test $ok = 1
check "tcp-b: its need-SA asked for a CHILD SA on the IKE SA" \
	grep -q "rule=tcp-b: a CHILD SA on the IKE SA with $B" "$T/A.log"
check "tcp-b: bundle up" grep -q "bundle rule=tcp-b peer=$B up" "$T/A.log"
check_eq "A: one IKE SA" 1 "$(xa -j show sa | json_get 'len(d["ike_sas"])')"
check_eq "A: two CHILD SAs on it (to-peer, tcp-b)" "1 tcp-b to-peer" \
	"$(xa -j show sa | json_get '" ".join([str(len(set(c["ike_ispi"] for c in d["child_sas"])))] + sorted(c["rule"] for c in d["child_sas"]))')"
check_eq "B: one IKE SA, two CHILD SAs" "1 2" \
	"$(xb -j show sa | json_get '"%d %d" % (len(d["ike_sas"]), len(d["child_sas"]))')"
check "A: to-peer's SAs still there ($spis0)" sh -c "for s in $spis0; do
	ip -n $NS_A xfrm state | grep -q \"\$s\" || exit 1; done"

# ---- 2c. tcp-b changed, policy applied: the daemon reloads, its CHILD SA goes ---------
check_eq "A: the policy with tcp-b changed applied, ipsec-xdpd reloaded" reloaded \
	"$(xa -j policy apply "$T/lab4.yaml" | json_get 'd["daemon"]')"
two_states() { [ "$(nstates "$NS_A")" = 2 ] && [ "$(nstates "$NS_B")" = 2 ]; }
no_state_on_a() { [ "$(nstates "$NS_A")" = 0 ]; }
wait_until 30 two_states
check "A: reload deleted tcp-b's CHILD SA" \
	grep -q "policy reloaded: deleting CHILD SA .* of rule tcp-b: its rule changed" "$T/A.log"
check_eq "A: only to-peer's CHILD SA left" "to-peer" \
	"$(xa -j show sa | json_get '" ".join(c["rule"] for c in d["child_sas"])')"
check_eq "B: one CHILD SA left" 1 "$(xb -j show sa | json_get 'len(d["child_sas"])')"
check_eq "A: to-peer's SAs unchanged" "$spis0" \
	"$(ip -n "$NS_A" xfrm state | grep -o 'spi 0x[0-9a-f]*' | sort | tr '\n' ' ')"
check_eq "B: 2 ESP states" 2 "$(nstates "$NS_B")"
check "A: ping B still through the same SA" ip netns exec "$NS_A" ping -c 2 -W 2 $B

# ---- 2d. both rules' traffic while no IKE SA is up: the second waits for it ------------
for ispi in $(xa -j show sa | json_get '" ".join(str(s["ispi"]) for s in d["ike_sas"])'); do
	xa sa delete "$ispi" >/dev/null
done
wait_until 30 no_state_on_a
n0=$(grep -c "a CHILD SA of rule tcp-b on this IKE SA" "$T/A.log")
nlog() { grep -c "$1" "$T/A.log"; }
log_grew() { [ "$(nlog "$1")" -gt "$2" ]; }	# PATTERN N: more than N lines
tp0=$(nlog "need-SA rule=to-peer") tb0=$(nlog "need-SA rule=tcp-b")
inb timeout 120 nc -l -n 5002 >/dev/null 2>&1 &
lis=$!
wait_listen "$NS_B" tcp 5002
# B ignores IKE until both need-SA events came: tcp-b's comes while the IKE
# SA that to-peer's started is under way, whatever the machine's speed.
# (A's last retransmission of IKE_SA_INIT leaves 7.5 s after the first.)
inb nft add table inet ikehold
inb nft add chain inet ikehold in '{ type filter hook input priority 0; }'
inb nft add rule inet ikehold in udp dport 500 drop
ina ping -c 1 -W 1 $B >/dev/null 2>&1 &	# to-peer's need-SA starts IKE
pin=$!
check "2d: to-peer's need-SA started IKE" wait_until 30 log_grew "need-SA rule=to-peer" "$tp0"
ok=0
# tcp-b's waits for that IKE SA.  One connect gives up when its SYNs run
# out (seconds): connects again until one gets through (60 s at most).
connect_2d() {
	local end=$((SECONDS + 60))
	until ina nc -v -n -z -w 10 $B 5002; do
		[ $SECONDS -lt $end ] || return 1
		sleep 1	# (not a tight loop if a connect fails at once)
	done
}
t2d=$SECONDS
connect_2d >"$T/nc2d.txt" 2>&1 &
tcp=$!
check "2d: tcp-b's need-SA came while IKE was held" wait_until 30 log_grew "need-SA rule=tcp-b" "$tb0"
check "2d: no IKE SA up while B ignored IKE" test "$(xa -j show sa | json_get 'len([s for s in d["ike_sas"] if s.get("state") == "established"])')" = 0
inb nft delete table inet ikehold	# the retransmission gets through
wait $tcp && ok=1
kill $lis 2>/dev/null; wait $lis $pin 2>/dev/null
grep -hE "need-SA rule=(to-peer|tcp-b)|\] established rule|CHILD SA of rule tcp-b" "$T/A.log" |
	tail -n 4 | cut -c1-110 | sed 's/^/#   2d: /'
check "2d: TCP A -> B:5002 connects (after $((SECONDS - t2d)) s, $(grep -c . "$T/nc2d.txt") tries)" test $ok = 1
sed 's/^/#   2d: /' "$T/nc2d.txt"
check "2d: tcp-b's CHILD SA asked for once the IKE SA was up" \
	test "$(grep -c "a CHILD SA of rule tcp-b on this IKE SA" "$T/A.log")" -gt "$n0"
check_eq "2d: A: one IKE SA with both CHILD SAs" "1 1 tcp-b to-peer" \
	"$(xa -j show sa | json_get '" ".join([str(len(d["ike_sas"])), str(len(set(c["ike_ispi"] for c in d["child_sas"])))] + sorted(c["rule"] for c in d["child_sas"]))')"

# ---- the IKE SA goes: the SAs and the bundle go with it --------------------------------
# (B's identity is its address: the INITIAL_CONTACT of A's IKE SAs with
# B's other addresses below speaks for other pairs of identities, RFC 7296
# §2.4, and leaves an IKE SA with B's first address alone)
delete_all() {
	local ispi i
	for ispi in $(xa -j show sa | json_get '" ".join(str(s["ispi"]) for s in d["ike_sas"])'); do
		xa sa delete "$ispi" >/dev/null || echo "sa delete $ispi failed"
	done
	wait_until 30 no_state_on_a
}
delete_all
check_eq "A: no ESP state left" 0 "$(nstates "$NS_A")"
check_eq "B: no ESP state left" 0 "$(nstates "$NS_B")"
check "A: bundle deleted" grep -q "bundle rule=to-peer peer=$B deleted" "$T/A.log"

# ---- 3. inpass: B2's plaintext is let in, the reply leaves secured ----------------
capture_start "$NS_B" "$IF_B" "$T/inpass.pcap" host $B2
ok=0
for i in $(seq 1 15); do
	if ip netns exec "$NS_B" ping -c 1 -W 1 -I $B2 $A >/dev/null 2>&1; then ok=1; break; fi
done
echo "# inpass: ping answered after $i tries"
check "inpass: ping B2 -> A answered" test $ok = 1
check "inpass: A let the plaintext in and started IKE" \
	grep -q "need-SA rule=inpass-b2 in (inpass) peer=$B2" "$T/A.log"
check "inpass: bundle up" grep -q "bundle rule=inpass-b2 peer=$B2 up" "$T/A.log"
check "inpass: ping B2 -> A again" ip netns exec "$NS_B" ping -c 2 -W 2 -I $B2 $A
capture_stop "$T/inpass.pcap"
sed 's/^/    wire: /' "$T/inpass.pcap.txt" | grep -v "isakmp" | head -6
check "inpass: ESP from A to B2" grep -q "IP $A > $B2: ESP" "$T/inpass.pcap.txt"
check "inpass: no reply from A in clear" sh -c "! grep -q 'IP $A > $B2: ICMP' $T/inpass.pcap.txt"

delete_all
check "A: inpass SAs and bundle deleted" sh -c "[ \$(ip -n $NS_A xfrm state | grep -c '^src') = 0 ] &&
	grep -q 'bundle rule=inpass-b2 peer=$B2 deleted' $T/A.log"

# ---- 4. no soft: never in clear ------------------------------------------------------
ip netns exec "$NS_B" nft -f - <<NFT
table inet noike {
	chain in { type filter hook input priority 0;
		ip daddr { $B4, $B5 } udp dport { 500, 4500 } drop; }
}
NFT
capture_start "$NS_B" "$IF_B" "$T/hard.pcap" icmp and host $B5
refute "no soft: ping A -> B5 (IKE unanswered) fails for 6 s" \
	ip netns exec "$NS_A" ping -c 6 -i 1 -W 1 $B5
capture_stop "$T/hard.pcap"
check "no soft: IKE started" grep -q "need-SA rule=hard-b5 out peer=$B5" "$T/A.log"
check_eq "no soft: no ICMP reached B5 in clear" 0 "$(grep -c ICMP "$T/hard.pcap.txt")"
check "no soft: never a soft SA" sh -c "! grep -q 'soft SA rule=hard-b5' $T/A.log"

# ---- 5. soft: clear after the timeout, then ESP once IKE gets through --------------------
soft_sas() {	# the daemon's soft_sas counter, wherever `show` puts it
	{ xa -j show ikestats 2>/dev/null || xa -j show stats; } | python3 -c '
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "soft_sas":
                return v
            r = find(v)
            if r is not None:
                return r
    return None
print(find(json.load(sys.stdin)))'
}
s0=$(soft_sas)
t0=$SECONDS
ok=0
for i in $(seq 1 12); do
	if ip netns exec "$NS_A" ping -c 1 -W 1 $B4 >/dev/null 2>&1; then ok=1; break; fi
done
echo "# soft: clear ping answered after $((SECONDS - t0)) s"
check "soft: ping A -> B4 works in clear after the timeout" test $ok = 1
check "soft: dropped first (at least the soft timeout, 3 s)" test $((SECONDS - t0)) -ge 2
check "soft: the bundle went soft" grep -q "bundle rule=soft-b4 peer=$B4 soft" "$T/A.log"
check "soft: show ikestats counts a soft SA ($s0 -> $(soft_sas))" \
	test "$(soft_sas)" -gt "${s0:-0}"
ip netns exec "$NS_B" nft delete table inet noike
capture_start "$NS_B" "$IF_B" "$T/soft.pcap" host $B4 and not udp
ok=0
for i in $(seq 1 60); do
	grep -q "bundle rule=soft-b4 peer=$B4 up" "$T/A.log" && { ok=1; break; }
	sleep 0.5
done
echo "# soft: up $((SECONDS - t0)) s after the first ping"
check "soft: IKE retried and got through, the bundle goes up" test $ok = 1
check "soft: ping A -> B4 now" ip netns exec "$NS_A" ping -c 2 -W 2 $B4
capture_stop "$T/soft.pcap"
check "soft: then through ESP" grep -q "IP $A > $B4: ESP" "$T/soft.pcap.txt"

delete_all
check_eq "A: soft peer's SAs deleted" 0 "$(nstates "$NS_A")"

# ---- 6. tunnel mode started by traffic -------------------------------------------------
AIN=10.78.1.1 BIN=10.78.2.1 BIN2=10.78.2.2
ip -n "$NS_A" addr add $AIN/32 dev lo
ip -n "$NS_B" addr add $BIN/32 dev lo
ip -n "$NS_B" addr add $BIN2/32 dev lo
ip -n "$NS_A" route add 10.78.2.0/24 via $B src $AIN
ip -n "$NS_B" route add 10.78.1.0/24 via $A src $BIN
tunnel_policy() {	# OURS THEIRS ME PEER
	cat <<YAML
filter-lists:
  tun-out: { filters: [ { src: $1, dst: $2, mirrored: no } ] }
  tun-in:  { filters: [ { src: $2, dst: $1, mirrored: no } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: tun-out, filter-list: tun-out, action: secure, authentication: [ { psk: lab } ], tunnel: $4 }
      - { name: tun-in, filter-list: tun-in, action: secure, authentication: [ { psk: lab } ], tunnel: $3 }
YAML
}
tunnel_policy 10.78.1.0/24 10.78.2.0/24 $A $B >"$T/confA/policy.yaml"
tunnel_policy 10.78.2.0/24 10.78.1.0/24 $B $A >"$T/confB/policy.yaml"
check "A: tunnel policy applied" xa policy apply "$T/confA/policy.yaml"
check "A and B reloaded the tunnel policy" reload "${PIDS[0]}" "${PIDS[1]}"
check "A: collect-metadata xfrm interface ixdp-xfrm1" \
	sh -c "ip -n $NS_A -d link show ixdp-xfrm1 | grep -q external"
# On A's veth: B's kernel re-injects what it decapsulates on its veth, where
# a capture would show the inner packets.
capture_start "$NS_A" "$IF_A" "$T/tun.pcap" not udp
ok=0
for i in $(seq 1 20); do
	if ip netns exec "$NS_A" ping -c 1 -W 1 -I $AIN $BIN >/dev/null 2>&1; then ok=1; break; fi
done
echo "# tunnel: ping answered after $i tries"
check "tunnel: ping A -> host behind B succeeds" test $ok = 1
check "tunnel: IKE started with the endpoint" \
	sh -c "grep -q 'need-SA rule=tun-out out peer=$BIN proto=1' $T/A.log &&
	       grep -q 'rule=tun-out: starting IKE with $B\$' $T/A.log"
check "tunnel: one bundle for every peer behind B, up" \
	grep -q "bundle rule=tun-out peer=\* up (ixdp-xfrm1)" "$T/A.log"
check "tunnel: ping another host behind B" ip netns exec "$NS_A" ping -c 2 -W 2 -I $AIN $BIN2
check "tunnel: ping B's inner host -> A's" ip netns exec "$NS_B" ping -c 2 -W 2 -I $BIN $AIN
capture_stop "$T/tun.pcap"
check_eq "tunnel: one CHILD SA (2 states) on A" 2 "$(nstates "$NS_A")"
check "tunnel: A's SAs in tunnel mode with the rule's if_id" \
	sh -c "ip -n $NS_A xfrm state | grep -q 'if_id 0x1a5e1000' &&
	       ip -n $NS_A xfrm state | grep -q 'mode tunnel'"
check "tunnel: ESP between the endpoints" grep -q "IP $A > $B: ESP" "$T/tun.pcap.txt"
check "tunnel: no inner packet in clear" sh -c "! grep -q 'IP 10\.78\.' $T/tun.pcap.txt"
pk=$(ip -n "$NS_A" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p' | tr '\n' ' ')
check "tunnel: both SAs counted packets ($pk)" sh -c "for n in $pk; do [ \$n -gt 0 ] || exit 1; done"

echo "---- A.log"; grep -h "dataplane\|CHILD SA" "$T/A.log" | head -40
echo "---- B.log"; grep -h "CHILD SA" "$T/B.log" | head -8
finish
