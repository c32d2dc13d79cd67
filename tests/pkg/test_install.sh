#!/usr/bin/env bash
# `make install` honours DESTDIR and PREFIX: everything lands under the
# staging root, in PREFIX's layout, and the units name the programs where
# they were put.  Nothing outside the staging root is written.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
. "$TOP/tests/pkg/lib.sh"

D=$(mktemp -d /tmp/ixdp-install.XXXXXX)
trap 'rm -rf "$D"' EXIT

# install_into ROOT PREFIX [VAR=VALUE...]
install_into() {
	local root=$1 prefix=$2
	shift 2
	make -s -C "$TOP" B="$B" install DESTDIR="$root" PREFIX="$prefix" "$@" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log"; return 1; }
}

check "make install DESTDIR=... PREFIX=/usr" install_into "$D/usr" /usr
for f in sbin/ipsec-xdp sbin/ipsec-xdpd share/man/man8/ipsec-xdp.8 \
	 share/man/man8/ipsec-xdpd.8 share/man/man5/ipsec-xdp.policy.5 \
	 lib/systemd/system/ipsec-xdpd.service lib/systemd/system/ipsec-xdp@.service \
	 lib/sysusers.d/ipsec-xdp.conf \
	 share/bash-completion/completions/ipsec-xdp share/zsh/site-functions/_ipsec-xdp \
	 share/doc/ipsec-xdp/examples/policy.yaml \
	 share/doc/ipsec-xdp/examples/predefined/client-respond-only.yaml \
	 share/doc/ipsec-xdp/examples/predefined/server-request-security.yaml \
	 share/doc/ipsec-xdp/examples/predefined/secure-server-require-security.yaml \
	 share/ipsec-xdp/schemas/error.schema.json share/ipsec-xdp/schemas/status.schema.json; do
	check "PREFIX=/usr: /usr/$f" test -s "$D/usr/usr/$f"
done
check "the programs are executable" test -x "$D/usr/usr/sbin/ipsec-xdp" -a -x "$D/usr/usr/sbin/ipsec-xdpd"
check "the staged ipsec-xdp runs" bash -c "'$D/usr/usr/sbin/ipsec-xdp' --version | grep -qx 'ipsec-xdp [0-9.]*'"
check "the units start /usr/sbin's programs" \
	grep -qx 'ExecStart=/usr/sbin/ipsec-xdpd --foreground --user ipsec-xdp' "$D/usr/usr/lib/systemd/system/ipsec-xdpd.service"
check "the sysusers file declares the user ipsec-xdp" \
	grep -q '^u ipsec-xdp ' "$D/usr/usr/lib/sysusers.d/ipsec-xdp.conf"
check "nothing outside PREFIX" bash -c "[ \"\$(ls '$D/usr')\" = usr ]"

check "make install DESTDIR=... (PREFIX defaults to /usr/local)" install_into "$D/local" /usr/local
check "PREFIX=/usr/local: the programs in /usr/local/sbin" test -x "$D/local/usr/local/sbin/ipsec-xdpd"
check "PREFIX=/usr/local: the units start /usr/local/sbin's programs" \
	grep -q '^ExecStart=/usr/local/sbin/ipsec-xdp load %i$' "$D/local/usr/local/lib/systemd/system/ipsec-xdp@.service"
check "the directories can be set one by one (UNITDIR)" \
	install_into "$D/deb" /usr UNITDIR=/lib/systemd/system ZSHCOMPDIR=/usr/share/zsh/vendor-completions
check "UNITDIR=/lib/systemd/system" test -s "$D/deb/lib/systemd/system/ipsec-xdpd.service"
check "ZSHCOMPDIR" test -s "$D/deb/usr/share/zsh/vendor-completions/_ipsec-xdp"
finish
