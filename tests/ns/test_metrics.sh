#!/usr/bin/env bash
# Metrics (ipsec-xdp(8) and ipsec-xdpd(8), METRICS): `show stats
# --openmetrics` and ipsec-xdpd's --metrics-listen endpoint give the
# OpenMetrics text a real parser (prometheus_client's) accepts, whose
# counters follow what happened: drops of a block rule by reason, packets
# and bytes of each rule by direction, IKE SAs up, negotiations by outcome
# and the state of each peer from two daemons that negotiate; the endpoint
# is off by default, scraped with curl, and a bad --metrics-listen is
# refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"	# ns_setup, start, xa, xb
# Debian's python3, which has python3-prometheus-client (a python3 found
# first on PATH, e.g. pyenv's, may not see Debian's packages)
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	{ echo "python3-prometheus-client is missing (scripts/install-deps.sh)"; exit 1; }
command -v curl >/dev/null || { echo "curl is missing (scripts/install-deps.sh)"; exit 1; }
OMC="$PY $TOP/tests/ns/om_check.py"
om() { ixa_r show stats --openmetrics; }
ixa_r() { ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
# scrape PATH: the body on stdout, the response's headers in $T/headers
scrape() { ina curl -sS --max-time 10 -D "$T/headers" "http://127.0.0.1:9101$1"; }
# start_m NAME CONFDIR RUNDIR BPFFS: ipsec-xdpd in A serving 127.0.0.1:9101
start_m() {
	ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$4" "$IXDPD" -f -C "$2" -R "$3" \
		--metrics-listen 127.0.0.1:9101 >"$T/$1.log" 2>&1 &
	PIDS+=($!)
	wait_until 30 test -S "$3/ipsec-xdpd.sock" && wait_listen "$NS_A" tcp 9101 &&
		return 0
	echo "ipsec-xdpd $1 did not start:"; cat "$T/$1.log"
	return 1
}
no_tcp_listener() { ! ip netns exec "$1" ss -Hltn | grep -q .; }

cat >"$T/p.yaml" <<'YAML'
filter-lists:
  ping-b:  { filters: [ { src: me, dst: 10.77.0.2, protocol: icmp } ] }
  tcp-b:   { filters: [ { src: me, dst: 10.77.0.2, protocol: tcp } ] }
policies:
  m:
    rules:
      - { name: no-ping, filter-list: ping-b, action: block }
      - { name: tcp-ok, filter-list: tcp-b, action: permit }
YAML

# ---- not loaded, no daemon --------------------------------------------------
om >"$T/om0.txt"
check "not loaded: parses, says so" $OMC 'v("ipsec_xdp_dataplane_loaded") == 0' \
	'v("ipsec_xdp_daemon_up") == 0' <"$T/om0.txt"
check_eq "-j with --openmetrics: usage error" 2 "$(ixa_r -j show stats --openmetrics >/dev/null 2>&1; echo $?)"

# ---- loaded, a policy, traffic ------------------------------------------------
check "load" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply" ixa policy apply "$T/p.yaml"
N=5
for i in $(seq 1 $N); do inb ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1; done
refute "the block rule drops B's pings" ping_b_to_a
check "the permit rule lets TCP through" tcp_b_to_a 5555
om >"$T/om1.txt"
# B's echo requests (84 bytes of IP each) come in and are dropped; the
# TCP exchange has packets both ways.
check "show stats --openmetrics parses and counts the traffic" $OMC \
	'v("ipsec_xdp_dataplane_loaded") == 1' 'v("ipsec_xdp_policy_applied") == 1' \
	"v('ipsec_xdp_dropped_packets_total', reason='block_filter') >= $N" \
	"v('ipsec_xdp_rule_packets_total', rule='no-ping', direction='in') >= $N" \
	"v('ipsec_xdp_rule_bytes_total', rule='no-ping', direction='in') >= $N * 84" \
	"v('ipsec_xdp_rule_packets_total', rule='no-ping', direction='out') == 0" \
	"v('ipsec_xdp_rule_packets_total', rule='tcp-ok', direction='in') >= 2" \
	"v('ipsec_xdp_rule_packets_total', rule='tcp-ok', direction='out') >= 2" \
	"v('ipsec_xdp_rule_bytes_total', rule='tcp-ok', direction='out') >= 2 * 40" \
	"fams['ipsec_xdp_dropped_packets'].type == 'counter'" \
	"v('ipsec_xdp_dataplane_packets_total', path='in') >= $N" <"$T/om1.txt" ||
	sed 's/^/#   /' "$T/om1.txt"
check "ends with # EOF" bash -c "tail -n 1 '$T/om1.txt' | grep -qx '# EOF'"

# ---- the daemon: bad --metrics-listen refused ---------------------------------
printf 'm = "x"\n' >"$T/confA/secrets"
chmod 600 "$T/confA/secrets"
for bad in nonsense 10.77.0.1 10.77.0.1:0 10.77.0.1:65536 ::1:9101 '[::1]' \
	localhost:9101 '[10.77.0.1]:9101'; do
	out=$(ip netns exec "$NS_A" timeout 10 "$IXDPD" -f -C "$T/confA" -R "$T/runBad" \
		--metrics-listen "$bad" 2>&1); rc=$?
	check_eq "--metrics-listen '$bad' refused: exit 2" 2 "$rc"
	check "'$bad': the message says what is wanted" grep -q "is not ADDR:PORT" <<<"$out"
done
ip netns exec "$NS_A" "$PY" -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",9109)); s.listen(); time.sleep(30)' &
BUSY=$!
check "a listener holds port 9109" wait_listen "$NS_A" tcp 9109
out=$(ip netns exec "$NS_A" timeout 10 "$IXDPD" -f -C "$T/confA" -R "$T/runBad" \
	--metrics-listen 127.0.0.1:9109 2>&1); rc=$?
check_eq "a port in use: exit 1" 1 "$rc"
check "a port in use: said so" grep -q "cannot listen on 127.0.0.1 port 9109: Address already in use" <<<"$out"
kill $BUSY 2>/dev/null; wait $BUSY 2>/dev/null

# ---- the daemon's endpoint, with the dataplane's counters --------------------
check "start ipsec-xdpd with --metrics-listen" start_m A1 "$T/confA" "$T/runA" "$T/bpffs/a"
scrape /metrics >"$T/om2.txt"
check "the endpoint's content type is OpenMetrics" \
	grep -qi "^content-type: application/openmetrics-text; version=1.0.0" "$T/headers"
check "the endpoint's text parses and counts the traffic" $OMC \
	'v("ipsec_xdp_daemon_up") == 1' 'v("ipsec_xdp_ike_sas") == 0' \
	"v('ipsec_xdp_ike_negotiations_failed_total', reason='timeout') == 0" \
	"v('ipsec_xdp_ike_dropped_messages_total', reason='malformed') == 0" \
	"v('ipsec_xdp_dropped_packets_total', reason='block_filter') >= $N" \
	"v('ipsec_xdp_rule_packets_total', rule='no-ping', direction='in') >= $N" <"$T/om2.txt" ||
	sed 's/^/#   /' "$T/om2.txt"
om >"$T/om3.txt"
check "show stats --openmetrics has the daemon's families too" $OMC \
	'v("ipsec_xdp_daemon_up") == 1' '"ipsec_xdp_ike_negotiations_started" in fams' \
	'"ipsec_xdp_ike_peer_sas" in fams' <"$T/om3.txt"
check_eq "the command and the endpoint give the same families" \
	"$(grep '^# TYPE' "$T/om2.txt")" "$(grep '^# TYPE' "$T/om3.txt")"
check_eq "HEAD /metrics: 200" 200 "$(ina curl -s -I -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/metrics)"
check_eq "another path: 404" 404 "$(ina curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9101/other)"
check_eq "POST: refused (501, only GET and HEAD)" 501 "$(ina curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9101/metrics)"
check_eq "a POST with a body: refused (413)" 413 "$(ina curl -s -o /dev/null -w '%{http_code}' -d x http://127.0.0.1:9101/metrics)"
check "the daemon still runs" kill -0 "${PIDS[0]}"
stop_daemons

# ---- two daemons negotiate: SAs up, outcomes, the peer's state ---------------
KEY="correct horse battery staple"
psk_conf "$T/ikeA" 10.77.0.2 "$KEY"
psk_conf "$T/ikeB" 10.77.0.1 "$KEY"
# no dataplane here (a pin root of their own, empty): IKE only
check "start A with --metrics-listen" start_m A "$T/ikeA" "$T/runA2" "$T/bpffs/none"
check "start B without it" start B "$NS_B" "$T/ikeB" "$T/runB" IPSEC_XDP_BPFFS="$T/bpffs/none"
check "off by default: B listens on no TCP port" no_tcp_listener "$NS_B"
xa2() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA2" "$IXDP" "$@"; }
check "the IKE SA comes up" ike_sa_up xa2 sa initiate 10.77.0.2
scrape /metrics >"$T/om4.txt"
check "after a negotiation: SAs up, started, established, the peer's state" $OMC \
	'v("ipsec_xdp_daemon_up") == 1' 'v("ipsec_xdp_dataplane_loaded") == 0' \
	'v("ipsec_xdp_ike_sas") == 1' \
	'v("ipsec_xdp_ike_negotiations_started_total") >= 1' \
	'v("ipsec_xdp_ike_sas_established_total") == 1' \
	"v('ipsec_xdp_ike_negotiations_failed_total', reason='authentication') == 0" \
	"v('ipsec_xdp_ike_peer_sas', peer='10.77.0.2', rule='to-peer', state='established') == 1" \
	<"$T/om4.txt" || sed 's/^/#   /' "$T/om4.txt"
check "no secret in the endpoint's text" bash -c "! grep -q '$KEY' '$T/om4.txt'"
xa2 -j show sa | grep -oE '[0-9a-f]{16}' | sort -u >"$T/spis"
check "show sa gives the IKE SA's SPIs" test -s "$T/spis"
check "no SPI in the endpoint's text" bash -c "! grep -qiFf '$T/spis' '$T/om4.txt'"

# a wrong key: B restarts with another one, A's negotiation fails
check "delete the SA" xa2 sa delete 10.77.0.2
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null
psk_conf "$T/ikeB" 10.77.0.1 "not the same key"
check "start B with another key" start B "$NS_B" "$T/ikeB" "$T/runB" IPSEC_XDP_BPFFS="$T/bpffs/none"
refute "initiate with a wrong key fails" xa2 sa initiate 10.77.0.2
scrape /metrics >"$T/om5.txt"
check "after the failure: no SA up, one failed for authentication" $OMC \
	'v("ipsec_xdp_ike_sas") == 0' \
	'v("ipsec_xdp_ike_sas_established_total") == 1' \
	'v("ipsec_xdp_ike_negotiations_started_total") >= 2' \
	"v('ipsec_xdp_ike_negotiations_failed_total', reason='authentication') >= 1" \
	"v('ipsec_xdp_ike_peer_sas', peer='10.77.0.2', state='established') in (None, 0)" \
	<"$T/om5.txt" || sed 's/^/#   /' "$T/om5.txt"
check "no secret in the endpoint's text" bash -c "! grep -q 'not the same key\|$KEY' '$T/om5.txt'"
check "the daemon still runs" kill -0 "${PIDS[0]}"
finish
