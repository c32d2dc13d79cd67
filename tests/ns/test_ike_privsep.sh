#!/usr/bin/env bash
# The key holder of ipsec-xdpd (ike/daemon/daemon_keyholder.c,
# ipsec-xdpd(8) SECURITY): the pre-shared keys are read by a process of
# their own, never by the network-facing process.  Checked by what a user
# relies on:
#   - the daemon runs as two processes, the key holder its child;
#   - the network process's memory (every readable mapping, through
#     /proc/PID/mem) never holds the pre-shared key: at start, after an
#     IKE SA with it came up, after a SIGHUP reload with a new key; the key
#     holder's memory does (so the scan can find a key where there is one);
#   - the IKE SA comes up through the key holder, and again after the
#     reload with the new key;
#   - once started, the network process keeps only CAP_NET_ADMIN and
#     CAP_BPF (effective, permitted, bounding set; none inheritable or
#     ambient), has no new privileges and runs under a seccomp filter; the
#     key holder keeps no capability at all, under a filter of its own
#     (daemon_sandbox.h) -- and still negotiates, reloads, answers;
#   - with --user ipsec-xdp (A), the network process runs as that user and
#     its group, no supplementary group, while the key holder stays root;
#     a process with exactly its credentials (uid, gid, groups, effective,
#     permitted and bounding capabilities; setpriv) cannot open
#     CONFDIR/secrets nor CONFDIR/private/host.key (root's, 0600), also
#     after the secrets were replaced by a rename, while it does open the
#     policy (so the check can tell); B runs as root (no --user);
#   - `policy apply` stores the policy mode 0640, group ipsec-xdp, which
#     A then reads and puts in force; --confirm-within works although A may
#     not write CONFDIR: the command keeps the rollback copy as root, and
#     `policy confirm` has A's key holder remove it (the rollback itself,
#     on packets: test_policy_agent.sh);
#   - --user with a user that does not exist, or root, stops the daemon
#     at once with a clear error;
#   - the dataplane loaded after A started is in A's reach (`load` shares
#     the pins with the group ipsec-xdp): a new policy goes in force
#     (test_user_dataplane.sh: the pins, packets, loadinterfaces);
#   - a RUNDIR the daemon made is the user's: stopped, it removes its socket;
#   - fail closed: when the key holder dies, the daemon stops with exit 1
#     and says why.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "needs the openssl command"; exit 77; }
. "$(dirname "$0")/ike_lib.sh"
DUSER=ipsec-xdp
getent passwd "$DUSER" >/dev/null ||
	{ echo "needs the user $DUSER (make deps creates it: scripts/install-deps.sh)"; exit 1; }
# the daemon's user must reach CONFDIR (mktemp made $T 0700)
chmod 0711 "$T"

KEY1="privsep key one $RANDOM$RANDOM"
KEY2="privsep key two $RANDOM$RANDOM"

conf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $2 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    ike: { proposals: [ aes256gcm16-prfsha256-curve25519 ] }
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
YAML
	keys "$1" "$3"
}
keys() {
	printf 'lab = "%s"\n' "$2" >"$1/secrets.new"
	chmod 600 "$1/secrets.new"
	mv "$1/secrets.new" "$1/secrets"
}

# holds PID TEXT: TEXT is somewhere in PID's readable memory.
holds() {
	python3 - "$1" "$2" <<'PY'
import sys
pid, needle = sys.argv[1], sys.argv[2].encode()
found = False
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        try:
            mem.seek(lo)
            if needle in mem.read(hi - lo):
                found = True
                break
        except (OSError, ValueError, OverflowError):
            pass
sys.exit(0 if found else 1)
PY
}

# confined PID EFF: PID's capabilities are exactly the mask EFF
# (effective, permitted, bounding set; no inheritable or ambient one), no
# new privileges, a seccomp filter.
confined() {
	[ "$(status "$1" CapEff)" = "$2" ] && [ "$(status "$1" CapPrm)" = "$2" ] &&
		[ "$(status "$1" CapBnd)" = "$2" ] &&
		[ "$(status "$1" CapInh)" = 0000000000000000 ] &&
		[ "$(status "$1" CapAmb)" = 0000000000000000 ] &&
		[ "$(status "$1" NoNewPrivs)" = 1 ] &&
		[ "$(status "$1" Seccomp)" = 2 ] ||
		{ grep -E '^(Cap|NoNewPrivs|Seccomp)' "/proc/$1/status" >&2; return 1; }
}

# keyholder_of PID: the pid of PID's child named ipsec-xdpd-keys.
keyholder_of() {
	local s
	for s in /proc/[0-9]*/status; do
		grep -q "^PPid:[[:space:]]*$1$" "$s" 2>/dev/null &&
			grep -q "^Name:[[:space:]]*ipsec-xdpd-keys$" "$s" &&
			{ s=${s#/proc/}; echo "${s%/status}"; return 0; }
	done
	return 1
}

# creds FILE: the lines of a /proc/PID/status that decide a file's access.
creds() {
	grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd):' "$1" | tr -s ' \t' ' '
}
# --user: a user that is not there, or root, is refused before anything
for u in "no-such-user-$RANDOM" root; do
	ip netns exec "$NS_A" "$IXDPD" -f -C "$T/confA" -R "$T/runX" --user "$u" \
		>"$T/user.log" 2>&1
	check_eq "--user $u: exit 2" 2 "$?"
	check "--user $u: says why" grep -q -e "no such user" -e "neither root" "$T/user.log"
	refute "--user $u: no control socket" test -e "$T/runX/ipsec-xdpd.sock"
done

for ab in A:10.77.0.2 B:10.77.0.1; do
	conf "$T/conf${ab%%:*}" "${ab#*:}" "$KEY1"
done
# A also has a host certificate and key, which its key holder reads
"$TOP/tests/lib/mkcerts.sh" "$T/pki" 10.77.0.1 10.77.0.2 >/dev/null || exit 1
mkdir -p "$T/confA/certs" "$T/confA/private"
cp "$T/pki/host1.pem" "$T/confA/certs/host.pem"
install -m 600 "$T/pki/host1.key" "$T/confA/private/host.key"
IXDPD_ARGS=(--user "$DUSER")
IPSEC_XDP_BPFFS=$T/bpffs/a start A "$NS_A" "$T/confA" "$T/runA" || exit 1
IXDPD_ARGS=()
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
A=${PIDS[0]}
KH=$(keyholder_of "$A")
check "A has a key holder process" test -n "$KH"
check "the key holder holds the key (the scan works)" holds "$KH" "$KEY1"
refute "A's network process does not hold the key" holds "$A" "$KEY1"
# ipsec-xdpd(8) SECURITY: CAP_NET_ADMIN (12) and CAP_BPF (39) only
NET_CAPS=0000008000001000
check "A's network process: CAP_NET_ADMIN and CAP_BPF only, no new privileges, seccomp" \
	confined "$A" "$NET_CAPS"
check "A's key holder: no capability, no new privileges, seccomp" \
	confined "$KH" 0000000000000000

# the network process is the user's, the key holder root's
DUID=$(id -u "$DUSER") DGID=$(id -g "$DUSER")
check_eq "A's network process: uid $DUSER (real, effective, saved, fs)" \
	"$DUID $DUID $DUID $DUID" "$(grep '^Uid:' "/proc/$A/status" | cut -f2- | tr '\t' ' ')"
check_eq "A's network process: gid $DUSER" \
	"$DGID $DGID $DGID $DGID" "$(grep '^Gid:' "/proc/$A/status" | cut -f2- | tr '\t' ' ')"
check_eq "A's network process: no supplementary group" "" "$(status "$A" Groups)"
check_eq "A's key holder stays root" 0 "$(status "$KH" Uid)"
check_eq "B (no --user) stays root" 0 "$(status "${PIDS[1]}" Uid)"
check "a process with A's credentials has them exactly" \
	test "$(creds "/proc/$A/status")" = "$(as_net "$A" cat /proc/self/status | creds /dev/stdin)"
check "with them, the policy opens (the check can tell)" \
	opens_as "$A" "$T/confA/policy.yaml"
refute "with them, CONFDIR/secrets does not open" opens_as "$A" "$T/confA/secrets"
refute "with them, CONFDIR/private/host.key does not open" \
	opens_as "$A" "$T/confA/private/host.key"

check "an IKE SA with the pre-shared key comes up" ike_sa_up xa sa initiate 10.77.0.2
check_eq "one IKE SA on B" 1 "$(count_sas xb)"
refute "after AUTH, A's network process still does not hold it" holds "$A" "$KEY1"

keys "$T/confA" "$KEY2"
keys "$T/confB" "$KEY2"
refute "the secrets replaced by a rename: still they do not open" \
	opens_as "$A" "$T/confA/secrets"
kill -HUP "$A" "${PIDS[1]}"
check "A reloaded" wait_until 20 grep -q "reloaded: policy" "$T/A.log"
check "B reloaded" wait_until 20 grep -q "reloaded: policy" "$T/B.log"
check "the SA is deleted" xa sa delete 10.77.0.2
check "gone on B" wait_until 10 test "$(count_sas xb)" = 0
check "with the new key an IKE SA comes up" ike_sa_up xa sa initiate 10.77.0.2
refute "A's network process does not hold the new key" holds "$A" "$KEY2"
check "the key holder has the new key" holds "$KH" "$KEY2"
refute "no key in A's log" grep -q -e "$KEY1" -e "$KEY2" "$T/A.log"
check "after all that, both still confined (no system call stopped them)" \
	bash -c "$(declare -f status confined); confined $A $NET_CAPS && confined $KH 0000000000000000"
refute "no system call was refused" grep -q "seccomp" "$T/A.log"

# `ipsec-xdp policy apply` stores the policy for the daemon's group to
# read: A, run as that group's user, puts it in force; with a confirmation
# time the rollback copy is root's, and the key holder removes it once
# confirmed
xac() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_RUNDIR="$T/runA" \
		IPSEC_XDP_BPFFS="$T/bpffs/a" "$IXDP" "$@"
}
in_force() { xac -j status | json_get "d['agent']['in_force']['policy']"; }
sed 's/^  lab:$/  lab2:/' "$T/confA/policy.yaml" >"$T/lab2.yaml"
check "policy apply, with A run as $DUSER" xac policy apply "$T/lab2.yaml"
check_eq "the stored policy: mode 640, group $DUSER" "640 $DUSER" \
	"$(stat -c '%a %G' "$T/confA/policy.yaml")"
check "A reads it and puts it in force" wait_until 20 test "$(in_force)" = lab2
check "policy apply --confirm-within, with A run as $DUSER" \
	xac policy apply --confirm-within 30 "$T/lab2.yaml"
check_eq "the rollback copy is root's, as the policy: mode 640, group $DUSER" \
	"640 root $DUSER" "$(stat -c '%a %U %G' "$T/confA/policy.yaml.rollback")"
check "a policy waits for a confirmation" \
	test "$(xac -j status | json_get "d['agent']['pending_confirmation']")" != None
check "policy confirm" xac policy confirm
refute "A's key holder removed the rollback copy" test -e "$T/confA/policy.yaml.rollback"
check "no policy waits for a confirmation" \
	test "$(xac -j status | json_get "d['agent']['pending_confirmation']")" = None

# The dataplane loaded after A started: `load` shares its pins with the
# group ipsec-xdp, so A pushes a new policy into it
check "the dataplane loads in A after the daemon started" ixa load "$IF_A"
sed 's/^  lab2:$/  lab3:/' "$T/lab2.yaml" >"$T/confA/policy.yaml.new"
chmod 644 "$T/confA/policy.yaml.new"
mv "$T/confA/policy.yaml.new" "$T/confA/policy.yaml"
in_force_is() { [ "$(in_force)" = "$1" ]; }
check "A puts the new policy in force" wait_until 20 in_force_is lab3
check "... having read the dataplane's maps (its log: pushed, or there already)" \
	grep -Eq "policy 'lab3' in force: .*(pushed to the dataplane|the dataplane enforced it already)" "$T/A.log"
check "the dataplane unloads" ixa unload

# A third daemon, C, run as the user too (other ports): stopped, it
# removes its control socket (its RUNDIR, which it made, is the user's)
IXDPD_ARGS=(--user "$DUSER" -p 1500 --natt-port 14500)
IPSEC_XDP_BPFFS=$T/bpffs/a start C "$NS_A" "$T/confA" "$T/runC" || exit 1
IXDPD_ARGS=()
C=${PIDS[2]}
check_eq "C runs as $DUSER" "$DUID" "$(status "$C" Uid)"
check_eq "C's RUNDIR is the user's" "$DUSER" "$(stat -c %U "$T/runC")"
kill -TERM "$C"
wait "$C"
check_eq "C stops (TERM): exit 0" 0 "$?"
refute "... and removed its control socket" test -e "$T/runC/ipsec-xdpd.sock"
PIDS=("${PIDS[@]:0:2}")

# Fail closed: without its key holder the daemon stops.
kill -KILL "$KH"
wait "$A"; rc=$?
check_eq "A exits 1 when its key holder dies" 1 "$rc"
check "and says why" grep -q "key holder: .*stopping" "$T/A.log"
PIDS=("${PIDS[@]:1}")

finish
