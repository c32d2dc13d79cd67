#!/usr/bin/env bash
# Install the host build+test dependencies; with --vm also the pieces for the
# VM tests (bookworm-backports kernel, virtme-ng from trixie, qemu, strongSwan).
# Also creates the system user ipsec-xdp (systemd/ipsec-xdp.sysusers).
# Idempotent: when everything is present it neither writes nor calls apt-get.
set -euo pipefail

HOST_PKGS=(clang llvm libbpf-dev bpftool libnl-3-dev libnl-route-3-dev
	libnl-xfrm-3-dev libcmocka-dev libyaml-dev libevent-dev libjson-c-dev
	libssl-dev libcurl4-openssl-dev libseccomp-dev pkg-config make gcc iproute2 nftables iputils-ping
	netcat-openbsd tcpdump python3 libclang-rt-14-dev libsystemd-dev systemd
	zsh dpkg-dev debhelper man-db python3-prometheus-client curl)
# (python3-prometheus-client, curl: tests/ns/test_metrics.sh parses and scrapes the metrics,
# run with /usr/bin/python3; zsh: the completion test; dpkg-dev, debhelper: the Debian package,
# `dpkg-buildpackage -b` in tests/pkg/test_deb.sh; util-linux's setpriv,
# always there, plays systemd's part in tests/ns/test_units.sh.)
# vng builds its initramfs around a busybox binary and fails without one
# (virtme-ng does not even recommend it).  strongSwan's standard plugins
# (openssl, gcm: ECP and X25519 groups, AES-GCM in IKE, ECDSA) are only
# recommended by strongswan-charon, and the interop scenarios need them.
VM_BOOKWORM_PKGS=(qemu-system-x86 busybox-static strongswan-charon strongswan-swanctl
	libstrongswan-standard-plugins)

SRC_DIR=/etc/apt/sources.list.d
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
URI=http://deb.debian.org/debian # same mirror as the image's debian.sources

say() { echo "install-deps: $*"; }
die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

want_vm=0
case "${1:-}" in
	"") ;;
	--vm) want_vm=1 ;;
	*) die "usage: $0 [--vm]" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install)"
export DEBIAN_FRONTEND=noninteractive

# Print the packages of "$@" that are not installed.
missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			echo "$p"
	done
}

updated=0
apt_update() {
	[ "$updated" -eq 1 ] && return 0
	say "apt-get update"
	apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
	updated=1
}

# Write $1 with content $2 only when it differs; forces a later apt-get update.
put_file() {
	if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
		say "writing $1"
		printf '%s\n' "$2" >"$1"
		updated=0
	fi
}

# apt/dpkg chatter goes to a log that is shown only when the install fails.
apt_install() {
	local log
	log=$(mktemp)
	say "installing: $*"
	if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -f "$log"
		die "apt-get install $* failed"
	fi
	rm -f "$log"
}
# python3-jsonschema: tests/ns/test_json_schema.sh validates every -j output
# against schemas/ (with /usr/bin/python3).
HOST_PKGS+=(python3-jsonschema)

# ---- host -------------------------------------------------------------------
mapfile -t miss < <(missing "${HOST_PKGS[@]}")
if [ "${#miss[@]}" -eq 0 ]; then
	say "host packages: all installed"
else
	apt_update
	apt_install "${miss[@]}"
fi

# The user of `ipsec-xdpd --user ipsec-xdp` (tests/ns/test_ike_privsep.sh),
# as the package makes it: from systemd/ipsec-xdp.sysusers, or with
# useradd where systemd-sysusers is missing.
SYSUSERS=$(cd "$(dirname "$0")/.." && pwd)/systemd/ipsec-xdp.sysusers
if getent passwd ipsec-xdp >/dev/null; then
	say "user ipsec-xdp: there"
elif command -v systemd-sysusers >/dev/null; then
	say "creating the user ipsec-xdp (systemd-sysusers)"
	systemd-sysusers "$SYSUSERS" || die "systemd-sysusers $SYSUSERS failed"
else
	say "creating the user ipsec-xdp (useradd)"
	useradd --system --user-group --no-create-home --home-dir / \
		--shell /usr/sbin/nologin --comment "ipsec-xdp IKEv2 daemon (network process)" \
		ipsec-xdp || die "useradd ipsec-xdp failed"
fi
getent passwd ipsec-xdp >/dev/null || die "the user ipsec-xdp was not created"
[ "$want_vm" -eq 1 ] || exit 0

# ---- VM ---------------------------------------------------------------------
put_file "$SRC_DIR/bookworm-backports.sources" "Types: deb
URIs: $URI
Suites: bookworm-backports
Components: main
Signed-By: $KEYRING"
put_file "$SRC_DIR/trixie.sources" "Types: deb
URIs: $URI
Suites: trixie
Components: main
Signed-By: $KEYRING"
# Priority 100 (below bookworm's 500): nothing is taken from trixie unless
# asked for by name, so libc, systemd and python stay bookworm's.
put_file /etc/apt/preferences.d/trixie-pin "Package: *
Pin: release n=trixie
Pin-Priority: 100"

# The backports kernel (6.12) that has ESP, xfrm interfaces and the xfrm kfuncs.
if compgen -G '/boot/vmlinuz-6.12*' >/dev/null; then
	# shellcheck disable=SC2012 # plain names; ls -v sorts versions
	say "backports kernel: $(ls -v /boot/vmlinuz-6.12* | tail -n1)"
else
	apt_update
	apt_install linux-image-amd64/bookworm-backports
	compgen -G '/boot/vmlinuz-6.12*' >/dev/null ||
		die "linux-image-amd64/bookworm-backports installed no /boot/vmlinuz-6.12*"
fi

mapfile -t miss < <(missing "${VM_BOOKWORM_PKGS[@]}")
if [ "${#miss[@]}" -gt 0 ]; then
	apt_update
	apt_install "${miss[@]}"
else
	say "qemu, busybox, strongSwan: installed"
fi

if [ -z "$(missing virtme-ng)" ]; then
	say "virtme-ng: installed"
else
	apt_update
	# Dry run first: refuse if anything besides virtme-ng itself would come
	# from trixie (e.g. a libc or python upgrade).
	sim=$(apt-get -s install --no-install-recommends virtme-ng/trixie qemu-system-x86) ||
		die "apt-get -s install virtme-ng/trixie failed"
	say "would install:"
	grep '^Inst ' <<<"$sim" | sed 's/^/    /'
	extra=$(grep '^Inst ' <<<"$sim" | grep -v '^Inst virtme-ng ' |
		grep -E 'Debian(-Security)?:13|trixie' || true)
	[ -z "$extra" ] || die "virtme-ng/trixie would pull more from trixie:
$extra"
	apt_install virtme-ng/trixie qemu-system-x86
fi
command -v vng >/dev/null || die "vng not found after installing virtme-ng"
say "done"
