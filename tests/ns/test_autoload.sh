#!/usr/bin/env bash
# Interfaces that appear later get the dataplane when the configuration
# says so (`set config loadinterfaces`, `load --all`): ipsec-xdpd attaches
# the loaded dataplane to them (ike/daemon/daemon_autoload.h), checked in
# the kernel (the XDP program on the link) and with real packets through
# the new interface; with the setting off (the default) nothing is; a bad
# value is refused and the value in force stays; an interface removed
# leaves no stale pins, and one made again under the same name attaches
# afresh; `load --all` loads every interface but loopback and records
# `all`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
trap 'stop_daemon; ns_teardown' EXIT

# TCP 9000 blocked everywhere, the rest permitted
cat >"$T/auto.yaml" <<'YAML'
filter-lists:
  tcp-9000: { filters: [ { src: any, dst: any, protocol: tcp, dst-port: 9000 } ] }
policies:
  auto:
    rules:
      - { name: block-9000, filter-list: tcp-9000, action: block }
YAML

# a second veth pair between A and B: A's end NAME_A, B's end NAME_B,
# 10.78.N.1/24 in A and 10.78.N.2/24 in B
pair() { # N NAME_A NAME_B
	ip link add "$2" netns "$NS_A" type veth peer name "$3" netns "$NS_B" || return 1
	ip -n "$NS_A" addr add "10.78.$1.1/24" dev "$2"
	ip -n "$NS_B" addr add "10.78.$1.2/24" dev "$3"
	ip -n "$NS_A" link set "$2" up
	ip -n "$NS_B" link set "$3" up
	ina ethtool -K "$2" gro on >/dev/null 2>&1
	inb ethtool -K "$3" gro on >/dev/null 2>&1
	return 0
}
# the id of the XDP program on interface $1 in A ("" when none)
xdp_id() { ina ip -j link show dev "$1" | json_get 'd[0].get("xdp", {}).get("prog", {}).get("id", "")' 2>/dev/null; }
# the id of the pinned XDP program (what `load` attached)
pinned_id() { bpftool -j prog show pinned "$T/bpffs/a/progs/ixdp_xdp_ingress" | json_get 'd["id"]'; }
ours_on() { [ -n "$(xdp_id "$1")" ] && [ "$(xdp_id "$1")" = "$(pinned_id)" ]; }
# an XDP program of ours, of whichever load (each `load` of an interface
# loads the object again)
xdp_ours() { local id; id=$(xdp_id "$1"); [ -n "$id" ] &&
	[ "$(bpftool -j prog show id "$id" | json_get 'd["name"]')" = ixdp_xdp_ingress ]; }
fails_tcp_out() { ! tcp_a_to_b "$@"; }
cfg() { ixr -j show config | json_get 'd["loadinterfaces"]'; }
pins_of() { ls "$T/bpffs/a/links" | grep -c -- "-$1\$"; }
no_pins_of() { [ "$(pins_of "$1")" = 0 ]; }
attached_logged() { grep -q "dataplane attached to $1 " "$T/d.log"; }
fails_tcp() { ! tcp_b_to_a "$@"; }
status_lists() { ixr status | grep -q "interface $1 "; }
match_rule() { ixr -j match "$@" | json_get 'd["filter"]["rule"] if d.get("filter") else "none"'; }
all_json_skips_lo() { ixr -j load --all --xdp-mode "$XDP_MODE" |
	json_get '[s["name"] for s in d["skipped"]] == ["lo"] and d["loadinterfaces"] == "all"' | grep -q True; }

A1=vn1$NS_ID B1=vm1$NS_ID A2=vn2$NS_ID B2=vm2$NS_ID A3=vn3$NS_ID B3=vm3$NS_ID
A1=${A1:0:15} B1=${B1:0:15} A2=${A2:0:15} B2=${B2:0:15} A3=${A3:0:15} B3=${B3:0:15}

check "load on A's first interface" ixr load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy applied" ixr policy apply "$T/auto.yaml"
check_eq "loadinterfaces is none by default" none "$(cfg)"
check "ipsec-xdpd starts in A" start_daemon

# ---- (c) the setting off: nothing is attached ----------------------------------
check "a new veth pair (1) appears" pair 1 "$A1" "$B1"
check "TCP 9001 through it passes" tcp_b_to_a 9001 10.78.1.1
check "and TCP 9000 too: the new interface has no dataplane" tcp_b_to_a 9000 10.78.1.1
# a setting naming only a second interface: once the daemon attached that
# one, it has looked at the first one too (no waiting on time)
check "set config loadinterfaces names interface 2 only" ixr set config loadinterfaces "$A2"
check "a second pair (2) appears" pair 2 "$A2" "$B2"
check "the daemon attaches interface 2, named (bounded wait)" wait_until 30 ours_on "$A2"
check "it says so, after checking" wait_until 10 attached_logged "$A2"
refute "interface 1, not named, has no XDP program" ours_on "$A1"
check_eq "nor any pins" 0 "$(pins_of "$A1")"
check "TCP 9000 still passes through interface 1 (setting off for it)" tcp_b_to_a 9000 10.78.1.1
check "TCP 9000 through interface 2 is blocked" fails_tcp 9000 10.78.2.1
check "TCP 9001 through interface 2 passes" tcp_b_to_a 9001 10.78.2.1

# ---- (d) bad values are refused, the value in force stays ----------------------
for bad in "" "a,,b" ",$A1" "all,$A1" "none,x" "a/b" "x:1" "waytoolongname16" \
	   "$A1,$A1" "$(printf 'i%d,' $(seq 1 17))i18"; do
	out=$(ixr set config loadinterfaces "$bad" 2>&1)
	rc=$?
	CHECKS=$((CHECKS + 1))
	if [ $rc = 3 ] && grep -q "loadinterfaces" <<<"$out"; then
		echo "ok   - loadinterfaces '$bad' refused: $out"
	else
		echo "FAIL - loadinterfaces '$bad' not refused (rc $rc): $out"
		FAILS=$((FAILS + 1))
	fi
done
check_eq "the value in force stays" "$A2" "$(cfg)"
printf 'loadinterfaces = all,%s\n' "$A1" >>"$T/confA/config"
refute "a bad line in the file is refused by show config" ixr show config
sed -i '$d' "$T/confA/config"
check_eq "the file as it was reads again" "$A2" "$(cfg)"

# ---- (a) all: the interfaces there and those that appear -----------------------
check "set config loadinterfaces all" ixr set config loadinterfaces all
check_eq "show config says all" all "$(cfg)"
check "the daemon attaches interface 1 at its reload" wait_until 30 ours_on "$A1"
check "a third pair (3) appears" pair 3 "$A3" "$B3"
check "the daemon attaches interface 3 as it appears (bounded wait)" wait_until 30 ours_on "$A3"
check "the log says it was attached" wait_until 10 attached_logged "$A3"
check "loopback is left out, and said so" grep -q "loadinterfaces: all leaves lo out: loopback" "$T/d.log"
refute "loopback has no XDP program" ours_on lo
check "status lists interface 3" status_lists "$A3"

# ---- (b) real packets through the new interface get the policy's verdict -------
check "TCP 9000 through interface 3 is blocked (block-9000)" fails_tcp 9000 10.78.3.1
check "TCP 9001 through interface 3 passes" tcp_b_to_a 9001 10.78.3.1
check "TCP 9000 out of A through interface 3 is blocked (TC egress)" fails_tcp_out 9000 10.78.3.2
check "TCP 9001 out of A through interface 3 passes" tcp_a_to_b 9001 10.78.3.2
check "TCP 9000 through interface 1 is blocked now" fails_tcp 9000 10.78.1.1
check_eq "match names the rule for interface 3's address" block-9000 \
	"$(match_rule 10.78.3.2 10.78.3.1 tcp 40000 9000 --in --interface "$A3")"

# ---- an interface that refuses the dataplane: said, with the reason -----------
# another XDP program (attached without a link, before the daemon may look
# at the interface) keeps ours off: EBUSY
check "set config loadinterfaces names interface 1 only" ixr set config loadinterfaces "$A1"
A4=vn4$NS_ID B4=vm4$NS_ID
A4=${A4:0:15} B4=${B4:0:15}
# (its maps auto-pin under /sys/fs/bpf: a BPF file system of this command's
# own mount namespace, gone with it; the program keeps them)
other_xdp() {
	ina sh -c "mount -t bpf bpf /sys/fs/bpf &&
		bpftool prog loadall '$TOP/${B:-build}/ipsec_xdp.bpf.o' '$T/bpffs/other' &&
		bpftool net attach xdpgeneric pinned '$T/bpffs/other/ixdp_xdp_ingress' dev '$A4'"
}
check "a fourth pair (4) appears" pair 4 "$A4" "$B4"
check "another XDP program is attached to it (bpftool, no link)" other_xdp
other=$(xdp_id "$A4")
check "set config loadinterfaces all" ixr set config loadinterfaces all
refused_logged() { grep -q "dataplane: $A4 (loadinterfaces) could not be attached: .*another XDP program is attached" "$T/d.log"; }
check "the daemon says interface 4 could not be attached, and why" wait_until 30 refused_logged
check "the other program stays on it" test "$(xdp_id "$A4")" = "$other"
check_eq "nothing of ours is pinned for it" 0 "$(pins_of "$A4")"
check_eq "the refusal is said once" 1 "$(grep -c "dataplane: $A4 (loadinterfaces) could not" "$T/d.log")"
ina bpftool net detach xdpgeneric dev "$A4"
check "once free, interface 4 gets the dataplane (next link event)" wait_until 30 ours_on "$A4"
check "and the daemon says so" grep -q "dataplane attached to $A4 " "$T/d.log"
ip -n "$NS_A" link del "$A4"
rm -rf "$T/bpffs/other"

# ---- removal: no stale state ---------------------------------------------------
ip -n "$NS_A" link del "$A3"
check "interface 3 removed: its pins go" wait_until 30 no_pins_of "$A3"
check "and the daemon says so" grep -q "tidied (.*xdp-$A3: interface gone" "$T/d.log"
check "made again under the same name" pair 3 "$A3" "$B3"
check "it is attached afresh" wait_until 30 ours_on "$A3"
check "and blocks TCP 9000 again" fails_tcp 9000 10.78.3.1
check "the daemon still runs" kill -0 "$DPID"
refute "no seccomp stop in the log" grep -q "seccomp" "$T/d.log"

# ---- renamed: the pins follow the name ------------------------------------------
R2=vr2$NS_ID
R2=${R2:0:15}
pins_moved() { no_pins_of "$A2" && [ "$(pins_of "$R2")" = 2 ]; }
ip -n "$NS_A" link set "$A2" name "$R2"
check "interface 2 renamed: its pins move to the new name" wait_until 30 pins_moved
check "it still runs our XDP program" ours_on "$R2"
check "status lists the new name" status_lists "$R2"
check "TCP 9000 through it is still blocked" fails_tcp 9000 10.78.2.1
refute "no attach failed on the way" grep -Eq "($A2|$R2) \(loadinterfaces\) could not be attached" "$T/d.log"
check "the daemon says so" grep -q "tidied (xdp-$A2 renamed $R2; tc-$A2 renamed $R2)" "$T/d.log"

# ---- load --all ----------------------------------------------------------------
stop_daemon
check "unload everything" ixr unload
check "set config loadinterfaces none" ixr set config loadinterfaces none
out=$(ixr load --all --xdp-mode "$XDP_MODE" 2>&1)
check "load --all succeeds" test $? = 0
echo "$out" | sed 's/^/# /'
check "it names loopback as left out" grep -q "skipped lo: loopback" <<<"$out"
for i in "$IF_A" "$A1" "$R2" "$A3"; do
	check "load --all attached $i" xdp_ours "$i"
done
refute "but not loopback" xdp_ours lo
check_eq "load --all recorded loadinterfaces all" all "$(cfg)"
check "TCP 9000 through interface 1 is blocked" fails_tcp 9000 10.78.1.1
refute "load --all with an interface is a usage error" ixr load --all "$A1"
check "load --all -j: lo skipped, all recorded" all_json_skips_lo

# ---- at start: an interface that appeared while no daemon ran ------------------
A5=vn5$NS_ID B5=vm5$NS_ID
A5=${A5:0:15} B5=${B5:0:15}
check "a fifth pair (5) appears, no daemon running" pair 5 "$A5" "$B5"
refute "it has no XDP program" ours_on "$A5"
check "ipsec-xdpd starts again (loadinterfaces all, recorded by load --all)" start_daemon
check "it attaches interface 5 at its start" wait_until 30 ours_on "$A5"
check "TCP 9000 through interface 5 is blocked" fails_tcp 9000 10.78.5.1
check "unload everything, the daemon running" ixr unload
unloaded_logged() { grep -q "loadinterfaces: no dataplane of this version is loaded under" "$T/d.log"; }
A6=vn6$NS_ID B6=vm6$NS_ID
check "a sixth pair (6) appears" pair 6 "${A6:0:15}" "${B6:0:15}"
check "the daemon says it has nothing to attach to" wait_until 30 unloaded_logged
check "the daemon still runs" kill -0 "$DPID"
refute "nothing attached to interface 6: the daemon never loads the dataplane" \
	bash -c "ls '$T/bpffs/a/links' 2>/dev/null | grep -q ."

finish
