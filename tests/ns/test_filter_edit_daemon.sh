#!/usr/bin/env bash
# `ipsec-xdp filter add|delete` with ipsec-xdpd running (daemon_agent.h,
# dagent_edit): the daemon makes the change in the stored policy it holds
# read and pushes it, the command then keeps the file.  On real traffic:
# the verdicts change, the file is edited as without a daemon, and the
# agent has the edited file in force; what the daemon declines (a refused
# request, a list written in a form the text edit does not handle, a
# compile with warnings, another edit under way) is done or refused by the
# command alone, with the same messages and nothing pushed; an edit the
# command cannot keep is put back; and a client that ends its turn
# without keeping anything (a command killed half way) leaves the stored
# policy in force again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"	# ns_setup
. "$(dirname "$0")/filter_edit_lib.sh"

trap 'rc=$?; stop_daemon; (exit $rc); ns_teardown' EXIT

cat >"$T/edit.yaml" <<'YAML'
# the administrator's comment: it must survive every edit
filter-lists:
  blocked:
    filters:
      - { src: me, dst: 10.77.0.99 }   # a placeholder: a list needs a filter
  web:
    filters: [ { src: me, dst: 10.77.0.2, protocol: tcp, dst-port: 8080 } ]
  odd:
    filters:
      - { src: me, dst: 10.77.0.51 }
      -
        { src: me, dst: 10.77.0.50 }
policies:
  edit:
    rules:
      - { name: blocker, filter-list: blocked, action: block }
      - { name: web, filter-list: web, action: permit }
      - { name: odd, filter-list: odd, action: block }
YAML
STORED=$T/confA/policy.yaml
ICMP_B='{src: me, dst: 10.77.0.2, protocol: icmp}'
# no WINS server anywhere, for the daemon too: `wins` names no address
export IPSEC_XDP_SMB_CONF=$T/no-wins.conf
: >"$IPSEC_XDP_SMB_CONF"

verdicts_open() { ping_a_to_b && tcp_a_to_b 8080; }
verdicts_blocked() { ! ping_a_to_b && tcp_a_to_b 8080; }
agent() { ixr -j status | json_get "d['agent']$1"; }
in_force_is_stored() {
	[ "$(agent "['in_force']['sha256']")" = "$(sha256sum <"$STORED" | cut -d' ' -f1)" ]
}
pushes() { grep -c "the command keeps the file" "$T/d.log"; }

check "load on A" ixr load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply" ixr policy apply "$T/edit.yaml"
check "start ipsec-xdpd" start_daemon
check "the agent has the stored policy in force" wait_until 10 in_force_is_stored
check "before: ping A->B passes, TCP 8080 passes" verdicts_open
web0=$(rule_count web)

# ---- the daemon makes the change, the command keeps the file ------------------
out=$(ixr -j filter add blocked "$ICMP_B" 2>&1)
check_eq "filter add: exit 0" 0 $?
check_eq "the daemon pushed it" pushed "$(json_get 'd["daemon"]' <<<"$out")"
check_eq "its log says so" 1 "$(pushes)"
check "after add: ping A->B dropped, TCP 8080 passes" verdicts_blocked
check "web's counter survived" test "$(rule_count web)" -ge "$web0"
check "the new filter is the list's last line" \
	grep -qx "      - { src: me, dst: 10.77.0.2, protocol: icmp }" "$STORED"
check "the stored file keeps the comment" grep -q "administrator's comment" "$STORED"
check "the agent has the edited file in force" wait_until 10 in_force_is_stored
check_eq "the agent's specific filters are the command's" \
	"$(json_get 'd["specific_filters"]' <<<"$out")" "$(agent "['in_force']['specific_filters']")"
out=$(ixr filter delete blocked "$ICMP_B" 2>&1)
check_eq "filter delete: exit 0" 0 $?
check "it says the daemon put it in force first" grep -qF "ipsec-xdpd put the change in force first" <<<"$out"
check "after delete: ping A->B passes" verdicts_open
check "add then delete gives back the applied file" cmp -s "$STORED" "$T/edit.yaml"
check "the agent has that file in force" wait_until 10 in_force_is_stored

# ---- declined: the command alone refuses or edits, nothing pushed before ------
cp "$STORED" "$T/before.yaml"
n0=$(pushes)
out=$(ixr filter add nope "$ICMP_B" 2>&1)
check_eq "an unknown list: exit 3" 3 $?
check "the message is the command's" grep -qF "defines no filter list 'nope'; its lists: blocked, web, odd" <<<"$out"
out=$(ixr filter add odd '{src: me, dst: 10.77.0.52}' 2>&1)
check_eq "a list the text edit cannot handle: exit 1" 1 $?
check "it says so" grep -qF "written in a form this edit does not handle" <<<"$out"
check_eq "the daemon pushed neither" "$n0" "$(pushes)"
check "the stored file is byte-identical" cmp -s "$STORED" "$T/before.yaml"
check "the verdicts are unchanged" verdicts_open
out=$(ixr filter add blocked '{src: me, dst: wins}' 2>&1)
check_eq "a filter naming no address: exit 0" 0 $?
line=$(grep -n "dst: wins" "$STORED" | cut -d: -f1)
check "the warning names the edited file's line ($line)" \
	grep -qF "rule blocker, filter at $STORED:$line: \`wins\` names no address" <<<"$out"
check_eq "the daemon left it to the command (the compile warns)" "$n0" "$(pushes)"
check "filter delete of it" ixr filter delete blocked '{src: me, dst: wins}'
check "the stored file is as before" cmp -s "$STORED" "$T/before.yaml"

# ---- pushed but not kept: the policy before it is put back --------------------
n0=$(pushes)
out=$(ixr_ro filter add blocked "$ICMP_B" 2>&1)
check_eq "filter add, the file not writable: exit 1" 1 $?
check_eq "the daemon had pushed it" $((n0 + 1)) "$(pushes)"
check "it says the policy before it is back in force" \
	grep -qF "the policy before the edit is back in force" <<<"$out"
check "the stored file is byte-identical" cmp -s "$STORED" "$T/before.yaml"
check "ping A->B passes again" verdicts_open
check "the agent has the stored file in force" wait_until 10 in_force_is_stored

# ---- two edits at once: both land ---------------------------------------------
check_eq "two concurrent filter add: both succeeded" "0 0" "$(adds_at_once 8081 8082)"
check "the stored file has both" bash -c "grep -q 'dst-port: 8081' '$STORED' && grep -q 'dst-port: 8082' '$STORED'"
refute "TCP 8081 is dropped" tcp_a_to_b 8081
refute "TCP 8082 is dropped" tcp_a_to_b 8082
check "TCP 8080 passes" tcp_a_to_b 8080
check "the agent has the file with both in force" wait_until 10 in_force_is_stored
check "policy apply puts the original back" ixr policy apply "$T/edit.yaml"
check "the agent has it in force" wait_until 10 in_force_is_stored

# ---- a client that ends its turn without keeping anything --------------------
# What a command killed after the daemon's push leaves: the daemon holds
# the writers' lock for it while its connection is open (the daemon keeps
# answering), and once it closes puts the stored policy in force again.
cat >"$T/client.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"cmd": "filter-edit", "op": "add", "list": "blocked",
                       "filter": sys.argv[2]}) + "\n").encode())
print(s.makefile().readline().strip(), flush=True)
sys.stdin.read()        # the turn lasts until the test says
PY
FIFO=$T/client.in
mkfifo "$FIFO"
ip netns exec "$NS_A" python3 "$T/client.py" "$T/runA/ipsec-xdpd.sock" "$ICMP_B" \
	<"$FIFO" >"$T/client.out" 2>&1 &
client=$!
exec 9>"$FIFO"		# the client's stdin, open until the test closes it
check "the daemon answered the client" wait_until 10 grep -q '"ok":true' "$T/client.out"
check "the client's change is in force: ping A->B dropped" verdicts_blocked
check "the daemon answers meanwhile" ixr -j status
check "the stored file is unchanged" cmp -s "$STORED" "$T/edit.yaml"
exec 9>&-		# the client ends its turn
wait $client
check "the stored policy is back in force: ping A->B passes" wait_until 10 verdicts_open
check "the agent has the stored file in force" wait_until 10 in_force_is_stored
check "a filter edit works again after it" ixr filter add blocked "$ICMP_B"
check "ping A->B dropped" verdicts_blocked
stop_daemon
finish
