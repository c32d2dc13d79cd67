#!/usr/bin/env bash
# ipsec-xdpd under systemd (systemd/ipsec-xdpd.service, Type=notify): the
# unit file is valid; the daemon says READY=1 once its sockets are open,
# RELOADING=1 then READY=1 around a reload (SIGHUP, as `systemctl reload`
# sends), with a STATUS naming a failed reload that keeps the policy in
# force, and STOPPING=1 on SIGTERM, after which it exits 0.  systemd's
# notification socket is played by a small listener; no systemd needed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ike_lib.sh"

UNIT=$TOP/systemd/ipsec-xdpd.service
sed "s#/usr/sbin/ipsec-xdpd#$IXDPD#" "$UNIT" >"$T/ipsec-xdpd.service"
check "the unit file passes systemd-analyze verify" \
	systemd-analyze verify --man=no "$T/ipsec-xdpd.service"
check "the unit is Type=notify and reloads with SIGHUP" \
	grep -qzE 'Type=notify.*ExecReload=/bin/kill -HUP \$MAINPID' "$UNIT"

# The notification socket: every datagram, one line each ('|' for '\n').
python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
out=open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")' \
	"$T/notify.sock" "$T/notify.log" &
LISTENER=$!
for i in $(seq 1 30); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
trap 'rc=$?; kill $LISTENER 2>/dev/null; stop_daemons; (exit $rc); ns_teardown' EXIT

# notified N PATTERN: the Nth message (1-based) matches PATTERN (5 s).
notified() {
	local i
	for i in $(seq 1 50); do
		sed -n "${1}p" "$T/notify.log" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.1
	done
	echo "message $1 is not '$2':"; cat "$T/notify.log"
	return 1
}

mkdir -p "$T/confA"
cat >"$T/confA/policy.yaml" <<'YAML'
filter-lists:
  peer: { filters: [ { src: me, dst: 10.77.0.2 } ] }
filter-actions:
  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }
policies:
  lab:
    rules:
      - { name: to-peer, filter-list: peer, action: secure,
          authentication: [ { psk: lab } ] }
YAML
printf 'lab = "correct horse battery staple"\n' >"$T/confA/secrets"
chmod 600 "$T/confA/secrets"

NOTIFY_SOCKET=$T/notify.sock start A "$NS_A" "$T/confA" "$T/runA" || exit 1
pid=${PIDS[0]}
check "READY=1 once the sockets are open" notified 1 '^READY=1|STATUS=listening on UDP 500 and 4500$'

kill -HUP "$pid"
check "a reload: RELOADING=1" notified 2 '^RELOADING=1$'
check "then READY=1, the policy reloaded" notified 3 '^READY=1|STATUS=policy reloaded$'

echo "policies: [ this is not a policy" >"$T/confA/policy.yaml"
kill -HUP "$pid"
check "a failed reload: RELOADING=1" notified 4 '^RELOADING=1$'
check "then READY=1, the STATUS says it failed and what stays" \
	notified 5 '^READY=1|STATUS=reload failed, what was in force stays: .*policy.yaml'
check "the daemon still answers" xa show sa

kill -TERM "$pid"
wait "$pid"
check_eq "SIGTERM: exit status 0" 0 "$?"
PIDS=()
check "SIGTERM: STOPPING=1" notified 6 '^STOPPING=1$'
finish
