# vmtest/ike_lib.sh - what the VM scenarios with two ipsec-xdpd share:
# the daemons' PSK policy and config, starting and stopping them, and
# counting kernel SAs.  Source it after tests/ns/lib.sh and ns_setup;
# needs $IXDPD and $T.

PIDS=()
stop_daemons() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}

policy() {	# PEER
	cat <<YAML
filter-lists:
  peer: { filters: [ { src: me, dst: $1 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: secure, authentication: [ { psk: lab } ] }
YAML
}
conf() {	# DIR PEER
	mkdir -p "$1"
	policy "$2" >"$1/policy.yaml"
	printf 'lab = "correct horse battery staple"\n' >"$1/secrets"
	chmod 600 "$1/secrets"
	if grep -q "^ikelogging" "$1/config" 2>/dev/null; then
		sed -i "s/^ikelogging.*/ikelogging = 2/" "$1/config"
	else
		echo "ikelogging = 2" >>"$1/config"
	fi
}
start() {	# NAME NS CONFDIR RUNDIR [ENV...]
	local name=$1 ns=$2 cd=$3 rd=$4
	shift 4
	ip netns exec "$ns" env "$@" "$IXDPD" -f -C "$cd" -R "$rd" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 1 100); do
		[ -S "$rd/ipsec-xdpd.sock" ] && return 0
		sleep 0.1
	done
	echo "ipsec-xdpd $name did not start:"; cat "$T/$name.log"
	return 1
}
nstates() { ip -n "$1" xfrm state | grep -c '^src'; }
