#!/usr/bin/env bash
# Every `ipsec-xdp -j` output against its schema (schemas/*.schema.json,
# issue 14 "JSON", ipsec-xdp(8) JSON OUTPUT): before the dataplane is
# loaded, loaded with a policy, with ipsec-xdpd running and an IKE SA up
# (its CHILD SA where the kernel has ESP), a monitor's stream, and the
# errors: one {"error","exit"} object on stdout whose message is the text
# form's and whose exit is the exit code.  The schemas are strict: the
# same output with a number turned into a string, or a boolean into a
# string, fails.  Weights are the same numbers in the text and in -j.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

PY=/usr/bin/python3	# Debian's: python3-jsonschema (not a pyenv python3)
CHECKER=$TOP/tests/lib/json_schema_check.py
SCHEMAS=$TOP/schemas
"$PY" -c 'import jsonschema' 2>/dev/null ||
	{ echo "python3-jsonschema is missing (scripts/install-deps.sh)"; exit 1; }

conf() {	# conf DIR PEER: a negotiate rule with PEER, a block rule
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer:
    filters:
      - { src: me, dst: $2 }
  web:
    filters:
      - { src: any, dst: me, protocol: tcp, dst-port: 8080 }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
      - { name: no-web, filter-list: web, action: block }
YAML
	printf '# test keys\nlab = "json schema test key"\n' >"$1/secrets"
	chmod 600 "$1/secrets"
}
conf "$T/confB" 10.77.0.1
mkdir -p "$T/confA"
conf "$T/src" 10.77.0.2	# A's policy, applied from here
cp "$T/src/secrets" "$T/confA/secrets"

# jx ARGS: ipsec-xdp -j in A, with A's configuration, pins and daemon.
jx() {
	ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
		IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" \
		"$IXDP" -j "$@"
}
valid() { "$PY" "$CHECKER" "$SCHEMAS/$1.schema.json" "${@:2}"; }
# jget EXPR: json_get with Debian's python (no pyenv shim to start)
jget() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# jcheck SCHEMA RC ARGS...: `ipsec-xdp -j ARGS` exits RC (- : any, for
# match, whose exit is the verdict's: test_cli.sh) and prints one document
# SCHEMA accepts.  The output is left in $OUT.
jcheck() {
	local schema=$1 want=$2 rc
	shift 2
	OUT=$(jx "$@" 2>"$T/stderr"); rc=$?
	[ "$want" = - ] || check_eq "$* -j: exit $want" "$want" "$rc"
	CHECKS=$((CHECKS + 1))
	if valid "$schema" <<<"$OUT" 2>"$T/why"; then
		echo "ok   - $* -j: valid $schema"
	else
		echo "FAIL - $* -j: not valid $schema: $(head -3 "$T/why")"
		echo "#   output: ${OUT:0:300}"
		FAILS=$((FAILS + 1))
	fi
}

# jerror RC ARGS...: `ipsec-xdp -j ARGS` fails with RC, prints one error
# object: its exit is RC, its message the one on stderr.
jerror() {
	local want=$1 msg
	shift
	jcheck error "$want" "$@"
	msg=$(sed -n '/^ipsec-xdp: warning: /d; s/^ipsec-xdp: //p' "$T/stderr" | head -n1)
	check_eq "$* -j: its exit is the exit code, its message the text form's" \
		"$want $msg" "$(jget 'str(d["exit"]) + " " + d["error"]' <<<"$OUT" 2>&1)"
}

# ---- nothing loaded, no policy, no daemon -----------------------------------
jerror 2				# no command
jerror 2 frobnicate
jerror 2 match 10.0.0.300 10.0.0.1 tcp
jerror 2 set config colour blue
jerror 3 set config ipsecexempt 4
jerror 3 policy check "$T/none.yaml"
jerror 1 policy show
jerror 1 filter add web '{src: any, dst: me}'	# no policy assigned
jerror 2 filter add web
jerror 4 unload
jerror 1 show sa			# ipsec-xdpd is not running
jerror 2 sa initiate not-an-address
jcheck status 4 status
check_eq "status: loaded is a boolean" False "$(jget 'd["loaded"]' <<<"$OUT")"
jcheck show-config 0 show config
jcheck show-filters 0 show filters
jcheck show-filters-specific 0 show filters --specific
jcheck match - match 10.77.0.1 10.77.0.2 tcp 1 2
jcheck show-stats 4 show stats
jcheck show-all 0 show all
jcheck set-config 0 set config bootexemptions TCP:0:22:inbound
jcheck set-config 0 set config ikelogging 1
check_eq "set config: applied is a boolean" False "$(jget 'd["applied"]' <<<"$OUT")"

# ---- the dataplane loaded with a policy ----------------------------------------
jcheck load 0 load "$IF_A" --xdp-mode "$XDP_MODE"
jcheck load 0 load --all --xdp-mode "$XDP_MODE"
check_eq "load --all: loopback skipped, loadinterfaces all" "['lo'] all" \
	"$(jget '"%s %s" % ([x["name"] for x in d["skipped"]], d["loadinterfaces"])' <<<"$OUT")"
jcheck set-config 0 set config loadinterfaces "$IF_A,eth9"
jcheck show-config 0 show config
check_eq "show config: loadinterfaces as set" "$IF_A,eth9" "$(jget 'd["loadinterfaces"]' <<<"$OUT")"
jcheck set-config 0 set config loadinterfaces none
jcheck policy-check 0 policy check "$T/src/policy.yaml"
jcheck policy-apply 0 policy apply "$T/src/policy.yaml"
jcheck policy-show 0 policy show
jcheck filter-edit 0 filter add web '{src: any, dst: me, protocol: tcp, dst-port: 8081}'
check_eq "filter add: added, the list's second" "added 1 2" \
	"$(jget 'd["result"]+" "+str(d["index"])+" "+str(d["list_filters"])' <<<"$OUT")"
jerror 3 filter add web '{src: any, dst: me, protocol: tcp, dst-port: 8081}'
jerror 3 filter add nolist '{src: any, dst: me}'
jcheck filter-edit 0 filter delete web '{src: any, dst: me, protocol: tcp, dst-port: 8081}'
check_eq "filter delete: deleted" deleted "$(jget 'd["result"]' <<<"$OUT")"
jerror 3 filter delete web '{src: any, dst: me, protocol: tcp, dst-port: 8081}'
jcheck show-filters 0 show filters
jcheck show-filters-specific 0 show filters --specific
spec=$OUT
jcheck status 0 status
jcheck show-stats 0 show stats
jcheck show-all 0 show all
jcheck match - match 10.77.0.1 10.77.0.2 tcp 1 2
check_eq "match: the verdict and the rule" "drop to-peer" \
	"$(jget 'd["verdict"]+" "+d["filter"]["rule"]' <<<"$OUT")"
jcheck match - match 10.77.0.2 10.77.0.1 tcp 1 8080 --in
jcheck match - match 10.77.0.1 10.77.0.9 udp 1 2
jcheck match - match me 10.77.0.2 tcp 40000 https	# me, a service name
check_eq "match me: src_me is A's address" 10.77.0.1 "$(jget 'd["src_me"]' <<<"$OUT")"
jcheck set-config 0 set config ipsecexempt 3
check_eq "set config ipsecexempt: applied to the dataplane" True \
	"$(jget 'd["applied"]' <<<"$OUT")"
jerror 3 policy apply "$T/none.yaml"

# the weights: the same numbers in the text table and in -j
text_w=$(ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
	"$IXDP" show filters --specific | awk '$1 ~ /^[0-9]+$/ { print $1, $2 }')
json_w=$(jget '"\n".join("%d %d" % (f["index"], f["weight"]) for f in d["specific_filters"])' <<<"$spec")
check "the list has filters" test -n "$json_w"
check_eq "weights: text and -j agree" "$json_w" "$text_w"

# the schemas fail on a type change
flip() {	# flip SCHEMA PYTHON-STATEMENT: $OUT changed by the statement is refused
	CHECKS=$((CHECKS + 1))
	if "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); $2; print(json.dumps(d))" "$OUT" |
		valid "$1" 2>/dev/null; then
		echo "FAIL - $1 accepts: $2"; FAILS=$((FAILS + 1))
	else
		echo "ok   - $1 refuses: $2"
	fi
}
OUT=$spec
flip show-filters-specific 'd["specific_filters"][0]["weight"] = hex(d["specific_filters"][0]["weight"])'
flip show-filters-specific 'd["specific_filters"][0]["soft"] = "no"'
flip show-filters-specific 'd["specific_filters"][0]["colour"] = "blue"'
flip show-filters-specific 'del d["specific_filters"][0]["action"]'
OUT=$(jx status 2>/dev/null)
flip status 'd["loaded"] = "yes"'
flip status 'd["filters"] = str(d["filters"])'
OUT=$(jx show stats 2>/dev/null)
flip show-stats 'd["packets"]["in"] = str(d["packets"]["in"])'
flip error 'd.update(error="x", exit="1")'

# ---- ipsec-xdpd on both sides, a monitor, an IKE SA ------------------------------
check "start A" start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$T/bpffs/a"
check "start B" start B "$NS_B" "$T/confB" "$T/runB"
M=$T/mon
ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" IPSEC_XDP_BPFFS="$T/bpffs/a" \
	IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" -j monitor >"$M" 2>"$M.err" &
MON=$!
# subscribed once a daemon reload (its "policy" event) reaches the stream
subscribed() {
	jx policy apply "$T/src/policy.yaml" >/dev/null 2>&1
	grep -q '"source":"ike","event":"policy"' "$M"
}
check "monitor: subscribed to ipsec-xdpd" wait_until 30 subscribed

jcheck status 0 status
check "status: the agent's in_force" jget 'd["agent"]["in_force"]["policy"] == "lab" or exit(1)' <<<"$OUT"
jcheck show-ikestats 0 show ikestats
# the CHILD SA needs ESP in the kernel: without, exit 1 and the error object
out=$(jx sa initiate 10.77.0.2 2>/dev/null); rc=$?
if [ "$rc" = 0 ]; then
	check "sa initiate: valid sa-initiate" valid sa-initiate <<<"$out"
else
	check_eq "sa initiate without ESP: exit 1" 1 "$rc"
	check "sa initiate: an error object" valid error <<<"$out"
	check "sa initiate: the IKE SA is up" grep -q "is up, but without the CHILD SA" <<<"$out"
fi
jcheck sa-initiate 0 sa initiate 10.77.0.2	# up already: existing
check_eq "sa initiate again: existing is a boolean" True "$(jget 'd["existing"]' <<<"$OUT")"
jcheck show-sa 0 show sa
check_eq "show sa: one IKE SA" 1 "$(jget 'len(d["ike_sas"])' <<<"$OUT")"
jcheck show-sa 0 sa show
jcheck show-sa 0 show sa 10.77.0.2
check_eq "show sa PEER: selected" 10.77.0.2 "$(jget 'd["selected"]' <<<"$OUT")"
jcheck show-stats 0 show stats
check_eq "show stats: the daemon is running" True "$(jget 'd["daemon_running"]' <<<"$OUT")"
jcheck show-all 0 show all
jcheck set-config 0 set config ikelogging 2
check_eq "set config ikelogging: applied by the daemon" True "$(jget 'd["applied"]' <<<"$OUT")"
jcheck policy-apply 0 policy apply "$T/src/policy.yaml"
check_eq "policy apply: ipsec-xdpd reloaded" reloaded "$(jget 'd["daemon"]' <<<"$OUT")"
jcheck policy-apply 0 policy apply --confirm-within 600 "$T/src/policy.yaml"
check "policy apply --confirm-within: the seconds" jget 'd["confirm_within"] == 600 or exit(1)' <<<"$OUT"
jcheck status 0 status
check "status: pending confirmation" jget 'd["agent"]["pending_confirmation"]["seconds_left"] > 0 or exit(1)' <<<"$OUT"
jcheck policy-confirm 0 policy confirm
ping_a_to_b >/dev/null 2>&1	# held back by the negotiate filter: a drop event
jcheck sa-delete 0 sa delete 10.77.0.2
jerror 1 sa delete 10.77.0.9
jerror 1 policy confirm		# nothing waits
check "monitor: a drop event" wait_until 20 grep -q '"event":"drop"' "$M"
check "monitor: an IKE event" wait_until 20 grep -q '"event":"established"' "$M"
check "monitor: a policy event" wait_until 20 grep -q '"source":"dataplane","event":"policy"' "$M"
kill -INT "$MON"
wait "$MON"
check_eq "monitor: exit 0 on SIGINT" 0 "$?"
check "monitor: every line valid" valid monitor --lines <"$M"
check "monitor: the summary last" bash -c "tail -n1 '$M' | grep -q '\"event\":\"summary\"'"

jcheck policy-unassign 0 policy unassign
jcheck unload 0 unload "$IF_A"
jcheck unload 0 unload
check_eq "unload: all is a boolean" True "$(jget 'd["all"]' <<<"$OUT")"
jcheck status 4 status
finish
