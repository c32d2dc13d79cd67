#!/usr/bin/env bash
# IKEv2 between two ipsec-xdpd (docs/behaviour.md §6): a childless IKE SA (RFC 6023)
# with pre-shared keys over IPv4 and IPv6, Delete from one side removing it
# on both, a wrong key failing with an authentication failure counted on
# both sides, and the secrets file refused when others may read it.  The
# rule wants an ESP CHILD SA: where the kernel has no ESP, the IKE SA comes
# up without it and `sa initiate` exits 1 saying why (where it has ESP,
# the CHILD SA is made and it exits 0).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

# conf DIR PEER4 PEER6 KEY: a policy with a negotiate rule naming the peer.
conf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer:
    filters:
      - { src: me, dst: $2 }
      - { src: me, dst: $3 }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    ike:
      proposals: [ aes256gcm16-prfsha256-curve25519, aes128-sha256-modp2048 ]
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
YAML
	printf '# test keys\nlab = "%s"\n' "$4" >"$1/secrets"
	chmod 600 "$1/secrets"
	echo "ikelogging = 1" >"$1/config"
}

# has_line PATTERN CMD...: CMD prints a line matching PATTERN.
has_line() { local pat=$1; shift; "$@" | grep -q -- "$pat"; }
spis() { "$@" -j show sa | json_get '" ".join(s["ispi"]+":"+s["rspi"]+":"+s["state"] for s in d["ike_sas"])'; }

# initiate DESCRIPTION CMD PEER: `CMD sa initiate PEER` as this kernel
# allows: with ESP, exit 0; without, exit 1 and the reason on stderr.
initiate() {
	local what=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	if [ "$HAVE_ESP" = yes ]; then
		check_eq "$what: exits 0 (ESP in the kernel)" 0 "$rc"
		return
	fi
	check_eq "$what: exits 1 (no CHILD SA: no ESP in the kernel)" 1 "$rc"
	check "$what: says the CHILD SA is missing" grep -q \
		"is up, but without the CHILD SA its rule wants" <<<"$out"
	# A's kernel reserves the SPI (no ESP needed for that); B's refuses
	# the ESP SA, so B answers NO_PROPOSAL_CHOSEN and says why in its log
	check "$what: and why" grep -q "peer answered NO_PROPOSAL_CHOSEN (.*its kernel refused the SA" <<<"$out"
	check "$what: B's log names its kernel" grep -q \
		'failed: no CHILD SA rule=to-peer reason="the kernel refused the ESP SA: ' "$T/B.log"
	echo "# $out"
}

# wait_sas N CMD...: until CMD's daemon has N IKE SAs (2 s at most).
wait_sas() {
	local n=$1 i; shift
	for i in $(seq 1 20); do
		[ "$(count_sas "$@")" = "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

conf "$T/confA" 10.77.0.2 fd77::2 "correct horse battery staple"
conf "$T/confB" 10.77.0.1 fd77::1 "correct horse battery staple"

# A secrets file others may read is refused, with a clear message.
conf "$T/confX" 10.77.0.9 fd77::9 "whatever"
chmod 644 "$T/confX/secrets"
out=$(ip netns exec "$NS_A" "$IXDPD" -f -C "$T/confX" -R "$T/runX" 2>&1)
check "a world-readable secrets file is refused" test $? -ne 0
check "and the message says how to fix it" grep -q "chmod 600" <<<"$out"

# Does this kernel take an ESP SA?  (The host's usually has no ESP.)
HAVE_ESP=no
if ip netns exec "$NS_A" ip xfrm state add src 10.77.0.1 dst 10.77.0.2 \
	proto esp spi 0x4242 mode transport \
	aead 'rfc4106(gcm(aes))' 0x0000000000000000000000000000000000000000 128 \
	2>/dev/null; then
	HAVE_ESP=yes
	ip netns exec "$NS_A" ip xfrm state flush
fi
echo "# ESP in the kernel: $HAVE_ESP"

start A "$NS_A" "$T/confA" "$T/runA" || exit 1
start B "$NS_B" "$T/confB" "$T/runB" || exit 1
check "control socket is 0600" test "$(stat -c %a "$T/runA/ipsec-xdpd.sock")" = 600
refute "no daemon: a clear error" env IPSEC_XDP_RUNDIR="$T/none" "$IXDP" show sa
check_eq "no daemon: says so" "ipsec-xdp: ipsec-xdpd is not running" \
	"$(env IPSEC_XDP_RUNDIR="$T/none" "$IXDP" show sa 2>&1 | cut -d' ' -f1-5)"

# The control socket answers a malformed request with an error.
ctl_raw() {
	python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n")
print(s.makefile().readline().strip())' "$T/runA/ipsec-xdpd.sock" "$1"
}
check_eq "control: malformed JSON" False "$(ctl_raw '{"cmd":' | json_get 'd["ok"]')"
check "control: says why" has_line '"error":"malformed request' ctl_raw 'nonsense'
check_eq "control: unknown command" "unknown command 'fly'" "$(ctl_raw '{"cmd":"fly"}' | json_get 'd["error"]')"
check_eq "control: reload" True "$(ctl_raw '{"cmd":"reload"}' | json_get 'd["ok"]')"

# ---- IPv4 ----------------------------------------------------------------
initiate "IPv4: sa initiate from A" xa sa initiate 10.77.0.2
check_eq "IPv4: one IKE SA on A" 1 "$(count_sas xa)"
check_eq "IPv4: one IKE SA on B" 1 "$(count_sas xb)"
[ "$HAVE_ESP" = yes ] || check_eq "IPv4: A counted no CHILD SA as a failure" 1 \
	"$(ikestat xa negotiations_failed_no_proposal_chosen)"
[ "$HAVE_ESP" = yes ] || check_eq "IPv4: B counted its kernel's refusal" 1 \
	"$(ikestat xb negotiations_failed_kernel)"
sa_a=$(spis xa); sa_b=$(spis xb)
check "IPv4: A's SA is established" grep -q ":established$" <<<"$sa_a"
check_eq "IPv4: same SPIs on both sides" "$sa_a" "$sa_b"
check_eq "IPv4: A is the initiator" initiator "$(xa -j show sa | json_get 'd["ike_sas"][0]["role"]')"
[ "$HAVE_ESP" = yes ] || check_eq "IPv4: childless" True "$(xb -j show sa | json_get 'd["ike_sas"][0]["childless"]')"
check_eq "IPv4: B knows A by its address" 10.77.0.1 "$(xb -j show sa | json_get 'd["ike_sas"][0]["peer_id"]')"
check "IPv4: initiate again reuses the SA" xa sa initiate 10.77.0.2
check_eq "IPv4: still one SA" 1 "$(count_sas xa)"
check "IPv4: sa delete from A" xa sa delete 10.77.0.2
check "IPv4: gone on A" wait_sas 0 xa
check "IPv4: gone on B" wait_sas 0 xb
check_eq "B counted the deletion" 1 "$(ikestat xb ike_sas_deleted)"

# ---- IPv6 ----------------------------------------------------------------
initiate "IPv6: sa initiate from A" xa sa initiate fd77::2
sa_a=$(spis xa); sa_b=$(spis xb)
check "IPv6: established" grep -q ":established$" <<<"$sa_a"
check_eq "IPv6: same SPIs on both sides" "$sa_a" "$sa_b"
check_eq "IPv6: B's peer is fd77::1" fd77::1 "$(xb -j show sa | json_get 'd["ike_sas"][0]["peer"]')"
check "IPv6: delete by SPI from A" xa sa delete "${sa_a%%:*}"
check "IPv6: gone on A" wait_sas 0 xa
check "IPv6: gone on B" wait_sas 0 xb

# ---- a second daemon in A on other ports (-p, --natt-port, --peer-port) ----
conf "$T/confC" 10.77.0.2 fd77::2 "correct horse battery staple"
ip netns exec "$NS_A" "$IXDPD" -f -C "$T/confC" -R "$T/runC" -p 5500 \
	--natt-port 5501 --peer-port 500 >"$T/C.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 50); do [ -S "$T/runC/ipsec-xdpd.sock" ] && break; sleep 0.1; done
xc() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runC" "$IXDP" "$@"; }
initiate "other ports: initiate from A's second daemon" xc sa initiate 10.77.0.2
check_eq "other ports: B sees it from port 5500" 5500 \
	"$(xb -j show sa | json_get 'd["ike_sas"][0]["peer_port"]')"
check_eq "other ports: same SPIs" "$(spis xc)" "$(spis xb)"
check "show sa (text)" has_line '10.77.0.2\[500\]  established  initiator' xc show sa
check "show ikestats (text)" has_line 'ike_sas_established  *1' xc show ikestats
check "other ports: delete" xc sa delete 10.77.0.2
check "other ports: gone on B" wait_sas 0 xb

# ---- a wrong pre-shared key ------------------------------------------------
conf "$T/confA" 10.77.0.2 fd77::2 "not the same key"
kill -HUP "${PIDS[0]}"
sleep 0.2
before=$(ikestat xb authentication_failures)
before_a=$(ikestat xa negotiations_failed_authentication)
before_b=$(ikestat xb negotiations_failed_authentication)
out=$(xa sa initiate 10.77.0.2 2>&1)
check_eq "wrong key: initiate exits 1" 1 $?
check_eq "wrong key: the reason is the peer's AUTHENTICATION_FAILED" \
	"ipsec-xdp: negotiation with 10.77.0.2 failed: authentication failed: peer answered AUTHENTICATION_FAILED; is pre-shared key 'lab' the same on both sides?" \
	"$out"
check_eq "wrong key: the responder counted it" $((before + 1)) "$(ikestat xb authentication_failures)"
check "wrong key: and a failed negotiation" test "$(ikestat xb negotiations_failed)" -ge 1
check_eq "wrong key: A counted it under its reason" $((before_a + 1)) \
	"$(ikestat xa negotiations_failed_authentication)"
check_eq "wrong key: B too" $((before_b + 1)) \
	"$(ikestat xb negotiations_failed_authentication)"
check "wrong key: A's log names B's reason" \
	grep -q 'failed reason="authentication failed: peer answered AUTHENTICATION_FAILED' "$T/A.log"
check "wrong key: show stats names the reason" \
	has_line 'by AUTHENTICATION_FAILED  *[1-9]' xa show stats
check_eq "wrong key: -j says it too, exit 1" "1 True" \
	"$(xa -j sa initiate 10.77.0.2 2>/dev/null | json_get 'str(d["exit"]) + " " + str("authentication" in d["error"])')"
check_eq "wrong key: no IKE SA on A" 0 "$(count_sas xa)"
check_eq "wrong key: no IKE SA on B" 0 "$(count_sas xb)"
check "wrong key: B's log says why" grep -q 'failed reason="authentication failed' "$T/B.log"
check "no secret in the logs" bash -c "! grep -qi -e 'horse' -e 'not the same' '$T/A.log' '$T/B.log'"

# ---- clean shutdown ----------------------------------------------------------
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
check_eq "A stops cleanly on SIGTERM" 0 $?
check "A removed its control socket" test ! -e "$T/runA/ipsec-xdpd.sock"
PIDS=("${PIDS[@]:1}")

finish
