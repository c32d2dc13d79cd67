# tests/bench/ike_lib.sh - what the ike_setup benchmark (tests/bench/ike_setup.sh)
# and its check (tests/ns/test_ike_load.sh) share: the load generator's
# source addresses, ipsec-xdpd as the responder.
#
# Source after tests/ns/lib.sh (ns_setup: $NS_A with the generator,
# 10.77.0.1; $NS_B with the responder, 10.77.0.2); uses $T, $IXDPD.

IKEB_SUITE=aes256gcm16-prfsha256-curve25519
IKEB_KEY="bench key, not a secret"
IKEB_SRC=10.77.0.100	# the generator's first source address
IKEB_PIDS=()

# ikeb_addrs N: N more addresses in A (10.77.0.100...), the generator's sources.
ikeb_addrs() {
	local i
	for i in $(seq 0 $(($1 - 1))); do
		ip -n "$NS_A" addr add "10.77.0.$((100 + i))/24" dev "$IF_A" || return 1
	done
}

# ikeb_xdpd_conf DIR: a negotiate rule for the whole /24 with one
# pre-shared key and the one IKE proposal of the benchmark; ikelogging 0.
ikeb_xdpd_conf() {
	mkdir -p "$1"
	cat >"$1/policy.yaml" <<YAML
filter-lists:
  bench: { filters: [ { src: me, dst: 10.77.0.0/24 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  bench:
    ike: { proposals: [ $IKEB_SUITE ] }
    rules:
      - { name: bench, filter-list: bench, action: secure, authentication: [ { psk: bench } ] }
YAML
	printf 'bench = "%s"\n' "$IKEB_KEY" >"$1/secrets"
	chmod 600 "$1/secrets"
	echo "ikelogging = 0" >"$1/config"
}

# ikeb_xdpd_start DIR [CPU]: ipsec-xdpd in B (pinned to CPU when given,
# and real-time round-robin when IKEB_RT is set: then other work on that CPU
# cannot take it), logging to DIR/ipsec-xdpd.log; waits for its control
# socket.  IKEB_DH_REUSE_MS, when set, is its IPSEC_XDPD_DH_REUSE_MS (0: a
# new D-H value for every IKE_SA_INIT it answers, as charon does).
ikeb_xdpd_start() {
	local dir=$1 cpu=${2:-} i pin=() env=()
	[ -n "$cpu" ] && pin=(taskset -c "$cpu" ${IKEB_RT:+chrt -r 1})
	[ -n "${IKEB_DH_REUSE_MS:-}" ] && env=("IPSEC_XDPD_DH_REUSE_MS=$IKEB_DH_REUSE_MS")
	ip netns exec "$NS_B" "${pin[@]}" env "${env[@]}" "$IXDPD" -f -C "$dir" -R "$dir/run" \
		>"$dir/ipsec-xdpd.log" 2>&1 &
	IKEB_PIDS+=($!)
	for i in $(seq 1 50); do
		[ -S "$dir/run/ipsec-xdpd.sock" ] && return 0
		sleep 0.1
	done
	echo "ipsec-xdpd did not start:" >&2
	cat "$dir/ipsec-xdpd.log" >&2
	return 1
}

ikeb_stop() {
	local p
	for p in "${IKEB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${IKEB_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	IKEB_PIDS=()
}

# ikeb_xdpd_ctl DIR ARGS...: ipsec-xdp talking to that daemon.
ikeb_xdpd_ctl() {
	local dir=$1
	shift
	ip netns exec "$NS_B" env IPSEC_XDP_RUNDIR="$dir/run" "$IXDP" "$@"
}

# ikeb_load ARGS...: the generator in A, towards B's port 500, from the
# source addresses ikeb_addrs made (SCHED_RR with IKEB_RT); the JSON line
# on stdout.
ikeb_load() {
	ip netns exec "$NS_A" ${IKEB_RT:+chrt -r 1} "$IKE_LOAD" -t 10.77.0.2 -k "$IKEB_KEY" \
		-s "$IKEB_SRC" "$@"
}

# ---- strongSwan's charon as the responder -----------------------------------
# What MACHINE-NOTES.md found charon needs in a namespace: a private /run
# (unshare -m + tmpfs), its own strongswan.conf (STRONGSWAN_CONF), its vici
# socket there, no kernel-libipsec and no bypass-lan (an explicit plugin
# list).  OpenSSL does the crypto, as in ipsec-xdpd.  Logging: one file,
# level 0 (about what ipsec-xdpd writes at ikelogging 0), no syslog.
# Worker threads: charon's default (16).  Its DoS thresholds are set to
# ipsec-xdpd's (cookies above 100 half-open IKE SAs, at most 35 half-open
# per address); its defaults (10, 3 per address, 5) would have it ask most
# of the generator's slots for cookies, which is not what is compared.
# Its IKE SA table gets 1024 buckets (the default is 1, for small hosts):
# what its documentation advises under load; it changed little here.
CHARON=${CHARON:-/usr/lib/ipsec/charon}

ikeb_swan_conf() {	# DIR [CHILD: yes]
	mkdir -p "$1"
	cat >"$1/strongswan.conf" <<CONF
charon {
	load_modular = no
	load = random nonce openssl aes sha2 hmac gcm kdf kernel-netlink socket-default vici
	port = 500
	port_nat_t = 4500
	install_routes = no
	install_virtual_ip = no
	cookie_threshold = 100
	cookie_threshold_ip = 35
	block_threshold = 35
	ikesa_table_size = 1024
	plugins {
		vici { socket = unix://$1/charon.vici }
	}
	filelog {
		bench {
			path = $1/charon.log
			default = 0
		}
	}
	syslog { daemon { default = -1 } }
}
swanctl {
	load = pem pkcs1 pkcs8 x509 pubkey openssl random
}
CONF
	{
		echo "connections { bench {"
		echo "  version = 2"
		echo "  local_addrs = 10.77.0.2"
		echo "  remote_addrs = 10.77.0.0/24"
		echo "  proposals = $IKEB_SUITE"
		echo "  dpd_delay = 0"
		echo "  rekey_time = 0"
		echo "  local { auth = psk
    id = 10.77.0.2 }"
		echo "  remote { auth = psk }"
		if [ "${2:-}" = yes ]; then
			echo "  children { bench { mode = transport
    esp_proposals = aes256gcm16
    local_ts = dynamic
    remote_ts = dynamic } }"
		fi
		echo "} }"
		echo "secrets { ike-bench { secret = \"$IKEB_KEY\" } }"
	} >"$1/swanctl.conf"
}

ikeb_swanctl() {	# DIR ARGS...
	local dir=$1
	shift
	STRONGSWAN_CONF="$dir/strongswan.conf" swanctl "$@" --uri "unix://$dir/charon.vici"
}

# ikeb_swan_start DIR [CPU]: charon in B (pinned and IKEB_RT as above, all
# its threads), up once vici answers and the connection is loaded.
ikeb_swan_start() {
	local dir=$1 cpu=${2:-} i pin=()
	[ -n "$cpu" ] && pin=(taskset -c "$cpu" ${IKEB_RT:+chrt -r 1})
	ip netns exec "$NS_B" "${pin[@]}" unshare -m sh -c \
		'mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF="$1/strongswan.conf" "$2"' \
		sh "$dir" "$CHARON" >"$dir/charon.out" 2>&1 &
	IKEB_PIDS+=($!)
	for i in $(seq 1 900); do
		[ -S "$dir/charon.vici" ] && ikeb_swanctl "$dir" --stats >/dev/null 2>&1 && break
		sleep 0.1
	done
	ikeb_swanctl "$dir" --load-all --noprompt --file "$dir/swanctl.conf" \
		>"$dir/load.out" 2>&1 && return 0
	echo "charon did not start:" >&2
	tail -20 "$dir/charon.out" "$dir/load.out" "$dir/charon.log" >&2 2>/dev/null
	return 1
}

# ikeb_online_cpus: the online CPUs, one per line, from
# /sys/devices/system/cpu/online ("0-1", "0,2-3"): all of them, whatever
# the affinity of the caller (nproc only counts the CPUs it may run on).
ikeb_online_cpus() {
	local r a b
	tr ',' '\n' </sys/devices/system/cpu/online | while read -r r; do
		[ -n "$r" ] || continue
		a=${r%-*} b=${r#*-}
		seq "$a" "$b"
	done
}

# ikeb_cpu_ticks PID: user + system clock ticks of a process (all threads).
ikeb_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
