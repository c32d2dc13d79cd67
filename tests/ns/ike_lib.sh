#!/usr/bin/env bash
# ike_lib.sh - two ipsec-xdpd, one in each namespace of lib.sh, for the IKE
# namespace tests.  Source it after lib.sh; it sets up the namespaces (ns_setup)
# and a trap that stops the daemons before tearing them down.
#
#   start NAME NS CONFDIR RUNDIR [VAR=VALUE...]
#                                  ipsec-xdpd -f in NS (with those variables
#                                  in its environment), its log in
#                                  $T/NAME.log; 1 (with the log) when its
#                                  socket does not appear within 30 s (a
#                                  loaded machine); the daemon also gets
#                                  the options in the array IXDPD_ARGS
#   stop_daemons                   TERM every daemon started, wait for each
#   xa/xb CMD...                   ipsec-xdp in A/B, talking to that side's daemon
#   count_sas CMD...               how many IKE SAs CMD's daemon has
#   ikestat CMD NAME               one of CMD's daemon's IKE counters
#   psk_conf DIR PEER KEY          DIR/policy.yaml negotiating ESP with PEER
#                                  (rule to-peer of policy lab, PSK id lab)
#                                  and DIR/secrets with KEY
IXDPD=${IXDPD:-$TOP/${B:-build}/ipsec-xdpd}
[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
ns_setup

PIDS=()
stop_daemons() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	PIDS=()
}
trap 'rc=$?; stop_daemons; (exit $rc); ns_teardown' EXIT

start() {
	local name=$1 ns=$2 cd=$3 rd=$4
	shift 4
	ip netns exec "$ns" env "$@" "$IXDPD" -f -C "$cd" -R "$rd" \
		${IXDPD_ARGS[@]+"${IXDPD_ARGS[@]}"} >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	wait_until 30 test -S "$rd/ipsec-xdpd.sock" && return 0
	echo "ipsec-xdpd $name did not start:"; cat "$T/$name.log"
	return 1
}

xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" "$IXDP" "$@"; }
xb() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" "$IXDP" "$@"; }
count_sas() { "$@" -j show sa | json_get 'len(d["ike_sas"])'; }
ikestat() { "$1" -j show ikestats | json_get "d['stats']['$2']"; }

psk_conf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  peer:
    filters:
      - { src: me, dst: $2 }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
YAML
	printf '# test keys\nlab = "%s"\n' "$3" >"$1/secrets"
	chmod 600 "$1/secrets"
}
