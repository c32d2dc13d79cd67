#!/usr/bin/env bash
# Inside the 6.12 VM: negotiate traffic handed from the dataplane to xfrm.
#
# A runs the dataplane (XDP + TC) with a policy: negotiate with B (secure-b),
# a permit (tcp 8080) and a block (tcp 9090) inside it, and a tunnel rule
# pair between the inner networks 10.78.1.0/24 (A) and 10.78.2.0/24 (B).
# tests/vm/xfrm_pair (ike/kernel/kernel.c) installs SAs + policies with fixed test
# keys: on A with an if_id, on B as a plain kernel IPsec peer (no if_id, no
# dataplane).  A's SA bundles send transport traffic into a plain xfrm
# interface (if_id 20) and tunnel traffic into the external one (if_id 30,
# bpf_skb_set_xfrm_info); bpf/ipsec_xdp.bpf.c says why transport mode needs
# the plain one.  For transport and tunnel mode, AES-GCM and AES-CBC +
# HMAC-SHA2: ping and TCP both ways, SA counters, only ESP on the wire for
# the protected flow; plus events (dataplane and xfrm), plaintext injected
# by B refused, another filter's traffic arriving through an SA dropped
# after decryption, soft fallback.
#
#   vmtest/vm.sh bash vmtest/guest_xfrm.sh
set -u
cd "$(dirname "$0")/.."
# xfrm_interface before the dataplane loads: its kfunc bpf_skb_set_xfrm_info
# is resolved at program load time.
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
XP=$TOP/${B:-build}/tests/vm_xfrm_pair
[ -x "$XP" ] || { echo "build first: $XP is missing (make build/tests/vm_xfrm_pair)"; exit 1; }
ns_setup
echo "kernel $(uname -r)"

A=10.77.0.1 B=10.77.0.2 AIN=10.78.1.1 BIN=10.78.2.1
xa() { ina env IPSEC_XDP_BPFFS="$T/bpffs/a" "$XP" "$@"; }
xb() { inb "$XP" "$@"; }
stat_of() { xa dpstats | awk -v k="$1" '$1 == k { print $2 }'; }
refused_past() { [ "$(stat_of plain_refused)" -gt "$1" ]; }	# N: more than N
drop_of() { ixa -j show stats | json_get "d[\"drops\"][\"$1\"]"; }
flush() {
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" xfrm state flush
		ip -n "$ns" xfrm policy flush
	done
}
# sa_moved NS: every SA of NS counted packets (ip -s xfrm state).
sa_moved() {
	local c
	c=$(ip -n "$1" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p')
	[ "$(wc -w <<<"$c")" -ge 2 ] || return 1
	for n in $c; do [ "$n" -gt 0 ] || return 1; done
}
# tcp_in NS_LISTEN ADDR NS_CONNECT SRC: a TCP connection to ADDR:5001.
tcp_in() {
	ip netns exec "$1" timeout 20 nc -l -n "$2" 5001 >/dev/null 2>&1 &
	local l=$!
	wait_listen "$1" tcp 5001
	ip netns exec "$3" timeout 4 nc -n -z -w 3 -s "$4" "$2" 5001
	local rc=$?
	kill $l 2>/dev/null; wait $l 2>/dev/null
	return $rc
}

# ---- the dataplane on A, its policy, the xfrm interfaces --------------------------
cat >"$T/lab.yaml" <<YAML
filter-lists:
  peer:    { filters: [ { src: $A, dst: $B } ] }
  web:     { filters: [ { src: $A, dst: $B, protocol: tcp, dst-port: 8080 } ] }
  closed:  { filters: [ { src: $A, dst: $B, protocol: tcp, dst-port: 9090 } ] }
  tun-out: { filters: [ { src: 10.78.1.0/24, dst: 10.78.2.0/24, mirrored: no } ] }
  tun-in:  { filters: [ { src: 10.78.2.0/24, dst: 10.78.1.0/24, mirrored: no } ] }
  other:   { filters: [ { src: 10.78.1.0/24, dst: 10.78.3.0/24 } ] }
filter-actions:
  require: { action: negotiate, methods: [ { esp: aes128gcm16 } ] }
policies:
  lab:
    rules:
      - { name: secure-b, filter-list: peer, action: require, authentication: [ { psk: lab } ] }
      - { name: web-clear, filter-list: web, action: permit }
      - { name: closed, filter-list: closed, action: block }
      - { name: tun-out, filter-list: tun-out, action: require,
          authentication: [ { psk: lab } ], tunnel: $B }
      - { name: tun-in, filter-list: tun-in, action: require,
          authentication: [ { psk: lab } ], tunnel: $A }
      - { name: other-net, filter-list: other, action: permit }
YAML
ina ip addr add $AIN/32 dev lo
inb ip addr add $BIN/32 dev lo
ina ip route add 10.78.2.0/24 via $B src $AIN
inb ip route add 10.78.1.0/24 via $A src $BIN

# Strict reverse-path filtering, as many hosts have it: decrypted packets
# arrive on an xfrm interface while the route back is via the veth;
# ikk_xfrmi_add() makes the interface loose (rp_filter 2).
ina sysctl -qw net.ipv4.conf.all.rp_filter=1

check "load the dataplane on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the policy" ixa policy apply "$T/lab.yaml"
check "xfrm interface for transport bundles (plain, if_id 20)" xa xfrmi ixdp-tr 20
check "xfrm interface for tunnel bundles (external)" xa xfrmi ixdp-md external
check "ixdp-md has no IPv6 link-local address" \
	test -z "$(ina ip -6 addr show dev ixdp-md)"

echo "# [${SECONDS}s] no SA yet"
# ---- no SA yet: dropped, reported; the kernel's own ACQUIRE ------------------------
xa events 1 15000 >"$T/ev.out" 2>&1 &
evpid=$!
for i in $(seq 150); do grep -q listening "$T/ev.out" && break; sleep 0.1; done
d0=$(drop_of negotiate_no_sa)
refute "no bundle: ping A->B dropped" ping_a_to_b
wait $evpid
sed 's/^/    /' "$T/ev.out"
check "no bundle: the daemon got an event (rule secure-b, out, dropped)" \
	grep -q "dp-event need_sa rule=$(xa ruleid secure-b) dir=out proto=1 $A:0 -> $B:0 bundle=none dropped" "$T/ev.out"
check "no bundle: counted negotiate_no_sa" test "$(drop_of negotiate_no_sa)" -gt "$d0"
check "no bundle: counted no_bundle" test "$(stat_of no_bundle)" -gt 0

ip -n "$NS_B" xfrm policy add src $B dst $A proto udp dport 9 dir out \
	tmpl proto esp mode transport reqid 9
xb xevents 1 15000 >"$T/xev.out" 2>&1 &
evpid=$!
for i in $(seq 150); do grep -q listening "$T/xev.out" && break; sleep 0.1; done
echo x | inb timeout 1 nc -u -n -w 1 $A 9 2>/dev/null
wait $evpid
check "xfrm ACQUIRE event (ike/kernel/kernel.c)" grep -q "acquire ESP $B->$A reqid=9" "$T/xev.out"
flush

# ---- the bundles: a peer's (transport), the rule's (tunnel) ----------------------------
check "bundle secure-b/$B: up, plain interface" xa bundle secure-b $B up ixdp-tr 20
check "bundle tun-out/any: up, external interface" xa bundle tun-out any up ixdp-md 30 md

# ---- transport and tunnel, two algorithms each ---------------------------------------
first=1
for mode in transport tunnel; do
	for alg in gcm128 cbc-sha256; do
		s="$mode $alg"
		echo "# [${SECONDS}s] $s"
		if [ $mode = transport ]; then
			ok=1
			xa install $A $B transport $alg if_id=20 || ok=0
			xb install $B $A transport $alg bypass=tcp:8080 || ok=0
			check "$s: SAs + policies installed (ike/kernel/kernel.c)" test $ok = 1
			check "$s: ping A->B" ping_a_to_b
			check "$s: ping B->A" ping_b_to_a
			check "$s: TCP A->B" tcp_in "$NS_B" $B "$NS_A" $A
			check "$s: TCP B->A" tcp_in "$NS_A" $A "$NS_B" $B
		else
			ok=1
			xa install $A $B tunnel $alg if_id=30 inner=10.78.1.0/24,10.78.2.0/24 || ok=0
			xb install $B $A tunnel $alg inner=10.78.2.0/24,10.78.1.0/24 || ok=0
			check "$s: SAs + policies installed (ike/kernel/kernel.c)" test $ok = 1
			check "$s: ping A->B" ina ping -c 1 -W 2 -I $AIN $BIN
			check "$s: ping B->A" inb ping -c 1 -W 2 -I $BIN $AIN
			check "$s: TCP A->B" tcp_in "$NS_B" $BIN "$NS_A" $AIN
			check "$s: TCP B->A" tcp_in "$NS_A" $AIN "$NS_B" $BIN
		fi
		ina "$XP" counters $A $B >"$T/ctr.out" 2>&1
		sed 's/^/    A /' "$T/ctr.out"
		check "$s: A's SAs counted packets both ways (ikk_sa_counters)" \
			grep -q '^out packets=[1-9].*' "$T/ctr.out"
		check "$s: ... and no integrity failure" \
			test "$(grep -c 'integrity_failed=0' "$T/ctr.out")" = 2
		check "$s: A's inbound SA counted" grep -q '^in packets=[1-9]' "$T/ctr.out"
		check "$s: B's SAs counted packets (ip -s xfrm state)" sa_moved "$NS_B"
		if [ $first = 1 ] || [ $alg = gcm128 -a $mode = tunnel ]; then
			# Only ESP on the wire for the protected flows; the permit
			# filter's TCP 8080 in clear.
			# On A's veth: B's kernel re-injects what it decapsulates
			# (tunnel mode) on its veth, where a capture would show it.
			capture_start "$NS_A" "$IF_A" "$T/cap.pcap"
			if [ $mode = transport ]; then
				ping_a_to_b >/dev/null
				tcp_in "$NS_B" $B "$NS_A" $A
				check "$s: permit filter: TCP A->B:8080 in clear" tcp_a_to_b 8080
				d0=$(drop_of block_filter)
				refute "$s: block filter: TCP A->B:9090 refused" tcp_a_to_b 9090
				check "$s: block filter counted" test "$(drop_of block_filter)" -gt "$d0"
			else
				ina ping -c 1 -W 2 -I $AIN $BIN >/dev/null
				tcp_in "$NS_B" $BIN "$NS_A" $AIN
			fi
			capture_stop "$T/cap.pcap"
			sed 's/^/    wire: /' "$T/cap.pcap.txt" | head -n 12
			check "$s: capture: ESP seen" grep -q "ESP(spi=" "$T/cap.pcap.txt"
			if [ $mode = transport ]; then
				check "$s: capture: no ICMP or TCP in clear but port 8080/9090" \
					test -z "$(grep -E " IP 10\.77\.0\..*(ICMP|Flags)" "$T/cap.pcap.txt" |
						   grep -vE '\.(8080|9090)[: ]')"
				check "$s: capture: TCP 8080 in clear (permit)" grep -q "$B.8080" "$T/cap.pcap.txt"
			else
				check "$s: capture: no inner packet in clear" \
					test -z "$(grep -E '10\.78\.' "$T/cap.pcap.txt")"
			fi
		fi
		if [ $first = 1 ]; then
			# Plaintext of the protected flow from B, bypassing B's xfrm
			# (a raw frame): the dataplane refuses it.
			r0=$(stat_of plain_refused)
			mac_a=$(ina cat /sys/class/net/"$IF_A"/address)
			inb python3 - "$IF_B" "$mac_a" $B $A <<'PY'
import socket, struct, sys
ifname, dmac, src, dst = sys.argv[1:5]
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
icmp = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 1) + b'plaintext'
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
smac = open('/sys/class/net/%s/address' % ifname).read().strip()
eth = bytes.fromhex(dmac.replace(':', '')) + bytes.fromhex(smac.replace(':', '')) + b'\x08\x00'
s.send(eth + ip + icmp)
PY
			check "$s: plaintext from B without ESP refused (plain_refused)" \
				wait_until 10 refused_past "$r0"
			first=0
		fi
		flush
	done
done

echo "# [${SECONDS}s] inner check"
# ---- after decryption the inner packet must match its SA's filter (docs/behaviour.md §4) ----------
# A's tunnel SA is tun-out/tun-in's (10.78.2.0/24 -> 10.78.1.0/24).  B gets the
# same keys with a wider selector (10.78.0.0/16), so it also encrypts traffic
# of 10.78.3.1 -- the permit filter other-net's -- into that SA.  A decrypts
# it, and the kernel's inbound check (the SA's selector, the "in" policy of
# its if_id) drops it: it never reaches A's ICMP.
xfrm_drops_a() {
	ina awk '/XfrmInStateMismatch|XfrmInTmplMismatch|XfrmInNoPols|XfrmInPolBlock/ \
		{ s += $2 } END { print s + 0 }' /proc/net/xfrm_stat
}
in_echos_a() {
	ina awk '/^Icmp:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i }
		else print $c }' /proc/net/snmp
}
ina ip route add 10.78.3.0/24 via $B src $AIN
inb ip addr add 10.78.3.1/32 dev lo
xa install $A $B tunnel gcm128 if_id=30 inner=10.78.1.0/24,10.78.2.0/24 >/dev/null
xb install $B $A tunnel gcm128 inner=10.78.0.0/16,10.78.1.0/24 >/dev/null
e0=$(in_echos_a)
check "inner check: B's inner host through the SA reaches A" inb ping -c 1 -W 2 -I $BIN $AIN
check "inner check: ... counted as an echo on A" test "$(in_echos_a)" -gt "$e0"
e0=$(in_echos_a) x0=$(xfrm_drops_a)
ina "$XP" counters $A $B | sed -n 's/^in packets=\([0-9]*\).*/\1/p' >"$T/in0"
inb ping -c 2 -W 1 -I 10.78.3.1 $AIN >/dev/null 2>&1
ina "$XP" counters $A $B | sed -n 's/^in packets=\([0-9]*\).*/\1/p' >"$T/in1"
check "inner check: 10.78.3.1's packets came through A's SA (decrypted)" \
	test "$(cat "$T/in1")" -gt "$(cat "$T/in0")"
check_eq "inner check: ... but none reached A's ICMP" "$e0" "$(in_echos_a)"
check "inner check: ... dropped by the inbound policy check ($x0 -> $(xfrm_drops_a))" \
	test "$(xfrm_drops_a)" -gt "$x0"
flush

echo "# [${SECONDS}s] expire"
# ---- the kernel's soft EXPIRE (ike/kernel/kernel.c events) -----------------------------------
xa install $A $B transport gcm128 if_id=20 >/dev/null
xb install $B $A transport gcm128 soft_bytes=1 >/dev/null
xb xevents 1 8000 >"$T/xev.out" 2>&1 &
evpid=$!
for i in $(seq 150); do grep -q listening "$T/xev.out" && break; sleep 0.1; done
inb ping -c 3 -i 0.2 -W 2 -q $A >/dev/null
wait $evpid
check "xfrm soft EXPIRE event" grep -q "^expire ESP spi=0x0000101[01] .* soft" "$T/xev.out"
xa dump | sed 's/^/    A /'
check "SA dump lists A's two SAs with if_id 20" test "$(xa dump | grep -c 'if_id=20')" = 2
flush

# ---- soft fallback: the daemon's call, the dataplane obeys ----------------------------
check "bundle negotiating (IKE running)" xa bundle secure-b $B negotiating
refute "negotiating: ping A->B dropped" ping_a_to_b
s0=$(stat_of soft_pass)
check "bundle soft: A and B talk in clear" xa bundle secure-b $B soft
check "soft: ping A->B in clear" ping_a_to_b
check "soft: counted soft_pass" test "$(stat_of soft_pass)" -gt "$s0"

xa dpstats | sed 's/^/    /'
echo "# [${SECONDS}s] done"
finish
