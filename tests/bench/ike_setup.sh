#!/usr/bin/env bash
# tests/bench/ike_setup.sh - the ike_setup benchmark (run by tests/bench/run.sh,
# or alone): IKEv2 setups per second that one responder on one CPU
# completes, ipsec-xdpd and strongSwan's charon in turn, driven by the
# project's load generator (build/bench/ike_load) on the other CPU.  JSON
# lines on stdout, the rest on stderr.  See tests/bench/README.md.
#
# On the host: childless IKE SAs (RFC 6023; no ESP here), suite
# "x25519-psk": IKE_SA_INIT + IKE_AUTH with AES-GCM-16-256, PRF HMAC-SHA2-256,
# Curve25519, a pre-shared key, then a Delete.  Both responders run in the
# same namespace, one after the other, alternating over IKE_BENCH_ROUNDS
# rounds (medians kept): the machine is shared and its speed moves.
#
# Two variants of each suite, the worst case first: "...-fresh-dh", where
# ipsec-xdpd makes a new D-H value for every IKE_SA_INIT it answers
# (IPSEC_XDPD_DH_REUSE_MS=0), as charon always does: like for like; then
# the suite itself, ipsec-xdpd at its default (the value shared until an SA
# that used it closes, ike/wire/wire_dh_reuse.h).  charon is measured in both.
#
# With --child (run inside the VM by vmtest/vm.sh, see README.md): suite
# "x25519-psk-child", each IKE_AUTH also negotiates an ESP transport CHILD
# SA that the responder installs in kernel xfrm (and removes on Delete).
#
# Knobs: IKE_BENCH_SECS (measured seconds per round, 4), IKE_BENCH_WARMUP
# (1), IKE_BENCH_ROUNDS (3), IKE_BENCH_ADDRS (source addresses, 64),
# IKE_BENCH_SLOTS (negotiations in flight per address, 1), IKE_BENCH_IMPLS
# ("ipsec-xdpd strongswan"), IKE_BENCH_RETX_MS (the generator's first
# retransmission, 1000; the emulated VM needs more), IKE_BENCH_RT (1: both
# responders and the generator run SCHED_RR, so that other work on a shared
# machine cannot take their CPUs; it stalls that work for the run: off by
# default), IKE_BENCH_DH ("fresh shared": the ipsec-xdpd variants, in
# that order).
set -u
CHILD=no
[ "${1:-}" = --child ] && CHILD=yes
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$TOP/$B ;; esac
IXDP=${IXDP:-$B/ipsec-xdp}
IXDPD=${IXDPD:-$B/ipsec-xdpd}
IKE_LOAD=${IKE_LOAD:-$B/bench/ike_load}
SECS=${IKE_BENCH_SECS:-4}
WARM=${IKE_BENCH_WARMUP:-1}
ROUNDS=${IKE_BENCH_ROUNDS:-3}
ADDRS=${IKE_BENCH_ADDRS:-64}
SLOTS=${IKE_BENCH_SLOTS:-1}
IMPLS=${IKE_BENCH_IMPLS:-ipsec-xdpd strongswan}
RETX_MS=${IKE_BENCH_RETX_MS:-1000}
IKEB_RT=
[ "${IKE_BENCH_RT:-0}" = 1 ] && IKEB_RT=1
SUITE=x25519-psk
[ "$CHILD" = yes ] && SUITE=x25519-psk-child
DH_MODES=${IKE_BENCH_DH:-fresh shared}

log() { echo "ike_setup: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for f in "$IXDP" "$IXDPD" "$IKE_LOAD"; do
	[ -x "$f" ] || die "build first: $f is missing (make bench builds it)"
done
case " $IMPLS " in
*" strongswan "*) [ -x /usr/lib/ipsec/charon ] ||
	die "no charon (scripts/install-deps.sh --vm installs strongSwan)" ;;
esac
[ "$ADDRS" -ge 1 ] && [ "$ADDRS" -le 150 ] || die "IKE_BENCH_ADDRS: 1 to 150"
for m in $DH_MODES; do
	case $m in fresh | shared) ;; *) die "IKE_BENCH_DH: fresh and/or shared" ;; esac
done

# the namespaces, veth pair and clean-up of the namespace tests; their
# output (none unless something fails) goes to stderr
. "$TOP/tests/ns/lib.sh"
ns_setup >&2
. "$TOP/tests/bench/ike_lib.sh"
trap 'rc=$?; ikeb_stop; (exit $rc); ns_teardown' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the online CPUs, not nproc: a caller pinned to fewer CPUs (tests/bench/run.sh
# keeps itself off the generator's CPU) would make nproc say 1
CPUS=($(ikeb_online_cpus))
[ "${#CPUS[@]}" -gt 1 ] || die "needs 2 CPUs: the responder and the generator on their own"
RESP_CPU=${CPUS[0]}
GEN_CPU=${CPUS[-1]}
[ "$CHILD" = yes ] && for m in esp4 xfrm_user; do modprobe "$m" 2>/dev/null; done
ikeb_addrs "$ADDRS" || die "cannot add the source addresses"
ikeb_xdpd_conf "$T/xdpd"
ikeb_swan_conf "$T/swan" "$CHILD"
RES=$T/results
: >"$RES"
LOAD_ARGS=(-a "$ADDRS" -S 1 -c "$SLOTS" -d "$SECS" -w "$WARM" -r "$RETX_MS" --cpu "$GEN_CPU")
[ "$CHILD" = yes ] && LOAD_ARGS+=(--child)

# start_impl IMPL MODE: the responder on RESP_CPU (ipsec-xdpd with a new
# D-H value per setup when MODE is fresh); sets RPID.
start_impl() {
	local reuse=
	[ "$2" = fresh ] && reuse=0
	case $1 in
	ipsec-xdpd) IKEB_DH_REUSE_MS=$reuse ikeb_xdpd_start "$T/xdpd" "$RESP_CPU" ;;
	strongswan) ikeb_swan_start "$T/swan" "$RESP_CPU" ;;
	esac || return 1
	RPID=${IKEB_PIDS[-1]}
}

# dh_keys IMPL: "generated shared", ipsec-xdpd's IKE_SA_INIT key pairs
# (charon: "null null", it has no such counters).
dh_keys() {
	[ "$1" = ipsec-xdpd ] || { echo "null null"; return; }
	ikeb_xdpd_ctl "$T/xdpd" -j show ikestats |
		json_get '" ".join(str(d["stats"][k]) for k in ("dh_keys_generated", "dh_keys_shared"))'
}

# count_sas IMPL: the responder's IKE SAs (0 once every Delete was served).
count_sas() {
	case $1 in
	ipsec-xdpd) ikeb_xdpd_ctl "$T/xdpd" -j show sa | json_get 'len(d["ike_sas"])' ;;
	strongswan) ikeb_swanctl "$T/swan" --list-sas --raw | grep -c 'bench {' ;;
	esac
}

# one_round IMPL ROUND MODE: start, load, stop; one JSON object appended to
# RES.  In a fresh round ipsec-xdpd must not have shared a D-H value.
one_round() {
	local impl=$1 round=$2 mode=$3 out c0 c1 t0 t1 left made shared suite=$SUITE
	[ "$mode" = fresh ] && suite=$SUITE-fresh-dh
	start_impl "$impl" "$mode" || die "$impl did not start"
	c0=$(ikeb_cpu_ticks "$RPID")
	t0=$(date +%s.%N)
	out=$(ikeb_load "${LOAD_ARGS[@]}") || die "the generator failed"
	t1=$(date +%s.%N)
	c1=$(ikeb_cpu_ticks "$RPID")
	left=$(count_sas "$impl")
	read -r made shared < <(dh_keys "$impl")
	ikeb_stop
	log "$suite $impl round $round: $out"
	if [ "$impl" = ipsec-xdpd ]; then
		[ -n "$shared" ] || die "cannot read ipsec-xdpd's D-H key counters (show ikestats)"
		[ "$mode" = fresh ] && [ "$shared" != 0 ] &&
			die "ipsec-xdpd shared D-H values $shared times with IPSEC_XDPD_DH_REUSE_MS=0"
	fi
	python3 - "$impl" "$round" "$((c1 - c0))" "$(getconf CLK_TCK)" "$left" \
		"$t0" "$t1" "$out" "$suite" "${made:-null}" "${shared:-null}" >>"$RES" <<'PY' ||
import json, sys
impl, rnd, ticks, hz, left, t0, t1, out, suite, made, shared = sys.argv[1:]
d = json.loads(out)
d.update(impl=impl, round=int(rnd), left=int(left), suite=suite,
         resp_cpu_s=int(ticks) / int(hz), wall_s=float(t1) - float(t0),
         dh_keys_generated=json.loads(made), dh_keys_shared=json.loads(shared))
print(json.dumps(d))
PY
		die "bad generator output"
}

log "suite $SUITE (ipsec-xdpd D-H: $DH_MODES): $ADDRS sources x $SLOTS in flight," \
	"$ROUNDS rounds of ${SECS}s (+${WARM}s warm-up), responder on CPU $RESP_CPU," \
	"generator on CPU $GEN_CPU"
for r in $(seq 1 "$ROUNDS"); do
	for mode in $DH_MODES; do
		for impl in $IMPLS; do
			one_round "$impl" "$r" "$mode"
		done
	done
done

python3 - "$RES" <<'PY'
import json, statistics, sys


def impl_line(suite, impl, rs):
    rates = [r["setups_per_s"] for r in rs]
    # the responder's CPU time per setup over the whole round (warm-up and
    # the Delete drain included), its inverse the rate of a whole core
    cpu_us = statistics.median(r["resp_cpu_s"] / max(r["completed"], 1) * 1e6
                               for r in rs)
    line = {
        "bench": "ike_setup", "impl": impl, "suite": suite,
        "setups_per_s": round(statistics.median(rates), 1),
        "setups_per_s_min": round(min(rates), 1),
        "setups_per_s_max": round(max(rates), 1),
        "cpu_us_per_setup": round(cpu_us, 1),
        "setups_per_s_per_core": round(1e6 / cpu_us, 1) if cpu_us else None,
        "rounds": len(rs), "secs": rs[0]["secs"], "in_flight": rs[0]["slots"],
        "sources": rs[0]["sources"],
        "completed": sum(r["completed"] for r in rs),
        "failed": sum(r["failed"] for r in rs),
        "timeouts": sum(r["timeouts"] for r in rs),
        "retransmits": sum(r["retransmits"] for r in rs),
        "cookies": sum(r["cookies"] for r in rs),
        "sas_left": max(r["left"] for r in rs),
        "gen_cpu_busy": round(statistics.median(r["gen_cpu_busy"] for r in rs), 3),
        # share of its CPU the responder used while the generator ran:
        # well under 1 means it waited (for the generator, or for its CPU)
        "resp_cpu_busy": round(statistics.median(
            r["resp_cpu_s"] / r["wall_s"] for r in rs), 3),
    }
    if impl == "ipsec-xdpd":
        # its IKE_SA_INIT key pairs over all rounds: made, and handed out again
        line["dh_keys_generated"] = sum(r["dh_keys_generated"] for r in rs)
        line["dh_keys_shared"] = sum(r["dh_keys_shared"] for r in rs)
    return line


def ratio_line(suite, a, b):
    ratio = a["setups_per_s"] / b["setups_per_s"] if b["setups_per_s"] else None
    per_core = (a["setups_per_s_per_core"] / b["setups_per_s_per_core"]
                if b["setups_per_s_per_core"] else None)
    return {
        "bench": "ike_setup_ratio", "suite": suite,
        "ratio": round(ratio, 2) if ratio else None,
        "ratio_per_core": round(per_core, 2) if per_core else None,
        "target": 3, "target_ok": bool(ratio and ratio >= 3),
        "target_ok_per_core": bool(per_core and per_core >= 3),
    }


runs = [json.loads(l) for l in open(sys.argv[1])]
for suite in dict.fromkeys(r["suite"] for r in runs):
    rate = {}
    for impl in dict.fromkeys(r["impl"] for r in runs):
        rs = [r for r in runs if r["impl"] == impl and r["suite"] == suite]
        if rs:
            rate[impl] = impl_line(suite, impl, rs)
            print(json.dumps(rate[impl]))
    if "ipsec-xdpd" in rate and "strongswan" in rate:
        print(json.dumps(ratio_line(suite, rate["ipsec-xdpd"], rate["strongswan"])))
PY
