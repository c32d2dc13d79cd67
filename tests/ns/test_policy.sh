#!/usr/bin/env bash
# Policy enforcement on real traffic (docs/behaviour.md §3, §4): the classic case (block
# all, permit a subnet, negotiate with one host in it), IKE always exempt,
# counters, `match`, inpass, an invalid policy never replacing the one in
# force, and unassign returning to the boot mode.
. "$(dirname "$0")/lib.sh"
ns_setup

cat >"$T/classic.yaml" <<'YAML'
# block everything, permit the lab subnet, require security with B on 9000
filter-lists:
  everything:
    filters:
      - { src: me, dst: any }
  lab:
    filters:
      - { src: me, dst: 10.77.0.0/24 }
  b-service:
    filters:
      - { src: me, dst: 10.77.0.2, protocol: tcp, dst-port: 9000 }
filter-actions:
  require:
    action: negotiate
    methods:
      - esp: aes256gcm16
policies:
  lab:
    rules:
      - { name: block-all, filter-list: everything, action: block }
      - { name: permit-lab, filter-list: lab, action: permit }
      - name: secure-b
        filter-list: b-service
        action: require
        authentication:
          - psk: lab
YAML

cat >"$T/block8080.yaml" <<'YAML'
filter-lists:
  web:
    filters:
      - { src: 10.77.0.2, dst: me, protocol: tcp, dst-port: 8080 }
  echo:
    filters:
      - { src: 10.77.0.2, dst: me, protocol: tcp, dst-port: 7000 }
filter-actions:
  accept-clear:
    action: negotiate
    inpass: yes
policies:
  web:
    rules:
      - { name: no-web, filter-list: web, action: block }
      - { name: echo-inpass, filter-list: echo, action: accept-clear, authentication: [ { psk: lab } ] }
YAML

printf 'policies:\n  broken:\n    rules:\n      - { name: x, filter-list: nowhere, action: block }\n' >"$T/bad.yaml"

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy check classic" ixa policy check "$T/classic.yaml"
check "policy apply classic" ixa policy apply "$T/classic.yaml"
check_eq "status: enforcing the policy" policy "$(ixa -j status | json_get 'd["enforcing"]')"
check "classic: ping A->B (lab subnet permitted)" ping_a_to_b
check "classic: TCP A->B:8080 permitted" tcp_a_to_b 8080
refute "classic: TCP A->B:9000 needs security: dropped" tcp_a_to_b 9000
refute "classic: IPv6 ping blocked by block-all" ina ping -6 -c 1 -W 1 fd77::2
check "classic: IKE (UDP 500) is exempt from block-all" udp_b_to_a 500
check "classic: IKE NAT-T (UDP 4500) is exempt" udp_b_to_a 4500

out=$(ixa -j match 10.77.0.1 10.77.0.2 tcp 40000 9000 --out)
check_eq "match: A->B:9000 hits secure-b" secure-b "$(echo "$out" | json_get 'd["filter"]["rule"]')"
check_eq "match: A->B:9000 is dropped" drop "$(echo "$out" | json_get 'd["verdict"]')"
out=$(ixa -j match 10.77.0.1 10.77.0.3 udp 1 2)
check_eq "match: A->10.77.0.3 hits permit-lab" permit-lab "$(echo "$out" | json_get 'd["filter"]["rule"]')"
check_eq "match: block-all also matches, lighter" block-all \
	"$(echo "$out" | json_get 'd["also_matching"][0]["rule"]')"
out=$(ixa -j match fd77::1 fd77::2 icmpv6)
check_eq "match: IPv6 hits block-all" block-all "$(echo "$out" | json_get 'd["filter"]["rule"]')"

spec=$(ixa -j show filters --specific)
neg_out=$(echo "$spec" | json_get 'sum(f["packets_out"] for f in d["specific_filters"] if f["rule"]=="secure-b")')
check "counters: secure-b counted the refused SYNs" test "$neg_out" -gt 0
blk=$(echo "$spec" | json_get 'sum(f["packets_out"]+f["packets_in"] for f in d["specific_filters"] if f["rule"]=="block-all")')
check "counters: block-all counted the IPv6 pings" test "$blk" -gt 0
w1=$(echo "$spec" | json_get '[f["weight"] for f in d["specific_filters"] if f["rule"]=="secure-b" and f["family"]=="ipv4"][0]')
w2=$(echo "$spec" | json_get '[f["weight"] for f in d["specific_filters"] if f["rule"]=="block-all" and f["family"]=="ipv4"][0]')
check "weights: secure-b weighs more than block-all (IPv4)" test "$w1" -gt "$w2"
drops=$(ixa -j show stats | json_get 'd["drops"]["negotiate_no_sa"]')
check "drop reasons: negotiate without SA counted" test "$drops" -gt 0

check "policy apply block8080" ixa policy apply "$T/block8080.yaml"
check "block8080: ping B->A (unmatched traffic passes)" ping_b_to_a
refute "block8080: TCP B->A:8080 blocked" tcp_b_to_a 8080
check "block8080: TCP B->A:8081 passes" tcp_b_to_a 8081
refute "inpass: TCP B->A:7000 SYN accepted, but the clear reply is refused" tcp_b_to_a 7000
spec=$(ixa -j show filters --specific)
inp=$(echo "$spec" | json_get 'sum(f["packets_in"] for f in d["specific_filters"] if f["rule"]=="echo-inpass")')
outp=$(echo "$spec" | json_get 'sum(f["packets_out"] for f in d["specific_filters"] if f["rule"]=="echo-inpass")')
check "inpass: the inbound SYN was let in" test "$inp" -gt 0
check "inpass: the reply was held back (counted outbound)" test "$outp" -gt 0

check_eq "an invalid policy is refused with exit 3" 3 "$(ixa policy apply "$T/bad.yaml" >/dev/null 2>&1; echo $?)"
err=$(ixa policy apply "$T/bad.yaml" 2>&1)
check "the error names file, line and column" grep -q "bad.yaml:4:" <<<"$err"
refute "after the refused policy, 8080 is still blocked" tcp_b_to_a 8080
check_eq "the assigned policy is still block8080" web "$(ixa -j policy show | json_get 'd["name"]')"

# ---- limits (ipsec-xdp.policy(5), LIMITS): every one exceeded is named at once,
# and a large policy within them passes ----
gen_policy() {	# $1: rules, $2: tunnel rules, $3: methods, $4: long rule name (0/1), $5: wide ranges
	python3 - "$@" <<'PY'
import sys
rules, tunnels, methods, longname, wide = map(int, sys.argv[1:])
print("filter-lists:")
for r in range(rules):
    fs = ", ".join("{ src: me, dst: 10.%d.%d.0/24, mirrored: no }" % (r % 250, f) for f in range(50))
    print("  l%d: { filters: [ %s ] }" % (r, fs))
if wide:
    fs = ", ".join("{ src: 0.0.0.1-255.255.255.254, dst: 10.%d.%d.0/24 }" % (i // 250, i % 250) for i in range(wide))
    print("  wide: { filters: [ %s ] }" % fs)
print("filter-actions:")
print("  secure: { action: negotiate, methods: [ %s ] }" % ", ".join(
    "{ esp: aes256gcm16, lifetime: %d }" % (600 + m) for m in range(methods)))
print("policies:\n  big:\n    rules:")
for r in range(rules):
    name = ("r%d-" % r + "x" * 40) if longname and r == 0 else "r%d" % r
    tun = ", tunnel: 10.99.%d.%d" % (r // 250, 1 + r % 250) if r < tunnels else ""
    print("      - { name: %s, filter-list: l%d, action: secure, authentication: [ { psk: lab } ]%s }" % (name, r, tun))
if wide:
    print("      - { name: wide, filter-list: wide, action: block }")
PY
}
gen_policy 40 40 16 0 0 >"$T/large.yaml"
gen_policy 70 65 17 1 600 >"$T/over.yaml"
out=$(ixa policy check "$T/large.yaml" 2>&1)
check "policy check: 40 negotiate rules of 50 filters, 40 tunnels, 16 methods pass" \
	grep -q "policy 'big' is valid: 40 rules" <<<"$out"
check_eq "policy check of an over-limit policy: exit 3" 3 \
	"$(ixa policy check "$T/over.yaml" >/dev/null 2>&1; echo $?)"
err=$(ixa policy check "$T/over.yaml" 2>&1)
check "over-limit: the count of limits exceeded" grep -q "the policy exceeds 4 limits" <<<"$err"
check "over-limit: methods named with value and limit" \
	grep -q "limit exceeded: security methods per filter action: 'secure' has 17; the limit is 16" <<<"$err"
check "over-limit: the long rule name" grep -q "limit exceeded: rule name length: 'r0-x*' has 43 characters; the limit is 31" <<<"$err"
check "over-limit: tunnel rules" grep -q "limit exceeded: tunnel rules: .* has 65 .*the limit is 64" <<<"$err"
check "over-limit: the filter count, in the same run" \
	grep -q "limit exceeded: specific filters (IXDP_MAX_FILTERS): .*at most 65536" <<<"$err"
check_eq "policy apply of it: exit 3" 3 "$(ixa policy apply "$T/over.yaml" >/dev/null 2>&1; echo $?)"
err=$(ixa policy apply "$T/over.yaml" 2>&1)
check "apply: the same messages" grep -q "limit exceeded: tunnel rules" <<<"$err"
check "apply: the policy in force is unchanged" grep -q "the policy in force is unchanged" <<<"$err"
check_eq "apply refused: the assigned policy is still block8080" web "$(ixa -j policy show | json_get 'd["name"]')"
refute "apply refused: 8080 is still blocked" tcp_b_to_a 8080
# 12 x 12 source and destination prefix lengths: 144 filter shapes in IPv4
python3 - >"$T/shapes.yaml" <<'PY'
fs = ", ".join("{ src: 10.0.0.0/%d, dst: 11.0.0.0/%d, mirrored: no }" % (8 + i, 8 + j)
               for i in range(12) for j in range(12))
print("filter-lists:\n  s: { filters: [ %s ] }" % fs)
print("policies:\n  shapes:\n    rules:\n      - { name: s, filter-list: s, action: block }")
PY
# more than the tuple space's 128: the decision tree holds them
check "shapes: over the tuple space's limit, accepted" ixa policy check "$T/shapes.yaml"
# applied, the list is in force with the tree alone: new flows are
# searched in the tree, never in the (empty) tuple space
check "shapes: applied" ixa policy apply "$T/shapes.yaml"
pkts() { ixa -j show stats | json_get "d[\"packets\"][\"$1\"]"; }
trees0=$(pkts tree_search) tuples0=$(pkts tuple_search)
check "shapes: a ping no filter of the list matches passes" ping_a_to_b
check "shapes: its new flows were searched in the tree" test "$(pkts tree_search)" -gt "$trees0"
check_eq "shapes: none in the tuple space" "$tuples0" "$(pkts tuple_search)"

check "policy unassign" ixa policy unassign
check_eq "status: boot mode rules" stateful "$(ixa -j status | json_get 'd["enforcing"]')"
check "load again restores the assigned policy" ixa policy apply "$T/block8080.yaml"
check "unload" ixa unload
check "load: the assigned policy is applied on load" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
refute "after reload, 8080 blocked again" tcp_b_to_a 8080
finish
