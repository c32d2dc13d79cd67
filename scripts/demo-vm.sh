#!/usr/bin/env bash
# demo-vm.sh - IPsec on the wire, narrated: run by `make demo-vm` inside a
# throwaway VM whose kernel has ESP (vmtest/vm.sh; the host's has none).
#
# Host A (10.77.0.1, the dataplane loaded) and host B (10.77.0.2) are two
# network namespaces in the VM, each with an ipsec-xdpd and a policy that
# requires ESP between them.  They negotiate IKEv2, ESP is captured on the
# wire, `monitor` shows the negotiation as it happens, and `show sa` and
# `show stats` (also as OpenMetrics) show the SA and its counters.
# Nothing outlives the VM.
set -u
cd "$(dirname "$0")/.."
modprobe -a veth esp4 esp6 xfrm_user xfrm_interface 2>/dev/null
. tests/ns/lib.sh
. vmtest/ike_lib.sh

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m%s$ ipsec-xdp %s\033[0m\n' "$1" "${*:2}"; }
ona()  { show A "$@"; xa "$@"; }
onb()  { show B "$@"; xb "$@"; }

ike_scenario_start >/dev/null
trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT
say "A VM with kernel $(uname -r) (it has ESP); hosts A 10.77.0.1 and B 10.77.0.2"

say "The policy of each host: require ESP (AES-GCM) with the other, pre-shared key 'lab'"
conf "$T/confA" 10.77.0.2
conf "$T/confB" 10.77.0.1
sed -i 's/^ikelogging.*/ikelogging = 0/' "$T/confA/config" "$T/confB/config"
cat "$T/confA/policy.yaml"

say "Attach A's dataplane and apply the policy on both hosts"
ona load "$IF_A" --xdp-mode generic
ona policy apply "$T/confA/policy.yaml"
onb policy apply "$T/confB/policy.yaml"

say "Start ipsec-xdpd on both hosts (the IKEv2 daemon; logs in $T/A.log, B.log)"
start A "$NS_A" "$T/confA" "$T/runA" IPSEC_XDP_BPFFS="$BPFA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
echo "   both listen on UDP 500 and 4500"

say "Capture B's wire and start A's monitor, then negotiate: IKE_SA_INIT, IKE_AUTH with a CHILD SA"
capture_start "$NS_B" "$IF_B" "$T/wire.pcap" || exit 1
show A monitor "&"
# the program itself in the background (not the xa function's subshell),
# so that the SIGINT below reaches it, as Ctrl-C would
ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$BPFA" "$IXDP" monitor >"$T/monitor.txt" 2>&1 &
MONITOR=$!
sleep 1		# a demo: give the monitor its second to subscribe
ona sa initiate 10.77.0.2 || { tail -20 "$T/A.log"; exit 1; }

say "Traffic from A to B now goes through the SA"
printf '\033[2mA$ ping -c 3 10.77.0.2\033[0m\n'
ip netns exec "$NS_A" ping -c 3 -W 2 10.77.0.2 | grep -E 'bytes from|packets'
capture_stop "$T/wire.pcap"
kill -INT "$MONITOR"; timeout 10 tail --pid="$MONITOR" -f /dev/null || kill -KILL "$MONITOR"

say "What B's wire carried: IKE on UDP 500, then ESP (no plaintext ping)"
# (IKE_AUTH may show retransmissions: the VM's emulated CPU is slow)
grep -E 'isakmp|ESP|ICMP echo' "$T/wire.pcap.txt" | sed -E 's/^[0-9:.]+ //' | head -16
echo "   ESP packets: $(grep -c ESP "$T/wire.pcap.txt"), plaintext pings: $(grep -c 'ICMP echo' "$T/wire.pcap.txt")"

say "What A's monitor showed meanwhile (negotiation, SAs added; Ctrl-C ends it)"
cat "$T/monitor.txt"

say "The SAs: SPIs, algorithms, lifetimes, and the kernel's byte counters"
ona show sa
onb show sa

say "The IP Security Monitor's statistics on A: IKE, kernel ESP, dataplane"
ona show stats

say "The same for Prometheus: OpenMetrics text (ipsec-xdpd --metrics-listen serves it over HTTP)"
show A show stats --openmetrics "| grep -v '^#' | grep -v ' 0$' | head -20"
xa show stats --openmetrics | grep -v '^#' | grep -v ' 0$' | head -20

say "Done: two hosts negotiated IKEv2 and carried their traffic in ESP"
grep -q ESP "$T/wire.pcap.txt" && ! grep -q 'ICMP echo' "$T/wire.pcap.txt"
