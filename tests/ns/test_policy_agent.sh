#!/usr/bin/env bash
# The policy agent in ipsec-xdpd (daemon_agent.h, ipsec-xdpd(8) "POLICY
# AGENT"): a policy written straight into the configuration directory is
# enforced on real packets without `policy apply`; an invalid one leaves
# the policy in force and `status` shows its error; the polling interval
# catches a change inotify cannot see (policy.yaml a symbolic link to a
# file elsewhere, written in place); `policy apply --confirm-within` rolls
# back without `policy confirm` and keeps the policy with it.
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

finish
