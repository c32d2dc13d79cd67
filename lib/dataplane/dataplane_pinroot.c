// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_pinroot.c - where the pins live: the pin root
 * (IPSEC_XDP_BPFFS), and whether it lies on a BPF file system whose pins
 * outlive this command.
 *
 * `ip netns exec` runs a command in a private mount namespace with its own
 * /sys, where /sys/fs/bpf is no BPF file system and one mounted there
 * would vanish with the command (and with it the pins: XDP detached, the
 * egress program an orphan).  So a BPF file system is mounted only in the
 * host's mount namespace: that of PID 1 or, where PID 1 cannot be
 * inspected, of the outermost ancestor that can.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dataplane/dataplane.h"
#include "dataplane/dataplane_pinroot.h"
#include "util/util_errbuf.h"

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11

const char *dp_pin_root(void)
{
	const char *env = getenv("IPSEC_XDP_BPFFS");

	return env && *env ? env : IXDP_PIN_ROOT_DEFAULT;
}

bool dp_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC_NUMBER;
}

int dp_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) && errno != EEXIST ? -1 : 0;
}

/* ---- where the pins may live ----------------------------------------------- */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape_octal(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

static bool path_under(const char *path, const char *mnt)
{
	size_t n = strlen(mnt);

	if (!strcmp(mnt, "/"))
		return true;
	return !strncmp(path, mnt, n) && (path[n] == '\0' || path[n] == '/');
}

/*
 * Read /proc/self/mountinfo: the mount that holds `path` (its mount point
 * and file system type; the longest mount point above it, the later of two
 * equal ones), and the mount points of BPF file systems ("A, B", at most
 * three).  Either output may be NULL.
 */
static void scan_mountinfo(const char *path, char *mnt, char *fstype, size_t len,
			   char *bpffs, size_t blen)
{
	char line[2 * PATH_MAX], point[PATH_MAX], type[64];
	size_t best = 0;
	int nbpf = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (mnt)
		snprintf(mnt, len, "?");
	if (fstype)
		snprintf(fstype, len, "?");
	if (bpffs && blen)
		bpffs[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		unescape_octal(point);
		if (bpffs && !strcmp(type, "bpf") && nbpf < 3 &&
		    strlen(bpffs) + strlen(point) + 3 < blen) {
			if (nbpf++)
				strcat(bpffs, ", ");
			strcat(bpffs, point);
		}
		if (path && mnt && path_under(path, point) && strlen(point) >= best) {
			best = strlen(point);
			snprintf(mnt, len, "%s", point);
			snprintf(fstype, len, "%s", type);
		}
	}
	fclose(f);
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *rp;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
		sscanf(rp + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/*
 * The process whose mount namespace outlives this command: PID 1, or where
 * PID 1 cannot be inspected (some sandboxes refuse it), the outermost
 * ancestor that can.  0 if none can.
 */
static pid_t reference_pid(void)
{
	pid_t pid = getppid(), ref = 0;
	struct stat st;

	for (int depth = 0; pid > 0 && depth < 128; depth++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (stat(path, &st) == 0)
			ref = pid;
		if (pid == 1)
			break;
		pid = parent_of(pid);
	}
	return ref;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Is this command in the reference mount namespace?  (Yes if none can be
 * inspected: then nothing tells otherwise.) */
static bool in_reference_mount_ns(void)
{
	pid_t ref = reference_pid();
	char path[64];

	if (!ref)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", ref);
	return same_file("/proc/self/ns/mnt", path);
}

/* Does the reference namespace see `root` (an existing absolute path) as
 * this command does, the same directory of the same file system? */
static bool visible_to_reference(const char *root)
{
	pid_t ref = reference_pid();
	char path[PATH_MAX + 32];

	if (!ref || in_reference_mount_ns())
		return true;
	snprintf(path, sizeof(path), "/proc/%d/root%s", ref, root);
	return same_file(root, path);
}

/* The nearest existing directory at or above path. */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) && (slash = strrchr(buf, '/'))) {
		if (slash == buf) {
			buf[1] = '\0';
			break;
		}
		*slash = '\0';
	}
}

static int not_lasting(const char *root, char *errbuf, size_t errlen)
{
	char anc[PATH_MAX], mnt[PATH_MAX], type[PATH_MAX], found[512], what[3 * PATH_MAX];

	existing_ancestor(root, anc, sizeof(anc));
	scan_mountinfo(anc, mnt, type, sizeof(mnt), found, sizeof(found));
	if (dp_is_bpffs(anc))
		snprintf(what, sizeof(what), "%s lies on a BPF file system mounted on %.1024s that "
			 "the host's mount namespace does not see", root, mnt);
	else
		snprintf(what, sizeof(what), "%s is on no BPF file system here (%.1024s lies on "
			 "%.63s mounted on %.1024s), and one mounted now", root, anc, type, mnt);
	errbuf_set(errbuf, errlen,
		   "%s would vanish with this command's private mount namespace (`ip netns "
		   "exec` makes one), and the pins with it: nothing was attached.  Run "
		   "`nsenter --net=/run/netns/NAME ipsec-xdp load IFACE` instead, or set "
		   "IPSEC_XDP_BPFFS to a directory on a BPF file system mounted on the "
		   "host%s%s%s", what, *found ? " (mounted here: " : "", found,
		   *found ? ")" : "");
	return -1;
}

/*
 * Make sure the pin root lies on a BPF file system whose pins last.  If it
 * is on none, one is mounted on its parent (/sys/fs/bpf for the default
 * root, as on hosts without systemd's mount), but only in the host's mount
 * namespace: anywhere else it would vanish with this command.
 */
int dp_pin_root_prepare(const char *root, char *errbuf, size_t errlen)
{
	char anc[PATH_MAX], parent[PATH_MAX];
	bool existed;
	char *slash;

	if (root[0] != '/' || strlen(root) > 200) {
		errbuf_set(errbuf, errlen, "the pin root must be an absolute path of at most "
			   "200 bytes: %s", root);
		return -1;
	}
	existing_ancestor(root, anc, sizeof(anc));
	if (!dp_is_bpffs(anc)) {
		if (!in_reference_mount_ns())
			return not_lasting(root, errbuf, errlen);
		snprintf(parent, sizeof(parent), "%s", root);
		slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		if (dp_mkdir_p(parent, 0700)) {
			errbuf_set(errbuf, errlen, "cannot create %s: %s", parent, strerror(errno));
			return -1;
		}
		if (!dp_is_bpffs(parent) && mount("bpf", parent, "bpf", 0, "mode=0700")) {
			errbuf_set(errbuf, errlen, "cannot mount a BPF file system on %s: %s",
				   parent, strerror(errno));
			return -1;
		}
	}
	existed = access(root, F_OK) == 0;
	if (dp_mkdir_p(root, 0700)) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", root, strerror(errno));
		return -1;
	}
	if (!dp_is_bpffs(root) || !visible_to_reference(root)) {
		not_lasting(root, errbuf, errlen);
		if (!existed)
			rmdir(root);
		return -1;
	}
	return 0;
}

/* The pins under root last (the host's mount namespace sees them): 0, or
 * -1 with errbuf saying why and what to do. */
int dp_pin_root_check(const char *root, char *errbuf, size_t errlen)
{
	return visible_to_reference(root) ? 0 : not_lasting(root, errbuf, errlen);
}

