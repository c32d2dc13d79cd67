#!/usr/bin/env bash
# Inside the 6.12 VM: the IP Security Monitor's kernel statistics (docs/behaviour.md §6)
# as `ipsec-xdp show stats` and `show sa` report them.  Two ipsec-xdpd
# negotiate an ESP CHILD SA (transport); ping through it makes the bytes
# secured by ESP grow in both directions, in `show stats` and per SA in
# `show sa`; then ESP packets sent from a third address count where
# lib/dataplane/dataplane_xfrmstat.h says: an unknown SPI as a bad SPI packet, garbage under
# the right SPI as not decrypted and not authenticated, a captured packet
# sent again as a replay.
#
#   vmtest/vm.sh bash vmtest/guest_ike_stats.sh
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh
ike_scenario_start

trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
has_line_in() { local p=$1; shift; "$@" | grep -q -- "$p"; }
# snap: read `show stats -j` and `show sa -j` once (each command costs a
# second under emulation); quick KEY and child PATH read the snapshot.
snap() {
	xa -j show stats >"$T/stats.json" 2>/dev/null	# exit 4: no dataplane here
	xa -j show sa >"$T/sa.json"
}
quick() { json_get "d['quick_mode']['$1']" <"$T/stats.json"; }
# counted KEY N: a new snapshot until quick KEY reached N (10 s at most): the
# kernel counts a packet as it takes it in, not at a known time.
reached() { snap; [ "$(quick "$1")" -ge "$2" ]; }
counted() { wait_until 10 reached "$@"; }
child() { json_get "d['child_sas'][0]$1" <"$T/sa.json"; }

# send_esp SPI SEQ HEXPAYLOAD: an ESP packet from B's second address (no
# policy of B's covers it, so it leaves in clear) to A.
send_esp() {
	inb python3 -c 'import socket,struct,sys
s=socket.socket(socket.AF_INET, socket.SOCK_RAW, 50); s.bind(("10.77.0.3", 0))
s.sendto(struct.pack("!II", int(sys.argv[1], 16), int(sys.argv[2])) + bytes.fromhex(sys.argv[3]), ("10.77.0.1", 0))' "$@"
}
# resend_captured PCAP: the ESP part of the first packet captured, again.
resend_captured() {
	inb python3 -c 'import socket,sys
d=open(sys.argv[1],"rb").read(); p=d[24+16:]; ip=p[14:]; esp=ip[(ip[0]&15)*4:]
s=socket.socket(socket.AF_INET, socket.SOCK_RAW, 50); s.bind(("10.77.0.3", 0))
s.sendto(esp, ("10.77.0.1", 0))' "$1"
}

conf "$T/confA" 10.77.0.2
conf "$T/confB" 10.77.0.1
ip -n "$NS_B" addr add 10.77.0.3/24 dev "$IF_B"
start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "sa initiate from A" xa sa initiate 10.77.0.2
snap
check_eq "A: 2 SAs in force (quick mode)" 2 "$(quick active_security_associations)"
check_eq "A: one key addition (the CHILD SA's pair)" 1 "$(quick key_additions)"
sent0=$(quick esp_bytes_sent)
recv0=$(quick esp_bytes_received)

# ---- bytes secured by ESP grow with traffic -----------------------------------
check "ping A -> B, 5 x 1000 bytes" ina ping -c 5 -i 0.2 -s 1000 -W 2 10.77.0.2
snap
sent1=$(quick esp_bytes_sent)
recv1=$(quick esp_bytes_received)
check "ESP bytes sent grew by at least 5000 ($sent0 -> $sent1)" test "$sent1" -ge $((sent0 + 5000))
check "ESP bytes received grew by at least 5000 ($recv0 -> $recv1)" test "$recv1" -ge $((recv0 + 5000))
check_eq "no AH bytes" 0 "$(quick ah_bytes_sent)"
check_eq "transport bytes = ESP bytes" "$sent1" "$(quick transport_bytes_sent)"
check "show sa: outbound SA bytes" test "$(child '["out"]["bytes"]')" -ge 5000
check "show sa: inbound SA packets" test "$(child '["in"]["packets"]')" -ge 5
check "show sa: hard lifetime and time left" \
	test "$(child '["out"]["lifetime"]["hard_left_s"]')" -le "$(child '["out"]["lifetime"]["hard_s"]')" -a \
	"$(child '["out"]["lifetime"]["hard_s"]')" -gt 0
check "show sa (text): the inbound line" has_line_in "in:" xa show sa
# the -j outputs with a CHILD SA and the kernel's counters, against schemas/
json_valid() { /usr/bin/python3 tests/lib/json_schema_check.py "schemas/$1.schema.json" <"$2"; }
check "show sa -j: valid show-sa (a CHILD SA, both directions)" json_valid show-sa "$T/sa.json"
check "show stats -j: valid show-stats (the kernel's counters)" json_valid show-stats "$T/stats.json"

# ---- bad SPI, not decrypted / not authenticated, replays ----------------------
bad0=$(quick bad_spi_packets)
send_esp deadbeef 1 "$(printf '00%.0s' $(seq 1 48))"
counted bad_spi_packets $((bad0 + 1))
check_eq "an unknown SPI: one bad SPI packet" $((bad0 + 1)) "$(quick bad_spi_packets)"

spi_in=$(child '["spi_in"]')
dec0=$(quick packets_not_decrypted)
send_esp "$spi_in" 1000 "$(printf 'ab%.0s' $(seq 1 48))"
counted packets_not_decrypted $((dec0 + 1))
check_eq "garbage under our SPI: not decrypted" $((dec0 + 1)) "$(quick packets_not_decrypted)"
check_eq "and not authenticated (ICV)" 1 "$(quick packets_not_authenticated)"
check_eq "show sa: the inbound SA counted it" 1 "$(child '["in"]["integrity_failed"]')"

rep0=$(quick packets_with_replay_detection)
capture_start "$NS_A" "$IF_A" "$T/esp.pcap" -c 1 "esp and src 10.77.0.2"
inb ping -c 1 -W 2 10.77.0.1 >/dev/null
capture_stop "$T/esp.pcap"
resend_captured "$T/esp.pcap"
counted packets_with_replay_detection $((rep0 + 1))
check_eq "a captured ESP packet sent again: a replay" $((rep0 + 1)) \
	"$(quick packets_with_replay_detection)"
check_eq "the SAs survive all of it" 2 "$(quick active_security_associations)"
check "and still carry traffic" ina ping -c 1 -W 2 10.77.0.2

xa show stats 2>/dev/null
finish
