#!/usr/bin/env bash
# The command line's questions (ipsec-xdp(8)): `match` with `me` and
# service names and its exit status (0 pass, 1 drop, 2 error), in the boot
# mode and under an IPv6 policy; the filter tables aligned with long IPv6
# addresses; `show sa PEER|RULE` choosing the SAs of one peer or rule
# (childless IKE SAs between two ipsec-xdpd: no ESP needed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

# ipsec-xdp in A, no daemon for it (the IKE part has its own).
m() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
		IPSEC_XDP_RUNDIR="$T/nodaemon" "$IXDP" "$@"
}
rc() { "$@" >/dev/null 2>&1; echo $?; }

# aligned HEADER-WORD...: stdin is a table whose header line starts with
# the first word; every row under it (the lines that start with a space or
# a digit, up to the next header) starts each named column where the header
# does: a space before it and text at it.
aligned() {
	python3 -c '
import sys
cols = sys.argv[1:]
lines = sys.stdin.read().splitlines()
ok = checked = 0
i = 0
while i < len(lines):
    h = lines[i]
    if not all(c in h.split() for c in cols):
        i += 1
        continue
    starts = [h.index(" " + c + " ") + 1 if (" " + c + " ") in h else h.index(" " + c) + 1 for c in cols]
    i += 1
    while i < len(lines) and lines[i][:1] in (" ", *"0123456789") and not lines[i].lstrip().startswith(cols[0]):
        r = lines[i]
        for c, s in zip(cols, starts):
            if len(r) <= s or r[s - 1] != " " or r[s] == " ":
                sys.exit("column %s not aligned in: %r (header %r)" % (c, r, h))
        checked += 1
        i += 1
if not checked:
    sys.exit("no table rows found")
print(checked, "rows aligned")
' "$@"
}

# values_aligned: in stdin's "  name   value" lines, every value starts in
# the same column (and at least two such lines).
values_aligned() {
	python3 -c '
import re, sys
cols = {m.start(2) for m in (re.match(r"^  (\S+(?: \S+)*?) +(\d+)$", l) for l in sys.stdin) if m}
sys.exit(0 if len(cols) == 1 else "values start in columns %s" % sorted(cols))
'
}

# ---- match without a policy: the boot mode decides ---------------------------
check "load the dataplane in A" m load "$IF_A" --xdp-mode "$XDP_MODE"
check "boot mode block, SSH exempt" m set config bootmode block
check "boot exemption TCP:0:22:inbound" m set config bootexemptions TCP:0:22:inbound
out=$(m match 10.77.0.2 me tcp 50000 ssh --in 2>&1); r=$?
check_eq "boot: ssh to me, inbound, exempt: exit 0" 0 "$r"
check "boot: says which address 'me' was" grep -q "destination: me = 10.77.0.1" <<<"$out"
check "boot: says the exemption passes it" grep -q "verdict: pass (a boot exemption covers it)" <<<"$out"
check_eq "boot: http to me, inbound: exit 1 (block mode)" 1 "$(rc m match 10.77.0.2 me tcp 50000 http --in)"
check_eq "boot: DHCP passes: exit 0" 0 "$(rc m match 10.77.0.2 me udp 67 68 --in)"
check_eq "boot -j: the same exit status" 1 "$(rc m -j match 10.77.0.2 me tcp 50000 80 --in)"
check_eq "boot -j: dst_me is the address used" 10.77.0.1 \
	"$(m -j match 10.77.0.2 me tcp 50000 80 --in | json_get 'd["dst_me"]')"
check_eq "boot -j: verdict drop" drop "$(m -j match 10.77.0.2 me tcp 50000 80 --in | json_get 'd["verdict"]')"
check "bootmode stateful" m set config bootmode stateful
check_eq "stateful: outbound passes: exit 0" 0 "$(rc m match me 10.77.0.2 tcp 40000 https)"
check_eq "stateful: new inbound is dropped: exit 1" 1 "$(rc m match 10.77.0.2 me tcp 40000 https --in)"

# ---- usage errors: exit 2 ------------------------------------------------------------
err=$(m match me 10.77.0.2 tcp 40000 no-such-service 2>&1); r=$?
check_eq "unknown service name: exit 2" 2 "$r"
check "unknown service name: a clear error" grep -q "'no-such-service' is not a port number 0-65535 nor a tcp service of /etc/services" <<<"$err"
check_eq "me as both sides: exit 2" 2 "$(rc m match me me tcp)"
check_eq "a bad address: exit 2" 2 "$(rc m match 10.77.0.300 me tcp)"
check_eq "service name on ICMP (no ports): exit 2" 2 "$(rc m match me 10.77.0.2 icmp ssh ssh)"
ip -n "$NS_A" -6 addr flush dev "$IF_A"
err=$(m match me fd77::2 tcp 2>&1); r=$?
check_eq "me without an IPv6 address: exit 2" 2 "$r"
check "me without an IPv6 address: says so" grep -q "this host has no IPv6 address" <<<"$err"
ip -n "$NS_A" addr add fd77::1/64 dev "$IF_A" nodad
ip -n "$NS_A" addr add fd77:1:2:3:4:5:6:7/64 dev "$IF_A" nodad

# ---- an IPv6 policy with long addresses ---------------------------------------------
L1=2001:db8:aaaa:bbbb:cccc:dddd:eeee:ff01
L2=2001:db8:aaaa:bbbb:cccc:dddd:eeee:ff02
cat >"$T/v6.yaml" <<YAML
filter-lists:
  admin:
    filters:
      - { src: $L1, dst: me, protocol: tcp, dst-port: 22 }
  web-block:
    filters:
      - { src: me, dst: 2001:db8:aaaa:bbbb:cccc:dddd:eeee:0/112, protocol: tcp, dst-port: 80 }
      - { src: me, dst: 10.77.0.0/24, protocol: tcp, dst-port: 80 }
  to-peer:
    filters:
      - { src: me, dst: fd77::2 }
      - { src: me, dst: $L2 }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
  secure-inpass: { action: negotiate, inpass: yes, methods: [ { esp: aes256gcm16 } ] }
policies:
  v6:
    rules:
      - { name: admin-ssh, filter-list: admin, action: permit }
      - { name: no-web, filter-list: web-block, action: block }
      - { name: peer, filter-list: to-peer, action: secure-inpass,
          authentication: [ { psk: lab } ] }
YAML
check "apply the IPv6 policy" m policy apply "$T/v6.yaml"
out=$(m match $L1 me tcp 50000 ssh --in 2>&1); r=$?
check_eq "policy: ssh from the admin host: exit 0" 0 "$r"
check "policy: the permit filter wins" grep -q "verdict: pass (the filter action is permit)" <<<"$out"
check "policy: me is the first IPv6 address, and the others are counted" \
	grep -q "destination: me = fd77:[0-9a-f:]* (the first of this host's 2 IPv6 addresses" <<<"$out"
check_eq "policy: ssh from another host (no filter): exit 0" 0 "$(rc m match $L2 fd77::1 tcp 50000 22 --in)"
check_eq "policy: web to the blocked range: exit 1" 1 "$(rc m match me 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 tcp 40000 http)"
check_eq "policy: web over IPv4, me as source: exit 1" 1 "$(rc m match me 10.77.0.9 tcp 40000 www)"
out=$(m match me fd77::2 udp 5000 domain 2>&1); r=$?
check_eq "policy: negotiate outbound without an SA: exit 1" 1 "$r"
check "policy: says the SA is missing" grep -q "^SA: none" <<<"$out"
check_eq "policy -j: sa none" none "$(m -j match me fd77::2 udp 5000 53 | json_get 'd["sa"]')"
check_eq "policy: negotiate inbound with inpass: exit 0" 0 "$(rc m match fd77::2 me udp 5000 domain --in)"

# The SA bundle decides, as in the dataplane: one written into the pinned map
# as ipsec-xdpd writes it ({rule id, IPv6, fd77::2} -> state, flags, if_id, ifindex).
rule_id=$(bpftool -j map dump pinned "$T/bpffs/a/maps/ixdp_info" | python3 -c '
import json, sys
print(next(e["formatted"]["value"]["rule_id"] for e in json.load(sys.stdin)
           if e["formatted"]["value"]["name"] == "peer"))')
bundle() {   # bundle STATE: the bundle of rule peer with fd77::2
	bpftool map update pinned "$T/bpffs/a/maps/ixdp_bundles" \
		key $(printf '0x%02x 0x%02x 0x%02x 0x%02x' $((rule_id & 255)) $((rule_id >> 8 & 255)) \
			$((rule_id >> 16 & 255)) $((rule_id >> 24 & 255))) 1 0 0 0 \
			0xfd 0x77 0 0 0 0 0 0 0 0 0 0 0 0 0 2 \
		value "$1" 0 0 0 0 0 0 0 1 0 0 0 1 0 0 0
}
check "an SA bundle up for the rule peer with fd77::2" bundle 2
out=$(m match me fd77::2 udp 5000 domain 2>&1); r=$?
check_eq "SA up: outbound passes (encrypted): exit 0" 0 "$r"
check "SA up: says so" grep -q "^SA: up" <<<"$out"
check "SA up: through the SA" grep -q "the packet leaves through it, encrypted" <<<"$out"
check_eq "SA up: inbound plaintext with inpass: exit 0" 0 "$(rc m match fd77::2 me udp 5000 domain --in)"
check "a soft bundle" bundle 3
check_eq "soft: outbound passes in clear: exit 0" 0 "$(rc m match me fd77::2 udp 5000 domain)"
check_eq "soft -j: sa soft" soft "$(m -j match me fd77::2 udp 5000 53 | json_get 'd["sa"]')"
check "a bundle negotiating" bundle 1
check_eq "negotiating: outbound is dropped: exit 1" 1 "$(rc m match me fd77::2 udp 5000 domain)"
check_eq "another peer of the rule has no SA: exit 1" 1 "$(rc m match me $L2 udp 5000 domain)"
check_eq "policy: ESP passes to xfrm: exit 0" 0 "$(rc m match fd77::2 me esp --in)"
check_eq "policy: a specific address of this host works as well" 1 \
	"$(rc m match fd77:1:2:3:4:5:6:7 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 tcp 1 80)"

# ---- tables stay aligned with long IPv6 addresses -------------------------------------
spec=$(m show filters --specific)
check "show filters --specific has the long address" grep -q " $L1 " <<<"$spec"
check "show filters --specific: columns aligned" aligned SOURCE DESTINATION PROTO SRC-PORT DST-PORT ACTION RULE <<<"$spec"
conf=$(m show filters)
check "show filters: columns aligned" aligned SOURCE DESTINATION PROTO SRC-PORT DST-PORT <<<"$conf"
# (without the lines about the rule's action and authentication under its table)
check "policy show: columns aligned" aligned SOURCE DESTINATION PROTO SRC-PORT DST-PORT \
	<<<"$(m policy show | grep -Ev '^    (negotiate|authentication|tunnel endpoint)')"
mt=$(m match me 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 tcp 40000 80)
check "match's table: columns aligned" aligned SOURCE DESTINATION PROTO SRC-PORT DST-PORT ACTION RULE <<<"$mt"

check "show stats: the dataplane's counters aligned" values_aligned <<<"$(m show stats 2>/dev/null | sed -n '/^packets:/,$p')"

# ---- show sa PEER|RULE: two daemons, childless IKE SAs --------------------------------
ikeconf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  v4: { filters: [ { src: me, dst: $2 } ] }
  v6: { filters: [ { src: me, dst: $3 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: peer-v4, filter-list: v4, action: secure, authentication: [ { psk: lab } ] }
      - { name: peer-v6, filter-list: v6, action: secure, authentication: [ { psk: lab } ] }
YAML
	printf 'lab = "correct horse battery staple"\n' >"$1/secrets"
	chmod 600 "$1/secrets"
}
ikeconf "$T/ikeA" 10.77.0.2 fd77::2
ikeconf "$T/ikeB" 10.77.0.1 fd77::1
start A "$NS_A" "$T/ikeA" "$T/runA" IPSEC_XDP_BPFFS="$T/bpffs/none" || exit 1
start B "$NS_B" "$T/ikeB" "$T/runB" IPSEC_XDP_BPFFS="$T/bpffs/none" || exit 1
sa() { ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/ikeA" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
# the IKE SA comes up; the CHILD SA only where the kernel has ESP
sa sa initiate 10.77.0.2 >/dev/null 2>&1
sa sa initiate fd77::2 >/dev/null 2>&1
check_eq "two IKE SAs" 2 "$(count_sas sa)"
check_eq "show sa 10.77.0.2: one IKE SA" 1 "$(sa -j show sa 10.77.0.2 | json_get 'len(d["ike_sas"])')"
check_eq "show sa 10.77.0.2: its peer" 10.77.0.2 "$(sa -j show sa 10.77.0.2 | json_get 'd["ike_sas"][0]["peer"]')"
check_eq "show sa 10.77.0.2: its CHILD SAs only" True \
	"$(sa -j show sa 10.77.0.2 | json_get 'all(c["peer"] == "10.77.0.2" for c in d.get("child_sas", []))')"
check_eq "show sa fd77:0:0::2 (another spelling): the IPv6 SA" fd77::2 \
	"$(sa -j show sa fd77:0:0::2 | json_get '" ".join(s["peer"] for s in d["ike_sas"])')"
check_eq "show sa peer-v6: the rule's SA" peer-v6 \
	"$(sa -j show sa peer-v6 | json_get '" ".join(s["rule"] for s in d["ike_sas"])')"
check_eq "show sa peer-v6 -j: selected" peer-v6 "$(sa -j show sa peer-v6 | json_get 'd["selected"]')"
check_eq "sa show peer-v4: the same as show sa" 10.77.0.2 \
	"$(sa -j sa show peer-v4 | json_get '" ".join(s["peer"] for s in d["ike_sas"])')"
out=$(sa show sa 10.77.0.2)
check "text: names the selection" grep -q "^peer 10.77.0.2" <<<"$out"
check "text: one IKE SA" grep -q "^IKE SAs: 1$" <<<"$out"
refute "text: not the other peer's" grep -q "fd77::2" <<<"$out"
out=$(sa show sa 10.77.0.99); r=$?
check_eq "an address with no SA: exit 0" 0 "$r"
check "an address with no SA: an empty list" grep -q "^IKE SAs: 0$" <<<"$out"
check_eq "an address with no SA -j: empty" 0 "$(sa -j show sa 10.77.0.99 | json_get 'len(d["ike_sas"])')"
err=$(sa show sa no-such-rule 2>&1); r=$?
check_eq "neither an address nor a rule: exit 2" 2 "$r"
check "neither an address nor a rule: a clear error" \
	grep -q "'no-such-rule' is neither an IPv4 or IPv6 address nor a rule of the policy" <<<"$err"
check_eq "show sa: all of them still" 2 "$(count_sas sa)"
check "show ikestats: the values aligned (names of any length)" values_aligned <<<"$(sa show ikestats)"
finish
