#!/usr/bin/env bash
# ipsec-xdpd --user with the dataplane loaded (ipsec-xdpd(8) SECURITY "The
# network process's user", ipsec-xdp(8) load):
#   - `load` shares with the group ipsec-xdp what the daemon opens: the pin
#     root, maps/ and progs/ 0750, links/ 0770, every pin 0660, all group
#     ipsec-xdp; a BPF file system's directory above the pin root the group
#     cannot search (here its mount point made 0700, as systemd mounts
#     /sys/fs/bpf) gets the search bit for all, said once;
#   - with CAP_BPF, a user not in the group cannot open a pin, the daemon's
#     user can (so the check can tell);
#   - the daemon run with --user starts with the dataplane loaded, runs as
#     the user with CAP_NET_ADMIN and CAP_BPF only, cannot open the secrets,
#     and its policy agent puts a policy written into CONFDIR in force on
#     real packets;
#   - `set config loadinterfaces all`: it attaches a new veth (real
#     packets see the policy), its link pins the user's, 0660, group
#     ipsec-xdp; `load` again leaves them so;
#   - STATEDIR/central is the user's, STATEDIR itself root's;
#   - pins out of its reach: a new policy waits, status says the path,
#     "Permission denied" and the directory it may not search, and the
#     policy in force stays on packets; loadinterfaces says why it attaches
#     nothing; back in reach, the new policy goes in force.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
trap 'rc=$?; stop_daemon; [ -n "${KEEPLOG:-}" ] && cp "$T/d.log" "$KEEPLOG"; (exit $rc); ns_teardown' EXIT
DUSER=ipsec-xdp
getent passwd "$DUSER" >/dev/null && getent group "$DUSER" >/dev/null ||
	{ echo "needs the user and group $DUSER (scripts/install-deps.sh makes them)"; exit 1; }
command -v bpftool >/dev/null || { echo "needs bpftool"; exit 77; }
# the daemon's user must reach CONFDIR (mktemp made $T 0700); the BPF file
# system's mount point as systemd makes /sys/fs/bpf
chmod 0711 "$T"
chmod 0700 "$T/bpffs"

policy() { # NAME ACTION: one rule on the traffic to B, and TCP 9000 blocked
	printf 'filter-lists:\n  b: { filters: [ { src: me, dst: 10.77.0.2 } ] }\n'
	printf '  t9000: { filters: [ { src: any, dst: any, protocol: tcp, dst-port: 9000 } ] }\n'
	printf 'policies:\n  %s:\n    rules:\n' "$1"
	printf '      - { name: r-9000, filter-list: t9000, action: block }\n'
	printf '      - { name: r-%s, filter-list: b, action: %s }\n' "$1" "$2"
}
policy open permit >"$T/open.yaml"
policy closed block >"$T/closed.yaml"
install_policy() { cp "$1" "$T/confA/policy.yaml.new" && chmod 644 "$T/confA/policy.yaml.new" &&
	mv -f "$T/confA/policy.yaml.new" "$T/confA/policy.yaml"; }
blocked() { ! ping_a_to_b; }
agent() { ixr -j status | json_get "d['agent']$1"; }
in_force() { agent "['in_force']['policy']"; }
in_force_is() { [ "$(in_force)" = "$1" ]; }
last_error() { agent "['last']['error']"; }
P=$T/bpffs/a
# mode, owner and group of each path
modes() { stat -c '%a %U %G' "$@" | sort -u; }
# opens_pin UID GID PIN: a process of that uid and gid, no supplementary
# group, with CAP_BPF, opens the pin (bpftool: BPF_OBJ_GET)
opens_pin() {
	local kind=map
	case $3 in */progs/*) kind=prog ;; */links/*) kind=link ;; esac
	setpriv --reuid="$1" --regid="$2" --clear-groups \
		--inh-caps=-all,+bpf,+net_admin --ambient-caps=-all,+bpf,+net_admin \
		--bounding-set=-all,+bpf,+net_admin bpftool "$kind" show pinned "$3"
}

# ---- load shares the pins with the group --------------------------------------
ixa load "$IF_A" --xdp-mode "$XDP_MODE" >"$T/load.out" 2>"$T/load.err"
check_eq "load on A" 0 "$?"
check "it says the mount point was made searchable (o+x)" \
	grep -q "made $T/bpffs searchable by all (o+x)" "$T/load.err"
check_eq "the mount point: 0701 (the search bit only)" 701 "$(stat -c %a "$T/bpffs")"
ixa load "$IF_A" --xdp-mode "$XDP_MODE" >/dev/null 2>"$T/load2.err"
check_eq "load again" 0 "$?"
refute "... says nothing of it any more" grep -q searchable "$T/load2.err"
check_eq "the pin root, maps/, progs/: 750 root $DUSER" "750 root $DUSER" \
	"$(modes "$P" "$P/maps" "$P/progs")"
check_eq "links/: 770 root $DUSER" "770 root $DUSER" "$(modes "$P/links")"
check_eq "every pin: 660 root $DUSER" "660 root $DUSER" "$(modes "$P"/maps/* "$P"/progs/* "$P"/links/*)"
check "there are map, program and link pins" \
	test -e "$P/maps/ixdp_state" -a -e "$P/progs/ixdp_xdp_ingress" -a -e "$P/links/xdp-$IF_A"
DUID=$(id -u "$DUSER") DGID=$(getent group "$DUSER" | cut -d: -f3)
NUID=$(id -u nobody) NGID=$(id -g nobody)
for pin in "$P/maps/ixdp_state" "$P/progs/ixdp_xdp_ingress" "$P/links/xdp-$IF_A"; do
	check "${pin#"$P"/}: the user $DUSER (CAP_BPF) opens it" opens_pin "$DUID" "$DGID" "$pin"
	refute "${pin#"$P"/}: nobody (CAP_BPF, not in the group) does not" \
		opens_pin "$NUID" "$NGID" "$pin"
done

# ---- the daemon, run as the user, with the dataplane loaded --------------------
install_policy "$T/open.yaml"
printf 'lab = "secret %s"\n' "$RANDOM" >"$T/confA/secrets"
chmod 600 "$T/confA/secrets"
IXDPD_ARGS=(--user "$DUSER")
check "ipsec-xdpd --user $DUSER starts with the dataplane loaded" start_daemon
D=$DPID
check_eq "its network process: uid $DUSER" "$DUID" "$(status "$D" Uid)"
check_eq "... CAP_NET_ADMIN and CAP_BPF only" 0000008000001000 "$(status "$D" CapEff)"
check "with its credentials, the policy opens (the check can tell)" \
	opens_as "$D" "$T/confA/policy.yaml"
refute "with them, CONFDIR/secrets does not" opens_as "$D" "$T/confA/secrets"
check "its agent puts the open policy in force" wait_until 20 in_force_is open
check "A reaches B" wait_until 10 ping_a_to_b
install_policy "$T/closed.yaml"
check "a policy written into CONFDIR: its agent puts it in force" \
	wait_until 20 in_force_is closed
check "real packets see it: A no longer reaches B" wait_until 10 blocked
check_eq "STATEDIR/central is the user's" "700 $DUSER $DUSER" "$(modes "$T/confA/state/central")"
check_eq "STATEDIR itself stays root's" root "$(stat -c %U "$T/confA/state")"

# ---- loadinterfaces all: it attaches a new veth ----------------------------------
A1=vn1$NS_ID B1=vm1$NS_ID
A1=${A1:0:15} B1=${B1:0:15}
check "set config loadinterfaces all" ixr set config loadinterfaces all
ip link add "$A1" netns "$NS_A" type veth peer name "$B1" netns "$NS_B" &&
	ip -n "$NS_A" addr add 10.78.1.1/24 dev "$A1" && ip -n "$NS_B" addr add 10.78.1.2/24 dev "$B1" &&
	ip -n "$NS_A" link set "$A1" up && ip -n "$NS_B" link set "$B1" up
check_eq "a new veth pair appears" 0 "$?"
ina ethtool -K "$A1" gro on >/dev/null 2>&1
inb ethtool -K "$B1" gro on >/dev/null 2>&1
check "the daemon attaches it" wait_until 30 test -e "$P/links/tc-$A1"
check "it says so" wait_until 10 grep -q "dataplane attached to $A1 " "$T/d.log"
check_eq "its link pins: 660, the user's, group $DUSER" "660 $DUSER $DUSER" \
	"$(modes "$P/links/xdp-$A1" "$P/links/tc-$A1")"
check "TCP 9001 through it passes" tcp_b_to_a 9001 10.78.1.1
refute "TCP 9000 through it is blocked (the policy in force)" tcp_b_to_a 9000 10.78.1.1
check "load on A again (root)" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check_eq "the daemon's link pins stay 660, group $DUSER" "660 $DUSER $DUSER" \
	"$(modes "$P/links/xdp-$A1" "$P/links/tc-$A1")"

# ---- pins out of its reach: it says why, the policy in force stays ----------------
chmod 0700 "$P/maps"
install_policy "$T/open.yaml"
check "status: the new policy waits: the path, Permission denied, the directory" \
	wait_until 20 bash -c "$(declare -f ixr agent last_error json_get); IXDP=$IXDP NS_A=$NS_A T=$T;
		last_error | grep -q 'cannot open $P/maps/[a-z_]*: Permission denied ($P/maps may not be searched'"
check "... and its log, saying the policy in force stays" \
	grep -q "policy agent: .*cannot open $P/maps/[a-z_]*: Permission denied .*(the policy in force stays)" "$T/d.log"
check_eq "the policy in force stays" closed "$(in_force)"
check "and on packets: A still does not reach B" blocked
A2=vn2$NS_ID B2=vm2$NS_ID
A2=${A2:0:15} B2=${B2:0:15}
ip link add "$A2" netns "$NS_A" type veth peer name "$B2" netns "$NS_B" && ip -n "$NS_A" link set "$A2" up
check_eq "another veth appears" 0 "$?"
check "loadinterfaces says why it attaches nothing: the pin, Permission denied" \
	wait_until 30 grep -q "loadinterfaces: cannot open $P/maps/ixdp_state: Permission denied" "$T/d.log"
refute "... and pins nothing for it" test -e "$P/links/xdp-$A2"
chmod 0750 "$P/maps"
install_policy "$T/closed.yaml"
install_policy "$T/open.yaml"
check "back in reach: the new policy goes in force" wait_until 20 in_force_is open
check "A reaches B" wait_until 10 ping_a_to_b
refute "no system call was refused" grep -q seccomp "$T/d.log"
stop_daemon
finish
