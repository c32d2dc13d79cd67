#!/usr/bin/env bash
# The command line itself: --help on every command, exit codes (ipsec-xdp(8)),
# clear errors for bad input, JSON that parses, the SSH lock-out warning, and
# `show stats` with and without ipsec-xdpd.
. "$(dirname "$0")/lib.sh"
ns_setup

rc() { "$@" >/dev/null 2>&1; echo $?; }
has_text() { local t=$1; shift; "$@" 2>&1 | grep -q -- "$t"; }

for cmd in load unload status policy filter show match set; do
	check "$cmd --help prints its usage" bash -c "'$IXDP' $cmd --help | grep -q '^usage: ipsec-xdp $cmd'"
done
check "--help lists the commands" bash -c "'$IXDP' --help | grep -q 'set config KEY VALUE'"
check_eq "no command: usage error 2" 2 "$(rc "$IXDP")"
check_eq "unknown command: 2" 2 "$(rc "$IXDP" frobnicate)"
check_eq "load without an interface: 2" 2 "$(rc ixa load)"
check_eq "load of a missing interface: 2" 2 "$(rc ixa load nosuchif0)"
check_eq "load --xdp-mode bogus: 2" 2 "$(rc ixa load "$IF_A" --xdp-mode bogus)"
check_eq "show stats when not loaded: 4" 4 "$(rc ixa show stats)"
check_eq "unload when not loaded: 4" 4 "$(rc ixa unload)"
check_eq "match with a bad address: 2" 2 "$(rc ixa match 10.0.0.300 10.0.0.1 tcp)"
check_eq "match with ports on icmp: 2" 2 "$(rc ixa match 10.0.0.1 10.0.0.2 icmp 1 2)"
check_eq "match with mixed families: 2" 2 "$(rc ixa match 10.0.0.1 ::1 udp)"
check_eq "set config with an unknown key: 2" 2 "$(rc ixa set config colour blue)"
check_eq "set config ipsecexempt 4: 3" 3 "$(rc ixa set config ipsecexempt 4)"
check_eq "policy check of a missing file: 3" 3 "$(rc ixa policy check "$T/none.yaml")"
printf 'policies: [\n' >"$T/syntax.yaml"
err=$(ixa policy check "$T/syntax.yaml" 2>&1)
check "a YAML syntax error names the file and line" grep -q "syntax.yaml:[0-9]*:[0-9]*:" <<<"$err"
check_eq "policy show with none assigned: 1" 1 "$(rc ixa policy show)"

check "set config ipsecexempt 0" ixa set config ipsecexempt 0
check "show config -j parses" bash -c "ip netns exec $NS_A env IPSEC_XDP_CONFDIR=$T/confA '$IXDP' -j show config | python3 -m json.tool"
check_eq "ipsecexempt is kept" 0 "$(ixa -j show config | json_get 'd["ipsecexempt"]')"

warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa set config bootmode block 2>&1)
check "bootmode block warns an SSH user" grep -q "drops this SSH session" <<<"$warn"
# boot exemptions: 64 dataplane slots, an entry's reply direction counts too
ex32=$(for p in $(seq 1001 1032); do printf 'TCP:0:%d:inbound ' "$p"; done)
ex33=$(for p in $(seq 1001 1033); do printf 'TCP:0:%d:inbound ' "$p"; done)
ex65=$(for p in $(seq 1001 1065); do printf 'TCP:0:%d:inbound ' "$p"; done)
check "32 boot exemptions (64 with their replies) are set" ixa set config bootexemptions $ex32
err=$(ixa set config bootexemptions $ex33 2>&1)
check_eq "33 boot exemptions: exit 3" 3 "$(rc ixa set config bootexemptions $ex33)"
check "33: the limit, the value and what to do" grep -q "limit exceeded: boot exemptions (IXDP_MAX_BOOT_EXEMPT): the 33 entries .* are 66; the limit is 64: remove some" <<<"$err"
err=$(ixa set config bootexemptions $ex65 2>&1)
check "65: the limit named" grep -q "limit exceeded: too many boot exemptions (IXDP_MAX_BOOT_EXEMPT): more than 64 entries" <<<"$err"
check_eq "refused: the 32 are kept" 32 "$(ixa -j show config | json_get 'len(d["bootexemptions"])')"
warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa set config bootexemptions TCP:0:22:inbound 2>&1)
refute "no warning once SSH is exempt" grep -q "warning" <<<"$warn"
warn=$(SSH_CONNECTION="10.77.0.2 50000 10.77.0.1 22" ixa load "$IF_A" --xdp-mode "$XDP_MODE" 2>&1)
refute "load does not warn when SSH is exempt" grep -q "warning" <<<"$warn"
check "an SSH-like session survives block mode with the exemption" tcp_b_to_a 22
for pin in maps/ixdp_filters progs/ixdp_xdp_ingress progs/ixdp_tc_egress "links/xdp-$IF_A"; do
	check "pinned: $pin" test -e "$T/bpffs/a/$pin"
done
check "status -j parses" bash -c "ip netns exec $NS_A env IPSEC_XDP_CONFDIR=$T/confA IPSEC_XDP_BPFFS=$T/bpffs/a '$IXDP' -j status | python3 -m json.tool"
check "show all works without a policy" ixa show all

# ---- show stats: the monitor's statistics, with and without ipsec-xdpd ----
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
sa_() { ip netns exec "$NS_A" env IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$T/bpffs/a" IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
stat_() { sa_ -j show stats | json_get "$1"; }
nostates=$(ina awk '$1 == "XfrmInNoStates" { print $2 }' /proc/net/xfrm_stat)
check_eq "no daemon: show stats still works" 0 "$(rc sa_ show stats)"
check "no daemon: show stats says so" has_text "ipsec-xdpd is not running" sa_ show stats
check_eq "no daemon: -j says so" False "$(stat_ 'd["daemon_running"]')"
check_eq "no daemon: no IKE counters made up" "{}" "$(stat_ 'd["main_mode"]')"
check_eq "no daemon: bad SPI from /proc/net/xfrm_stat" "$nostates" \
	"$(stat_ 'd["quick_mode"]["bad_spi_packets"]')"
check_eq "no daemon: the dataplane's counters" True "$(stat_ '"boot_block" in d["drops"]')"
printf 'lab = "x"\n' >"$T/confA/secrets"
chmod 600 "$T/confA/secrets"
ip netns exec "$NS_A" "$IXDPD" -f -C "$T/confA" -R "$T/runA" >"$T/xdpd.log" 2>&1 &
XDPD=$!
for i in $(seq 1 50); do [ -S "$T/runA/ipsec-xdpd.sock" ] && break; sleep 0.1; done
check_eq "daemon: -j says it runs" True "$(stat_ 'd["daemon_running"]')"
check_eq "daemon: main mode negotiations" 0 "$(stat_ 'd["main_mode"]["total_negotiations"]')"
check_eq "daemon: quick mode SAs from the kernel" 0 \
	"$(stat_ 'd["quick_mode"]["active_security_associations"]')"
check_eq "daemon: ESP bytes sent" 0 "$(stat_ 'd["quick_mode"]["esp_bytes_sent"]')"
check_eq "daemon: bad SPI" "$nostates" "$(stat_ 'd["quick_mode"]["bad_spi_packets"]')"
check "daemon: text in the monitor's groups" has_text "Authentication failures" sa_ show stats
check "daemon: show ikestats still answers" has_text "negotiations_total" sa_ show ikestats
# An IKE version 3 request is answered INVALID_MAJOR_VERSION (RFC 7296 §2.5)
# (block boot mode: IKE passes only when exempted, without a policy).
check "exempt IKE from the boot mode" \
	sa_ set config bootexemptions TCP:0:22:inbound UDP:0:500:inbound
answer=$(inb python3 -c 'import socket,struct
s=socket.socket(); s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(struct.pack("!QQBBBBII", 0x1122334455667788, 0, 0, 0x30, 34, 8, 0, 28), ("10.77.0.1", 500))
m=s.recv(2048); print("%02x %d %d" % (m[17], m[16], struct.unpack("!H", m[34:36])[0]))' 2>&1)
check_eq "version 3: answered 2.0, Notify INVALID_MAJOR_VERSION (5)" "20 41 5" "$answer"
check_eq "version 3: counted" 1 "$(stat_ 'd["ike"]["invalid_major_version_sent"]')"
check_eq "version 3: an invalid packet in main mode" 1 \
	"$(stat_ 'd["main_mode"]["invalid_packets_received"]')"
# `show all` carries the same monitor groups as `show stats`.
all_() { sa_ -j show all | json_get "$1"; }
check_eq "show all -j: the daemon runs" True "$(all_ 'd["stats"]["daemon_running"]')"
check_eq "show all -j: main mode's invalid packet" 1 \
	"$(all_ 'd["stats"]["main_mode"]["invalid_packets_received"]')"
check_eq "show all -j: quick mode's bad SPI" "$nostates" \
	"$(all_ 'd["stats"]["quick_mode"]["bad_spi_packets"]')"
check_eq "show all -j: the dataplane's counters still there" True \
	"$(all_ '"boot_block" in d["stats"]["drops"]')"
check "show all: text in the monitor's groups" has_text "Invalid packets received" sa_ show all
check "show all: text keeps the dataplane" has_text "boot_block" sa_ show all
kill -TERM $XDPD; wait $XDPD 2>/dev/null
[ "${VERBOSE:-}" ] && cat "$T/xdpd.log"
check_eq "daemon stopped: not running again" False "$(stat_ 'd["daemon_running"]')"

check "unload" ixa unload
refute "unload removed every pin" test -e "$T/bpffs/a"
finish
