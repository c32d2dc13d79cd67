#!/usr/bin/env bash
# `ipsec-xdp monitor` with ipsec-xdpd running (issue 14, live events): the
# daemon's stream shows a negotiation started and established, its CHILD
# SA added (or, on a kernel without ESP, failed with the reason), and a
# negotiation with a wrong pre-shared key failed with the reason; with no
# dataplane loaded the monitor says it shows IKE events only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

events() {	# events FILE: the "event" of every line, space separated
	python3 -c '
import json, sys
print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$1"
}
first_event() {	# first_event FILE EVENT: that event's line
	grep -m1 "\"event\":\"$2\"" "$1"
}
has_event() { events "$1" | tr ' ' '\n' | grep -qx "$2"; }

psk_conf "$T/confA" 10.77.0.2 "correct horse battery staple"
psk_conf "$T/confB" 10.77.0.1 "correct horse battery staple"
check "start A" start A "$NS_A" "$T/confA" "$T/runA"
check "start B" start B "$NS_B" "$T/confB" "$T/runB"

M=$T/mon
ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" IPSEC_XDP_BPFFS="$T/bpffs/none" \
	"$IXDP" -j monitor >"$M" 2>"$M.err" &
MON=$!
check "monitor says: no dataplane, IKE events only" wait_until 10 grep -q "IKE events only" "$M.err"

out=$(xa sa initiate 10.77.0.2 2>&1); rc=$?
echo "# initiate: $rc $out"
check "the IKE SA came up" test "$rc" = 0 -o "$rc" = 1
check "monitor: established" wait_until 10 has_event "$M" established
check "monitor: started before" has_event "$M" started
l=$(first_event "$M" established)
check_eq "established: rule, peer, role" "to-peer 10.77.0.2:500 initiator" \
	"$(json_get 'd["rule"]+" "+d["peer"]+" "+d["role"]' <<<"$l")"
check "established: the SPIs" grep -Eq '^[0-9a-f]{16}:[0-9a-f]{16}$' <<<"$(json_get 'd["spi"]' <<<"$l")"
if [ "$rc" = 0 ]; then	# a kernel with ESP: the CHILD SA was made
	check "monitor: CHILD SA added" wait_until 10 has_event "$M" sa-added
	check_eq "sa-added: its rule" to-peer "$(first_event "$M" sa-added | json_get 'd["rule"]')"
else			# none: it failed, and the monitor says why
	check "monitor: the CHILD SA failed (no ESP in this kernel)" \
		wait_until 10 grep -q '"event":"failed".*"reason":"[^"]' "$M"
fi

# A wrong key: B restarts with another one.
check "delete the SA" xa sa delete 10.77.0.2
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null
psk_conf "$T/confB" 10.77.0.1 "not the same key"
check "start B with another key" start B "$NS_B" "$T/confB" "$T/runB"
refute "initiate with a wrong key fails" xa sa initiate 10.77.0.2
check "monitor: a failure naming authentication" wait_until 10 \
	grep -Eq '"event":"failed".*"reason":"[^"]*authentication' "$M"
check "no secret in the stream" bash -c "! grep -q 'correct horse\|not the same key' '$M'"

kill -INT "$MON"
wait "$MON"
check_eq "monitor stops on SIGINT with 0" 0 "$?"
finish
