#!/usr/bin/env bash
# Guest-side smoke test: proves the VM can do what later tests need (modules,
# netns + veth, kernel ESP). Run it through the VM helper:
#   vmtest/vm.sh bash vmtest/smoke.sh
set -euo pipefail

A=ixs-smoke-a B=ixs-smoke-b
IP_A=10.99.0.1 IP_B=10.99.0.2

fail() { echo "vmtest smoke: FAIL: $*" >&2; exit 1; }
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT
cleanup # leftovers of an earlier, interrupted run

echo "kernel: $(uname -r)"

# -- modules -------------------------------------------------------------------
bad=()
for m in veth esp4 esp6 xfrm_user xfrm_interface sch_ingress cls_bpf; do
	modprobe "$m" 2>/dev/null || bad+=("$m")
done
[ "${#bad[@]}" -eq 0 ] || fail "modprobe failed for: ${bad[*]}"
echo "modules: ok"

# -- two namespaces joined by veth ----------------------------------------------
ip netns add "$A"
ip netns add "$B"
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" addr add "$IP_A/24" dev veth-a
ip -n "$B" addr add "$IP_B/24" dev veth-b
for ns in "$A" "$B"; do
	ip -n "$ns" link set lo up
done
ip -n "$A" link set veth-a up
ip -n "$B" link set veth-b up

ip netns exec "$A" ping -c 2 -W 5 -q "$IP_B" >/dev/null || fail "plain ping $IP_A -> $IP_B"
echo "plain ping: ok"

# -- static ESP transport mode, AES-GCM (rfc4106: 16-byte key + 4-byte salt) -----
KEY_AB=0x0102030405060708090a0b0c0d0e0f1011121314
KEY_BA=0x2122232425262728292a2b2c2d2e2f3031323334
for ns in "$A" "$B"; do
	ip -n "$ns" xfrm state add src "$IP_A" dst "$IP_B" proto esp spi 0x1001 \
		mode transport aead 'rfc4106(gcm(aes))' "$KEY_AB" 128
	ip -n "$ns" xfrm state add src "$IP_B" dst "$IP_A" proto esp spi 0x1002 \
		mode transport aead 'rfc4106(gcm(aes))' "$KEY_BA" 128
done
# Policies: each side encrypts what it sends and requires ESP on what it gets.
ip -n "$A" xfrm policy add src "$IP_A" dst "$IP_B" dir out tmpl proto esp mode transport
ip -n "$A" xfrm policy add src "$IP_B" dst "$IP_A" dir in tmpl proto esp mode transport
ip -n "$B" xfrm policy add src "$IP_B" dst "$IP_A" dir out tmpl proto esp mode transport
ip -n "$B" xfrm policy add src "$IP_A" dst "$IP_B" dir in tmpl proto esp mode transport

ip netns exec "$A" ping -c 3 -W 5 -q "$IP_B" >/dev/null || fail "ping over ESP $IP_A -> $IP_B"
echo "ESP ping: ok"

# Every SA (out and in, on both sides) must have counted packets, else the
# pings did not go through ESP.
for ns in "$A" "$B"; do
	counts=$(ip -n "$ns" -s xfrm state | sed -n 's/.*(bytes), \([0-9]*\)(packets).*/\1/p')
	echo "$ns SA packet counters: ${counts//$'\n'/ }"
	[ "$(wc -w <<<"$counts")" -eq 2 ] || fail "$ns: expected 2 SAs with counters"
	for c in $counts; do
		[ "$c" -gt 0 ] || fail "$ns: an SA counted no packets"
	done
done

echo "vmtest smoke: ok"
