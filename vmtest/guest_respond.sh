#!/usr/bin/env bash
# Inside the 6.12 VM: the three predefined policies (examples/predefined/,
# ipsec-xdp.policy(5) PREDEFINED POLICIES) on two hosts, and the default
# response rule answering with CHILD SAs (docs/behaviour.md §6).
#
# A (10.77.0.1) is the server: the dataplane and ipsec-xdpd, its network
# process run as the user ipsec-xdp (--user: it reaches the pins `load`
# shared with the group ipsec-xdp, ipsec-xdpd(8) SECURITY), with Secure
# Server (Require Security) or Server (Request Security) or, last, Client
# (Respond Only).  B (10.77.0.2) is the client: ipsec-xdpd without the
# dataplane (kernel policies secure its replies) with Client (Respond
# Only), or no IPsec at all (no daemon).  Traffic is TCP (the servers
# permit ICMP in clear, as the modelled policies do).  The pairs, one per
# outcome of the matrix:
#
#  1. Woodgrove: secure server A, respond-only client B.  B's first TCP
#     packets go in clear, A accepts them (inpass) and negotiates, B's
#     default response answers with a CHILD SA (rule default-response,
#     A's selectors narrowed to the two hosts), then the connection runs
#     over ESP both ways, and so does A -> B.                     secured
#  2. server (request) A, client B: A -> B.                        secured
#  3. server (request) A, B without IPsec: after the soft timeout
#     (3 s) the pair talks in clear.                  clear after fall-back
#  4. secure server A, B without IPsec: A's packets never leave.
#                                                       no communication
#  5. client A, client B: nobody asks, clear at once, no IKE SA.    clear
#  6. client A with the dataplane loaded, server (request) B (with a
#     dataplane of its own): B -> A.  A's replies match no filter; its
#     default response's bundle sends them through the SA B asked for.
#                                                                 secured
#
# Not run (their outcome follows from the same rules): request/request,
# request/secure, secure/secure (secured, as any two negotiate rules);
# client/no IPsec (clear, as 5); no IPsec -> secure server (A's replies
# held: no communication, as 4).
#
#   vmtest/vm.sh bash vmtest/guest_respond.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
ike_scenario_start
A=10.77.0.1 B=10.77.0.2
PRE=examples/predefined
CLIENT=$PRE/client-respond-only.yaml
SERVER=$PRE/server-request-security.yaml
SECURE=$PRE/secure-server-require-security.yaml

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

secrets() {	# DIR
	mkdir -p "$1"
	printf 'predefined = "a shared key for the predefined policies"\n' >"$1/secrets"
	chmod 600 "$1/secrets"
	echo "ikelogging = 2" >"$1/config"
}
drop_of() { xa -j show stats | json_get "d[\"drops\"][\"$1\"]"; }
# tries N FN ARGS...: FN until it succeeds, N times at most; the number of
# the try that did in TRIED (0: none did).
tries() {
	local n=$1 i
	shift
	TRIED=0
	for i in $(seq 1 "$n"); do
		"$@" && { TRIED=$i; return 0; }
	done
	return 1
}
b_rules() { xb -j show sa | json_get '" ".join(sorted(c["rule"] for c in d["child_sas"]))'; }
no_states() { [ "$(nstates "$NS_A")" = 0 ] && [ "$(nstates "$NS_B")" = 0 ]; }

for f in $CLIENT $SERVER $SECURE; do
	check "policy check $f" "$IXDP" policy check "$f"
done
secrets "$T/confA"
secrets "$T/confB"
cp "$CLIENT" "$T/confB/policy.yaml"
check "A: load the dataplane" xa load "$IF_A" --xdp-mode "$XDP_MODE"
check "A: apply Secure Server (Require Security)" xa policy apply "$SECURE"
# a soft pair retries IKE after an hour, not within this scenario
chmod 0711 "$T"		# (the user reaches CONFDIR and the pins)
IXDPD_ARGS="--user ipsec-xdp" start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" \
	IPSEC_XDPD_SOFT_RETRY_S=3600 || exit 1
PID_A=${PIDS[-1]}
check_eq "A's network process runs as ipsec-xdp" "$(id -u ipsec-xdp)" "$(status "$PID_A" Uid)"
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
PID_B=${PIDS[-1]}
check "A: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/A.log"

# ---- 1. Woodgrove: secure server, respond-only client -------------------------------
capture_start "$NS_B" "$IF_B" "$T/w.pcap" esp or tcp
tries 8 tcp_b_to_a 5001 $A
echo "# B -> A:5001 connected at try $TRIED"
check "woodgrove: TCP client -> secure server connects" test "$TRIED" -gt 0
check "woodgrove: A's rule started IKE from the client's clear packet (inpass)" \
	grep -q "need-SA rule=all-ip-traffic in (inpass) peer=$B" "$T/A.log"
check_eq "woodgrove: B's CHILD SA is its default response's" default-response "$(b_rules)"
check "woodgrove: B's selectors are the two hosts" \
	grep -q "CHILD SA established rule=default-response mode=transport .* local=$B/32\[0\] remote=$A/32\[0\]" "$T/B.log"
check_eq "woodgrove: 2 ESP states on each side" "2 2" "$(nstates "$NS_A") $(nstates "$NS_B")"
capture_stop "$T/w.pcap"
check "woodgrove: ESP on the wire" grep -q ESP "$T/w.pcap.txt"
# with the SA up: TCP both ways, nothing of it in clear
capture_start "$NS_B" "$IF_B" "$T/w2.pcap" esp or tcp
check "woodgrove: TCP client -> server again" tries 3 tcp_b_to_a 5002 $A
check "woodgrove: TCP server -> client" tries 3 tcp_a_to_b 5003 $B
capture_stop "$T/w2.pcap"
check "woodgrove: ESP on the wire" grep -q ESP "$T/w2.pcap.txt"
check_eq "woodgrove: no TCP in clear on the wire" 0 "$(grep -c 'Flags' "$T/w2.pcap.txt")"

# ---- 2. server (request security), respond-only client -------------------------------
check "A: apply Server (Request Security), daemon reloaded" use_policy xa "$PID_A" "$SERVER"
check "the CHILD SAs of the changed rule are gone" wait_until 20 no_states
capture_start "$NS_B" "$IF_B" "$T/s.pcap" esp
tries 8 tcp_a_to_b 5004 $B
echo "# A -> B:5004 connected at try $TRIED"
check "request/client: TCP server -> client connects" test "$TRIED" -gt 0
capture_stop "$T/s.pcap"
check "request/client: ESP on the wire" grep -q ESP "$T/s.pcap.txt"
check_eq "request/client: B answered by its default response" default-response "$(b_rules)"
check "request/client: A's bundle up" grep -q "bundle rule=all-ip-traffic peer=$B up" "$T/A.log"

# ---- 3. server (request security), B without IPsec: clear after the soft timeout -----
check "A: delete the SAs with B" xa sa delete $B
check "no SA left" wait_until 20 no_states
stop_one() { kill -TERM "$1"; wait "$1" 2>/dev/null; }
stop_one "$PID_B"
PIDS=("$PID_A")
d0=$(drop_of negotiate_no_sa)
capture_start "$NS_B" "$IF_B" "$T/n.pcap" tcp port 5005
tries 8 tcp_a_to_b 5005 $B
echo "# A -> B:5005 connected at try $TRIED"
capture_stop "$T/n.pcap"
check "request/none: TCP connects" test "$TRIED" -gt 0
check "request/none: the first packets were held (negotiate_no_sa)" \
	test "$(drop_of negotiate_no_sa)" -gt "${d0:-0}"
check "request/none: the pair went soft (fall back to clear)" \
	grep -q "soft SA rule=all-ip-traffic peer=$B" "$T/A.log"
check "request/none: A's dataplane let it out in clear (soft_pass)" \
	test "$(xa -j show stats | json_get 'd["xfrm_handoff"]["soft_pass"]')" -gt 0
check "request/none: TCP in clear on the wire" grep -q "Flags" "$T/n.pcap.txt"
grep -q "Flags" "$T/n.pcap.txt" ||
	{ echo "# the capture:"; cat "$T/n.pcap.err" "$T/n.pcap.txt"; ls -l "$T/n.pcap"; }

# ---- 4. secure server, B without IPsec: no communication -----------------------------
check "A: apply Secure Server (Require Security), daemon reloaded" use_policy xa "$PID_A" "$SECURE"
capture_start "$NS_B" "$IF_B" "$T/x.pcap" tcp port 5006
refute "secure/none: TCP server -> B never connects" tries 3 tcp_a_to_b 5006 $B
capture_stop "$T/x.pcap"
check_eq "secure/none: nothing of it on the wire" 0 "$(grep -c . "$T/x.pcap.txt")"

# ---- 5. two respond-only clients: clear at once --------------------------------------
check "A: apply Client (Respond Only), daemon reloaded" use_policy xa "$PID_A" "$CLIENT"
rm -f "$T/runB/ipsec-xdpd.sock"
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "A: no IKE SA left" wait_until 20 has_ike_sas 0 xa
capture_start "$NS_B" "$IF_B" "$T/c.pcap" tcp port 5007 or esp
check "client/client: TCP A -> B connects" tries 3 tcp_a_to_b 5007 $B
capture_stop "$T/c.pcap"
check "client/client: in clear" grep -q "Flags" "$T/c.pcap.txt"
check "client/client: no ESP" sh -c "! grep -q ESP $T/c.pcap.txt"
check_eq "client/client: no IKE SA on A" 0 "$(xa -j show sa | json_get 'len(d["ike_sas"])')"
check_eq "client/client: no IKE SA on B" 0 "$(xb -j show sa | json_get 'len(d["ike_sas"])')"

# ---- 6. respond-only client with the dataplane (A), server (request) B ---------------
a_rules() { xa -j show sa | json_get '" ".join(sorted(c["rule"] for c in d["child_sas"]))'; }
BPFB="$T/bpffs/b"
xbd() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" IPSEC_XDP_CONFDIR="$T/confB" \
	IPSEC_XDP_BPFFS="$BPFB" "$IXDP" "$@"; }
stop_one "${PIDS[-1]}"
PIDS=("$PID_A")
check "B: load the dataplane" xbd load "$IF_B" --xdp-mode "$XDP_MODE"
check "B: apply Server (Request Security)" xbd policy apply "$SERVER"
rm -f "$T/runB/ipsec-xdpd.sock"
start B "$NS_B" "$T/confB" "$T/runB" IPSEC_XDP_BPFFS="$BPFB" IPSEC_XDPD_SOFT_RETRY_S=3600 || exit 1
check "B: daemon linked to the dataplane" grep -q "dataplane: linked" "$T/B.log"
tries 8 tcp_b_to_a 5008 $A
echo "# B -> A:5008 connected at try $TRIED"
check "client with the dataplane: TCP server -> client connects" test "$TRIED" -gt 0
check_eq "client with the dataplane: A's CHILD SA is its default response's" \
	default-response "$(a_rules)"
check "client with the dataplane: A's default response bundle is up" \
	grep -q "bundle rule=default-response peer=$B up" "$T/A.log"
capture_start "$NS_A" "$IF_A" "$T/r.pcap" esp or tcp
check "client with the dataplane: TCP server -> client again" tries 3 tcp_b_to_a 5009 $A
capture_stop "$T/r.pcap"
check "client with the dataplane: ESP on the wire" grep -q ESP "$T/r.pcap.txt"
check_eq "client with the dataplane: no TCP in clear on the wire (A's replies secured)" \
	0 "$(grep -c 'Flags' "$T/r.pcap.txt")"
check "client with the dataplane: show stats counts A's replies sent into the SA" \
	test "$(xa -j show stats | json_get 'd["xfrm_handoff"]["default_response"]')" -gt 0
check "B: delete the SAs with A" xbd sa delete $A
check "client with the dataplane: A's default response bundle goes with its SA" \
	wait_until 20 grep -q "bundle rule=default-response peer=$B deleted" "$T/A.log"

refute "A (run as ipsec-xdp): nothing refused it (Permission denied, seccomp)" \
	grep -qE "Permission denied|seccomp" "$T/A.log"
echo "---- A.log"; grep -h "dataplane\|CHILD SA" "$T/A.log" | head -40
echo "---- B.log"; grep -h "CHILD SA" "$T/B.log" | head -8
finish
