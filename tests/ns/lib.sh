# tests/ns/lib.sh - setup and checks shared by the namespace tests.
#
# Each test sources this file, calls ns_setup, and gets two network
# namespaces joined by a veth pair, each with its own configuration
# directory and BPF pin root, so the tests never touch the host's:
#
#   $NS_A  10.77.0.1/24  fd77::1/64   veth $IF_A   (the dataplane is loaded here)
#   $NS_B  10.77.0.2/24  fd77::2/64   veth $IF_B   (the peer)
#
# `ixa ARGS` runs ipsec-xdp inside $NS_A with that state; `ixb` likewise in
# $NS_B.  Everything is removed on exit (trap).

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IXDP=${IXDP:-$TOP/${B:-build}/ipsec-xdp}
FAILS=0
CHECKS=0

ns_setup() {
	# once per test: a second call would leave the first pair behind
	[ -z "${NS_ID:-}" ] || { echo "ns_setup called twice (daemon_lib.sh and ike_lib.sh call it)"; exit 1; }
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	[ -x "$IXDP" ] || { echo "build first: $IXDP is missing"; exit 1; }
	# the pid and a random part: unique among the runs at the same time,
	# and no clash with what a killed earlier run left (at most 15
	# characters for an interface name)
	NS_ID=$$$(printf %04x $((RANDOM % 65536)))
	local id=$NS_ID
	NS_A=ixa$id NS_B=ixb$id IF_A=vxa$id IF_B=vxb$id
	T=$(mktemp -d /tmp/ixdp-ns.XXXXXX)
	trap ns_teardown EXIT
	mkdir -p "$T/bpffs" "$T/confA" "$T/confB"
	mount -t bpf bpf "$T/bpffs" || { echo "cannot mount a BPF file system on $T/bpffs"; exit 1; }
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
		ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B" ||
		{ echo "cannot create the namespaces $NS_A, $NS_B and veth $IF_A"; exit 1; }
	ip -n "$NS_A" addr add 10.77.0.1/24 dev "$IF_A"
	ip -n "$NS_B" addr add 10.77.0.2/24 dev "$IF_B"
	ip -n "$NS_A" addr add fd77::1/64 dev "$IF_A" nodad
	ip -n "$NS_B" addr add fd77::2/64 dev "$IF_B" nodad
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_A" link set "$IF_A" up
	ip -n "$NS_B" link set "$IF_B" up
	# Native XDP on a veth needs GRO on the peer... or an XDP program there;
	# generic mode needs nothing: tests use the mode named by XDP_MODE.
	XDP_MODE=${XDP_MODE:-native}
	ip netns exec "$NS_B" ethtool -K "$IF_B" gro on >/dev/null 2>&1 || true
	ip netns exec "$NS_A" ethtool -K "$IF_A" gro on >/dev/null 2>&1 || true
}

ns_teardown() {
	local rc=$?
	jobs -p | xargs -r kill 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	umount "$T/bpffs" 2>/dev/null
	rm -rf "$T"
	exit $rc
}

ixa() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
		IPSEC_XDP_BPFFS="$T/bpffs/a" "$IXDP" "$@"
}

ixb() {
	ip netns exec "$NS_B" env IPSEC_XDP_CONFDIR="$T/confB" \
		IPSEC_XDP_BPFFS="$T/bpffs/b" "$IXDP" "$@"
}

ina() { ip netns exec "$NS_A" "$@"; }
inb() { ip netns exec "$NS_B" "$@"; }

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
	local what=$1; shift
	CHECKS=$((CHECKS + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok   - $what"
	else
		echo "FAIL - $what"
		FAILS=$((FAILS + 1))
	fi
}

# refute DESCRIPTION COMMAND...: the command must fail.
refute() {
	local what=$1; shift
	CHECKS=$((CHECKS + 1))
	if "$@" >/dev/null 2>&1; then
		echo "FAIL - $what"
		FAILS=$((FAILS + 1))
	else
		echo "ok   - $what"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	CHECKS=$((CHECKS + 1))
	if [ "$2" = "$3" ]; then
		echo "ok   - $1"
	else
		echo "FAIL - $1: expected '$2', got '$3'"
		FAILS=$((FAILS + 1))
	fi
}

# wait_until SECONDS COMMAND...: until COMMAND succeeds, polled every 0.1 s;
# 1 if it never did within SECONDS.  Tests wait for a condition with it,
# never for a fixed time: the bound only ends a wait that would hang.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# Traffic probes: each succeeds only if the packets made it both ways.
ping_a_to_b()  { ina ping -c 1 -W 1 "${1:-10.77.0.2}"; }
ping_b_to_a()  { inb ping -c 1 -W 1 "${1:-10.77.0.1}"; }

# wait_listen NS tcp|udp PORT: until a socket listens there (slow VMs).
wait_listen() {
	local i
	for i in $(seq 1 50); do
		ip netns exec "$1" ss -Hln --"$2" "sport = :$3" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# The listeners below are started with ip netns exec itself (not ina/inb,
# shell functions, whose background subshell is all that kill would end):
# killed, timeout takes nc with it, and no listener of one probe is left to
# take the packets of the next.
# tcp_b_to_a PORT [ADDR]: listen in A, connect from B.
tcp_b_to_a() {
	local port=$1 addr=${2:-10.77.0.1}
	ip netns exec "$NS_A" timeout 5 nc -l -n "$port" >/dev/null 2>&1 &
	local l=$!
	wait_listen "$NS_A" tcp "$port"
	inb timeout 4 nc -n -z -w 2 "$addr" "$port"
	local rc=$?
	kill $l 2>/dev/null; wait $l 2>/dev/null
	return $rc
}

tcp_a_to_b() {
	local port=$1 addr=${2:-10.77.0.2}
	ip netns exec "$NS_B" timeout 5 nc -l -n "$port" >/dev/null 2>&1 &
	local l=$!
	wait_listen "$NS_B" tcp "$port"
	ina timeout 4 nc -n -z -w 2 "$addr" "$port"
	local rc=$?
	kill $l 2>/dev/null; wait $l 2>/dev/null
	return $rc
}

# udp_b_to_a PORT: B sends one datagram to A; succeeds if A received it.
udp_b_to_a() {
	local port=$1
	local out="$T/udp.$port.$RANDOM"
	ip netns exec "$NS_A" timeout 8 nc -u -l -n -W 1 "$port" >"$out" 2>/dev/null &
	local l=$!
	wait_listen "$NS_A" udp "$port"
	# generous timeouts: under the VM's emulated CPU, starting nc alone
	# can take a second
	echo hello | inb timeout 4 nc -u -n -w 1 10.77.0.1 "$port" 2>/dev/null
	local i
	for i in $(seq 1 30); do
		grep -q hello "$out" && break
		sleep 0.1
	done
	kill $l 2>/dev/null; wait $l 2>/dev/null
	grep -q hello "$out"
}

# capture_start NS IFACE FILE FILTER...: tcpdump in NS on IFACE writes the
# packets FILTER selects to FILE, in the background (pid in CAP).  Returns
# once tcpdump listens (seconds under TCG or on a loaded machine); if it
# never does, that is a failed check (the checks on FILE then fail too).
# Immediate mode: every packet reaches FILE as it passes, none waits in a
# kernel buffer that capture_stop would lose.
capture_start() {
	local ns=$1 dev=$2 f=$3 i
	shift 3
	ip netns exec "$ns" timeout "${CAPTURE_MAX_S:-120}" \
		tcpdump -nn -U --immediate-mode -i "$dev" -w "$f" "$@" 2>"$f.err" &
	CAP=$!
	for i in $(seq 1 150); do
		grep -q "listening on" "$f.err" 2>/dev/null && return 0
		sleep 0.1
	done
	CHECKS=$((CHECKS + 1)) FAILS=$((FAILS + 1))
	echo "FAIL - capture on $dev in $ns: tcpdump did not listen: $(cat "$f.err")"
	return 1
}

# capture_stop FILE: end the capture writing FILE; its packets as text in
# FILE.txt.  First waits (10 s at most) until tcpdump sleeps: then it has
# written every packet that passed before (a packet wakes it as it passes),
# however late a loaded machine ran it.
capture_sleeps() { [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = S ]; }
capture_stop() {
	local dump
	dump=$(pgrep -P "$CAP" -x tcpdump)	# timeout's child
	[ -n "$dump" ] && wait_until 10 capture_sleeps "$dump"
	kill -INT "$CAP" 2>/dev/null
	wait "$CAP" 2>/dev/null
	tcpdump -nn -r "$1" 2>/dev/null >"$1.txt"
}

# jq-free JSON probing: python3 is on every Debian.
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# ike_sa_up CMD... (CMD is `xa sa initiate PEER` or the like): an IKE SA
# came up: exit 0, or exit 1 only for its CHILD SA, which needs ESP in the
# kernel (the host's has none; test_ike_childless.sh checks that case).
ike_sa_up() {
	local out rc
	out=$("$@" 2>&1); rc=$?
	[ $rc = 0 ] && return 0
	echo "# $out"
	[ $rc = 1 ] && grep -q "is up, but without the CHILD SA" <<<"$out"
}

# The credentials of a daemon's network process (ipsec-xdpd --user):
# status PID FIELD: FIELD's value in /proc/PID/status.
status() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# as_net PID CMD...: CMD with PID's credentials: its uid and gid, no
# supplementary group, CAP_NET_ADMIN and CAP_BPF (effective, permitted,
# bounding; the inheritable and ambient sets carry them over the execve).
as_net() {
	local uid gid
	uid=$(status "$1" Uid) gid=$(status "$1" Gid)
	shift
	setpriv --reuid="$uid" --regid="$gid" --clear-groups \
		--inh-caps=-all,+net_admin,+bpf --ambient-caps=-all,+net_admin,+bpf \
		--bounding-set=-all,+net_admin,+bpf "$@"
}
# opens_as PID FILE: a process with PID's credentials opens FILE for
# reading (what it could not open: on stderr, in the test's output).
# (/usr/bin/python3: root's PATH may find a shim under /root first, which
# the user cannot run)
opens_as() {
	as_net "$1" /usr/bin/python3 -c 'import sys; open(sys.argv[1], "rb").close()' "$2"
}

finish() {
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
