#!/usr/bin/env bash
# One writer at a time (ipsec-xdp(8), LOCKING): concurrent `policy apply`
# leave the stored policy and the enforced list from the same one of them;
# concurrent `set config` lose no key and enforce the exemption they store;
# a held lock makes a writer wait, or give up with a message naming the
# holder; stored files are replaced without a temporary left behind; and
# `set config ikelogging` says "applied" only when ipsec-xdpd reloaded it.
. "$(dirname "$0")/lib.sh"
ns_setup
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
N=8
CONF=$T/confA
ROOT=$T/bpffs/a

# policy N: block TCP from B to A's port 7100+N; a name of its own.
write_policy() {
	cat >"$T/p$1.yaml" <<YAML
filter-lists:
  svc: { filters: [ { src: 10.77.0.2, dst: me, protocol: tcp, dst-port: $((7100 + $1)) } ] }
policies:
  p$1:
    rules:
      - { name: block-$1, filter-list: svc, action: block }
YAML
}

# The policy number the stored file is a copy of ("none" if no one).
stored_policy() {
	local i
	for i in $(seq 1 $N); do
		cmp -s "$CONF/policy.yaml" "$T/p$i.yaml" && { echo "$i"; return; }
	done
	echo none
}

# The rules of the enforced (live) list, exemptions aside, sorted, one line.
enforced_rules() {
	ixa -j show filters --specific | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted({r["rule"] for r in d["specific_filters"] if not r["exemption"]})))'
}

# Nothing but the stored files in the configuration directory (no temporary).
# CONFDIR/state is the state directory of this configuration directory
# (policy_state.c): it holds policy-applied-once and nothing else.
only_stored_files() {
	[ "$(ls -A "$CONF" | grep -v -x -e config -e policy.yaml -e state)" = "" ] &&
		[ "$(ls -A "$CONF/state" 2>/dev/null | grep -v -x policy-applied-once)" = "" ]
}

for i in $(seq 1 $N); do write_policy "$i"; done
check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"

# ---- concurrent policy apply --------------------------------------------------
pids=()
for i in $(seq 1 $N); do
	ixa policy apply "$T/p$i.yaml" >"$T/apply$i.out" 2>&1 &
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "$N concurrent policy apply: every one succeeded" 0 "$failed"
won=$(stored_policy)
check "the stored policy is exactly one of them" test "$won" != none
check_eq "the enforced list is that same policy's" "block-$won" "$(enforced_rules)"
check_eq "policy show names that policy" "p$won" \
	"$(ixa -j policy show | json_get 'd["name"]')"
check "no temporary file left in the configuration directory" only_stored_files

# ---- concurrent set config: no lost update, the stored exemption enforced ----
check "set bootmode block" ixa set config bootmode block
check "unassign: the boot mode rules" ixa policy unassign
pids=()
for i in $(seq 1 $N); do
	ixa set config bootexemptions "TCP:0:$((7200 + i)):inbound" >/dev/null 2>&1 &
	pids+=($!)
done
ixa set config ipsecexempt 1 >/dev/null 2>&1 &
pids+=($!)
ixa set config strongcrlcheck 2 >/dev/null 2>&1 &
pids+=($!)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
check_eq "$((N + 2)) concurrent set config: every one succeeded" 0 "$failed"
cfg() { ixa -j show config | json_get "$1"; }
check_eq "no lost update: ipsecexempt kept" 1 "$(cfg 'd["ipsecexempt"]')"
check_eq "no lost update: strongcrlcheck kept" 2 "$(cfg 'd["strongcrlcheck"]')"
check_eq "no lost update: bootmode kept" block "$(cfg 'd["bootmode"]')"
ex=$(cfg '" ".join(d["bootexemptions"])')
port=${ex#TCP:0:}
port=${port%:inbound}
check "the stored exemption is one of them" test "$port" -gt 7200 -a "$port" -le $((7200 + N))
check "the stored exemption is enforced: TCP B->A:$port" tcp_b_to_a "$port"
other=$((port == 7201 ? 7202 : 7201))
refute "another one is not: TCP B->A:$other dropped" tcp_b_to_a "$other"
check "no temporary file left after set config" only_stored_files

# ---- a held lock ---------------------------------------------------------------
# flock(1) holds the configuration directory's lock until its sleep ends.
hold() {
	flock -x -o "$1" sleep 600 &
	HOLDER=$!
	# held once /proc/locks lists it: the holder is flock's own process
	local ino i
	ino=$(stat -c %i "$1")
	for i in $(seq 1 100); do
		grep -q "FLOCK .* $HOLDER [0-9a-f]*:[0-9a-f]*:$ino " /proc/locks && return 0
		sleep 0.1
	done
	return 1
}
release() { kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; }

before=$(stored_policy)
check "hold the configuration directory's lock" hold "$CONF"
out=$(IPSEC_XDP_LOCK_WAIT=1 ixa policy apply "$T/p1.yaml" 2>&1)
rc=$?
check_eq "a writer gives up when the wait runs out (exit 1)" 1 "$rc"
check "its message names the directory and the holder's pid and command" \
	grep -q "$CONF is locked by pid $HOLDER (flock " <<<"$out"
check_eq "nothing was stored meanwhile" "$before" "$(stored_policy)"
check "the reader still answers while it is held" ixa -j show config
ixa policy apply "$T/p1.yaml" >"$T/waiter.out" 2>&1 &
waiter=$!
check_eq "nothing was stored while the lock is held" "$before" "$(stored_policy)"
release
wait "$waiter"
check_eq "the waiting writer succeeded once it was released" 0 $?
check_eq "and stored its policy" 1 "$(stored_policy)"
check_eq "and enforced it" block-1 "$(enforced_rules)"

# The pin root's lock alone stops a dataplane writer too.
check "hold the pin root's lock" hold "$ROOT"
out=$(IPSEC_XDP_LOCK_WAIT=1 ixa set config bootmode stateful 2>&1)
check "set config gives up, naming the pin root and its holder" \
	grep -q "$ROOT is locked by pid $HOLDER" <<<"$out"
check_eq "the configuration is unchanged" block "$(cfg 'd["bootmode"]')"
release
check "after the release it goes through" ixa set config bootmode stateful

# ---- what `set config` says it did ------------------------------------------------
# No daemon: the daemon's keys are stored, not "applied".
export IPSEC_XDP_RUNDIR=$T/runA
out=$(ixa set config ikelogging 1 2>&1)
check "ikelogging without a daemon: takes effect when it starts" \
	grep -q "ikelogging set (ipsec-xdpd is not running: it takes effect when the daemon starts)" <<<"$out"
check "ikelogging without a daemon: not said to be applied" \
	bash -c '! grep -q applied <<<"$1"' _ "$out"
check_eq "-j: applied false" False "$(ixa -j set config strongcrlcheck 0 | json_get 'd["applied"]')"
check "a dataplane key with the dataplane loaded is applied" \
	grep -q "bootmode set and applied to the dataplane" <<<"$(ixa set config bootmode block)"
check "ipsecexempt with a policy in force: applied, recompiled" \
	grep -q "ipsecexempt set and applied (the policy in force recompiled)" \
	<<<"$(ixa set config ipsecexempt 2)"
check "unassign" ixa policy unassign
check "ipsecexempt with no policy in force: not said to be applied" \
	grep -q "ipsecexempt set (no policy in force: used when one is applied)" \
	<<<"$(ixa set config ipsecexempt 3)"
if [ -x "$IXDPD" ]; then
	printf 'lab = "x"\n' >"$CONF/secrets"
	chmod 600 "$CONF/secrets"
	mkdir -p "$T/runA"
	ip netns exec "$NS_A" "$IXDPD" -f -C "$CONF" -R "$T/runA" >"$T/xdpd.log" 2>&1 &
	XDPD=$!
	for i in $(seq 1 50); do [ -S "$T/runA/ipsec-xdpd.sock" ] && break; sleep 0.1; done
	out=$(ixa set config ikelogging 2 2>&1)
	check "ikelogging with the daemon: applied, the daemon reloaded" \
		grep -q "ikelogging set and applied (ipsec-xdpd reloaded" <<<"$out"
	check "the daemon logged the new level" grep -q "reloaded: .*ikelogging 2" "$T/xdpd.log"
	kill -TERM "$XDPD"; wait "$XDPD" 2>/dev/null
fi
unset IPSEC_XDP_RUNDIR
check "unload" ixa unload
finish
