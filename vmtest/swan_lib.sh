# vmtest/swan_lib.sh - strongSwan's charon as the peer of ipsec-xdpd in the
# interop scenarios: its strongswan.conf, starting it in a namespace,
# loading a case's swanctl.conf, initiating, reading its SAs.
#
# One charon per directory DIR (its config, log and vici socket live there).
# What MACHINE-NOTES.md found it needs in a namespace: a private /run (its
# pid file; `unshare -m` + a tmpfs), STRONGSWAN_CONF for this instance, the
# vici socket in DIR (given to swanctl with --uri), no kernel-libipsec and
# no bypass-lan (an explicit plugin list, load_modular = no).  Needs
# Debian's libstrongswan-standard-plugins (openssl: ECP, X25519, ECDSA;
# gcm: AES-GCM in IKE).  Conns are reloaded (swanctl --load-all) between
# cases, charon is not restarted.
#
# SWAN_FRAGMENT_SIZE, when set: charon's fragment_size (the largest IP
# datagram of an IKE fragment, RFC 7383), small to make it fragment.
#
# Source after tests/ns/lib.sh and vmtest/ike_lib.sh; uses $T
# (swan_scenario_start makes it).

CHARON=${CHARON:-/usr/lib/ipsec/charon}
SWAN_PIDS=()

# swan_scenario_start: charon installed, then ike_scenario_start.
swan_scenario_start() {
	[ -x "$CHARON" ] || { echo "charon missing: scripts/install-deps.sh --vm"; exit 1; }
	ike_scenario_start
}

# swan_conf_write DIR: strongswan.conf for the charon and swanctl of DIR.
swan_conf_write() {
	mkdir -p "$1"
	cat >"$1/strongswan.conf" <<CONF
charon {
	load_modular = no
	load = random nonce openssl aes sha2 hmac gcm gmp kdf pem pkcs1 pkcs8 x509 pubkey constraints revocation kernel-netlink socket-default vici
	port = 500
	port_nat_t = 4500
	install_routes = no
	install_virtual_ip = no
	retransmit_timeout = 2
	retransmit_tries = 3
	keep_alive = 5
	${SWAN_FRAGMENT_SIZE:+fragment_size = $SWAN_FRAGMENT_SIZE}
	plugins {
		vici { socket = unix://$1/charon.vici }
	}
	filelog {
		swan {
			path = $1/charon.log
			default = 1
			ike = 2
			cfg = 2
			knl = 2
			enc = 1
			time_format = %T
			ike_name = yes
		}
	}
	syslog { daemon { default = -1 } }
}
swanctl {
	load = pem pkcs1 pkcs8 x509 pubkey openssl random
}
CONF
}

# swanctl_in DIR ARGS...: swanctl talking to DIR's charon.
swanctl_in() {
	local dir=$1
	shift
	STRONGSWAN_CONF="$dir/strongswan.conf" SWANCTL_DIR="$dir" \
		swanctl "$@" --uri "unix://$dir/charon.vici"
}

# swan_start NS DIR: charon in namespace NS, up once its vici socket
# answers (it took ~12 s under TCG; 90 s at most).
swan_start() {
	local ns=$1 dir=$2 i
	swan_conf_write "$dir"
	mkdir -p "$dir/x509" "$dir/x509ca" "$dir/private" "$dir/ecdsa"
	ip netns exec "$ns" unshare -m sh -c \
		'mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF="$1/strongswan.conf" "$2"' \
		sh "$dir" "$CHARON" >"$dir/charon.out" 2>&1 &
	SWAN_PIDS+=($!)
	for i in $(seq 1 900); do
		[ -S "$dir/charon.vici" ] && swanctl_in "$dir" --stats >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "charon did not start:"; tail -20 "$dir/charon.out" "$dir/charon.log" 2>/dev/null
	return 1
}

swan_stop() {
	local p
	for p in "${SWAN_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${SWAN_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	SWAN_PIDS=()
}

# swan_case DIR NAME: write DIR/swanctl.conf from stdin and load it: the
# connections and secrets it names replace those loaded before.
swan_case() {
	cat >"$1/swanctl.conf"
	echo "# charon: case $2" >>"$1/charon.log"
	swanctl_in "$1" --load-all --noprompt --file "$1/swanctl.conf" >"$1/load.out" 2>&1 || {
		cat "$1/load.out"
		return 1
	}
}

# swan_conn NAME LOCAL REMOTE MODE IKE_PROPOSAL ESP_PROPOSAL LOCAL_TS
# REMOTE_TS LOCAL_AUTH REMOTE_AUTH: one connection with one child NAME;
# the AUTHs are swanctl.conf lines of the local and remote sections.
swan_conn() {
	cat <<CONF
	$1 {
		version = 2
		local_addrs = $2
		remote_addrs = $3
		proposals = $5
		dpd_delay = 0
		rekey_time = 0
		local {
			$9
		}
		remote {
			${10}
		}
		children {
			$1 {
				mode = $4
				esp_proposals = $6
				local_ts = $7
				remote_ts = $8
				start_action = none
				rekey_time = 0
			}
		}
	}
CONF
}

# swan_psk_conn NAME LOCAL REMOTE MODE IKE ESP LOCAL_TS REMOTE_TS: PSK,
# identities by IP address.
swan_psk_conn() {
	swan_conn "$@" "auth = psk
			id = $2" "auth = psk
			id = $3"
}

# swan_cert_conn NAME LOCAL REMOTE MODE IKE ESP LOCAL_TS REMOTE_TS CERT:
# certificates (CERT: charon's, in DIR/x509; its key in DIR/private, the
# CA in DIR/x509ca), identities by IP address.
swan_cert_conn() {
	swan_conn "${@:1:8}" "auth = pubkey
			certs = $9
			id = $2" "auth = pubkey
			id = $3"
}

# swan_psk_secret LOCAL REMOTE KEY
swan_psk_secret() {
	cat <<CONF
	ike-lab {
		id-a = $1
		id-b = $2
		secret = "$3"
	}
CONF
}

# swan_pass_conn NAME LOCAL_TS REMOTE_TS: a bypass (clear) policy pair.
swan_pass_conn() {
	cat <<CONF
	$1 {
		children {
			$1 {
				mode = pass
				local_ts = $2
				remote_ts = $3
				start_action = trap
			}
		}
	}
CONF
}

# swan_initiate DIR CHILD: charon initiates the IKE SA and CHILD.
swan_initiate() {
	swanctl_in "$1" --initiate --child "$2" --timeout 30 >"$1/initiate.out" 2>&1
}

# swan_sas DIR: the SAs as swanctl's raw vici text (one line per event).
swan_sas() { swanctl_in "$1" --list-sas --raw 2>/dev/null; }

# swan_field DIR KEY: the first value of KEY in the raw SA list
# (state, initiator-spi, responder-spi, spi-in, spi-out, mode, encr-alg,
# dh-group, nat-local, nat-remote, encap, remote-port...).
swan_field() {
	swan_sas "$1" | grep -o "\b$2=[^ }]*" | head -1 | cut -d= -f2
}

# swan_count DIR: how many IKE SAs charon has (one raw event line each).
swan_count() { swan_sas "$1" | grep -c '^list-sa event'; }

# swan_wait DIR N: until DIR's charon has N IKE SAs (30 s at most: a
# loaded machine or TCG is slow, a wrong count never comes).
swan_has() { [ "$(swan_count "$1")" = "$2" ]; }
swan_wait() { wait_until 30 swan_has "$@"; }

# swan_clear DIR: terminate every IKE SA of DIR's charon (the first
# uniqueid of an event line is the IKE SA's).
swan_clear() {
	local id
	for id in $(swan_sas "$1" | sed -n 's/^list-sa event {[^ ]* {uniqueid=\([0-9]*\).*/\1/p'); do
		swanctl_in "$1" --terminate --ike-id "$id" --force --timeout 5 >/dev/null 2>&1
	done
}

# swan_case_conf MODE IKE ESP LOCAL REMOTE KEY [CERT]: connection "xdp" (PSK
# by address, or with CERT (a file name in x509/) certificates; transport
# between the hosts, or tunnel 10.78.2.0/24 (ours) <-> 10.78.1.0/24), and
# the bypass of tcp 8080 (our port) from anywhere.
swan_case_conf() {
	local lts=dynamic rts=dynamic
	[ "$1" = tunnel ] && lts=10.78.2.0/24 rts=10.78.1.0/24
	echo "connections {"
	if [ -n "${7:-}" ]; then
		swan_cert_conn xdp "$4" "$5" "$1" "$2" "$3" $lts $rts "$7"
	else
		swan_psk_conn xdp "$4" "$5" "$1" "$2" "$3" $lts $rts
	fi
	swan_pass_conn web "$4[tcp/8080]" "0.0.0.0/0[tcp]"
	echo "}"
	echo "secrets {"
	swan_psk_secret "$5" "$4" "$6"
	echo "}"
}
