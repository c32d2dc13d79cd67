#!/usr/bin/env bash
# The systemd units (systemd/ipsec-xdpd.service, systemd/ipsec-xdp@.service)
# and their sandbox: both pass `systemd-analyze verify`; the daemon's unit
# is rated at most 3.0 by `systemd-analyze security --offline=true`; and
# the programs work with no more than the capabilities each unit's
# CapabilityBoundingSet= allows and no new privileges (as systemd would
# start them; PID 1 here is no systemd, so setpriv plays its part):
# `ipsec-xdp load` attaches the dataplane and shares its pins with the
# group ipsec-xdp (CAP_CHOWN; without it a warning), and ipsec-xdpd, with
# the unit's options (--user ipsec-xdp: its network process runs as that
# user), opens its pinned maps and negotiates an IKE SA with a peer,
# within the unit's system call filter.  A daemon without
# CAP_NET_BIND_SERVICE cannot start, nor --user without CAP_SETUID and
# CAP_SETGID: the bounding set is enforced.  With the drop-in of
# ipsec-xdpd(8) that runs it as root (no --user) it works as well.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"	# ns_setup, start, stop_daemons

UNITS=$TOP/systemd
# Daemon A runs under strace, which blocks fatal signals while it traces a
# program it started (`-o FILE PROG`): its TERM goes to the daemon itself,
# the child of the PID that start() recorded.
stop_all() {
	local p
	for p in "${PIDS[@]}"; do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = strace ] && pkill -TERM -P "$p"
	done
	stop_daemons
}
trap 'rc=$?; stop_all; (exit $rc); ns_teardown' EXIT

# The units as installed, with the programs of this build.
sed "s#/usr/sbin/ipsec-xdpd#$IXDPD#" "$UNITS/ipsec-xdpd.service" >"$T/ipsec-xdpd.service"
sed "s#/usr/sbin/ipsec-xdp #$IXDP #" "$UNITS/ipsec-xdp@.service" >"$T/ipsec-xdp@lo.service"
check "ipsec-xdpd.service passes systemd-analyze verify" \
	systemd-analyze verify --man=no "$T/ipsec-xdpd.service"
check "ipsec-xdp@.service passes systemd-analyze verify" \
	systemd-analyze verify --man=no "$T/ipsec-xdp@lo.service"

# exposure UNITFILE: the overall exposure systemd-analyze gives it.
exposure() {
	systemd-analyze security --offline=true --no-pager "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
at_most() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v != "" && v <= m) }'; }
EXP_D=$(exposure "$T/ipsec-xdpd.service")
EXP_L=$(exposure "$T/ipsec-xdp@lo.service")
echo "# exposure: ipsec-xdpd.service $EXP_D, ipsec-xdp@.service $EXP_L"
check "ipsec-xdpd.service: exposure $EXP_D is at most 3.0" at_most "$EXP_D" 3.0
# the loader needs CAP_SYS_ADMIN and the host's network: rated higher,
# but still sandboxed (an unhardened unit is rated 9.6)
check "ipsec-xdp@.service: exposure $EXP_L is at most 4.0" at_most "$EXP_L" 4.0
check "ipsec-xdpd.service: runtime and state directories" \
	grep -qzE 'RuntimeDirectory=ipsec-xdp.*StateDirectory=ipsec-xdp' "$T/ipsec-xdpd.service"
# the options the unit gives the daemon (after --foreground, which start() gives)
read -ra UNIT_OPTS <<<"$(sed -n 's#^ExecStart=/usr/sbin/ipsec-xdpd --foreground##p' "$UNITS/ipsec-xdpd.service")"
check_eq "the unit runs the network process as the user ipsec-xdp" "--user ipsec-xdp" "${UNIT_OPTS[*]}"
getent passwd ipsec-xdp >/dev/null ||
	{ echo "needs the user ipsec-xdp (scripts/install-deps.sh makes it)"; exit 1; }
chmod 0711 "$T"		# (the user reaches CONFDIR; mktemp made $T 0700)
check "the unit allows capset and seccomp (the daemon's own drop and filters)" \
	bash -c "systemd-analyze syscall-filter @system-service | grep -qw capset &&
		 grep -q '^SystemCallFilter=@system-service bpf seccomp$' '$T/ipsec-xdpd.service'"

# setpriv's bounding set from a unit's CapabilityBoundingSet= line:
# "CAP_NET_ADMIN CAP_BPF" -> "-all,+net_admin,+bpf".
caps_of() {
	local caps
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$1" | tr 'A-Z' 'a-z' |
		sed 's/cap_/+/g; s/ /,/g')
	echo "-all,$caps"
}
CAPS_D=$(caps_of "$UNITS/ipsec-xdpd.service")
CAPS_L=$(caps_of "$UNITS/ipsec-xdp@.service")
echo "# bounding sets: daemon $CAPS_D, loader $CAPS_L"

# sandboxed CAPS CMD...: CMD with that bounding set and no new privileges.
sandboxed() {
	local caps=$1; shift
	setpriv --bounding-set "$caps" --no-new-privs -- "$@"
}

check "the loader's bounding set is not all capabilities" \
	test "$(sandboxed "$CAPS_L" grep CapBnd /proc/self/status)" != \
	     "$(grep CapBnd /proc/self/status)"
# without CAP_CHOWN the pins cannot be the group's: said; the load
# within the unit's capabilities (again: the pins reused) shares them
ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
	setpriv --bounding-set "$(sed 's/,+chown//' <<<"$CAPS_L")" --no-new-privs -- \
	"$IXDP" load "$IF_A" --xdp-mode generic >/dev/null 2>"$T/nochown.err"
check_eq "without CAP_CHOWN, load works" 0 "$?"
check "... and warns that it cannot share the pins with the group ipsec-xdp" \
	grep -q "warning: cannot share $T/bpffs/a: Operation not permitted" "$T/nochown.err"
check "ipsec-xdp load works within ipsec-xdp@.service's capabilities" \
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
	setpriv --bounding-set "$CAPS_L" --no-new-privs -- "$IXDP" load "$IF_A" --xdp-mode generic
check "the dataplane is loaded" bash -c "$(declare -f ixa); NS_A=$NS_A T=$T IXDP=$IXDP; ixa status | grep -q loaded"
check_eq "... its pins shared with the group ipsec-xdp (CAP_CHOWN)" "660 ipsec-xdp" \
	"$(stat -c '%a %G' "$T/bpffs/a/maps/ixdp_state")"


# Two daemons, each with the daemon unit's bounding set and options; A
# with the dataplane of $NS_A loaded, so it opens the pinned maps (CAP_BPF).
conf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $2 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
YAML
	printf 'lab = "units test key, long enough"\n' >"$1/secrets"
	chmod 600 "$1/secrets"
}
conf "$T/confA" 10.77.0.2
conf "$T/confB" 10.77.0.1
# A gives the dataplane to interfaces that appear (daemon_autoload.h)
check "set config loadinterfaces all in A" ixa set config loadinterfaces all
# a wrapper: start() runs one program; A's system calls are recorded
# (strace -f, each thread) when $STRACE_OUT is set
cat >"$T/ixdpd-sandboxed" <<SH
#!/bin/sh
if [ -n "\${STRACE_OUT:-}" ]; then
	exec setpriv --bounding-set "\$CAPS" --no-new-privs -- strace -f -qq -o "\$STRACE_OUT" "$IXDPD" "\$@"
fi
exec setpriv --bounding-set "\$CAPS" --no-new-privs -- "$IXDPD" "\$@"
SH
chmod +x "$T/ixdpd-sandboxed"
REAL_IXDPD=$IXDPD
IXDPD=$T/ixdpd-sandboxed
export CAPS=$CAPS_D
IXDPD_ARGS=("${UNIT_OPTS[@]}")
STRACE_OUT=$T/A.strace IPSEC_XDP_BPFFS=$T/bpffs/a start A "$NS_A" "$T/confA" "$T/runA" || exit 1
IPSEC_XDP_BPFFS=$T/bpffs/b start B "$NS_B" "$T/confB" "$T/runB" || exit 1
IXDPD_ARGS=()
check "ipsec-xdpd runs with only the unit's capabilities" \
	grep -q "^CapBnd:[[:space:]]*$(sandboxed "$CAPS_D" grep CapBnd /proc/self/status | awk '{print $2}')$" \
	"/proc/${PIDS[0]}/status"
# Opening the maps comes first; a kernel without xfrm interfaces (the
# host's) stops the link at the next step, which is logged as such.
# (CAP_BPF: kernels before 6.5 refuse every bpf() call without it while
# kernel.unprivileged_bpf_disabled is set; later ones only map creation
# and program loading, which the daemon does not do.)
# A's daemon is strace's child; once started it keeps CAP_NET_ADMIN and
# CAP_BPF only, in its bounding set too (the unit's CAP_SETPCAP lets it),
# with no new privileges and its own seccomp filter (ipsec-xdpd(8) SECURITY).
A_PID=$(ps -o pid= --ppid "${PIDS[0]}" | head -n 1 | tr -d ' ')
check "ipsec-xdpd A, started: CAP_NET_ADMIN and CAP_BPF only, bounding set too" \
	bash -c "grep -q '^CapEff:[[:space:]]*0000008000001000$' /proc/$A_PID/status &&
		 grep -q '^CapBnd:[[:space:]]*0000008000001000$' /proc/$A_PID/status &&
		 grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/$A_PID/status &&
		 grep -q '^Seccomp:[[:space:]]*2$' /proc/$A_PID/status"
check_eq "... as the user ipsec-xdp" "$(id -u ipsec-xdp)" \
	"$(awk '$1 == "Uid:" {print $3}' "/proc/$A_PID/status")"
check_eq "... its STATEDIR/central the user's (CAP_CHOWN)" ipsec-xdp \
	"$(stat -c %U "$T/confA/state/central")"
check "ipsec-xdpd A opened the pinned maps" \
	bash -c "sleep 0.5; ! grep 'dataplane: ' '$T/A.log' | grep -v 'xfrm interface'"
check "an IKE SA comes up between two sandboxed daemons" ike_sa_up xa sa initiate 10.77.0.2
check "both sides show it" bash -c "$(declare -f xa xb count_sas json_get); IXDP=$IXDP NS_A=$NS_A NS_B=$NS_B T=$T;
	[ \$(count_sas xa) = 1 ] && [ \$(count_sas xb) = 1 ]"

# An interface appearing in A: the sandboxed daemon attaches the loaded
# dataplane to it (link pins, XDP and tcx links: CAP_NET_ADMIN and CAP_BPF
# within its seccomp filter), and tidies its pins when it goes.
NEWIF=vnu$NS_ID
NEWIF=${NEWIF:0:15}
ip link add "$NEWIF" netns "$NS_A" type veth peer name "${NEWIF}p" netns "$NS_B"
check "a sandboxed ipsec-xdpd attaches the dataplane to an interface that appears" \
	wait_until 30 grep -q "dataplane attached to $NEWIF " "$T/A.log"
check "the kernel shows an XDP program on it" \
	bash -c "ip netns exec '$NS_A' ip -d link show dev '$NEWIF' | grep -q 'prog/xdp'"
ip -n "$NS_A" link del "$NEWIF"
check "its pins go with it" wait_until 30 bash -c "! ls '$T/bpffs/a/links' | grep -q -- '-$NEWIF\$'"
check "no attach failed and the filter stopped nothing" \
	bash -c "! grep -E 'could not be attached|seccomp' '$T/A.log'"

# The rollback of `policy apply --confirm-within` with the unit's options
# and filters: the command (root) keeps the copy, A's key holder (root,
# no capability) renames it back, A (the user) puts it in force.
ixr_a() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
		IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"
}
cp -p "$T/confA/policy.yaml" "$T/kept.yaml"
sed 's/^  lab:$/  lab2:/' "$T/kept.yaml" >"$T/lab2.yaml"
check "policy apply --confirm-within 2 with A run as ipsec-xdp" \
	ixr_a policy apply --confirm-within 2 "$T/lab2.yaml"
check "without confirm, A's key holder puts the policy back" \
	wait_until 20 cmp -s "$T/kept.yaml" "$T/confA/policy.yaml"
check "... and A puts it in force again" \
	wait_until 10 grep -q "the previous policy is restored" "$T/A.log"

# Every system call daemon A made (start, the dataplane link, a
# negotiation, a reload, an interface attached, a rollback) is one SystemCallFilter= allows: @system-service
# (its groups expanded), bpf and seccomp.
kill -HUP "$A_PID"	# (strace, PIDS[0], ignores SIGHUP)
check "A reloads (SIGHUP) within its filter" wait_until 20 grep -q "reloaded: policy" "$T/A.log"
expand_group() {
	systemd-analyze syscall-filter "$1" | awk 'NR > 1 && $1 !~ /^#/ {print $1}' |
		while read -r x; do case $x in @*) expand_group "$x" ;; *) echo "$x" ;; esac; done
}
{ expand_group @system-service; echo bpf; echo seccomp; } | sort -u >"$T/allowed"
check "the daemon used bpf(2) (the pinned maps)" grep -q "^[0-9]* *bpf(" "$T/A.strace"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$T/A.strace" | sort -u >"$T/used"
check "ipsec-xdpd made system calls (strace saw $(wc -l <"$T/used"))" test "$(wc -l <"$T/used")" -gt 20
check "each is allowed by ipsec-xdpd.service's SystemCallFilter=" \
	bash -c "comm -23 '$T/used' '$T/allowed' | grep . && exit 1 || exit 0"
check "... having changed its user and group (setresuid, setresgid, setgroups)" \
	bash -c "grep -qx setresuid '$T/used' && grep -qx setresgid '$T/used' &&
		 grep -qx setgroups '$T/used'"

# The drop-in of ipsec-xdpd(8) that runs the network process as root (an
# ExecStart= without --user): U, in B's namespace on other ports, stays
# root once started, keeps CAP_NET_ADMIN and CAP_BPF only, and makes only
# system calls the unit allows.  --user with a bounding set without
# CAP_SETUID and CAP_SETGID is refused at start, saying why.
IXDPD_ARGS=(-p 1500 --natt-port 14500)
STRACE_OUT=$T/U.strace IPSEC_XDP_BPFFS=$T/bpffs/u start U "$NS_B" "$T/confB" "$T/runU" || exit 1
IXDPD_ARGS=()
U_PID=$(ps -o pid= --ppid "${PIDS[2]}" | head -n 1 | tr -d ' ')
check_eq "with the drop-in, U stays root" 0 \
	"$(awk '$1 == "Uid:" {print $3}' "/proc/$U_PID/status")"
check "... with CAP_NET_ADMIN and CAP_BPF only, bounding set too" \
	bash -c "grep -q '^CapEff:[[:space:]]*0000008000001000$' /proc/$U_PID/status &&
		 grep -q '^CapBnd:[[:space:]]*0000008000001000$' /proc/$U_PID/status"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$T/U.strace" | sort -u >"$T/used_u"
check "... each system call allowed by ipsec-xdpd.service's SystemCallFilter=" \
	bash -c "comm -23 '$T/used_u' '$T/allowed' | grep . && exit 1 || exit 0"
export CAPS=$(sed 's/,+setuid//; s/,+setgid//' <<<"$CAPS_D")
check "(a bounding set without them: $CAPS)" test "$CAPS" != "$CAPS_D"
ip netns exec "$NS_B" "$IXDPD" -f -C "$T/confB" -R "$T/runV" "${UNIT_OPTS[@]}" \
	-p 1501 --natt-port 14501 >"$T/V.log" 2>&1
check_eq "--user without CAP_SETUID and CAP_SETGID: exit 2" 2 "$?"
check "... saying what it needs" grep -q "needs CAP_SETUID and CAP_SETGID" "$T/V.log"

# Without CAP_NET_BIND_SERVICE the daemon cannot have UDP 500: the
# bounding set is what the daemon gets, and the check above can fail.
export CAPS=$(sed 's/,+net_bind_service//' <<<"$CAPS_D")
ip netns exec "$NS_B" "$IXDPD" -f -C "$T/confB" -R "$T/runC" >"$T/C.log" 2>&1
check "without CAP_NET_BIND_SERVICE ipsec-xdpd exits" test $? != 0
check "... saying it cannot bind" grep -qiE 'permission denied|not permitted' "$T/C.log"
IXDPD=$REAL_IXDPD
finish
