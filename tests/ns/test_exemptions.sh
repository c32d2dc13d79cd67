#!/usr/bin/env bash
# The default exemptions (docs/behaviour.md §3, issue 15) on real packets: each is as
# narrow as its purpose and never a path around the policy.  With the
# dataplane on A and a policy that requires security for all traffic with B:
#
#   - plaintext UDP from B's port 500 or 4500 to A's port 9999 is dropped
#     and counted (it used to pass: the IKE exemption was "source port 500");
#     so is a datagram forged with A's own address and port 500 as source
#     (IPv4 and IPv6: exempt:spoofed-self);
#   - UDP to A's ports 500 and 4500 still arrives, from any port of B;
#   - A's port 500 reaches any port of B; another port of A does not reach
#     B's port 500;
#   - `show filters --specific` lists the exemptions with their real
#     selectors: A's own addresses, one side's port;
#   - ipsecexempt 2: Kerberos to A's port 88 arrives, from B's port 88 to
#     another port does not;
#   - broadcast and multicast cannot be secured: dropped where they match a
#     negotiate filter (level 3), passed when exempt (level 1);
#   - two ipsec-xdpd negotiate an IKE SA through the dataplane (childless:
#     the host kernel has no ESP), and the IKE exemption counted it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

A4=10.77.0.1 B4=10.77.0.2 A6=fd77::1 B6=fd77::2
PORT=9999

# $T/udp.py: one datagram from a chosen source port (or forged source
# address), and receivers.
cat >"$T/udp.py" <<'PY'
import socket, sys
def recv(bind, port, secs):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((bind, port))
    print("listening", flush=True)
    s.settimeout(secs)
    try:
        data, addr = s.recvfrom(2048)
        print(data.decode(errors="replace"), addr[0], addr[1], flush=True)
    except socket.timeout:
        pass
def send(dev, sport, dst, dport, text):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind(("", sport))
    s.sendto(text.encode(), (dst, dport))
def checksum(b):
    import struct
    if len(b) % 2:
        b += b"\0"
    c = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while c >> 16:
        c = (c & 0xffff) + (c >> 16)
    return (~c & 0xffff) or 0xffff
def spoof(dev, src, sport, dst, dport, text):
    # IP + UDP with any source address, by hand (IPv4: no UDP checksum)
    import struct
    data = text.encode()
    n = 8 + len(data)
    if ":" in dst:
        s6, d6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        udp = struct.pack("!HHHH", sport, dport, n, 0) + data
        c = checksum(s6 + d6 + struct.pack("!I3xB", n, 17) + udp)
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        pkt = struct.pack("!IHBB", 6 << 28, n, 17, 64) + s6 + d6 + udp
        fam = socket.AF_INET6
    else:
        udp = struct.pack("!HHHH", sport, dport, n, 0) + data
        pkt = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + n, 0, 0, 64, 17, 0,
                          socket.inet_aton(src), socket.inet_aton(dst)) + udp
        fam = socket.AF_INET
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.sendto(pkt, (dst, 0))
def recv_until_marker(port, marker_port, secs):
    # what reached PORT by the time a datagram reached MARKER_PORT
    a = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    a.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    a.bind(("::", port))
    m = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    m.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    m.bind(("::", marker_port))
    print("listening", flush=True)
    m.settimeout(secs)
    try:
        m.recvfrom(2048)
        print("marker", flush=True)
    except socket.timeout:
        return
    a.setblocking(False)
    try:
        data, addr = a.recvfrom(2048)
        print(data.decode(errors="replace"), addr[0], addr[1], flush=True)
    except BlockingIOError:
        pass
cmd = sys.argv[1]
if cmd == "recv":
    recv(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
elif cmd == "recv_until_marker":
    recv_until_marker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
elif cmd == "spoof":
    spoof(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7])
else:
    send(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6])
PY

# udp_probe FROM TO SPORT DST DPORT BIND [DROP]: one datagram from port SPORT
# of namespace FROM (a or b) to DST:DPORT, for a socket on BIND:DPORT in
# namespace TO.  Without DROP: waits (60 s at most) for it to arrive.  With
# DROP, a drop reason of A's dataplane: waits until that counter has
# counted it or the datagram arrived (30 s at most), so no verdict depends
# on timing.  Prints
# "arrived", "dropped" (counted, and not received), "lost" (neither), or
# "not sent".
udp_probe() {
	local from=$1 to=$2 sport=$3 dst=$4 dport=$5 bind=$6 drop=${7:-}
	local out="$T/probe.$RANDOM$RANDOM" text="probe-$RANDOM$RANDOM" l i ns dev
	local before=0 counted=0
	[ -n "$drop" ] && before=$(drops "$drop")
	[ "$to" = a ] && ns=$NS_A || ns=$NS_B
	: >"$out"
	ip netns exec "$ns" python3 "$T/udp.py" recv "$bind" "$dport" 60 >"$out" &
	l=$!
	for i in $(seq 1 300); do
		grep -q listening "$out" && break
		sleep 0.1
	done
	[ "$from" = a ] && ns=$NS_A dev=$IF_A || ns=$NS_B dev=$IF_B
	if ! ip netns exec "$ns" python3 "$T/udp.py" send "$dev" "$sport" "$dst" "$dport" "$text"; then
		kill $l 2>/dev/null; wait $l 2>/dev/null
		echo "not sent"
		return
	fi
	if [ -n "$drop" ]; then
		local until=$((SECONDS + 30))
		while [ $SECONDS -lt $until ] && ! grep -q "^$text " "$out"; do
			[ "$(drops "$drop")" -gt "$before" ] && { counted=1; break; }
			sleep 0.1
		done
		kill $l 2>/dev/null
	fi
	wait $l 2>/dev/null
	if grep -q "^$text " "$out"; then
		echo arrived
	elif [ $counted = 1 ]; then
		echo dropped
	else
		echo lost
	fi
}

# arrives DESCRIPTION PROBE-ARGS...: the datagram must arrive.
# dropped DESCRIPTION DROP PROBE-ARGS...: A's dataplane must drop it, for
# the reason DROP, and it must not arrive.
arrives() { local what=$1; shift; check_eq "$what" arrived "$(udp_probe "$@")"; }
dropped() {
	local what=$1 drop=$2; shift 2
	check_eq "$what" dropped "$(udp_probe "$@" "$drop")"
}

# spoof_probe ADDR: B sends a datagram with A's own address ADDR and port
# 500 as its source to ADDR:PORT (it would match the exemption "from A's
# port 500", which has no direction), then a marker to ADDR:500.  Prints
# what A's socket on PORT had received once the marker was in: "arrived",
# "lost", or "no marker".
spoof_probe() {
	local addr=$1
	local out="$T/spoof.$RANDOM$RANDOM" text="spoof-$RANDOM$RANDOM" l i
	: >"$out"
	ip netns exec "$NS_A" python3 "$T/udp.py" recv_until_marker "$PORT" 500 60 >"$out" &
	l=$!
	for i in $(seq 1 300); do
		grep -q listening "$out" && break
		sleep 0.1
	done
	inb python3 "$T/udp.py" spoof "$IF_B" "$addr" 500 "$addr" "$PORT" "$text"
	inb python3 "$T/udp.py" send "$IF_B" 40000 "$addr" 500 marker
	wait $l
	if ! grep -q "^marker" "$out"; then
		echo "no marker"
	elif grep -q "^$text " "$out"; then
		echo arrived
	else
		echo lost
	fi
}

drops() { ixa -j show stats | json_get "d['drops']['$1']"; }
spec_json() { ixa -j show filters --specific; }

# in_counter RULE: packets counted inbound by RULE's filters; out_counter too.
in_counter() { spec_json | json_get "sum(f['packets_in'] for f in d['specific_filters'] if f['rule']=='$1')"; }
out_counter() { spec_json | json_get "sum(f['packets_out'] for f in d['specific_filters'] if f['rule']=='$1')"; }

# policy FILE DST4 DST6: require security for all traffic with DST.
policy() {
	cat >"$1" <<YAML
filter-lists:
  peer:
    filters:
      - { src: me, dst: $2 }
      - { src: me, dst: $3 }
filter-actions:
  require: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    ike:
      proposals: [ aes256gcm16-prfsha256-curve25519 ]
    rules:
      - { name: require-peer, filter-list: peer, action: require,
          authentication: [ { psk: lab } ] }
YAML
}
policy "$T/require-b.yaml" "$B4" "$B6"
# every IPv4 packet, broadcast and multicast included, must be secured
cat >"$T/require-all.yaml" <<'YAML'
filter-lists:
  all:
    filters:
      - { src: any, dst: 0.0.0.0/0 }
filter-actions:
  require: { action: negotiate }
policies:
  all:
    rules:
      - { name: require-all, filter-list: all, action: require,
          authentication: [ { psk: lab } ] }
YAML

# ---- without the dataplane: the probes work ----------------------------------
arrives "no dataplane: UDP from B's port 500 reaches A:$PORT (the probe works)" b a 500 "$A4" "$PORT" ::
arrives "no dataplane: IPv4 broadcast from B reaches A:$PORT" b a 40001 10.77.0.255 "$PORT" 0.0.0.0
arrives "no dataplane: IPv4 multicast from B reaches A:$PORT" b a 40002 224.0.0.1 "$PORT" 0.0.0.0

# ---- the policy: require security with B ---------------------------------------
check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply: require security with B" ixa policy apply "$T/require-b.yaml"
check_eq "ipsecexempt is 3 (IKE only)" 3 "$(ixa -j show config | json_get 'd["ipsecexempt"]')"
dropped "policy: B:40000 -> A:$PORT in the clear is dropped" negotiate_no_sa b a 40000 "$A4" "$PORT" ::

# The exemptions, exactly: for each of A's addresses and each IKE port, one
# filter to it and one from it; nothing else.
a_addrs=$(ip -n "$NS_A" -j addr show | json_get \
	'" ".join(a["local"] for i in d if i["ifname"] != "lo" for a in i["addr_info"])')
check "A has its IPv4, IPv6 and link-local addresses" test "$(wc -w <<<"$a_addrs")" -ge 3
exempt_rows() {
	spec_json | json_get "sorted('%s %s %s %s %s %s' % (f['src'], f['dst'], f['protocol'], f['src_port'], f['dst_port'], f['action']) for f in d['specific_filters'] if f['exemption'] and f['rule'] == '$1')"
}
expected_rows() {
	python3 -c '
import sys
rows = []
for a in sys.argv[3].split():
    anyf = "any6" if ":" in a else "any4"
    for p in sys.argv[2].split():
        rows.append("%s %s %s any %s permit" % (anyf, a, sys.argv[1], p))
        rows.append("%s %s %s %s any permit" % (a, anyf, sys.argv[1], p))
print(sorted(rows))' "$1" "$2" "$a_addrs"
}
check_eq "show filters --specific: the IKE exemptions are A's addresses, to/from ports 500 and 4500" \
	"$(expected_rows udp "500 4500")" "$(exempt_rows exempt:ike)"
self_rows() {
	python3 -c '
import sys
a = sys.argv[1].split()
print(sorted("%s %s any any any block" % (x, y) for x in a for y in a if (":" in x) == (":" in y)))' "$a_addrs"
}
check_eq "show filters --specific: packets from A's addresses to A's addresses are blocked (only forged ones come in)" \
	"$(self_rows)" "$(exempt_rows exempt:spoofed-self)"
check_eq "show filters --specific: no other exemption at level 3" \
	"$(spec_json | json_get "len([f for f in d['specific_filters'] if f['exemption']])")" \
	"$(spec_json | json_get "len([f for f in d['specific_filters'] if f['rule'] in ('exempt:ike', 'exempt:spoofed-self')])")"
text=$(ixa show filters --specific)
check "show filters --specific (text): A:500 inbound row" \
	grep -Eq "any4 +$A4 +udp +any +500 +permit +exempt:ike .*\[exemption\]" <<<"$text"
check "show filters --specific (text): A:4500 outbound row" \
	grep -Eq "$A4 +any4 +udp +4500 +any +permit +exempt:ike" <<<"$text"

# ---- the bypass is closed -----------------------------------------------------------
d0=$(drops negotiate_no_sa) c0=$(in_counter require-peer)
dropped "B:500 -> A:$PORT in the clear is dropped (was exempt as IKE)" negotiate_no_sa b a 500 "$A4" "$PORT" ::
dropped "B:4500 -> A:$PORT in the clear is dropped" negotiate_no_sa b a 4500 "$A4" "$PORT" ::
dropped "IPv6: [B]:500 -> [A]:$PORT in the clear is dropped" negotiate_no_sa b a 500 "$A6" "$PORT" ::
dropped "IPv6: [B]:4500 -> [A]:$PORT in the clear is dropped" negotiate_no_sa b a 4500 "$A6" "$PORT" ::
check "the four were counted as negotiate drops" test "$(drops negotiate_no_sa)" -ge $((d0 + 4))
check "and inbound on the require-peer filters" test "$(in_counter require-peer)" -ge $((c0 + 4))
# The one packet from outside that could match an exemption's "from this
# host" half: one forged with A's own address as its source.  Linux would
# deliver it over IPv6; the dataplane blocks it (exempt:spoofed-self).
s0=$(in_counter exempt:spoofed-self) b0=$(drops block_filter)
check_eq "a datagram forging A's address and port 500 as source does not reach A:$PORT" \
	lost "$(spoof_probe "$A4")"
check_eq "IPv6: the same forged from [A]:500 does not reach [A]:$PORT" \
	lost "$(spoof_probe "$A6")"
check "both blocked by exempt:spoofed-self" test "$(in_counter exempt:spoofed-self)" -ge $((s0 + 2))
check "and counted as block_filter drops" test "$(drops block_filter)" -ge $((b0 + 2))

# ---- IKE itself still passes ---------------------------------------------------------
arrives "B:500 -> A:500 arrives" b a 500 "$A4" 500 ::
arrives "B:40000 -> A:500 arrives (any remote port)" b a 40000 "$A4" 500 ::
arrives "B:4500 -> A:4500 arrives" b a 4500 "$A4" 4500 ::
arrives "B:41000 -> A:4500 arrives (a peer behind a NAT)" b a 41000 "$A4" 4500 ::
arrives "IPv6: [B]:500 -> [A]:500 arrives" b a 500 "$A6" 500 ::
arrives "A:500 -> B:500 leaves" a b 500 "$B4" 500 ::
arrives "A:500 -> B:$PORT leaves (any remote port)" a b 500 "$B4" "$PORT" ::
arrives "A:4500 -> B:42000 leaves (to a peer behind a NAT)" a b 4500 "$B4" 42000 ::
o0=$(out_counter require-peer)
dropped "A:40000 -> B:500 is not exempt: held back" negotiate_no_sa a b 40000 "$B4" 500 ::
dropped "A:40000 -> B:4500 is not exempt: held back" negotiate_no_sa a b 40000 "$B4" 4500 ::
check "and counted outbound on the require-peer filters" test "$(out_counter require-peer)" -ge $((o0 + 2))

# ---- ipsecexempt 2: Kerberos (a KDC on A), RSVP ---------------------------------------
check "set config ipsecexempt 2" ixa set config ipsecexempt 2
check_eq "show filters --specific: the Kerberos exemptions are A's port 88, TCP and UDP" \
	"$(python3 -c 'import ast,sys; print(sorted(ast.literal_eval(sys.argv[1]) + ast.literal_eval(sys.argv[2])))' \
		"$(expected_rows tcp 88)" "$(expected_rows udp 88)")" \
	"$(exempt_rows exempt:kerberos)"
arrives "Kerberos: B:40000 -> A:88 arrives" b a 40000 "$A4" 88 ::
arrives "Kerberos: A:88 -> B:40000 leaves" a b 88 "$B4" 40000 ::
dropped "Kerberos: B:88 -> A:$PORT in the clear is dropped (the source-port-88 bypass)" negotiate_no_sa b a 88 "$A4" "$PORT" ::
dropped "Kerberos: IPv6 [B]:88 -> [A]:$PORT is dropped" negotiate_no_sa b a 88 "$A6" "$PORT" ::
dropped "ipsecexempt 2: B:500 -> A:$PORT is still dropped" negotiate_no_sa b a 500 "$A4" "$PORT" ::
check "Kerberos: TCP B -> A:88 connects" tcp_b_to_a 88

# ---- broadcast and multicast: never secured ---------------------------------------------
check "policy apply: require security for all IPv4" ixa policy apply "$T/require-all.yaml"
check "set config ipsecexempt 3" ixa set config ipsecexempt 3
b0=$(drops bcast_negotiate)
dropped "level 3: a broadcast from B matching a negotiate filter is dropped" bcast_negotiate b a 40001 10.77.0.255 "$PORT" 0.0.0.0
dropped "level 3: a multicast to 224.0.0.1 from B is dropped" bcast_negotiate b a 40002 224.0.0.1 "$PORT" 0.0.0.0
check "and counted as bcast_negotiate drops" test "$(drops bcast_negotiate)" -ge $((b0 + 2))
check "set config ipsecexempt 1" ixa set config ipsecexempt 1
arrives "level 1: the broadcast is exempt and arrives" b a 40001 10.77.0.255 "$PORT" 0.0.0.0
arrives "level 1: the multicast is exempt and arrives" b a 40002 224.0.0.1 "$PORT" 0.0.0.0
dropped "level 1: B:500 -> A:$PORT unicast is still dropped" negotiate_no_sa b a 500 "$A4" "$PORT" ::
check_eq "level 1: broadcast exemptions by destination only" \
	"['any4 10.77.0.255 any any any permit', 'any4 255.255.255.255 any any any permit']" \
	"$(exempt_rows exempt:broadcast)"
check_eq "level 1: multicast exemptions by destination only" \
	"['any4 224.0.0.0/4 any any any permit', 'any6 ff00::/8 any any any permit']" \
	"$(exempt_rows exempt:multicast)"

# ---- IKE between two ipsec-xdpd, through A's dataplane ---------------------------------
check "set config ipsecexempt 3" ixa set config ipsecexempt 3
check "policy apply: require security with B" ixa policy apply "$T/require-b.yaml"
mkdir -p "$T/confB"
policy "$T/confB/policy.yaml" "$A4" "$A6"
for d in "$T/confA" "$T/confB"; do
	printf 'lab = "exemption test key"\n' >"$d/secrets"
	chmod 600 "$d/secrets"
done
start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
i0=$(in_counter exempt:ike) e0=$(out_counter exempt:ike)
check "IKE: sa initiate A -> B through the dataplane" ike_sa_up xa sa initiate "$B4"
check_eq "IKE: A's IKE SA is established" established \
	"$(xa -j show sa | json_get 'd["ike_sas"][0]["state"]')"
check_eq "IKE: B has it too" 1 "$(count_sas xb)"
check "IKE: the exemption counted IKE inbound" test "$(in_counter exempt:ike)" -gt "$i0"
check "IKE: and outbound" test "$(out_counter exempt:ike)" -gt "$e0"
check "IKE: sa initiate B -> A over IPv6 (A responds)" ike_sa_up xb sa initiate "$A6"
check_eq "IKE: A has both IKE SAs" 2 "$(count_sas xa)"
stop_daemons
check "unload" ixa unload
finish
