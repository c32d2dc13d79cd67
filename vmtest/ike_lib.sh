# vmtest/ike_lib.sh - what the VM scenarios with ipsec-xdpd share: their
# start (ike_scenario_start: the daemon built, the namespaces, BPFA), the
# ipsec-xdp of each side (xa: A with its dataplane pinned under BPFA, xb),
# waiting for a daemon's IKE SAs (wait_ike_sas),
# the daemons' PSK policy and config, starting and stopping them, and
# counting kernel SAs.  Source it after tests/ns/lib.sh.

# ike_scenario_start: ipsec-xdpd built, the namespaces made (ns_setup),
# the kernel named, BPFA set.
ike_scenario_start() {
	IXDPD=$TOP/${B:-build}/ipsec-xdpd
	[ -x "$IXDPD" ] || { echo "build first: $IXDPD is missing"; exit 1; }
	ns_setup
	echo "kernel $(uname -r)"
	BPFA="$T/bpffs/a"
}

xa() { ip netns exec "$NS_A" env IPSEC_XDP_RUNDIR="$T/runA" IPSEC_XDP_CONFDIR="$T/confA" \
	IPSEC_XDP_BPFFS="$BPFA" "$IXDP" "$@"; }
xb() { ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$T/runB" IPSEC_XDP_CONFDIR="$T/confB" "$IXDP" "$@"; }

# wait_ike_sas N CMD...: until CMD's daemon (xa, xb) has N IKE SAs (30 s
# at most: a loaded machine or TCG is slow, a wrong count never comes).
has_ike_sas() {
	local n=$1
	shift
	[ "$("$@" -j show sa 2>/dev/null | json_get 'len(d["ike_sas"])' 2>/dev/null)" = "$n" ]
}
wait_ike_sas() { wait_until 30 has_ike_sas "$@"; }

PIDS=()
declare -gA LOG_OF=()	# a daemon's pid -> its log
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
# start NAME NS CONFDIR RUNDIR [ENV...]; options in $IXDPD_ARGS (word-split).
start() {
	local name=$1 ns=$2 cd=$3 rd=$4
	shift 4
	# shellcheck disable=SC2086
	ip netns exec "$ns" env "$@" "$IXDPD" -f -C "$cd" -R "$rd" ${IXDPD_ARGS:-} \
		>"$T/$name.log" 2>&1 &
	PIDS+=($!)
	LOG_OF[$!]=$T/$name.log
	wait_until 30 test -S "$rd/ipsec-xdpd.sock" && return 0
	echo "ipsec-xdpd $name did not start:"; cat "$T/$name.log"
	return 1
}
nstates() { ip -n "$1" xfrm state | grep -c '^src'; }

# ---- the interop scenarios' policy (guest_ike_swan.sh, guest_ike_nat.sh) -------
# policy_case MODE ESP IKE AUTH ME PEER: a negotiate rule to PEER (transport),
# or a tunnel rule pair between 10.78.1.0/24 (ours, endpoint ME) and
# 10.78.2.0/24 (PEER's); plus a permit (tcp 8080) and a block (tcp 9090)
# towards PEER.  AUTH: an authentication method, e.g. "{ psk: lab }".
policy_case() {
	cat <<YAML
filter-lists:
  peer:    { filters: [ { src: me, dst: $6 } ] }
  tun-out: { filters: [ { src: 10.78.1.0/24, dst: 10.78.2.0/24, mirrored: no } ] }
  tun-in:  { filters: [ { src: 10.78.2.0/24, dst: 10.78.1.0/24, mirrored: no } ] }
  web:     { filters: [ { src: me, dst: $6, protocol: tcp, dst-port: 8080 } ] }
  closed:  { filters: [ { src: me, dst: $6, protocol: tcp, dst-port: 9090 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: $2 } ] }
policies:
  lab:
    ike: { proposals: [ $3 ] }
    rules:
YAML
	if [ "$1" = transport ]; then
		echo "      - { name: to-peer, filter-list: peer, action: secure, authentication: [ $4 ] }"
	else
		echo "      - { name: tun-out, filter-list: tun-out, action: secure, authentication: [ $4 ], tunnel: $6 }"
		echo "      - { name: tun-in, filter-list: tun-in, action: secure, authentication: [ $4 ], tunnel: $5 }"
	fi
	echo "      - { name: web-clear, filter-list: web, action: permit }"
	echo "      - { name: closed, filter-list: closed, action: block }"
}

# reload PID...: SIGHUP each daemon started here, and wait (30 s at most)
# until its log says it reloaded; 1 if one did not, or its reload failed.
reload_lines() {	# LOG: the outcomes of reloads in it, one a line
	grep -e "^ipsec-xdpd: reloaded: policy" -e "^ipsec-xdpd: reload: .*what was in force stays" "$1"
}
reloads_past() { [ "$(reload_lines "$1" | wc -l)" -gt "$2" ]; }	# LOG N
reload() {
	local p log n rc=0
	for p; do
		log=${LOG_OF[$p]}
		n=$(reload_lines "$log" | wc -l)
		kill -HUP "$p" || { rc=1; continue; }
		if ! wait_until 30 reloads_past "$log" "$n"; then
			echo "ipsec-xdpd $p: no reload in $log"; rc=1
		elif ! reload_lines "$log" | tail -n 1 | grep -q "reloaded: policy"; then
			reload_lines "$log" | tail -n 1; rc=1
		fi
	done
	return $rc
}

# use_policy XA PID FILE: into the dataplane and CONFDIR with the command
# XA (a function running ipsec-xdp on that side), then daemon PID rereads it.
use_policy() {
	"$1" policy apply "$3" >/dev/null || return 1
	reload "$2"
}
