#!/usr/bin/env bash
# The policy agent in ipsec-xdpd (daemon_agent.h, ipsec-xdpd(8) "POLICY
# AGENT"): a policy written straight into the configuration directory is
# enforced on real packets without `policy apply`; an invalid one leaves
# the policy in force and `status` shows its error; the polling interval
# catches a change inotify cannot see (policy.yaml a symbolic link to a
# file elsewhere, written in place); `policy apply --confirm-within` rolls
# back without `policy confirm` and keeps the policy with it; and all of
# that with the network process run as the user ipsec-xdp (--user), which
# may not write CONFDIR: the rollback copy is root's, restored
# byte-identical by the key holder on the timeout, at a stop, and at the
# start after a kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

trap 'rc=$?; stop_daemon; (exit $rc); ns_teardown' EXIT

policy() { # NAME ACTION [POLLING]: one rule on the traffic to B
	printf 'filter-lists:\n  b: { filters: [ { src: me, dst: 10.77.0.2 } ] }\n'
	printf 'policies:\n  %s:\n' "$1"
	[ -n "${3:-}" ] && printf '    polling-interval: %s\n' "$3"
	printf '    rules:\n      - { name: r-%s, filter-list: b, action: %s }\n' "$1" "$2"
}
policy open permit >"$T/open.yaml"
policy closed block >"$T/closed.yaml"
policy open5 permit 5 >"$T/open5.yaml"
policy closed5 block 5 >"$T/closed5.yaml"
printf 'policies:\n  broken:\n    rules:\n      - { name: x, filter-list: nowhere, action: block }\n' >"$T/bad.yaml"

STORED=$T/confA/policy.yaml
# put FILE in place by rename, as configuration management tools do
install_policy() { cp "$1" "$STORED.new" && mv -f "$STORED.new" "$STORED"; }
blocked() { ! ping_a_to_b; }
agent() { ixr -j status | json_get "d['agent']$1"; }
in_force_is() { [ "$(agent "['in_force']['sha256']")" = "$(sha256sum <"$1" | cut -d' ' -f1)" ]; }
status_text_has() { ixr status | grep -q -- "$1"; }
last_error_has() { agent "['last']['error']" | grep -q -- "$1"; }

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the open policy" ixa policy apply "$T/open.yaml"
check "start ipsec-xdpd" start_daemon
check "the open policy is in force for the agent" wait_until 10 in_force_is "$T/open.yaml"
check "A reaches B" ping_a_to_b

# 1. written straight into the configuration directory (rename)
install_policy "$T/closed.yaml"
check "a policy written into CONFDIR is enforced: A no longer reaches B" \
	wait_until 15 blocked
check "status: it is in force (its sha256), from the stored file" in_force_is "$T/closed.yaml"
check_eq "status: its source" "$STORED" "$(agent "['in_force']['source']")"
check_eq "status: its policy name" closed "$(agent "['in_force']['policy']")"

# 2. an invalid file: the policy in force stays, status shows the error
install_policy "$T/bad.yaml"
check "status shows the invalid file's error with file:line:col" \
	wait_until 15 last_error_has "$STORED:4:[0-9]*: .*nowhere"
check "the policy in force stays (its sha256)" in_force_is "$T/closed.yaml"
check "the old verdict stays on packets: A still cannot reach B" blocked
check "the status text shows the error" status_text_has "last: ERROR.*policy.yaml:4:"

# 3. written in place (no rename): IN_CLOSE_WRITE
cat "$T/open.yaml" >"$STORED"
check "a policy written in place is enforced: A reaches B" wait_until 15 ping_a_to_b
check "status: the open policy is in force" in_force_is "$T/open.yaml"
check "the last result is a success" test "$(agent "['last']['ok']")" = True

# 4. polling: policy.yaml a symbolic link to a file elsewhere, which is
# then written in place: the directory inotify watches sees nothing
mkdir -p "$T/cm"
cp "$T/closed5.yaml" "$T/cm/policy.yaml"
ln -s "$T/cm/policy.yaml" "$STORED.link" && mv -fT "$STORED.link" "$STORED"
check "a symbolic link put in place is followed: A cannot reach B" wait_until 15 blocked
check_eq "status: polling every 5 s (the policy's polling-interval)" 5 \
	"$(agent "['polling_interval_s']")"
cat "$T/open5.yaml" >"$T/cm/policy.yaml"
check "the polling catches the change behind the link: A reaches B" \
	wait_until 30 ping_a_to_b
check "status: the new content is in force" in_force_is "$T/open5.yaml"

# 5. --confirm-within without confirm: rolled back
check "apply the open policy (a plain file again)" ixr policy apply "$T/open.yaml"
check "ipsec-xdpd has it in force" wait_until 10 in_force_is "$T/open.yaml"
out=$(ixr -j policy apply --confirm-within 2 "$T/closed.yaml")
check "apply --confirm-within 2 closed" test $? -eq 0
check "its answer names when it is rolled back" \
	test "$(json_get "d['rollback_at']" <<<"$out")" -gt 0
check "without confirm, the previous policy comes back: A reaches B" \
	wait_until 20 ping_a_to_b
check "the stored file is the previous policy again" cmp -s "$T/open.yaml" "$STORED"
check "status: the previous policy is in force" in_force_is "$T/open.yaml"
check_eq "status: nothing pending any more" None "$(agent "['pending_confirmation']")"
refute "policy confirm with nothing pending fails" ixr policy confirm

# 6. with confirm: kept
check "apply --confirm-within 6 closed" ixr policy apply --confirm-within 6 "$T/closed.yaml"
check "status shows the pending confirmation and its deadline" \
	test "$(agent "['pending_confirmation']['deadline']")" -gt "$(date +%s)"
check "the status text too" status_text_has "waiting for .ipsec-xdp policy confirm."
check "policy confirm" ixr policy confirm
check_eq "status: nothing pending after confirm" None "$(agent "['pending_confirmation']")"
sleep 7		# past the deadline: nothing may happen
check "confirmed: the new policy stays enforced" blocked
check "confirmed: the stored file is the new policy" cmp -s "$T/closed.yaml" "$STORED"

# 7. an invalid file with --confirm-within: refused, nothing armed
refute "apply --confirm-within with an invalid file is refused" \
	ixr policy apply --confirm-within 5 "$T/bad.yaml"
check_eq "nothing pending after the refusal" None "$(agent "['pending_confirmation']")"

# 8. without a running daemon: refused, nothing changed
stop_daemon
out=$(ixr policy apply --confirm-within 2 "$T/open.yaml" 2>&1)
check "without ipsec-xdpd --confirm-within is refused" test $? -ne 0
check "... naming the reason" grep -q "needs a running ipsec-xdpd" <<<"$out"
check "... and nothing changed" cmp -s "$T/closed.yaml" "$STORED"
check "... the dataplane either" blocked

# 9. The network process run as the user ipsec-xdp (ipsec-xdpd --user, the
# unit's default), which may not write CONFDIR: the command keeps the
# rollback copy as root, the key holder (root) puts it back, and the
# network process still cannot open the secrets.
DUSER=ipsec-xdp
getent passwd "$DUSER" >/dev/null ||
	{ echo "needs the user $DUSER (scripts/install-deps.sh makes it)"; exit 1; }
chmod 0711 "$T"		# (the user reaches CONFDIR; mktemp made $T 0700)
printf 'lab = "policy agent test key"\n' >"$T/confA/secrets"
chmod 600 "$T/confA/secrets"
copies() { ls -A "$T/confA" | grep -c '^policy\.yaml\.rollback'; }
modes() { stat -c '%a %U %G' "$1"; }
start_user() { IXDPD_ARGS=(--user "$DUSER"); start_daemon; local rc=$?; IXDPD_ARGS=(); return $rc; }
check "apply the open policy" ixr policy apply "$T/open.yaml"
MODE0=$(modes "$STORED")
check "start ipsec-xdpd --user $DUSER" start_user
check_eq "its network process runs as $DUSER" "$(id -u "$DUSER")" "$(status "$DPID" Uid)"
check "it has the open policy in force" wait_until 10 in_force_is "$T/open.yaml"
check "A reaches B" ping_a_to_b
refute "with its credentials, CONFDIR/secrets does not open" opens_as "$DPID" "$T/confA/secrets"
check "with them, the policy opens (the check can tell)" opens_as "$DPID" "$STORED"

# 9a. no confirmation: rolled back, the file byte-identical
# (8 s: the checks before the deadline must all be done by then)
out=$(ixr -j policy apply --confirm-within 8 "$T/closed.yaml")
check "--user: apply --confirm-within 8 closed is accepted" test $? -eq 0
check "... its answer names when it is rolled back" \
	test "$(json_get "d['rollback_at']" <<<"$out")" -gt 0
check "the rollback copy: the stored policy's bytes" cmp -s "$T/open.yaml" "$STORED.rollback"
check_eq "... its mode, owner and group" "$MODE0" "$(modes "$STORED.rollback")"
check "the new policy is enforced meanwhile: A cannot reach B" wait_until 10 blocked
refute "a second --confirm-within is refused while one waits" \
	ixr policy apply --confirm-within 30 "$T/open.yaml"
check "... the copy unchanged" cmp -s "$T/open.yaml" "$STORED.rollback"
check "without confirm, the previous policy comes back: A reaches B" \
	wait_until 20 ping_a_to_b
check "the stored file is the previous policy, byte-identical" cmp -s "$T/open.yaml" "$STORED"
check_eq "... with its mode, owner and group" "$MODE0" "$(modes "$STORED")"
check_eq "no rollback copy is left" 0 "$(copies)"
check "status: the previous policy is in force" in_force_is "$T/open.yaml"
check_eq "status: nothing pending any more" None "$(agent "['pending_confirmation']")"
check "the log says why" grep -q "no .ipsec-xdp policy confirm. within 8 s: the previous policy is restored" "$T/d.log"

# 9b. confirmed: kept, the copy removed
check "--user: apply --confirm-within 8 closed" ixr policy apply --confirm-within 8 "$T/closed.yaml"
check "policy confirm" ixr policy confirm
check_eq "the key holder removed the rollback copy" 0 "$(copies)"
sleep 9		# past the deadline: nothing may happen
check "confirmed: the new policy stays enforced" blocked
check "confirmed: the stored file is the new policy" cmp -s "$T/closed.yaml" "$STORED"

# 9c. no policy was stored: the rollback removes the one applied
check "policy unassign" ixr policy unassign
check "--confirm-within 5 with no policy stored" ixr policy apply --confirm-within 5 "$T/closed.yaml"
check "... kept as the marker rollback-none" test -e "$STORED.rollback-none"
check "rolled back: no policy stored" wait_until 20 bash -c "! test -e '$STORED'"
check_eq "... none in force" None "$(agent "['in_force']")"
check_eq "... and no marker left" 0 "$(copies)"

# 9d. stopped (TERM) before the confirmation: restored at the stop
check "apply the open policy" ixr policy apply "$T/open.yaml"
check "in force" wait_until 10 in_force_is "$T/open.yaml"
check "--confirm-within 60 closed" ixr policy apply --confirm-within 60 "$T/closed.yaml"
check "blocked meanwhile" wait_until 10 blocked
stop_daemon
check "stopped before confirmation: the previous policy is stored again" \
	cmp -s "$T/open.yaml" "$STORED"
check "... and enforced: A reaches B" ping_a_to_b
check_eq "... no rollback copy left" 0 "$(copies)"

# 9e. killed before the confirmation: the copy stays, the next start puts
# the previous policy back (an unconfirmed policy never stays)
check "start ipsec-xdpd --user $DUSER again" start_user
check "in force" wait_until 10 in_force_is "$T/open.yaml"
check "--confirm-within 60 closed" ixr policy apply --confirm-within 60 "$T/closed.yaml"
check "blocked meanwhile" wait_until 10 blocked
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check_eq "killed: the rollback copy stays" 1 "$(copies)"
out=$(ixr policy confirm 2>&1)
check "policy confirm without the daemon is refused" test $? -ne 0
check "... saying the kept policy is restored when it starts" \
	grep -q "restores the policy kept in .* when it starts" <<<"$out"
check "start ipsec-xdpd --user $DUSER after the kill" start_user
check "the start restores the previous policy: A reaches B" wait_until 20 ping_a_to_b
check "the stored file is the previous policy, byte-identical" cmp -s "$T/open.yaml" "$STORED"
check_eq "no rollback copy left" 0 "$(copies)"
check "the log says why" grep -q "never confirmed: the previous policy is restored" "$T/d.log"
refute "policy confirm: nothing waits" ixr policy confirm
refute "the seccomp filters stopped nothing" grep -q "seccomp" "$T/d.log"

finish
