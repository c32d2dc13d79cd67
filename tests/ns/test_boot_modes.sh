#!/usr/bin/env bash
# Boot modes on real traffic (docs/behaviour.md §5): permit, block, stateful, DHCP-free
# exemptions, and that each `set config` applies at once to the loaded
# dataplane.  The dataplane runs in namespace A; B is the peer.
. "$(dirname "$0")/lib.sh"
ns_setup

check "load on A (no boot mode configured)" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check_eq "unconfigured boot mode before any policy is permit" permit \
	"$(ixa -j show config | json_get 'd["bootmode"]')"
check "permit: ping A->B" ping_a_to_b
check "permit: ping B->A" ping_b_to_a
check "permit: TCP B->A:3389" tcp_b_to_a 3389
check "permit: UDP B->A:5353" udp_b_to_a 5353

check "set bootmode block" ixa set config bootmode block
refute "block: ping A->B dropped" ping_a_to_b
refute "block: ping B->A dropped" ping_b_to_a
refute "block: TCP B->A:3389 dropped" tcp_b_to_a 3389
check "set bootexemptions ICMP both ways" ixa set config bootexemptions ICMP:0:0:inbound ICMP:0:0:outbound
check "block + ICMP exemptions: ping B->A" ping_b_to_a
refute "block + ICMP exemptions: TCP still dropped" tcp_b_to_a 3389
drops=$(ixa -j show stats | json_get 'd["drops"]["boot_block"]')
check "block drops are counted by reason" test "$drops" -gt 0

check "set bootmode stateful, exemptions none" ixa set config bootexemptions none
check "set bootmode stateful" ixa set config bootmode stateful
check "stateful: ping A->B (outbound, reply remembered)" ping_a_to_b
refute "stateful: unsolicited ping B->A dropped" ping_b_to_a
check "stateful: TCP A->B works (replies pass)" tcp_a_to_b 8080
refute "stateful: TCP B->A:3389 dropped" tcp_b_to_a 3389
refute "stateful: UDP B->A:5353 dropped" udp_b_to_a 5353
check "stateful: exempt TCP:0:3389:inbound" ixa set config bootexemptions TCP:0:3389:inbound
check "stateful + exemption: TCP B->A:3389" tcp_b_to_a 3389
refute "stateful + exemption: TCP B->A:3390 still dropped" tcp_b_to_a 3390
check "stateful: IPv6 ping A->B" ina ping -6 -c 1 -W 1 fd77::2
refute "stateful: unsolicited IPv6 ping B->A dropped" inb ping -6 -c 1 -W 1 fd77::1

refute "a bad exemption is refused" ixa set config bootexemptions TCP:99999:1:inbound
check_eq "the bad exemption left the list in force" "TCP:0:3389:inbound" \
	"$(ixa -j show config | json_get '" ".join(d["bootexemptions"])')"
refute "a bad boot mode is refused" ixa set config bootmode open

check "unload" ixa unload
check "after unload: ping B->A" ping_b_to_a
check_eq "status says not loaded" 4 "$(ixa status >/dev/null 2>&1; echo $?)"
finish
