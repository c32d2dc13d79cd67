#!/usr/bin/env bash
# Run a command inside a throwaway VM (virtme-ng, Debian backports kernel 6.12)
# and exit with the command's exit code.
#
#   vmtest/vm.sh CMD [ARG...]      e.g. vmtest/vm.sh bash vmtest/smoke.sh
#
# One argument is taken as a shell command line; several are quoted word by
# word. The guest sees the host's root fs READ-ONLY and starts in the current
# directory, so relative paths and the project's build output work. Its /tmp
# is an overlay of the host's: guest writes there never reach the host. To
# get files out, name host directories in VMTEST_RWDIR.
# Env: VMTEST_TIMEOUT  seconds, default 600
#      VMTEST_RWDIR    space-separated existing host dirs, writable in the
#                      guest at the same path (e.g. a mktemp -d of the caller)
#      VMTEST_KERNEL   default: newest /boot/vmlinuz-6.12*
#      VMTEST_VNG_ARGS extra vng args, word-split (e.g. --qemu-opts="-cpu max")
#      VMTEST_LOCK     lock file that serializes guests (default /tmp/ipsec-xdp-vm.lock)
#      VMTEST_LOCK_WAIT seconds to wait for that lock at most (the default,
#                      3600 s, is 6 * (VMTEST_TIMEOUT + 15) - 90: a few guests)
set -euo pipefail

die() { echo "vm.sh: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: $0 CMD [ARG...]"
if [ $# -eq 1 ]; then
	cmd=$1
else
	cmd=$(printf '%q ' "$@")
fi

# shellcheck disable=SC2012 # names are plain; ls -v sorts versions
kernel=${VMTEST_KERNEL:-$(ls -v /boot/vmlinuz-6.12* 2>/dev/null | tail -n1)}
[[ -n $kernel && -r $kernel ]] ||
	die "no /boot/vmlinuz-6.12* kernel found: run scripts/install-deps.sh --vm"
command -v vng >/dev/null || die "vng not found: run scripts/install-deps.sh --vm"

timeout_s=${VMTEST_TIMEOUT:-600}
rw=()
for d in ${VMTEST_RWDIR:-}; do
	[ -d "$d" ] || die "VMTEST_RWDIR: $d is not a directory"
	d=$(realpath "$d")
	# GUEST=HOST form: vng 1.35 rejects the short form unless run from /.
	rw+=("--rwdir=$d=$d")
done
# Always TCG: /dev/kvm exists here but guests hang under it.
# vng itself returns the guest command's exit code (it is passed back over a
# virtio serial port), or 255 when the guest dies without one (e.g. a panic).
# stdin: vng forwards it into the guest; unless we are interactive give it
# /dev/null so a guest never eats the caller's input or waits on it.
# timeout signals its whole process group, so qemu goes down with vng.
[ -t 0 ] || exec </dev/null
# One guest at a time on this machine: two TCG guests on two cores slow each
# other past the scenarios' timeouts.  The lock is dropped when we exit.
# Another run of the suite waits here for the guest of this one (each run
# takes the lock per guest, so two runs take turns guest by guest); the wait
# is bounded (by default an hour: the guests of a few other runs, each at
# most its timeout).
lock=${VMTEST_LOCK:-/tmp/ipsec-xdp-vm.lock}
lock_wait=${VMTEST_LOCK_WAIT:-$((6 * (timeout_s + 15) - 90))}
exec 9>"$lock"
if ! flock -n 9; then
	echo "vm.sh: waiting for another guest to finish ($lock, ${lock_wait}s at most)" >&2
	flock -w "$lock_wait" 9 ||
		die "gave up after ${lock_wait}s waiting for $lock (VMTEST_LOCK_WAIT)"
	echo "vm.sh: got $lock" >&2
fi
start=$(date +%s)
# Output goes through a pipe: qemu reopens /proc/self/fd/1 and 2 as files
# with O_TRUNC, so when they are a log file it overwrites what was written
# before (also by the caller). The guest's stderr comes out on stdout.
set +e
guest_log=$(mktemp /tmp/ixdp-vmguest.XXXXXX)
trap 'rm -f "$guest_log"' EXIT
run_guest() {
	# shellcheck disable=SC2086
	timeout -k 15 "$timeout_s" vng --run "$kernel" --disable-kvm --memory 2G --cpus 2 \
		"${rw[@]}" ${VMTEST_VNG_ARGS:-} --exec "$cmd" 2>&1 | tee "$guest_log"
	return "${PIPESTATUS[0]}"
}
# A failed check in the guest's output ("not ok", "FAIL"): then the test
# failed, whatever became of the guest afterwards.
failed_check() { grep -qE '^(FAIL|not ok)|FAIL -' "$guest_log"; }
run_guest
rc=$?
elapsed=$(($(date +%s) - start))
# A guest that ends without an exit code within seconds never ran the
# command (vng or qemu failed to start, e.g. next to another VM starting):
# that is the machine, not the test, so try once more.
# A guest that dies later without an exit code and without a failed check
# (the TCG guest crashed or lost its serial port on a loaded machine) is
# the machine too, once: it is said loudly with the guest's last lines, and
# the scenario runs again from the start in a new guest.  A second death
# fails the scenario.
if [ "$rc" -eq 255 ] && [ "$elapsed" -lt 30 ]; then
	echo "vm.sh: the guest did not start (after ${elapsed}s); trying once more" >&2
	start=$(date +%s)
	run_guest
	rc=$?
	elapsed=$(($(date +%s) - start))
elif [ "$rc" -eq 255 ] && ! failed_check; then
	{
		echo "vm.sh: RETRY: the guest died without an exit code after ${elapsed}s, no check had failed; its last lines:"
		tail -n 30 "$guest_log" | sed 's/^/vm.sh:   | /'
		echo "vm.sh: RETRY: running the scenario once more in a new guest"
	} >&2
	start=$(date +%s)
	run_guest
	rc=$?
	elapsed=$(($(date +%s) - start))
fi
set -e

case $rc in
	124 | 137) echo "vm.sh: timed out after ${timeout_s}s (VMTEST_TIMEOUT)" >&2 ;;
	255) echo "vm.sh: guest ended without an exit code (panic? vng error?) after ${elapsed}s" >&2 ;;
	*) echo "vm.sh: guest command exited $rc after ${elapsed}s ($(basename "$kernel"))" >&2 ;;
esac
exit "$rc"
