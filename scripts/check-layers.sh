#!/usr/bin/env bash
# Check that #include arrows between source folders point down only, that
# each layer folder's files share its prefix (lib/policy/policy_*.c), and
# that no product C file is over 1200 lines.
#
#   scripts/check-layers.sh          list each folder-to-folder edge, fail on
#                                    an upward one (exit 1)
#
# The layers, bottom first (docs/layout.md):
#   include/                          the ABI and control vocabulary
#   lib/util < lib/policy < lib/compile < lib/dataplane < lib/agent
#   ike/wire < ike/kernel < ike/sa < ike/daemon
#   ctl/ uses include/ and lib/ only, never ike/.
# A folder may include its own headers and any lower layer's.  Includes are
# written by path ("policy/policy.h" from -Ilib, "sa/sa_ikesa.h" from -Iike);
# a bare name is the file's own folder, include/ or a generated BPF
# skeleton (bpf/, built into $B).
set -u
cd "$(dirname "$0")/.." || exit 2

rank() {
	case $1 in
	include) echo 0 ;;
	lib/util) echo 10 ;; lib/policy) echo 11 ;; lib/compile) echo 12 ;;
	lib/dataplane) echo 13 ;; lib/agent) echo 14 ;;
	ike/wire) echo 20 ;; ike/kernel) echo 21 ;; ike/sa) echo 22 ;;
	ike/daemon) echo 23 ;;
	ctl) echo 30 ;;
	*) echo -1 ;;
	esac
}

# The folder an include names, seen from the file's folder.
target_of() {
	local from=$1 inc=$2 top=${1%%/*}
	case $inc in
	*/*)	if [ -e "lib/$inc" ]; then dirname "lib/$inc"
		elif [ -e "ike/$inc" ]; then dirname "ike/$inc"
		else echo "?"; fi ;;
	*)	if [ -e "$from/$inc" ]; then echo "$from"
		elif [ -e "include/$inc" ] || [ "${inc%.skel.h}" != "$inc" ]; then echo include
		else echo "?"; fi ;;
	esac
}

bad=0
edges=$(
	find lib ike ctl include -name '*.[ch]' | sort |
	while read -r f; do
		from=$(dirname "$f")
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
		while read -r inc; do
			to=$(target_of "$from" "$inc")
			[ "$to" = "$from" ] && continue
			echo "$from -> $to ($f: $inc)"
		done
	done
)
while read -r from arrow to rest; do
	[ -n "${from:-}" ] || continue
	rf=$(rank "$from") rt=$(rank "$to")
	if [ "$to" = "?" ] || [ "$rf" -lt 0 ] || [ "$rt" -lt 0 ]; then
		echo "unknown layer: $from -> $to $rest"; bad=1
	elif [ "$rt" -gt "$rf" ] || { [ "$from" = ctl ] && [ "${to%%/*}" = ike ]; }; then
		echo "upward: $from -> $to $rest"; bad=1
	fi
done <<<"$edges"
echo "$edges" | awk '{print $1, $2, $3}' | sort | uniq -c | sed 's/^ */  /'
# Every file of a layer folder is named after it: lib/dataplane/dataplane*.
for dir in lib/* ike/*; do
	[ -d "$dir" ] || continue
	prefix=${dir##*/}
	for f in "$dir"/*.[ch]; do
		case ${f##*/} in
		"$prefix"*) ;;
		*) echo "misnamed: $f (the files of $dir/ start with $prefix)"; bad=1 ;;
		esac
	done
done
# A file over 1200 lines holds more than one job (docs/layout.md).
while read -r n f; do
	[ "$f" = total ] && continue
	[ "$n" -gt 1200 ] && { echo "too long: $f ($n lines, at most 1200)"; bad=1; }
done < <(find lib ike ctl bpf -name '*.c' -print0 | xargs -0 wc -l)
if [ $bad -ne 0 ]; then
	echo "check-layers: FAIL (an include points up, a file misnamed or too long; see docs/layout.md)"
	exit 1
fi
echo "check-layers: ok"
