#!/usr/bin/env bash
# Metrics (ipsec-xdp(8) and ipsec-xdpd(8), METRICS): `show stats
# --openmetrics` and ipsec-xdpd's --metrics-listen endpoint give the
# OpenMetrics text a real parser (prometheus_client's) accepts, whose
# counters follow the traffic sent: drops of a block rule, packets of a
# permit rule, by direction; a bad --metrics-listen is refused.
. "$(dirname "$0")/lib.sh"
ns_setup
python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	{ echo "python3-prometheus-client is missing (make deps)"; exit 1; }
OMC="$TOP/tests/ns/om_check.py"
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
om() { ixa_r show stats --openmetrics; }
ixa_r() { ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }

cat >"$T/p.yaml" <<'YAML'
filter-lists:
  ping-b:  { filters: [ { src: me, dst: 10.77.0.2, protocol: icmp } ] }
  tcp-b:   { filters: [ { src: me, dst: 10.77.0.2, protocol: tcp } ] }
policies:
  m:
    rules:
      - { name: "no-ping", filter-list: ping-b, action: block }
      - { name: "tcp \"ok\"", filter-list: tcp-b, action: permit }
YAML

# ---- not loaded, no daemon --------------------------------------------------
check "not loaded: parses, says so" bash -c "$(declare -f ixa_r om); \
	NS_A=$NS_A T=$T IXDP=$IXDP; om | '$OMC' 'v(\"ipsec_xdp_dataplane_loaded\") == 0' \
	'v(\"ipsec_xdp_daemon_up\") == 0'"
check_eq "-j with --openmetrics: usage error" 2 "$(ixa_r -j show stats --openmetrics >/dev/null 2>&1; echo $?)"

# ---- loaded, a policy, traffic ------------------------------------------------
check "load" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "policy apply" ixa policy apply "$T/p.yaml"
N=5
for i in $(seq 1 $N); do inb ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1; done
refute "the block rule drops B's pings" ping_b_to_a
check "the permit rule lets TCP through" tcp_b_to_a 5555
om >"$T/om1.txt"
check "show stats --openmetrics parses and counts the traffic" "$OMC" \
	'v("ipsec_xdp_dataplane_loaded") == 1' 'v("ipsec_xdp_policy_applied") == 1' \
	"v('ipsec_xdp_dropped_packets_total', reason='block_filter') >= $N" \
	"v('ipsec_xdp_rule_packets_total', rule='no-ping', direction='in') >= $N" \
	"v('ipsec_xdp_rule_bytes_total', rule='no-ping', direction='in') >= $N * 84" \
	"v('ipsec_xdp_rule_packets_total', rule='tcp \"ok\"', direction='in') >= 2" \
	"v('ipsec_xdp_rule_packets_total', rule='tcp \"ok\"', direction='out') >= 2" \
	"fams['ipsec_xdp_dropped_packets'].type == 'counter'" \
	"v('ipsec_xdp_dataplane_packets_total', path='in') >= $N" <"$T/om1.txt" ||
	sed 's/^/#   /' "$T/om1.txt"
check "the label value's quotes are escaped" grep -q 'rule="tcp \\"ok\\""' "$T/om1.txt"
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
ip netns exec "$NS_A" python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",9109)); s.listen(); time.sleep(20)' &
BUSY=$!
wait_listen "$NS_A" tcp 9109
out=$(ip netns exec "$NS_A" timeout 10 "$IXDPD" -f -C "$T/confA" -R "$T/runBad" \
	--metrics-listen 127.0.0.1:9109 2>&1); rc=$?
check_eq "a port in use: exit 1" 1 "$rc"
check "a port in use: said so" grep -q "cannot listen on 127.0.0.1 port 9109: Address already in use" <<<"$out"
kill $BUSY 2>/dev/null; wait $BUSY 2>/dev/null

# ---- the daemon's endpoint ----------------------------------------------------
ip netns exec "$NS_A" env IPSEC_XDP_BPFFS="$T/bpffs/a" "$IXDPD" -f -C "$T/confA" \
	-R "$T/runA" --metrics-listen 127.0.0.1:9101 >"$T/xdpd.log" 2>&1 &
XDPD=$!
wait_listen "$NS_A" tcp 9101
for i in $(seq 1 50); do [ -S "$T/runA/ipsec-xdpd.sock" ] && break; sleep 0.1; done
scrape() { ina python3 -c 'import sys,urllib.request
r=urllib.request.urlopen("http://"+sys.argv[1]+sys.argv[2], timeout=5)
sys.stderr.write(r.headers["Content-Type"]+"\n"); sys.stdout.write(r.read().decode())' "$@"; }
scrape 127.0.0.1:9101 /metrics >"$T/om2.txt" 2>"$T/ctype"
check "the endpoint's content type is OpenMetrics" grep -q "^application/openmetrics-text; version=1.0.0" "$T/ctype"
check "the endpoint's text parses and counts the traffic" "$OMC" \
	'v("ipsec_xdp_daemon_up") == 1' 'v("ipsec_xdp_ike_sas") == 0' \
	"v('ipsec_xdp_ike_negotiations_failed_total', reason='timeout') == 0" \
	"v('ipsec_xdp_ike_dropped_messages_total', reason='malformed') == 0" \
	"v('ipsec_xdp_dropped_packets_total', reason='block_filter') >= $N" \
	"v('ipsec_xdp_rule_packets_total', rule='no-ping', direction='in') >= $N" <"$T/om2.txt" ||
	sed 's/^/#   /' "$T/om2.txt"
om >"$T/om3.txt"
check "show stats --openmetrics has the daemon's families too" "$OMC" \
	'v("ipsec_xdp_daemon_up") == 1' '"ipsec_xdp_ike_negotiations_started" in fams' \
	'"ipsec_xdp_ike_peer_sas" in fams' <"$T/om3.txt"
check_eq "the command and the endpoint give the same families" \
	"$(grep '^# TYPE' "$T/om2.txt")" "$(grep '^# TYPE' "$T/om3.txt")"
check "another path: 404" bash -c "! $(declare -f scrape ina); NS_A=$NS_A; scrape 127.0.0.1:9101 /other 2>&1 | grep -q ."
check "the daemon still runs" kill -0 $XDPD
kill $XDPD; wait $XDPD 2>/dev/null
finish
