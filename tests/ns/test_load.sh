#!/usr/bin/env bash
# `load` and `unload` never claim what they have not done and never leave an
# orphan (ipsec-xdp(8) load, unload; issue 15):
#  - under `ip netns exec` with the default pin root (where /sys/fs/bpf is
#    no BPF file system) load fails with a message saying what to do, and
#    nothing is attached;
#  - with a pin root on a private bpffs, what load attaches survives the
#    command, and unload takes it all away (XDP, the tcx egress link, and a
#    tc filter of ours left by an earlier version);
#  - pinned maps of another ABI version (or from before versions) are
#    detected and replaced, enforcement holding;
#  - load on existing pins enforces the current configuration: its boot
#    mode, the assigned policy, and a policy nobody assigned is removed
#    and announced.
# The host's /sys/fs/bpf is never written: every load but the failing one
# uses $T/bpffs (lib.sh).
. "$(dirname "$0")/lib.sh"
# The ABI version this build's maps carry (include/ipsec_xdp.h).
ABI=$(sed -n 's/^#define IXDP_ABI_VERSION \([0-9]*\).*/\1/p' "$(dirname "$0")/../../include/ipsec_xdp.h")
ns_setup

XDP_MODE=${XDP_MODE:-native}
has_text() { local t=$1; shift; "$@" 2>&1 | grep -q -- "$t"; }
has_xdp() { ip -n "$NS_A" link show "$IF_A" | grep -q 'xdp'; }
no_xdp() { ! has_xdp; }
no_tc_filter() { [ -z "$(ina tc filter show dev "$IF_A" egress 2>/dev/null)" ]; }
abi_of() {	# the ABI version in ixdp_state under pin root $1 (decimal)
	bpftool -j map lookup pinned "$1/maps/ixdp_state" key 3 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(int(v[0],16) | int(v[1],16) << 8)'
}

# Boot mode block without exemptions: anything attached in either direction
# stops A's ping to B, so a ping that works proves nothing is left.
check "bootmode block" ixa set config bootmode block

# ---- the default pin root under `ip netns exec` -------------------------------
if [ "$(ina stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; then
	echo "skip - /sys/fs/bpf is a BPF file system under ip netns exec here:" \
		"the default root would be the host's"
else
	out=$(ip netns exec "$NS_A" env -u IPSEC_XDP_BPFFS IPSEC_XDP_CONFDIR="$T/confA" \
		"$IXDP" load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
	check_eq "default root under ip netns exec: load fails (1)" 1 "$?"
	refute "default root: nothing claimed loaded" grep -q "loaded on" <<<"$out"
	check "default root: the message names nsenter" grep -q "nsenter --net=/run/netns/" <<<"$out"
	check "default root: the message names IPSEC_XDP_BPFFS" grep -q "IPSEC_XDP_BPFFS" <<<"$out"
	check "default root: no XDP program on the interface" no_xdp
	check "default root: no tc filter on the interface" no_tc_filter
	check "default root: nothing enforces (ping A->B)" ping_a_to_b
fi

# A bpffs mounted only in a private mount namespace: its pins would not last.
mkdir -p "$T/priv"
out=$(ip netns exec "$NS_A" unshare -m --propagation private sh -c \
	'mount -t bpf bpf "$1" && IPSEC_XDP_CONFDIR="$2" IPSEC_XDP_BPFFS="$1/x" "$3" load "$4" --xdp-mode "$5"' \
	sh "$T/priv" "$T/confA" "$IXDP" "$IF_A" "$XDP_MODE" 2>&1)
check_eq "a bpffs of a private mount namespace: load fails (1)" 1 "$?"
check "private bpffs: the message says the pins would vanish" grep -q "would vanish" <<<"$out"
check "private bpffs: no XDP program on the interface" no_xdp
check "private bpffs: no tc filter on the interface" no_tc_filter
check "private bpffs: nothing enforces (ping A->B)" ping_a_to_b

# ---- a private bpffs: load survives the command, unload leaves nothing --------
out=$(ixa load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
check_eq "load with a bpffs pin root: 0" 0 "$?"
check "load says where it loaded" grep -q "loaded on $IF_A" <<<"$out"
check "load says what it enforces" grep -q "enforcing: boot mode block" <<<"$out"
egress=$(ixa -j load "$IF_A" --xdp-mode "$XDP_MODE" | json_get 'd["egress"]')
check "load again: egress through a tcx link or a tc filter" test "$egress" = tcx -o "$egress" = tc
check_eq "load again reuses the maps" reused "$(ixa -j load "$IF_A" --xdp-mode "$XDP_MODE" | json_get 'd["maps"]')"
check "after the command: XDP attached" has_xdp
check "after the command: status lists the interface" has_text "interface $IF_A" ixa status
refute "after the command: block mode enforced (ping A->B dropped)" ping_a_to_b
check "the XDP link is pinned" test -e "$T/bpffs/a/links/xdp-$IF_A"
if [ "$egress" = tcx ]; then
	check "the tcx egress link is pinned" test -e "$T/bpffs/a/links/tc-$IF_A"
	check "no tc filter with tcx" no_tc_filter
fi
check_eq "the maps carry the ABI version" "$ABI" "$(abi_of "$T/bpffs/a")"
check "unload" ixa unload
check "unload: no XDP program left" no_xdp
check "unload: no tc filter left" no_tc_filter
check "unload: nothing enforces (ping A->B)" ping_a_to_b
refute "unload: the pin root is gone" test -e "$T/bpffs/a"

# ---- a tc filter of ours left by an earlier version (netlink, no link) -------
check "load" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
legacy() {
	ina tc qdisc add dev "$IF_A" clsact 2>/dev/null
	ina tc filter add dev "$IF_A" egress prio 6750 handle 0x1a5e \
		bpf da object-pinned "$T/bpffs/a/progs/ixdp_tc_egress"
}
if [ "$egress" = tcx ]; then
	check "add a legacy tc filter of ours" legacy
	check "load again removes the legacy filter (tcx link in place)" \
		ixa load "$IF_A" --xdp-mode "$XDP_MODE"
	check "no legacy filter after load" no_tc_filter
	check "add a legacy tc filter again" legacy
fi
check "unload" ixa unload
check "unload removed the legacy filter too" no_tc_filter
check "after unload: nothing enforces" ping_a_to_b

# ---- pinned maps of another ABI version ---------------------------------------
# A second interface in A: a replacement switches it to the new programs too.
IF_C=vxc$$
ip -n "$NS_A" link add "$IF_C" type veth peer name vxd$$
ip -n "$NS_A" link set "$IF_C" up
ip -n "$NS_A" link set vxd$$ up
xdp_id() { ip -n "$NS_A" link show "$1" | grep -o 'prog/xdp id [0-9]*' | grep -o '[0-9]*$'; }
pinned_id() { bpftool -j prog show pinned "$T/bpffs/a/progs/ixdp_xdp_ingress" | json_get 'd["id"]'; }
check "load on two interfaces" ixa load "$IF_A" "$IF_C" --xdp-mode "$XDP_MODE"
old_id=$(pinned_id)
check "mark the pins as ABI 99" bpftool map update pinned "$T/bpffs/a/maps/ixdp_state" \
	key 3 0 0 0 value 99 0 0 0
out=$(ixa load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
check_eq "load over ABI 99: 0" 0 "$?"
check "load says it replaced ABI 99" grep -q "replaced the pinned maps of ABI version 99 by version $ABI" <<<"$out"
new_id=$(pinned_id)
check "new programs pinned" test -n "$new_id" -a "$new_id" != "$old_id"
check_eq "the interface loaded runs the new XDP program" "$new_id" "$(xdp_id "$IF_A")"
check_eq "the other interface was switched to it too" "$new_id" "$(xdp_id "$IF_C")"
check_eq "the new maps carry ABI $ABI" "$ABI" "$(abi_of "$T/bpffs/a")"
check_eq "the new maps have the configured boot mode" block \
	"$(ixa -j status | json_get 'd["enforcing"]')"
refute "block mode enforced through the replacement (ping A->B dropped)" ping_a_to_b
refute "no staging pins left" test -e "$T/bpffs/a/staging"
check "unload" ixa unload
check "after unload: nothing enforces" ping_a_to_b

# Pins from before versions: an ixdp_state of three entries, no index 3.
ixc() { ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/c" "$IXDP" "$@"; }
mkdir -p "$T/bpffs/c/maps"
check "pins of the old layout" bpftool map create "$T/bpffs/c/maps/ixdp_state" \
	type array key 4 value 4 entries 3 name ixdp_state
check_eq "load over pins from before versions: replaced ABI 0" "replaced 0" \
	"$(ixc -j load "$IF_A" --xdp-mode "$XDP_MODE" | json_get 'd["maps"] + " " + str(d["replaced_abi"])')"
check_eq "then ABI $ABI" "$ABI" "$(abi_of "$T/bpffs/c")"
check "unload" ixc unload
check "after unload: nothing enforces" ping_a_to_b

# ---- load on existing pins enforces the current configuration -----------------
cat >"$T/p.yaml" <<'YAML'
filter-lists:
  web: { filters: [ { src: me, dst: any, protocol: tcp, dst-port: 8080 } ] }
policies:
  p:
    rules:
      - { name: block-web, filter-list: web, action: block }
YAML
check "load" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply" ixa policy apply "$T/p.yaml"
check_eq "a policy is enforced" policy "$(ixa -j status | json_get 'd["enforcing"]')"
check_eq "load again: the assigned policy stays enforced" policy \
	"$(ixa -j load "$IF_A" --xdp-mode "$XDP_MODE" | json_get 'd["enforcing"]')"
rm "$T/confA/policy.yaml"
out=$(ixa load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
check "a policy nobody assigned: load says it removed it" \
	grep -q "removed the policy an earlier load left in force" <<<"$out"
check_eq "then the boot mode rules" block "$(ixa -j status | json_get 'd["enforcing"]')"
# Another configuration directory (boot mode permit) over the same pins.
mkdir -p "$T/confC"
check "confC: bootmode permit (not loaded there)" ip netns exec "$NS_A" env \
	IPSEC_XDP_CONFDIR="$T/confC" IPSEC_XDP_BPFFS="$T/bpffs/none" "$IXDP" set config bootmode permit
check_eq "load with confC: its boot mode, permit" permit \
	"$(ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confC" IPSEC_XDP_BPFFS="$T/bpffs/a" \
		"$IXDP" -j load "$IF_A" --xdp-mode "$XDP_MODE" | json_get 'd["enforcing"]')"
check "permit: ping A->B" ping_a_to_b
check "unload" ixa unload
check "unload: no XDP program left" no_xdp
finish
