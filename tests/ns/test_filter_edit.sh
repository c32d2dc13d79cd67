#!/usr/bin/env bash
# `ipsec-xdp filter add|delete LIST FILTER` on real traffic (issue 11; the
# seeds' `netsh ipsec static add|delete filter`): a block filter added to
# the assigned policy drops the flow, deleted it passes again; the
# counters of another filter survive both; the stored file keeps its
# comments and re-reads as the policy with the one change; every refused
# edit leaves the stored file byte-identical and the verdicts as they
# were, and so does an edit whose file cannot be written (put back after
# it was pushed), and one the compile refuses (named at the edited file's
# line); two edits at once both land; with no assigned policy the edit is
# refused.  No daemon runs: test_filter_edit_daemon.sh has the edits
# ipsec-xdpd makes first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"	# ns_setup; ixr (no daemon is started)
. "$(dirname "$0")/filter_edit_lib.sh"

trap 'ns_teardown' EXIT

cat >"$T/edit.yaml" <<'YAML'
# the administrator's comment: it must survive every edit
filter-lists:
  blocked:
    filters:
      - { src: me, dst: 10.77.0.99 }   # a placeholder: a list needs a filter
  web:
    filters: [ { src: me, dst: 10.77.0.2, protocol: tcp, dst-port: 8080 } ]
  lab:
    filters:
      - { src: me, dst: 10.77.0.0/24 }
policies:
  edit:
    rules:
      - { name: blocker, filter-list: blocked, action: block }
      - { name: web, filter-list: web, action: permit }
      - { name: lab, filter-list: lab, action: permit }
YAML
STORED=$T/confA/policy.yaml
ICMP_B='{src: me, dst: 10.77.0.2, protocol: icmp}'

verdicts_before_block() { ping_a_to_b && tcp_a_to_b 8080; }
verdicts_blocked() { ! ping_a_to_b && tcp_a_to_b 8080; }

check "load on A" ixr load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply" ixr policy apply "$T/edit.yaml"
check "before: ping A->B passes, TCP 8080 passes" verdicts_before_block
web0=$(rule_count web)
check "the web filter counted the TCP connection ($web0)" test "$web0" -gt 0

# ---- add a block filter: the flow is dropped ---------------------------------
out=$(ixr filter add blocked "$ICMP_B" 2>&1)
check_eq "filter add: exit 0" 0 $?
check "filter add says what it added" grep -q "added { src: me, dst: 10.77.0.2, protocol: icmp }" <<<"$out"
web1=$(rule_count web)	# read before any more traffic: carried, not counted again
check "web's counter survived the add ($web0 -> $web1)" test "$web1" -ge "$web0"
check "after add: ping A->B dropped, TCP 8080 still passes" verdicts_blocked
check_eq "match: ICMP A->B hits blocker" blocker \
	"$(ixr -j match 10.77.0.1 10.77.0.2 icmp | json_get 'd["filter"]["rule"]')"
check "blocker counted the pings" test "$(rule_count blocker)" -gt 0
check "the stored file keeps the comment" grep -q "administrator's comment" "$STORED"
check "the new filter is the list's last line, indented as the others" \
	grep -qx "      - { src: me, dst: 10.77.0.2, protocol: icmp }" "$STORED"
check "policy check accepts the stored file" ixr policy check "$STORED"
# blocked_filters: the filters of rule blocker as `show filters` reads them
blocked_filters() {
	ixr -j show filters | json_get \
		"' '.join(f['dst'] + '/' + f['protocol'] + '/' + f['dst_port'] for r in d['filters'] if r['name'] == 'blocker' for f in r['filters'])"
}
echo "# show filters: $(blocked_filters)"
check_eq "show filters: rule blocker has the placeholder and the new filter" 2 \
	"$(blocked_filters | wc -w)"

# ---- refused edits: the file byte-identical, the verdicts unchanged ----------
cp "$STORED" "$T/before.yaml"
refused() { # WANT-EXIT MESSAGE-PART ARGS...: refused as said, nothing changed
	local want=$1 msg=$2 out rc
	shift 2
	out=$(ixr filter "$@" 2>&1); rc=$?
	check_eq "filter $* : exit $want" "$want" "$rc"
	check "filter $* : the message says '$msg'" grep -qF -- "$msg" <<<"$out"
	check "filter $* : the stored file is byte-identical" cmp -s "$STORED" "$T/before.yaml"
}
refused 3 "defines no filter list 'nope'; its lists: blocked, web, lab" add nope "$ICMP_B"
refused 3 "unknown key 'dport' in a filter" add blocked '{src: me, dst: any, dport: 22}'
refused 3 "'dst-port' needs a protocol" add blocked '{src: me, dst: any, dst-port: 22}'
refused 3 "FILTER:2:1: YAML syntax error" add blocked '{src: me, dst: [10.0.0.1'
# the same filter in another spelling and order is a duplicate
refused 3 "has { protocol: 1, dst: 10.77.0.2/32, src: me } already" add blocked \
	'{ protocol: 1, dst: 10.77.0.2/32, src: me }'
refused 3 "has no filter { src: me, dst: 10.77.0.2, protocol: tcp }" delete blocked \
	'{src: me, dst: 10.77.0.2, protocol: tcp}'
refused 3 "is the only filter of list 'web'" delete web \
	'{src: me, dst: 10.77.0.2, protocol: tcp, dst-port: 8080}'
refused 2 "usage: ipsec-xdp filter add LIST FILTER" add blocked
refused 2 "usage: ipsec-xdp filter add LIST FILTER" remove blocked "$ICMP_B"
err=$(ixr -j filter add nope "$ICMP_B" 2>/dev/null)
check_eq "-j: the error as JSON with its exit" 3 "$(json_get 'd["exit"]' <<<"$err")"
check "the refused edits changed no verdict" verdicts_blocked

# ---- an edit pushed but not kept: the policy before it is put back -----------
# The edited policy is in force before its text is read back and kept
# (docs/classifier.md, "Incremental updates"); a text that cannot be kept
# (here: the configuration directory read-only for the command) puts the
# stored policy back in force, and the command fails.
out=$(ixr_ro filter delete blocked "$ICMP_B" 2>&1)
check_eq "filter delete, the file not writable: exit 1" 1 $?
check "it says the edit cannot be kept" grep -qF "cannot be kept as the assigned policy" <<<"$out"
check "it says the policy before it is back in force" \
	grep -qF "the policy before the edit is back in force" <<<"$out"
check "the stored file is byte-identical" cmp -s "$STORED" "$T/before.yaml"
check "ping A->B is still dropped, TCP 8080 passes" verdicts_blocked
check_eq "show filters: rule blocker still has 2 filters" 2 "$(blocked_filters | wc -w)"

# ---- a warning names the line of the edited file -----------------------------
INACTIVE='{src: me, dst: wins}'		# no WINS server: inactive, a warning
: >"$T/no-wins.conf"
out=$(IPSEC_XDP_SMB_CONF="$T/no-wins.conf" ixr filter add blocked "$INACTIVE" 2>&1)
check_eq "filter add of a filter naming no address: exit 0" 0 $?
line=$(grep -n "dst: wins" "$STORED" | cut -d: -f1)
check "the warning names the line the filter was written on ($line)" \
	grep -qF "rule blocker, filter at $STORED:$line: \`wins\` names no address" <<<"$out"
check "filter delete of it" ixr filter delete blocked "$INACTIVE"
check "the stored file is as before" cmp -s "$STORED" "$T/before.yaml"

# ---- delete it: the flow passes again ----------------------------------------
web2=$(rule_count web)
out=$(ixr -j filter delete blocked '{src: me, dst: 10.77.0.2, protocol: 1}' 2>&1)
check_eq "filter delete (-j): deleted" deleted "$(json_get 'd["result"]' <<<"$out")"
check_eq "filter delete: it was the second filter" 1 "$(json_get 'd["index"]' <<<"$out")"
web3=$(rule_count web)
check "web's counter survived the delete ($web2 -> $web3)" test "$web3" -ge "$web2"
check "after delete: ping A->B passes again" verdicts_before_block
check "add then delete gives back the applied file" cmp -s "$STORED" "$T/edit.yaml"

# ---- two adds at once: both land ----------------------------------------------
check_eq "two concurrent filter add: both succeeded" "0 0" "$(adds_at_once 8081 8082)"
check "the stored file has both" bash -c "grep -q 'dst-port: 8081' '$STORED' && grep -q 'dst-port: 8082' '$STORED'"
check_eq "show filters: rule blocker has 3 filters" 3 "$(blocked_filters | wc -w)"
refute "TCP 8081 is dropped" tcp_a_to_b 8081
refute "TCP 8082 is dropped" tcp_a_to_b 8082
check "TCP 8080 passes" tcp_a_to_b 8080
check "no temporary file left in the configuration directory" \
	test "$(find "$T/confA" -maxdepth 1 -name '.policy.yaml.*' | wc -l)" = 0

# ---- an edit the compile refuses: the message names the edited file's lines --
# 32760 mirrored filters and the default exemptions are the dataplane's
# 65536; one more mirrored filter is two too many.  The refusal comes from
# compiling the edited text read back, so its line is the edited file's:
# the policy's, one line further down than in the stored file.
python3 - >"$T/full.yaml" <<'PY'
print("filter-lists:\n  big:\n    filters:")
for i in range(32760):
    print("      - { src: 10.%d.%d.1, dst: 10.99.0.1 }" % (i // 250, i % 250))
print("policies:\n  p:\n    rules:\n      - { name: big, filter-list: big, action: permit }")
PY
check "policy apply of 65536 specific filters" ixr policy apply "$T/full.yaml"
cp "$STORED" "$T/before.yaml"
line=$(( $(grep -n '^  p:$' "$STORED" | cut -d: -f1) + 1 ))
refused 3 "policy.yaml:$line:3: limit exceeded: specific filters" add big \
	'{src: 10.200.0.1, dst: 10.99.0.1}'

# ---- no assigned policy --------------------------------------------------------
check "policy unassign" ixr policy unassign
out=$(ixr filter add blocked "$ICMP_B" 2>&1)
check_eq "no assigned policy: exit 1" 1 $?
check "no assigned policy: the message says so" grep -q "no policy is assigned" <<<"$out"
check "no assigned policy: no file was created" test ! -e "$STORED"

finish
