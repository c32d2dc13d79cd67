#!/usr/bin/env bash
# The Debian package (debian/): `dpkg-buildpackage -b -us -uc` makes a .deb
# from a copy of the tree (built once into $B/deb/ and made again only
# when a file of the tree is newer), whose contents are installed into a
# clean root that has nothing but the package and the shared libraries
# its Depends: name; there `ipsec-xdp --version` runs (chroot), and the
# units, manual pages, completion and example policy are in place.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
. "$TOP/tests/pkg/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (chroot)"; exit 77; }
command -v dpkg-buildpackage >/dev/null && dpkg-query -W debhelper >/dev/null 2>&1 ||
	{ echo "dpkg-dev and debhelper are missing (scripts/install-deps.sh)"; exit 1; }

DEBDIR=$TOP/$B/deb
VERSION=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
DEB=$DEBDIR/ipsec-xdp_${VERSION}_amd64.deb
T=$(mktemp -d /tmp/ixdp-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The tree's files (tracked or new, not ignored), for the copy.
tree_files() { git -C "$TOP" ls-files -co --exclude-standard | grep -v '^build'; }

# Stale: no package yet, or a file of the tree changed after it was made.
stale() {
	local newest
	[ -f "$DEB" ] || return 0
	newest=$(cd "$TOP" && tree_files | xargs -d '\n' stat -c %Y 2>/dev/null | sort -n | tail -1)
	[ "$newest" -ge "$(stat -c %Y "$DEB")" ]
}

build_deb() {
	local src=$T/src/ipsec-xdp-$VERSION
	mkdir -p "$src" "$DEBDIR"
	(cd "$TOP" && tree_files | tar -cf - -T -) | tar -xf - -C "$src"
	(cd "$src" && dpkg-buildpackage -b -us -uc -j2) >"$T/build.log" 2>&1 ||
		{ tail -30 "$T/build.log"; return 1; }
	mv "$T/src/ipsec-xdp_${VERSION}_amd64.deb" "$DEB"
}

if stale; then
	check "dpkg-buildpackage -b -us -uc builds the package" build_deb
else
	echo "# $DEB is newer than the tree: not built again"
fi
[ -f "$DEB" ] || { finish; exit 1; }

check "the package is ipsec-xdp $VERSION" \
	test "$(dpkg-deb -f "$DEB" Package Version | tr '\n' ' ')" = "Package: ipsec-xdp Version: $VERSION "

# A clean root: the package's files, then each shared library the programs
# load (and the loader), each of which must come from a package that
# Depends: names.
R=$T/root
dpkg-deb -x "$DEB" "$R"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
libs_of() { ldd "$1" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'; }
# The package that has LIB (dpkg knows /lib paths by their name before
# /usr was merged: try the path, its real path, and that without /usr).
pkg_of() {
	local real p
	real=$(readlink -f "$1")
	for p in "$1" "$real" "${real#/usr}"; do
		dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 | grep . && return 0
	done
	echo "?"
}
# Every library the programs load (with those they load in turn) into $R.
copy_libs() {
	local lib
	for lib in $(libs_of "$R/usr/sbin/ipsec-xdp") $(libs_of "$R/usr/sbin/ipsec-xdpd"); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib" || return 1
	done
}
# The libraries the programs name (DT_NEEDED) come from packages Depends:
# names (the others come with those packages' own dependencies).
needed_in_depends() {
	local prog so lib pkg
	for prog in ipsec-xdp ipsec-xdpd; do
		for so in $(readelf -d "$R/usr/sbin/$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			lib=$(ldd "$R/usr/sbin/$prog" | awk -v so="$so" '$1 == so {print $3}')
			pkg=$(pkg_of "$lib")
			case $pkg in libc6) continue ;; esac
			grep -qE "(^|, )$pkg( |,|$)" <<<"$DEPENDS" ||
				{ echo "$prog needs $so ($lib, package $pkg), not in Depends: $DEPENDS"; return 1; }
		done
	done
}
check "the libraries the programs need come from packages in Depends" needed_in_depends
check "the clean root gets the shared libraries" copy_libs
[ -e "$R/lib64" ] || ln -s usr/lib64 "$R/lib64" 2>/dev/null
check "ipsec-xdp --version runs in the clean root" \
	bash -c "chroot '$R' /usr/sbin/ipsec-xdp --version | grep -qx 'ipsec-xdp $VERSION'"
check "ipsec-xdpd --help runs in the clean root" \
	bash -c "chroot '$R' /usr/sbin/ipsec-xdpd --help | grep -q ipsec-xdpd"

for f in lib/systemd/system/ipsec-xdpd.service lib/systemd/system/ipsec-xdp@.service \
	 usr/lib/sysusers.d/ipsec-xdp.conf \
	 usr/share/man/man8/ipsec-xdp.8.gz usr/share/man/man8/ipsec-xdpd.8.gz \
	 usr/share/man/man5/ipsec-xdp.policy.5.gz \
	 usr/share/bash-completion/completions/ipsec-xdp \
	 usr/share/zsh/vendor-completions/_ipsec-xdp \
	 usr/share/doc/ipsec-xdp/examples/policy.yaml usr/share/doc/ipsec-xdp/copyright \
	 usr/share/ipsec-xdp/schemas/error.schema.json usr/share/ipsec-xdp/schemas/show-sa.schema.json; do
	check "the package has /$f" test -s "$R/$f"
done
check "the units start /usr/sbin's programs" \
	grep -qx 'ExecStart=/usr/sbin/ipsec-xdpd --foreground --user ipsec-xdp' "$R/lib/systemd/system/ipsec-xdpd.service"
check "the packaged units pass systemd-analyze verify" \
	bash -c "sed 's#/usr/sbin/#$R/usr/sbin/#' '$R/lib/systemd/system/ipsec-xdpd.service' >'$T/ipsec-xdpd.service' &&
		 systemd-analyze verify --man=no '$T/ipsec-xdpd.service'"
check "the manual page renders" bash -c "MANWIDTH=80 man -l '$R/usr/share/man/man8/ipsec-xdp.8.gz' 2>/dev/null | grep -q IPSEC_XDP_STATEDIR"
check "the example policy is valid" bash -c "IPSEC_XDP_CONFDIR='$T/conf' '$R/usr/sbin/ipsec-xdp' policy check '$R/usr/share/doc/ipsec-xdp/examples/policy.yaml'"
check "the packaged completion is the one the build made" \
	cmp "$R/usr/share/bash-completion/completions/ipsec-xdp" "$TOP/$B/completion/ipsec-xdp.bash"
check "installing creates the user ipsec-xdp (systemd-sysusers)" \
	bash -c "dpkg-deb -I '$DEB' postinst | grep -q 'systemd-sysusers.*ipsec-xdp.conf'"
check "installing neither enables nor starts the daemon" \
	bash -c "! dpkg-deb -I '$DEB' postinst | grep -qE 'systemctl.*start|deb-systemd-helper enable'\"'\"' *$'"
finish
