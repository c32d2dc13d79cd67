#!/usr/bin/env bash
# The central policy (ipsec-xdpd(8) "CENTRAL POLICY", docs/behaviour.md
# §8): ipsec-xdpd in A polls a real https server (python3's http.server
# with a certificate from a CA made here, on A's loopback, a port of this
# run) for a signed policy document, and every verdict is checked on real
# packets between A and B:
#   - the central policy takes precedence over the local one, and
#     `policy apply` is refused while it is in force;
#   - a change at the source is enforced with no command (polling);
#   - a bad signature and an invalid document are refused and logged, and
#     the policy in force stays;
#   - with the server down the cached policy stays, also across a restart
#     of ipsec-xdpd (run then as the user ipsec-xdp, --user: STATEDIR/central
#     becomes its own, it reads the cache root's daemon wrote and writes the
#     state), and `status` says the cache is in use.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v openssl >/dev/null || { echo "needs openssl"; exit 77; }
getent passwd ipsec-xdp >/dev/null ||
	{ echo "needs the user ipsec-xdp (make deps creates it: scripts/install-deps.sh)"; exit 1; }

SPID=
stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
}
trap 'rc=$?; stop_daemon; stop_server; (exit $rc); ns_teardown' EXIT

# ---- a CA, the server's certificate, the signer's key ------------------------
K=$T/keys
mkdir -p "$K" "$T/www"
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$K/ca.key" -out "$K/ca.pem" -days 2 \
		-subj "/CN=ipsec-xdp test CA $NS_ID"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$K/srv.key" -out "$K/srv.csr" -subj "/CN=127.0.0.1"
	printf 'subjectAltName=IP:127.0.0.1\n' >"$K/ext"
	openssl x509 -req -in "$K/srv.csr" -CA "$K/ca.pem" -CAkey "$K/ca.key" \
		-CAcreateserial -days 2 -extfile "$K/ext" -out "$K/srv.pem"
	# the signer, and a key nobody trusts
	openssl genpkey -algorithm ed25519 -out "$K/sign.key"
	openssl pkey -in "$K/sign.key" -pubout -out "$K/sign.pub"
	openssl genpkey -algorithm ed25519 -out "$K/other.key"
} >"$T/openssl.log" 2>&1 || { echo "openssl failed:"; cat "$T/openssl.log"; exit 1; }

# a port of this run on A's loopback (the namespace is this run's alone)
PORT=$((20000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT/policy.yaml
start_server() {
	ip netns exec "$NS_A" python3 -c '
import http.server, ssl, sys, functools
port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
s = http.server.HTTPServer(("127.0.0.1", port), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(cert, key)
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()' "$PORT" "$T/www" "$K/srv.pem" "$K/srv.key" >>"$T/www.log" 2>&1 &
	SPID=$!
	wait_listen "$NS_A" tcp "$PORT"
}

policy() { # NAME ACTION: one rule on the traffic to B, polled every 5 s
	printf 'filter-lists:\n  b: { filters: [ { src: me, dst: 10.77.0.2 } ] }\n'
	printf 'policies:\n  %s:\n    polling-interval: 5\n' "$1"
	printf '    rules:\n      - { name: r-%s, filter-list: b, action: %s }\n' "$1" "$2"
}
policy local-open permit >"$T/local.yaml"
policy central-closed block >"$T/closed.yaml"
policy central-open permit >"$T/open.yaml"
printf 'policies:\n  broken:\n    rules:\n      - { name: x, filter-list: nowhere, action: block }\n' >"$T/bad.yaml"

# publish FILE [KEY]: its signature first, then the document, each by
# rename; the document's time is new each time (http.server's Last-Modified
# has whole seconds: two versions in one second would look unchanged).
MTIME=$(date +%s)
publish() {
	local key=${2:-$K/sign.key}
	openssl pkeyutl -sign -inkey "$key" -rawin -in "$1" -out "$T/www/.sig" &&
		mv -f "$T/www/.sig" "$T/www/policy.yaml.sig" &&
		cp "$1" "$T/www/.doc" && MTIME=$((MTIME + 10)) &&
		touch -d "@$MTIME" "$T/www/.doc" &&
		mv -f "$T/www/.doc" "$T/www/policy.yaml"
}

blocked() { ! ping_a_to_b; }
src() { ixr -j status | json_get "d['policy_source']$1"; }
agent() { ixr -j status | json_get "d['agent']$1"; }
in_force_is() { [ "$(agent "['in_force']['sha256']")" = "$(sha256sum <"$1" | cut -d' ' -f1)" ]; }
result_has() { src "['last_result']" | grep -q -- "$1"; }
cache_in_use() { [ "$(src "['cache_in_use']")" = True ]; }

check "load on A" ixa load "$IF_A" --xdp-mode "$XDP_MODE"
check "apply the local policy (it permits A to B)" ixr policy apply "$T/local.yaml"
check "A reaches B under the local policy" ping_a_to_b
check "the https server starts" start_server
check "publish the closed central policy" publish "$T/closed.yaml"
check "set config policysourcekey" ixr set config policysourcekey "$K/sign.pub"
check "set config policysourceca" ixr set config policysourceca "$K/ca.pem"
refute "set config policysource http:// is refused" \
	ixr set config policysource "http://127.0.0.1:$PORT/policy.yaml"
check "set config policysource" ixr set config policysource "$URL"
check_eq "show config shows the source" "$URL" "$(ixr -j show config | json_get 'd["policysource"]')"
check_eq "show config shows its key" "$K/sign.pub" "$(ixr -j show config | json_get 'd["policysourcekey"]')"

# 1. precedence: the central policy, not the local one
check "start ipsec-xdpd" start_daemon
check "the central policy is enforced over the local one: A cannot reach B" \
	wait_until 20 blocked
check "status: the central policy is in force (its sha256)" in_force_is "$T/closed.yaml"
check_eq "status: the source" "$URL" "$(src "['url']")"
check_eq "status: the central policy is in force" True "$(src "['in_force']")"
check_eq "status: the cache is not in use" False "$(src "['cache_in_use']")"
check "status: a last fetch and a last change" \
	test "$(src "['last_fetch']")" -gt 0 -a "$(src "['last_change']")" -gt 0
status_schema_ok() {
	ixr -j status >"$T/status.json"
	/usr/bin/python3 "$TOP/tests/lib/json_schema_check.py" \
		"$TOP/schemas/status.schema.json" <"$T/status.json"
}
check "status -j with a policy source matches schemas/status.schema.json" status_schema_ok
status_text_has() { ixr status | grep -q -- "$1"; }
check "status text shows the source" status_text_has "policy source: $URL"
check "status text: in force, the cache not in use" status_text_has "cache in use: no"
out=$(ixr policy apply "$T/local.yaml" 2>&1)
check "policy apply is refused while the central policy is in force" test $? -ne 0
check "... with a clear error" grep -q "central policy from $URL is in force" <<<"$out"
check "... and A still cannot reach B" blocked
refute "policy unassign is refused too" ixr policy unassign
check "the cache holds the document" cmp -s "$T/closed.yaml" "$T/confA/state/central/policy.yaml"

# 2. a change at the source, no command: enforced by the polling
published=$(date +%s)
publish "$T/open.yaml"
check "a change at the source is enforced: A reaches B" wait_until 20 ping_a_to_b
check "status: the new document is in force" in_force_is "$T/open.yaml"
check "status: the last change is the new document's (not before it was published)" \
	test "$(src "['last_change']")" -ge "$published"

# 3. a bad signature: refused, logged, the policy in force stays
publish "$T/closed.yaml" "$K/other.key"
kill -HUP "$DPID"	# a reload polls at once
check "a bad signature is refused (status)" wait_until 20 result_has "bad signature"
check "... and logged" grep -q "refused: bad signature" "$T/d.log"
check "... the policy in force stays: A reaches B" ping_a_to_b
check "... status: the open document is in force" in_force_is "$T/open.yaml"
check "... the cache keeps the open document" cmp -s "$T/open.yaml" "$T/confA/state/central/policy.yaml"

# 4. an invalid document, correctly signed: refused, the policy stays
publish "$T/bad.yaml"
kill -HUP "$DPID"
check "an invalid document is refused (status)" wait_until 20 result_has "refused:.*nowhere"
check "... and logged" grep -q "central policy from $URL refused:.*nowhere" "$T/d.log"
check "... the policy in force stays: A reaches B" ping_a_to_b
check "... the cache keeps the open document" cmp -s "$T/open.yaml" "$T/confA/state/central/policy.yaml"

# 5. the server down: the cache
publish "$T/closed.yaml"
kill -HUP "$DPID"
check "the closed document is enforced again: A cannot reach B" wait_until 20 blocked
stop_server
kill -HUP "$DPID"
check "server down: status says the cache is in use" wait_until 20 cache_in_use
check "... the cached policy stays: A cannot reach B" blocked
check "... status: the last poll names the failure" result_has "unreachable"
check "... status text: from the cache" status_text_has "cache in use: yes"
stop_daemon
lines=$(wc -l <"$T/d.log")
chmod 0711 "$T"		# (the user reaches CONFDIR and the keys)
IXDPD_ARGS=(--user ipsec-xdp)
check "ipsec-xdpd starts again, as the user ipsec-xdp, the server still down" start_daemon
IXDPD_ARGS=()
check_eq "its network process runs as ipsec-xdp" "$(id -u ipsec-xdp)" "$(status "$DPID" Uid)"
check_eq "STATEDIR/central and the cache in it are the user's" ipsec-xdp \
	"$(stat -c %U "$T/confA/state/central" "$T/confA/state/central/"* | sort -u)"
check "after a restart, the cache is in use" wait_until 20 cache_in_use
state_by_daemon() { grep -qx "pid = $DPID" "$T/confA/state/central/state"; }
check "the daemon run as the user writes the central policy's state" wait_until 20 state_by_daemon
check "... and enforced over the local policy: A cannot reach B" blocked
check "... status: the cached document is in force" in_force_is "$T/closed.yaml"
check "... the local policy was never put in force on the way" \
	test "$(tail -n +"$((lines + 1))" "$T/d.log" | grep -c "policy agent: $T/confA/policy.yaml: policy")" = 0

# 6. the source removed: the local policy again
check "set config policysource none" ixr set config policysource none
check "the local policy is enforced again: A reaches B" wait_until 20 ping_a_to_b
check "status: the local policy is in force" in_force_is "$T/local.yaml"
check "policy apply works again" ixr policy apply "$T/local.yaml"

[ "$FAILS" -eq 0 ] || { echo "# ipsec-xdpd's log:"; tail -40 "$T/d.log" | sed 's/^/# /'; }
finish
