#!/usr/bin/env bash
# tests/bench/run.sh - the benchmarks of `make bench`: JSON lines on stdout,
# progress and diagnostics on stderr.  See tests/bench/README.md.
#
#  1. classify: the XDP program under bpf_prog_test_run_opts() with
#     generated policies of 10, 100, 1000, 10000 filters (build/bench/filters),
#     the default policy and the many-shapes one (BENCH_POLICIES);
#     then dataplane_memory: the loaded maps' sizes per CPU and shared
#     (bpf_map_info), 10000 filters applied.
#  2. filter_pps: real packets through a veth pair between two namespaces,
#     the same rule set enforced by ipsec-xdp (XDP, native mode) and by
#     nftables (netdev family, ingress hook of the same veth), one after the
#     other in this one run; nftables in each of its forms (BENCH_NFT_FORMS),
#     each first checked frame by frame against the reference matcher
#     (filters expect); traffic mixes (BENCH_MIXES): established flows on
#     block, permit and negotiate filters, flows that match no filter, and
#     a new flow on nearly every packet; traffic from build/bench/pktgen, by default
#     as XDP live frames (bpf_prog_test_run_opts + BPF_F_TEST_XDP_LIVE_FRAMES,
#     redirected into the sending veth: xdp_frames, no skb on the sending
#     side), or from an AF_PACKET socket (BENCH_SOURCE=af_packet).
#  3. ike_setup: IKEv2 setups per second, ipsec-xdpd and strongSwan's charon
#     as responders driven by build/bench/ike_load (tests/bench/ike_setup.sh):
#     childless IKE SAs on the host, then with CHILD SAs inside the VM.
#  4. agent_reaction: a policy file written into the configuration directory
#     until a probe packet sees the new verdict (tests/bench/agent_reaction.sh),
#     and an address added until a packet to it gets the verdict of the
#     policy's `me` filter, ipsec-xdpd running and no command
#     (tests/bench/agent_reaction_addr.sh); run before ike_setup.
#  5. policy_update: `policy apply`, `filter add` and `filter delete` over
#     10000 specific filters, from the command's start until a probe packet
#     sees the new verdict
#     (tests/bench/policy_update.sh); run before ike_setup.
#  6. policy_parse: the policy parser in process (build/bench/policy_parse:
#     libyaml's events alone, the node tree, the whole parse, the edit of
#     `filter add`, warm and as the first of a new process) over the
#     policy of policy_update at 1000 and 10000 filters; run first, alone
#     with BENCH_ONLY=parse (no root needed).
#
# Knobs (environment): BENCH_SECS (measured interval, 2), BENCH_WARMUP (1),
# BENCH_ROUNDS (3: every packet-rate measurement is repeated, medians kept),
# BENCH_REPEAT (test_run repetitions, 1000000), BENCH_MISS_ITER (2000),
# BENCH_SIZES (classify, "10,100,1000,10000"), BENCH_POLICIES (classify,
# "default many-shapes"), BENCH_MIXES ("block permit
# negotiate nomatch newflows": the traffic mixes of filter_pps),
# BENCH_RULES ("10 1000 10000": the rule counts of the block mix),
# BENCH_MIX_RULES ("1000 10000": those of permit, negotiate and nomatch),
# BENCH_CHURN_RULES ("1000 10000": those of newflows, a new flow almost
# every packet; empty: none),
# BENCH_NFT_FORMS ("per-shape-maps concat-interval-layers": the nftables
# rule sets measured; the ratio is against the fastest),
# BENCH_ONLY (classify | memory | pps | agent | update | ike | parse),
# BENCH_PARSE_RUNS (policy_parse's runs per figure, 15), BENCH_IKE_VM (1: also the CHILD SA
# run in the VM, 0: not), BENCH_IKE_VM_TIMEOUT (its guest's seconds, 900),
# BENCH_IKE_VM_LOCK_WAIT (seconds to wait for the VM lock, 3600),
# IKE_BENCH_* (tests/bench/ike_setup.sh),
# BENCH_SOURCE (live | af_packet: the packet source of filter_pps, live), BENCH_LIVE_REPEAT (repetitions per test run
# of the live source, 1000000), BENCH_LIVE_BATCH (its batch_size, 64).
#
# Everything it creates (namespaces, veth pair, bpffs mount, nftables
# tables inside the namespaces, temp files) is removed on exit, also on
# SIGINT / SIGTERM.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-$TOP/build}
IXDP=$B/ipsec-xdp
FB=$B/bench/filters
PG=$B/bench/pktgen
SECS=${BENCH_SECS:-2}
WARM=${BENCH_WARMUP:-1}
REPEAT=${BENCH_REPEAT:-1000000}
MISS_ITER=${BENCH_MISS_ITER:-2000}
SIZES=${BENCH_SIZES:-10,100,1000,10000}
POLICIES=${BENCH_POLICIES:-default many-shapes}
RULES=${BENCH_RULES:-10 1000 10000}
CHURN_RULES=${BENCH_CHURN_RULES-1000 10000}
MIX_RULES=${BENCH_MIX_RULES-1000 10000}
MIXES=${BENCH_MIXES-block permit negotiate nomatch newflows}
NFT_FORMS=${BENCH_NFT_FORMS:-per-shape-maps concat-interval-layers}
ONLY=${BENCH_ONLY:-}
ROUNDS=${BENCH_ROUNDS:-3}
SOURCE=${BENCH_SOURCE:-live}
LIVE_REPEAT=${BENCH_LIVE_REPEAT:-1000000}
LIVE_BATCH=${BENCH_LIVE_BATCH:-64}
REPORT=$TOP/tests/bench/report.py
FLOWS_PER_FILTER=8          # 8 probe filters x 8 source ports = 64 flows
CHURN_PER_FILTER=16384      # 8 x 16384 = 131072 flows: more than the flow cache

log() { echo "bench: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- 6. policy_parse: in process, no root (run first) -------------------------
policy_parse() {
	log "policy_parse: libyaml, the node tree, the parse and the filter edit, 1000 and 10000 filters"
	[ -x "$B/bench/policy_parse" ] ||
		die "build first: $B/bench/policy_parse is missing (make bench builds it)"
	"$B/bench/policy_parse" || die "policy_parse failed"
}
if [ "$ONLY" = parse ]; then
	policy_parse
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (BPF, namespaces, nftables)"
[ -z "$ONLY" ] && policy_parse

# The CPUs: every online one (/sys/devices/system/cpu/online), not nproc,
# which counts only those this shell may run on.  The filter_pps part keeps
# this shell off the generator's CPU and puts the affinity it was started
# with back before ike_setup.
online_cpus() { # one a line, from "0-1" or "0,2-3"
	local r
	tr ',' '\n' </sys/devices/system/cpu/online | while read -r r; do
		[ -n "$r" ] && seq "${r%-*}" "${r#*-}"
	done
}
CPUS=($(online_cpus))
[ "${#CPUS[@]}" -ge 1 ] || die "cannot read /sys/devices/system/cpu/online"
START_AFFINITY=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//')
restore_affinity() {
	[ -n "$START_AFFINITY" ] || return 0
	taskset -pc "$START_AFFINITY" $$ >/dev/null ||
		die "cannot give this shell its CPUs back ($START_AFFINITY)"
}

# ---- 3. ike_setup (run last, or alone with BENCH_ONLY=ike) ---------------------
abs_path() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
IKE_OUT=			# the VM run's output, removed on exit
ike_setup() {
	local b
	b=$(abs_path "$B")
	log "ike_setup: ipsec-xdpd and charon, childless IKE SAs (tests/bench/ike_setup.sh)"
	# the CPUs this run started with: the filter_pps part kept this shell
	# off the last one (ike_setup.sh pins its responders and generator)
	restore_affinity
	B=$b "$TOP/tests/bench/ike_setup.sh" || die "ike_setup failed"
	[ "${BENCH_IKE_VM:-1}" = 1 ] || return 0
	log "ike_setup with CHILD SAs, inside the VM (vmtest/vm.sh; 4-8 minutes," \
		"after the other guests that wait for the VM lock)"
	IKE_OUT=$(mktemp /tmp/ixdp-bench-vm.XXXXXX)
	# the guest's stderr comes out on its stdout: keep the JSON lines apart;
	# on a shared machine other guests may queue for the VM lock first
	(cd "$TOP" && B=$b VMTEST_TIMEOUT=${BENCH_IKE_VM_TIMEOUT:-900} \
		VMTEST_LOCK_WAIT=${BENCH_IKE_VM_LOCK_WAIT:-3600} \
		vmtest/vm.sh env B="$b" IKE_BENCH_ROUNDS="${IKE_BENCH_VM_ROUNDS:-1}" \
		IKE_BENCH_SECS="${IKE_BENCH_VM_SECS:-6}" IKE_BENCH_WARMUP=3 \
		IKE_BENCH_ADDRS=16 IKE_BENCH_RETX_MS=4000 \
		bash tests/bench/ike_setup.sh --child) >"$IKE_OUT" 2>&1
	local rc=$?
	grep -v '^{"bench"' "$IKE_OUT" >&2
	grep '^{"bench"' "$IKE_OUT"
	rm -f "$IKE_OUT"
	[ "$rc" = 0 ] || die "ike_setup in the VM failed"
}
# ---- 4. agent_reaction: tests/bench/agent_reaction*.sh (their own namespaces) ----
agent_reaction() {
	log "agent_reaction: a policy file written into CONFDIR until a packet sees it"
	restore_affinity	# filter_pps kept this shell off a CPU
	IXDP=$(abs_path "$IXDP") IXDPD=$(abs_path "$B")/ipsec-xdpd \
		bash "$TOP/tests/bench/agent_reaction.sh" || die "agent_reaction failed"
	log "agent_reaction: an address added until ipsec-xdpd's me filters cover it"
	B=$(abs_path "$B") bash "$TOP/tests/bench/agent_reaction_addr.sh" ||
		die "agent_reaction (address) failed"
}
# ---- 5. policy_update: tests/bench/policy_update.sh (its own namespaces) ----
policy_update() {
	log "policy_update: policy apply, filter add|delete over 10000 filters until a packet sees it"
	restore_affinity	# filter_pps kept this shell off a CPU
	IXDP=$(abs_path "$IXDP") bash "$TOP/tests/bench/policy_update.sh" ||
		die "policy_update failed"
}
if [ "$ONLY" = agent ]; then
	agent_reaction
	exit 0
fi
if [ "$ONLY" = update ]; then
	policy_update
	exit 0
fi
if [ "$ONLY" = ike ]; then
	trap 'rm -f "$IKE_OUT"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ike_setup
	exit 0
fi
case $SOURCE in
live) PG_MODE=(-m live -r "$LIVE_REPEAT" -b "$LIVE_BATCH") ;;
af_packet) PG_MODE=(-m af_packet) ;;
*) die "BENCH_SOURCE: live or af_packet" ;;
esac
for mix in $MIXES; do
	case $mix in
	block|permit|negotiate|nomatch|newflows) ;;
	*) die "BENCH_MIXES: block, permit, negotiate, nomatch and/or newflows, not $mix" ;;
	esac
done
for n in $RULES $MIX_RULES $CHURN_RULES; do
	case $n in
	''|*[!0-9]*) die "BENCH_RULES, BENCH_MIX_RULES, BENCH_CHURN_RULES: numbers of filters, not $n" ;;
	esac
done
for form in $NFT_FORMS; do
	case $form in
	per-shape-maps|concat-interval-layers) ;;
	*) die "BENCH_NFT_FORMS: per-shape-maps and/or concat-interval-layers, not $form" ;;
	esac
done
for f in "$IXDP" "$FB" "$PG"; do
	[ -x "$f" ] || die "build first: $f is missing (make bench builds it)"
done
command -v nft >/dev/null || die "nft is missing (apt-get install nftables)"
command -v python3 >/dev/null || die "python3 is missing"

T=$(mktemp -d /tmp/ixdp-bench.XXXXXX)
NS_S=ixbs$$ NS_R=ixbr$$ IF_S=vbs$$ IF_R=vbr$$
PG_PID=
MOUNTED=0
GEN_CPU=${CPUS[-1]}         # the generator's CPU; veth delivery runs there too

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$PG_PID" ]; then
		kill "$PG_PID" 2>/dev/null
		wait "$PG_PID" 2>/dev/null
	fi
	if ip netns list 2>/dev/null | grep -qw "$NS_R"; then
		ixr unload >/dev/null 2>&1
		ip netns exec "$NS_R" nft delete table netdev ixbench 2>/dev/null
	fi
	# deleting a namespace removes its veth end (so the pair), its XDP
	# programs and its nftables tables
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_R" 2>/dev/null
	[ "$MOUNTED" = 1 ] && umount -l "$T/bpffs" 2>/dev/null
	rm -rf "$T" "$IKE_OUT"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$T/bpffs" "$T/conf"
mount -t bpf bpf "$T/bpffs" || die "cannot mount a bpffs on $T/bpffs"
MOUNTED=1

# ipsec-xdp in the receiving namespace, with private state
ixr() {
	ip netns exec "$NS_R" env IPSEC_XDP_CONFDIR="$T/conf" \
		IPSEC_XDP_BPFFS="$T/bpffs/pps" "$IXDP" "$@"
}

# ---- 1. classify --------------------------------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = classify ]; then
	for pol in $POLICIES; do
		log "classify: bpf_prog_test_run_opts, repeat $REPEAT, sizes $SIZES, policy $pol"
		"$FB" classify --bpffs "$T/bpffs/classify" --repeat "$REPEAT" \
			--miss-iter "$MISS_ITER" --sizes "$SIZES" --policy "$pol"
		case $? in
		0) ;;
		3) log "WARNING: classify, policy $pol: the dataplane refused some" \
			"sizes (their lines carry \"error\"); the others were measured" ;;
		*) die "classify failed (policy $pol)" ;;
		esac
	done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = classify ] || [ "$ONLY" = memory ]; then
	log "dataplane_memory: the loaded maps' sizes (bpf_map_info), 10000 filters"
	"$FB" memory 10000 "$T/bpffs/memory" || die "dataplane_memory failed"
fi
case $ONLY in classify|memory) exit 0 ;; esac

# ---- 2. filter_pps ------------------------------------------------------------
# this shell and what it starts (the samplers, nft, ipsec-xdp) stay off the
# generator's CPU: they would take time from it and, delayed behind it,
# read their counters late (the generator pins its own thread)
if [ "${#CPUS[@]}" -gt 1 ] && command -v taskset >/dev/null; then
	OTHERS=$(IFS=,; echo "${CPUS[*]:0:${#CPUS[@]}-1}")
	taskset -pc "$OTHERS" $$ >/dev/null 2>&1 ||
		log "cannot keep this shell off CPU $GEN_CPU: the samplers may take its time"
fi
ip netns add "$NS_S" || die "ip netns add"
ip netns add "$NS_R" || die "ip netns add"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_R" netns "$NS_R" ||
	die "cannot create a veth pair"
for ns in "$NS_S" "$NS_R"; do
	ip -n "$ns" link set lo up
	# no IPv6 autoconfiguration chatter on the wire being measured
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_R" link set "$IF_R" up
ip -n "$NS_R" addr add 10.99.0.2/24 dev "$IF_R"
ip -n "$NS_S" addr add 10.99.0.1/24 dev "$IF_S"
if [ "$SOURCE" = live ]; then
	# xdp_frames redirected into the sending veth are delivered by its
	# ndo_xdp_xmit into the peer's NAPI ring, which exists when the peer has
	# an XDP program or GRO on: GRO on, for nftables (no XDP program there)
	ip netns exec "$NS_R" "$FB" gro "$IF_R" on || die "cannot turn GRO on, on $IF_R"
fi
MAC_S=$(ip netns exec "$NS_S" cat "/sys/class/net/$IF_S/address")
MAC_R=$(ip netns exec "$NS_R" cat "/sys/class/net/$IF_R/address")

# the rule counts of a mix
mix_rules() {
	case $1 in
	block) echo $RULES ;;
	newflows) echo $CHURN_RULES ;;
	*) echo $MIX_RULES ;;
	esac
}
# the frames of MIX at N rules: $T/frames.MIX.N (newflows: new flows on
# block filters, more than the flow cache holds)
mix_frames() { # MIX N
	local mix=$1 n=$2 per=$FLOWS_PER_FILTER
	[ -f "$T/frames.$mix.$n" ] && return 0
	if [ "$mix" = newflows ]; then
		mix=block per=$CHURN_PER_FILTER
	fi
	"$FB" frames "$n" "$MAC_S" "$MAC_R" --per-filter "$per" --mix "$mix" \
		>"$T/frames.$1.$n" 2>"$T/frames.$1.$n.log" ||
		{ cat "$T/frames.$1.$n.log" >&2; die "filters frames $n --mix $mix failed"; }
	# the share of them the reference matcher passes
	"$FB" expect "$n" "$T/frames.$1.$n" >"$T/frames.$1.$n.expect" ||
		die "filters expect $n (the $1 frames) failed"
	awk '$1 == "pass" { p++ } END { printf "%.6f\n", NR ? p / NR : 0 }' \
		"$T/frames.$1.$n.expect" >"$T/frames.$1.$n.pass"
}
# the baselines send the block probes of 1000 rules (or of the first count)
BASE_N=1000
case " $RULES $MIX_RULES $CHURN_RULES " in
*" 1000 "*) ;;
*) set -- $RULES $MIX_RULES $CHURN_RULES; BASE_N=${1:-1000} ;;
esac
mix_frames block "$BASE_N"
BASE_FRAMES=$T/frames.block.$BASE_N
ALL_RULES=
for mix in $MIXES; do
	for n in $(mix_rules "$mix"); do
		mix_frames "$mix" "$n"
		ALL_RULES="$ALL_RULES $n"
	done
done

# CPU time (ns) of the generator's threads and of the ksoftirqd of its CPU:
# veth delivers in softirq context on the sending CPU (live source: the
# receiving veth's NAPI poll runs when the test run re-enables bottom
# halves, on the same CPU), so this is the whole cost of a packet (send,
# veth, hook, filter), whatever else the machine runs at the same time.
KSOFTIRQD=$(pgrep -x "ksoftirqd/$GEN_CPU" | head -n 1)
cpu_ns() {
	local s=0 f a
	for f in ${PG_PID:+/proc/$PG_PID/task/*/schedstat} ${KSOFTIRQD:+/proc/$KSOFTIRQD/schedstat}; do
		read -r a _ <"$f" 2>/dev/null && s=$((s + a))
	done
	echo "$s"
}

# sample HOOK: "time_ns rx_packets cpu_ns hook_packets cache_hits ip_receives
# hook_time_ns" (the hook's counters take a while to read on a busy
# machine: they get their own time stamp)
sample() {
	local hook=$1 t0 t1 t2 t3 rx cpu hk=0 ch=0 ipr
	t0=$(date +%s%N)
	rx=$(ip -n "$NS_R" -s link show dev "$IF_R" |
		awk '/RX:/ { getline; print $2; exit }')
	cpu=$(cpu_ns)
	t1=$(date +%s%N)
	t2=$(date +%s%N)
	case $hook in
	xdp)
		read -r hk ch < <(ixr -j show stats | python3 -c \
			'import json,sys; p=json.load(sys.stdin)["packets"]; print(p["in"], p["cache_hit"])')
		;;
	nft)
		hk=$(ip netns exec "$NS_R" nft -j list counter netdev ixbench seen | python3 -c \
			'import json,sys
for o in json.load(sys.stdin)["nftables"]:
    if "counter" in o: print(o["counter"]["packets"])')
		;;
	esac
	t3=$(date +%s%N)
	ipr=$(ip netns exec "$NS_R" awk '
		/^Ip: / && $4 ~ /^[0-9]+$/ { s += $4 }   # InReceives (the values line)
		/^Ip6InReceives/ { s += $2 }
		END { print s + 0 }' /proc/net/snmp /proc/net/snmp6 2>/dev/null)
	echo "$(((t0 + t1) / 2)) $rx $cpu ${hk:-0} ${ch:-0} ${ipr:-0} $(((t2 + t3) / 2))"
}

# measure IMPL RULES MIX HOOK [NFT_FORM]: one raw record (JSON) into
# $T/raw.jsonl, the frames of MIX at RULES rules (the baselines: RULES 0,
# the block frames of BASE_N)
measure() {
	local impl=$1 rules=$2 mix=$3 hook=$4 form=${5:-} flows a b z c rc frames
	frames=$T/frames.$mix.$rules
	[ "$rules" = 0 ] && frames=$BASE_FRAMES
	flows=$(wc -l <"$frames")
	z=$(sample "$hook")     # totals before the generator starts
	# a little ahead of the other processes of a shared machine
	ip netns exec "$NS_S" nice -n -5 "$PG" -i "$IF_S" -f "$frames" -d 600 \
		-c "$GEN_CPU" -t 1 "${PG_MODE[@]}" >"$T/pg.out" 2>"$T/pg.err" &
	PG_PID=$!
	sleep "$WARM"
	a=$(sample "$hook")
	sleep "$SECS"
	b=$(sample "$hook")
	kill -TERM "$PG_PID" 2>/dev/null
	wait "$PG_PID"
	rc=$?
	PG_PID=
	if [ "$rc" != 0 ] || [ ! -s "$T/pg.out" ]; then
		cat "$T/pg.err" >&2
		[ "$SOURCE" = live ] && log "(a kernel that refuses BPF_F_TEST_XDP_LIVE_FRAMES" \
			"answers EPERM: BENCH_SOURCE=af_packet)"
		die "pktgen failed"
	fi
	sleep 0.2
	c=$(sample "$hook")     # totals after it stopped: did the hook count every packet?
	printf '{"round":%d,"impl":"%s","rules":%d,"mix":"%s","flows":%d,"pass_expected":%s,"hook":"%s","nft_form":"%s","a":"%s","b":"%s","z":"%s","c":"%s","gen":%s}\n' \
		"$round" "$impl" "$rules" "$mix" "$flows" "$(cat "$frames.pass")" "$hook" "$form" \
		"$a" "$b" "$z" "$c" "$(cat "$T/pg.out")" >>"$T/raw.jsonl"
	python3 "$REPORT" --last "$T/raw.jsonl" >&2
}

nft_load() { # RULES FORM
	"$FB" nft "$1" "$IF_R" --form "$2" >"$T/rules.nft" 2>"$T/rules.log" ||
		{ cat "$T/rules.log" >&2; die "filters nft $1 --form $2 failed"; }
	ip netns exec "$NS_R" nft -f "$T/rules.nft" || die "nft -f (rules $1, $2) failed"
}
nft_unload() { ip netns exec "$NS_R" nft delete table netdev ixbench; }

# ---- each nftables form against the reference matcher, frame by frame ----
# A second base chain on the same hook, after ixbench's (priority 10),
# counts what ixbench accepted: a dropped frame never reaches it.  The
# frames of one expected verdict are sent once each (pktgen -o) and the
# counts must be all or nothing; on a mismatch a bisection finds a frame.
nft_count() { # TABLE COUNTER: its packets
	ip netns exec "$NS_R" nft list counter netdev "$1" "$2" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}
# check_send FILE: sends its frames once; ARRIVED and ACCEPTED: how many
# reached the hook and how many it accepted
ARRIVED=0 ACCEPTED=0
check_send() {
	local s0 p0 s1 p1 want
	want=$(wc -l <"$1")
	s0=$(nft_count ixbench seen) p0=$(nft_count ixcheck passed)
	ip netns exec "$NS_S" "$PG" -i "$IF_S" -f "$1" -m af_packet -o -b 8 -d 120 \
		-c "${CPUS[0]}" >/dev/null || die "pktgen -o $1 failed"
	for _ in $(seq 1 200); do     # the veth delivers in a softirq: a moment
		s1=$(nft_count ixbench seen)
		[ $((s1 - s0)) -ge "$want" ] && break
		sleep 0.05
	done
	p1=$(nft_count ixcheck passed)
	[ $((s1 - s0)) = "$want" ] ||
		die "nft check: sent $want frames, the ingress hook saw $((s1 - s0)): cannot check"
	ARRIVED=$((s1 - s0)) ACCEPTED=$((p1 - p0))
}
check_wrong() { # VERDICT: did nftables get any of check_send's frames wrong?
	case $1 in
	drop) [ "$ACCEPTED" != 0 ] ;;
	pass) [ "$ACCEPTED" != "$ARRIVED" ] ;;
	esac
}
nft_check() { # RULES FORM: every frame of $T/check.RULES.{drop,pass}
	local n=$1 form=$2 v half
	nft_load "$n" "$form"
	sed 's/^/bench: /' "$T/rules.log" >&2
	ip netns exec "$NS_R" nft -f - <<EOF || die "nft -f (check table) failed"
table netdev ixcheck {
	counter passed { }
	chain ingress {
		type filter hook ingress device "$IF_R" priority 10; policy accept;
		counter name "passed"
	}
}
EOF
	for v in drop pass; do
		[ -s "$T/check.$n.$v" ] || continue
		check_send "$T/check.$n.$v"
		check_wrong "$v" || continue
		# bisect: keep a half that holds a wrong verdict
		cp "$T/check.$n.$v" "$T/bisect"
		while [ "$(wc -l <"$T/bisect")" -gt 1 ]; do
			half=$(( ($(wc -l <"$T/bisect") + 1) / 2 ))
			head -n "$half" "$T/bisect" >"$T/bisect.a"
			tail -n "+$((half + 1))" "$T/bisect" >"$T/bisect.b"
			check_send "$T/bisect.a"
			if check_wrong "$v"; then
				mv "$T/bisect.a" "$T/bisect"
			else
				mv "$T/bisect.b" "$T/bisect"
			fi
		done
		set -- $(grep -F "$(cat "$T/bisect")" "$T/check.$n.expect" | head -n 1)
		die "nftables ($form, $n rules) $([ "$v" = drop ] && echo "lets pass" || echo drops)" \
			"a frame that the reference matcher $([ "$v" = drop ] && echo drops || echo "lets pass")" \
			"(its filter $8, -1: none):" \
			"$3 -> $4, protocol $5, ports $6 -> $7"
	done
	ip netns exec "$NS_R" nft delete table netdev ixcheck
	nft_unload
	log "nft check: $form, $n rules: $(wc -l <"$T/check.$n.drop") frames dropped," \
		"$(wc -l <"$T/check.$n.pass") passed, as the reference matcher says"
}

ixdp_attach() { ixr load "$IF_R" >/dev/null || die "ipsec-xdp load $IF_R failed"; }
ixdp_detach() { ixr unload "$IF_R" >/dev/null || die "ipsec-xdp unload $IF_R failed"; }
ixdp_apply() { # RULES
	ip netns exec "$NS_R" "$FB" apply "$1" "$T/bpffs/pps" || die "filters apply $1 failed"
}

cat >"$T/drop.nft" <<EOF
table netdev ixbench {
	counter seen { }
	chain ingress {
		type filter hook ingress device "$IF_R" priority 0; policy accept;
		counter name "seen" drop
	}
}
EOF

# one pair: ipsec-xdp, then nftables, same rules and frames
pair() { # RULES MIX
	log "round $round: rules $1, mix $2: ipsec-xdp"
	ixdp_attach
	ixdp_apply "$1"
	measure ipsec-xdp "$1" "$2" xdp
	ixdp_detach
	for form in $NFT_FORMS; do
		log "round $round: rules $1, mix $2: nftables ($form)"
		nft_load "$1" "$form"
		measure nftables "$1" "$2" nft "$form"
		nft_unload
	done
}

# the check sets: the frames of every mix of each rule count, and a frame
# for every filter and for none (filters frames --cover)
for n in $(echo $ALL_RULES | tr ' ' '\n' | sort -un); do
	"$FB" frames "$n" "$MAC_S" "$MAC_R" --cover >"$T/cover.$n" ||
		die "filters frames --cover $n failed"
	cat "$T/cover.$n" >"$T/check.$n"
	for mix in $MIXES; do
		[ -f "$T/frames.$mix.$n" ] && cat "$T/frames.$mix.$n" >>"$T/check.$n"
	done
	"$FB" expect "$n" "$T/check.$n" >"$T/check.$n.expect" || die "filters expect $n failed"
	awk '$1 == "drop" { print $2 }' "$T/check.$n.expect" >"$T/check.$n.drop"
	awk '$1 == "pass" { print $2 }' "$T/check.$n.expect" >"$T/check.$n.pass"
	for form in $NFT_FORMS; do
		nft_check "$n" "$form"
	done
done

log "filter_pps: veth $IF_S ($NS_S) -> $IF_R ($NS_R), source $SOURCE," \
	"generator on CPU $GEN_CPU, ${SECS}s per measurement, $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
	# baselines: the cheapest drop at each hook = generator + veth + hook
	log "round $round: baseline: a 2-instruction XDP_DROP program"
	ip netns exec "$NS_R" "$FB" xdp-drop "$IF_R" || die "cannot attach XDP_DROP"
	measure xdp-drop-only 0 block none
	ip netns exec "$NS_R" "$FB" xdp-off "$IF_R"
	log "round $round: baseline: nftables ingress chain with one drop rule"
	ip netns exec "$NS_R" nft -f "$T/drop.nft" || die "nft -f (drop only) failed"
	measure nftables-drop-only 0 block nft
	nft_unload
	for mix in $MIXES; do
		for n in $(mix_rules "$mix"); do
			pair "$n" "$mix"
		done
	done
done

# the medians over the rounds, and the ratios
python3 "$REPORT" --summary "$T/raw.jsonl" --base-flows "$(wc -l <"$BASE_FRAMES")" ||
	die "report failed"
[ -z "$ONLY" ] && agent_reaction
[ -z "$ONLY" ] && policy_update
[ -z "$ONLY" ] && ike_setup
exit 0
