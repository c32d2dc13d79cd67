#!/usr/bin/env bash
# The command line itself: --help on every command, exit codes (ipsec-xdp(8)),
# clear errors for bad input, JSON that parses, and the SSH lock-out warning.
. "$(dirname "$0")/lib.sh"
ns_setup

rc() { "$@" >/dev/null 2>&1; echo $?; }

for cmd in load unload status policy show match set; do
	check "$cmd --help prints its usage" bash -c "'$IXDP' $cmd --help | grep -q '^usage: ipsec-xdp $cmd'"
done
check "--help lists the commands" bash -c "'$IXDP' --help | grep -q 'set config KEY VALUE'"
check_eq "no command: usage error 2" 2 "$(rc "$IXDP")"
check_eq "unknown command: 2" 2 "$(rc "$IXDP" frobnicate)"
check_eq "load without an interface: 2" 2 "$(rc ixa load)"
check_eq "load of a missing interface: 2" 2 "$(rc ixa load nosuchif0)"
check_eq "load --xdp-mode bogus: 2" 2 "$(rc ixa load "$IF_A" --xdp-mode bogus)"
check_eq "show stats when not loaded: 4" 4 "$(rc ixa show stats)"
check_eq "unload when not loaded: 4" 4 "$(rc ixa unload)"
check_eq "match with a bad address: 2" 2 "$(rc ixa match 10.0.0.300 10.0.0.1 tcp)"
check_eq "match with ports on icmp: 2" 2 "$(rc ixa match 10.0.0.1 10.0.0.2 icmp 1 2)"
check_eq "match with mixed families: 2" 2 "$(rc ixa match 10.0.0.1 ::1 udp)"
check_eq "set config with an unknown key: 2" 2 "$(rc ixa set config colour blue)"
check_eq "set config ipsecexempt 4: 3" 3 "$(rc ixa set config ipsecexempt 4)"
check_eq "policy check of a missing file: 3" 3 "$(rc ixa policy check "$T/none.yaml")"
printf 'policies: [\n' >"$T/syntax.yaml"
err=$(ixa policy check "$T/syntax.yaml" 2>&1)
check "a YAML syntax error names the file and line" grep -q "syntax.yaml:[0-9]*:[0-9]*:" <<<"$err"
check_eq "policy show with none assigned: 1" 1 "$(rc ixa policy show)"

check "set config ipsecexempt 0" ixa set config ipsecexempt 0
check "show config -j parses" bash -c "ip netns exec $NS_A env IPSEC_XDP_CONFDIR=$T/confA '$IXDP' -j show config | python3 -m json.tool"
check_eq "ipsecexempt is kept" 0 "$(ixa -j show config | json_get 'd["ipsecexempt"]')"

warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa set config bootmode block 2>&1)
check "bootmode block warns an SSH user" grep -q "drops this SSH session" <<<"$warn"
warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa set config bootexemptions TCP:0:22:inbound 2>&1)
refute "no warning once SSH is exempt" grep -q "warning" <<<"$warn"
warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
refute "load does not warn when SSH is exempt" grep -q "warning" <<<"$warn"
check "an SSH-like session survives block mode with the exemption" tcp_b_to_a 22
for pin in maps/ixdp_filters progs/ixdp_xdp_ingress progs/ixdp_tc_egress "links/xdp-$IF_A"; do
	check "pinned: $pin" test -e "$T/bpffs/a/$pin"
done
check "status -j parses" bash -c "ip netns exec $NS_A env IPSEC_XDP_CONFDIR=$T/confA IPSEC_XDP_BPFFS=$T/bpffs/a '$IXDP' -j status | python3 -m json.tool"
check "show all works without a policy" ixa show all
check "unload" ixa unload
refute "unload removed every pin" test -e "$T/bpffs/a"
finish
