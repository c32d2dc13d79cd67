// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_attach.c - load the BPF object, pin it, attach it to interfaces and
 * take it away again.
 *
 * Layout under the pin root:
 *   maps/<map name>        every map (LIBBPF_PIN_BY_NAME): shared by all
 *                          interfaces, reused by every later load of the
 *                          same layout (IXDP_ABI_VERSION)
 *   links/xdp-<ifname>     the XDP bpf_link of one interface
 *   links/tc-<ifname>      its TC egress bpf_link (tcx, kernel >= 6.6); on
 *                          older kernels a tc filter with our handle on a
 *                          clsact qdisc instead, which needs no pin
 *   progs/<program name>   the programs of the last load
 *   staging/maps/          maps a load creates, filled before they go live
 *                          (bpffs allows no dot in a name)
 *
 * Nothing is attached unless its pins last: the pin root must lie on a BPF
 * file system that the host's mount namespace sees too
 * (dataplane_pinroot.c).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "dataplane/dataplane_pinroot.h"
#include "util/util_daemon_group.h"
#include "util/util_errbuf.h"
#include "ipsec_xdp.skel.h"

#define TC_HANDLE   0x1a5e  /* the legacy tc filter's handle and priority */
#define TC_PRIORITY 0x1a5e
#define XDP_PREFIX "xdp-"
#define TC_PREFIX  "tc-"
#define TC_PROG_NAME "ixdp_tc_egress"

/* From the kernel's uapi (6.6), newer than the headers we may build on. */
#define IXDP_BPF_TCX_EGRESS     47 /* enum bpf_attach_type BPF_TCX_EGRESS */
#define IXDP_BPF_LINK_TYPE_TCX  11 /* enum bpf_link_type BPF_LINK_TYPE_TCX */

/* ---- pins ------------------------------------------------------------------ */

bool dp_is_loaded(const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/maps/ixdp_state", root);
	/* a pin this process may not see may be there (EACCES: ipsec-xdpd
	 * --user): loaded, so that opening it says why (fail closed) */
	return access(path, F_OK) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

static void link_path(const char *root, const char *prefix, const char *ifname,
		      char *buf, size_t len)
{
	snprintf(buf, len, "%s/links/%s%s", root, prefix, ifname);
}

int dp_pinned_abi(const char *root, unsigned *abi)
{
	__u32 key = IXDP_STATE_ABI_VERSION, val = 0;
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/ixdp_state", root);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, &val))
		val = 0; /* a state map without the index: before versioning */
	close(fd);
	*abi = val;
	return 0;
}

/* Remove the files of one directory and the directory. */
static void remove_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	rmdir(path);
}

static void sub_path(const char *root, const char *sub, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", root, sub);
}

static void remove_staging(const char *root)
{
	char path[PATH_MAX];

	sub_path(root, "staging/maps", path, sizeof(path));
	remove_dir(path);
	sub_path(root, "staging", path, sizeof(path));
	remove_dir(path);
	sub_path(root, "old-maps", path, sizeof(path));
	remove_dir(path);
}

/* After a first load that failed: the directories it made, if empty. */
static void remove_empty_root(const char *root)
{
	char path[PATH_MAX];

	sub_path(root, "links", path, sizeof(path));
	rmdir(path);
	sub_path(root, "progs", path, sizeof(path));
	rmdir(path);
	sub_path(root, "maps", path, sizeof(path));
	rmdir(path);
	rmdir(root);
}

/* ---- shared with ipsec-xdpd's group ---------------------------------------- */

/* The first path that could not be shared, and why, into failed. */
static void share_failed(char *failed, size_t len, const char *path, const char *name)
{
	if (!failed[0])
		errbuf_set(failed, len, "%s%s%s: %s", path, name ? "/" : "", name ? name : "",
			   strerror(errno));
}

/* name in the directory dirfd (path, shown): group gid, mode mode. */
static void share_at(int dirfd, const char *path, const char *name, gid_t gid, mode_t mode,
		     char *failed, size_t len)
{
	if (fchownat(dirfd, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) ||
	    fchmodat(dirfd, name, mode, 0))
		share_failed(failed, len, path, dirfd == AT_FDCWD ? NULL : name);
}

/* root/sub (mode dmode) and every pin in it (0660). */
static void share_dir(const char *root, const char *sub, gid_t gid, mode_t dmode,
		      char *failed, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	sub_path(root, sub, path, sizeof(path));
	share_at(AT_FDCWD, path, path, gid, dmode, failed, len);
	d = opendir(path);
	if (!d) {
		share_failed(failed, len, path, NULL);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_type == DT_REG)
			share_at(dirfd(d), path, de->d_name, gid, 0660, failed, len);
	closedir(d);
}

/* The pin root's ancestors on the BPF file system (the mount point, e.g.
 * /sys/fs/bpf made 0700 by systemd, included) that the group cannot
 * search get the search bit for all (o+x: names, no listing); what was
 * changed is said in note. */
static void share_ancestors(const char *root, gid_t gid, char *note, size_t len,
			    char *failed, size_t flen)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", root);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (!dp_is_bpffs(dir) || stat(dir, &st))
			break;
		if ((st.st_mode & S_IXOTH) || (st.st_gid == gid && (st.st_mode & S_IXGRP)))
			continue;
		if (chmod(dir, (st.st_mode & 07777) | S_IXOTH) == 0) {
			size_t used = strlen(note);

			snprintf(note + used, len - used, "%s%s", used ? ", " : "", dir);
		} else {
			share_failed(failed, flen, dir, NULL);
		}
	}
}

/* The link pins of ifname made by ipsec-xdpd run with --user: its group
 * already (the user's own), 0660 like those `load` made (chmod only: the
 * daemon's system calls have no chown; a daemon run as root leaves them
 * root's, shared by the next `load`). */
static void share_links(const char *root, const char *ifname)
{
	static const char *const prefixes[] = { XDP_PREFIX, TC_PREFIX };
	char path[PATH_MAX];
	struct stat st;
	gid_t gid;

	if (!daemon_group(&gid))
		return;
	for (size_t p = 0; p < 2; p++) {
		link_path(root, prefixes[p], ifname, path, sizeof(path));
		if (stat(path, &st) == 0 && st.st_gid == gid)
			chmod(path, 0660);
	}
}

void dp_share(const char *root, struct dp_load_info *info)
{
	char *failed = info->unshared;
	size_t flen = sizeof(info->unshared);
	gid_t gid;

	info->searchable[0] = '\0';
	failed[0] = '\0';
	if (!daemon_group(&gid))
		return;
	share_at(AT_FDCWD, root, root, gid, 0750, failed, flen);
	share_dir(root, "maps", gid, 0750, failed, flen);
	share_dir(root, "progs", gid, 0750, failed, flen);
	share_dir(root, "links", gid, 0770, failed, flen);  /* ipsec-xdpd attaches, tidies */
	share_ancestors(root, gid, info->searchable, sizeof(info->searchable), failed, flen);
}

/* ---- attaching ------------------------------------------------------------- */

static __u32 xdp_mode_flags(enum dp_xdp_mode mode)
{
	switch (mode) {
	case DP_XDP_NATIVE:
		return XDP_FLAGS_DRV_MODE;
	case DP_XDP_GENERIC:
		return XDP_FLAGS_SKB_MODE;
	default:
		return 0; /* native where the driver can, generic elsewhere */
	}
}

/* Replace the program inside a pinned link: 0, -ENOENT (no pin, or the
 * pin of a link whose interface went: removed), or -errno. */
static int update_pinned_link(const char *path, int prog_fd)
{
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return -errno;
	err = bpf_link_update(fd, prog_fd, NULL);
	close(fd);
	if (err == -ENOLINK && unlink(path) == 0)
		return -ENOENT;
	return err ? (err < 0 ? err : -EINVAL) : 0;
}

/* Detach the link pinned at path and remove the pin: true if there was one. */
static bool detach_pinned_link(const char *path)
{
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return false;
	bpf_link_detach(fd); /* fails harmlessly if the interface is gone */
	close(fd);
	unlink(path);
	return true;
}

/* A second load on one interface replaces the program inside its link. */
static int attach_xdp(const char *root, const char *ifname, int ifindex, int prog_fd,
		      enum dp_xdp_mode mode, bool *created, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	int link_fd, err;

	*created = false;
	link_path(root, XDP_PREFIX, ifname, path, sizeof(path));
	err = update_pinned_link(path, prog_fd);
	if (err != -ENOENT) {
		if (err)
			errbuf_set(errbuf, errlen, "cannot replace the XDP program on %s: %s",
				   ifname, strerror(-err));
		return err ? -1 : 0;
	}
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_mode_flags(mode));
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (link_fd < 0) {
		int e = errno;

		errbuf_set(errbuf, errlen, "cannot attach XDP to %s: %s%s", ifname, strerror(e),
			e == EBUSY || e == EEXIST ? " (another XDP program is attached)" :
			e == EOPNOTSUPP && mode == DP_XDP_NATIVE ?
			" (the driver has no native XDP: try --xdp-mode generic)" : "");
		return -1;
	}
	if (bpf_obj_pin(link_fd, path)) {
		errbuf_set(errbuf, errlen, "cannot pin %s: %s", path, strerror(errno));
		bpf_link_detach(link_fd);
		close(link_fd);
		return -1;
	}
	close(link_fd);
	*created = true;
	return 0;
}

/* The program id of our legacy tc filter on ifindex, 0 if there is none. */
static __u32 legacy_tc_prog(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

static bool prog_named(__u32 id, const char *name)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool same;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	same = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && !strcmp(info.name, name);
	close(fd);
	return same;
}

/* Remove the tc filter an earlier version attached through netlink, if it
 * is there and runs our program: true if it was. */
static bool detach_legacy_tc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	__u32 id = legacy_tc_prog(ifindex);

	return id && prog_named(id, TC_PROG_NAME) && bpf_tc_detach(&hook, &opts) == 0;
}

/* Kernels before 6.6 (no tcx): a tc filter on a clsact qdisc (atomic
 * replace of an earlier one). */
static int attach_legacy_tc(const char *ifname, int ifindex, int prog_fd, char *errbuf,
			    size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		errbuf_set(errbuf, errlen, "cannot add a clsact qdisc to %s: %s", ifname,
			strerror(-err));
		return -1;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		errbuf_set(errbuf, errlen, "cannot attach the egress program to %s: %s",
			ifname, strerror(-err));
		return -1;
	}
	return 0;
}

/*
 * TC egress through a pinned tcx link (replaced in place on a second load);
 * a tc filter left by an earlier version goes once the link runs.  Without
 * tcx (EINVAL: an attach type the kernel does not know), a tc filter.
 * *created says whether a new link or filter was attached here.
 */
static int attach_egress(const char *root, const char *ifname, int ifindex, int prog_fd,
			 bool *tcx, bool *created, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	int fd, err;

	*created = false;
	*tcx = true;
	link_path(root, TC_PREFIX, ifname, path, sizeof(path));
	err = update_pinned_link(path, prog_fd);
	if (err != -ENOENT) {
		if (err) {
			errbuf_set(errbuf, errlen, "cannot replace the egress program on %s: %s",
				   ifname, strerror(-err));
			return -1;
		}
		detach_legacy_tc(ifindex);
		return 0;
	}
	fd = bpf_link_create(prog_fd, ifindex, IXDP_BPF_TCX_EGRESS, NULL);
	if (fd >= 0) {
		if (bpf_obj_pin(fd, path)) {
			errbuf_set(errbuf, errlen, "cannot pin %s: %s", path, strerror(errno));
			bpf_link_detach(fd);
			close(fd);
			return -1;
		}
		close(fd);
		*created = true;
		detach_legacy_tc(ifindex);
		return 0;
	}
	if (errno != EINVAL) {
		errbuf_set(errbuf, errlen, "cannot attach the egress program to %s (tcx): %s",
			   ifname, strerror(errno));
		return -1;
	}
	*tcx = false;
	*created = !legacy_tc_prog(ifindex);
	return attach_legacy_tc(ifname, ifindex, prog_fd, errbuf, errlen);
}

/* Take away one interface's programs: its links (by their pins) and our
 * legacy tc filter.  True if anything of ours was there. */
static bool detach_iface(const char *root, const char *ifname)
{
	char path[PATH_MAX];
	int ifindex = (int)if_nametoindex(ifname);
	bool found = false;

	link_path(root, XDP_PREFIX, ifname, path, sizeof(path));
	found |= detach_pinned_link(path);
	link_path(root, TC_PREFIX, ifname, path, sizeof(path));
	found |= detach_pinned_link(path);
	if (ifindex && detach_legacy_tc(ifindex))
		found = true;
	return found;
}

/* Attach both programs (by fd) to one interface; on failure nothing this
 * call attached stays. */
static int attach_iface(const char *root, const char *ifname, int ifindex, int xdp_fd,
			int tc_fd, enum dp_xdp_mode mode, struct dp_load_info *info,
			char *errbuf, size_t errlen)
{
	bool xdp_new, tc_new;
	char path[PATH_MAX];

	if (attach_xdp(root, ifname, ifindex, xdp_fd, mode, &xdp_new, errbuf, errlen))
		return -1;
	if (attach_egress(root, ifname, ifindex, tc_fd, &info->tcx, &tc_new, errbuf, errlen)) {
		if (xdp_new) {
			link_path(root, XDP_PREFIX, ifname, path, sizeof(path));
			detach_pinned_link(path);
		}
		return -1;
	}
	info->attached = xdp_new || tc_new;
	return 0;
}

static int attach_skel(const char *root, const char *ifname, int ifindex,
		       struct ipsec_xdp_bpf *skel, enum dp_xdp_mode mode,
		       struct dp_load_info *info, char *errbuf, size_t errlen)
{
	return attach_iface(root, ifname, ifindex,
			    bpf_program__fd(skel->progs.ixdp_xdp_ingress),
			    bpf_program__fd(skel->progs.ixdp_tc_egress), mode, info, errbuf,
			    errlen);
}

/* Point an attached interface at other programs (every link in place, the
 * legacy tc filter by an atomic replace). */
static int retarget_iface(const char *root, const char *ifname, int xdp_fd, int tc_fd,
			  char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	int ifindex = (int)if_nametoindex(ifname);
	int err;

	link_path(root, XDP_PREFIX, ifname, path, sizeof(path));
	err = update_pinned_link(path, xdp_fd);
	if (err && err != -ENOENT) {
		errbuf_set(errbuf, errlen, "cannot replace the XDP program on %s: %s", ifname,
			   strerror(-err));
		return -1;
	}
	link_path(root, TC_PREFIX, ifname, path, sizeof(path));
	err = update_pinned_link(path, tc_fd);
	if (err == -ENOENT && ifindex && legacy_tc_prog(ifindex))
		return attach_legacy_tc(ifname, ifindex, tc_fd, errbuf, errlen);
	if (err && err != -ENOENT) {
		errbuf_set(errbuf, errlen, "cannot replace the egress program on %s: %s",
			   ifname, strerror(-err));
		return -1;
	}
	return 0;
}

/* ---- loading --------------------------------------------------------------- */

/*
 * The tunnel hand-off calls the kfunc bpf_skb_set_xfrm_info(), which the
 * verifier only resolves if the xfrm_interface module is loaded when the
 * programs load.  Best effort: a kernel without modules (or with it built
 * in) is fine, and without the module the dataplane drops what it cannot
 * hand off (fail closed).
 */
static void load_xfrm_interface_module(void)
{
	char *argv[] = { "modprobe", "-q", "xfrm_interface", NULL };
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &status, 0);
}

/* Load the object with its maps pinned under maps (reused if there). */
static struct ipsec_xdp_bpf *open_and_load(const char *maps, char *errbuf, size_t errlen)
{
	struct ipsec_xdp_bpf *skel;
	int err;

	load_xfrm_interface_module();
	if (dp_mkdir_p(maps, 0700)) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", maps, strerror(errno));
		return NULL;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	skel = ipsec_xdp_bpf__open_opts(&oo);
	if (!skel) {
		errbuf_set(errbuf, errlen, "cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	err = ipsec_xdp_bpf__load(skel);
	if (err) {
		errbuf_set(errbuf, errlen,
			"cannot load the BPF programs: %s (maps pinned under %s of another "
			"layout with the same ABI version %d? run `ipsec-xdp unload` first)",
			strerror(-err), maps, IXDP_ABI_VERSION);
		ipsec_xdp_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Pin (replacing older pins) the programs just loaded. */
static int pin_programs(const char *root, struct ipsec_xdp_bpf *skel, char *errbuf,
			size_t errlen)
{
	struct bpf_program *progs[] = { skel->progs.ixdp_xdp_ingress, skel->progs.ixdp_tc_egress };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", root, bpf_program__name(progs[i]));
		unlink(path);
		if (bpf_obj_pin(bpf_program__fd(progs[i]), path)) {
			errbuf_set(errbuf, errlen, "cannot pin %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Pins of the current layout: reuse the maps, attach, pin the programs. */
static int load_reusing(const char *root, const char *ifname, int ifindex,
			enum dp_xdp_mode mode, struct dp_load_info *info, char *errbuf,
			size_t errlen)
{
	char maps[PATH_MAX];
	struct ipsec_xdp_bpf *skel;
	int ret = -1;

	sub_path(root, "maps", maps, sizeof(maps));
	skel = open_and_load(maps, errbuf, errlen);
	if (!skel)
		return -1;
	if (attach_skel(root, ifname, ifindex, skel, mode, info, errbuf, errlen) == 0)
		ret = pin_programs(root, skel, errbuf, errlen);
	ipsec_xdp_bpf__destroy(skel); /* the links keep the programs */
	return ret;
}

/* Point every interface of links/ but `skip` at the new programs; on a
 * failure, back at the programs pinned in progs/. */
static int retarget_all(const char *root, const char *skip, struct ipsec_xdp_bpf *skel,
			char *errbuf, size_t errlen)
{
	int xdp_fd = bpf_program__fd(skel->progs.ixdp_xdp_ingress);
	int tc_fd = bpf_program__fd(skel->progs.ixdp_tc_egress);
	char **names, path[PATH_MAX];
	size_t n, done = 0;
	int ret = 0;

	if (dp_list_ifaces(root, &names, &n))
		return 0;
	for (; done < n && !ret; done++) {
		if (strcmp(names[done], skip))
			ret = retarget_iface(root, names[done], xdp_fd, tc_fd, errbuf, errlen);
	}
	if (ret) {
		int old_xdp, old_tc;

		snprintf(path, sizeof(path), "%s/progs/ixdp_xdp_ingress", root);
		old_xdp = bpf_obj_get(path);
		snprintf(path, sizeof(path), "%s/progs/" TC_PROG_NAME, root);
		old_tc = bpf_obj_get(path);
		for (size_t i = 0; i < done && old_xdp >= 0 && old_tc >= 0; i++) {
			char ignored[64];

			if (strcmp(names[i], skip))
				retarget_iface(root, names[i], old_xdp, old_tc, ignored,
					       sizeof(ignored));
		}
		if (old_xdp >= 0)
			close(old_xdp);
		if (old_tc >= 0)
			close(old_tc);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/* Move the new maps' pins into place; the old ones (if any) go. */
static int install_maps(const char *root, char *errbuf, size_t errlen)
{
	char next[PATH_MAX], maps[PATH_MAX], old[PATH_MAX];

	sub_path(root, "staging/maps", next, sizeof(next));
	sub_path(root, "maps", maps, sizeof(maps));
	sub_path(root, "old-maps", old, sizeof(old));
	if (renameat2(AT_FDCWD, next, AT_FDCWD, maps, RENAME_EXCHANGE) == 0) {
		remove_staging(root); /* staging/maps now holds the old pins */
		return 0;
	}
	remove_dir(old);
	if ((rename(maps, old) && errno != ENOENT) || rename(next, maps)) {
		errbuf_set(errbuf, errlen, "cannot move the new maps to %s: %s", maps,
			   strerror(errno));
		return -1;
	}
	remove_staging(root);
	return 0;
}

/*
 * No pins of this layout: create the maps under staging/maps, record the ABI
 * version, let `fill` write the configuration into them, and only then make
 * them live: every interface already attached is switched to the new
 * programs (bpf_link_update: atomic), ifname is attached, and the pins move
 * into place.
 */
static int load_creating(const char *root, const char *ifname, int ifindex,
			 enum dp_xdp_mode mode, dp_fill_fn fill, void *arg,
			 struct dp_load_info *info, char *errbuf, size_t errlen)
{
	__u32 key = IXDP_STATE_ABI_VERSION, ver = IXDP_ABI_VERSION;
	char staging[PATH_MAX], maps[PATH_MAX];
	struct ipsec_xdp_bpf *skel;
	int ret = -1;

	remove_staging(root); /* what an interrupted load left */
	sub_path(root, "staging", staging, sizeof(staging));
	sub_path(root, "staging/maps", maps, sizeof(maps));
	skel = open_and_load(maps, errbuf, errlen);
	if (!skel)
		goto out;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ixdp_state), &key, &ver, BPF_ANY)) {
		errbuf_set(errbuf, errlen, "cannot write the ABI version: %s", strerror(errno));
		goto out;
	}
	if (fill && fill(staging, arg, errbuf, errlen))
		goto out;
	if (info->replaced && retarget_all(root, ifname, skel, errbuf, errlen))
		goto out;
	if (attach_skel(root, ifname, ifindex, skel, mode, info, errbuf, errlen)) {
		if (!info->replaced)
			goto out;
		/* the other interfaces run the new maps: keep them pinned */
		char why[512];

		snprintf(why, sizeof(why), "%s", errbuf);
		if (pin_programs(root, skel, errbuf, errlen) == 0 &&
		    install_maps(root, errbuf, errlen) == 0)
			errbuf_set(errbuf, errlen, "%s", why);
		goto out;
	}
	if (pin_programs(root, skel, errbuf, errlen) || install_maps(root, errbuf, errlen)) {
		if (info->attached)
			detach_iface(root, ifname);
		goto out;
	}
	ret = 0;
out:
	ipsec_xdp_bpf__destroy(skel);
	remove_staging(root);
	if (ret && !info->replaced)
		remove_empty_root(root);
	return ret;
}

int dp_load_iface(const char *root, const char *ifname, enum dp_xdp_mode mode,
		  dp_fill_fn fill, void *arg, struct dp_load_info *info,
		  char *errbuf, size_t errlen)
{
	int ifindex = (int)if_nametoindex(ifname);
	char path[PATH_MAX];
	unsigned abi = 0;
	int found, ret;

	memset(info, 0, sizeof(*info));
	if (!ifindex) {
		errbuf_set(errbuf, errlen, "no interface named '%s'", ifname);
		return -1;
	}
	if (dp_pin_root_prepare(root, errbuf, errlen))
		return -1;
	for (int i = 0; i < 2; i++) {
		sub_path(root, i ? "progs" : "links", path, sizeof(path));
		if (dp_mkdir_p(path, 0700)) {
			errbuf_set(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	found = dp_pinned_abi(root, &abi);
	if (found == 0 && abi == IXDP_ABI_VERSION) {
		ret = load_reusing(root, ifname, ifindex, mode, info, errbuf, errlen);
		goto out;
	}
	info->created = true;
	info->replaced = found == 0;
	info->old_abi = abi;
	ret = load_creating(root, ifname, ifindex, mode, fill, arg, info, errbuf, errlen);
out:
	if (ret == 0)
		dp_share(root, info);
	return ret;
}

/*
 * The programs pinned under progs/, on maps of this ABI version, attached
 * to one more interface (ipsec-xdpd, for an interface that appeared): no
 * BPF object loaded, nothing else changed.
 */
int dp_attach_pinned(const char *root, const char *ifname, enum dp_xdp_mode mode,
		     struct dp_load_info *info, char *errbuf, size_t errlen)
{
	int ifindex = (int)if_nametoindex(ifname), xdp_fd, tc_fd, ret = -1;
	char path[PATH_MAX];
	unsigned abi = 0;

	memset(info, 0, sizeof(*info));
	if (!ifindex) {
		errbuf_set(errbuf, errlen, "no interface named '%s'", ifname);
		return -1;
	}
	if (dp_pinned_abi(root, &abi) || abi != IXDP_ABI_VERSION) {
		errbuf_set(errbuf, errlen, "no maps of ABI version %d are pinned under %s/maps "
			   "(`ipsec-xdp load` loads the dataplane)", IXDP_ABI_VERSION, root);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/progs/ixdp_xdp_ingress", root);
	xdp_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/progs/" TC_PROG_NAME, root);
	tc_fd = bpf_obj_get(path);
	if (xdp_fd < 0 || tc_fd < 0)
		errbuf_set(errbuf, errlen, "cannot open the programs pinned under %s/progs: %s",
			   root, strerror(errno));
	else
		ret = attach_iface(root, ifname, ifindex, xdp_fd, tc_fd, mode, info, errbuf,
				   errlen);
	if (ret == 0)
		share_links(root, ifname);
	if (xdp_fd >= 0)
		close(xdp_fd);
	if (tc_fd >= 0)
		close(tc_fd);
	return ret;
}

/* ---- checking what is attached, from the pins alone ------------------------ */

static __u32 pinned_prog_id(const char *root, const char *name)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/progs/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* The link pinned at path: its type, program and the first two words of
 * its type-specific part (XDP: ifindex; tcx: ifindex, attach type). */
static int pinned_link(const char *path, __u32 *type, __u32 *prog, __u32 word[2])
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return -EINVAL;
	*type = info.type;
	*prog = info.prog_id;
	memcpy(word, &info.xdp, 2 * sizeof(__u32)); /* the union's start */
	return 0;
}

static int check_xdp(const char *root, const char *ifname, int ifindex, __u32 prog,
		     char *errbuf, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u32 type, id, w[2];
	char path[PATH_MAX];

	link_path(root, XDP_PREFIX, ifname, path, sizeof(path));
	if (pinned_link(path, &type, &id, w) || type != BPF_LINK_TYPE_XDP || id != prog ||
	    w[0] != (__u32)ifindex) {
		errbuf_set(errbuf, errlen, "%s is no XDP link of %s running the pinned program",
			   path, ifname);
		return -1;
	}
	if (bpf_xdp_query(ifindex, 0, &q) ||
	    (q.prog_id != prog && q.drv_prog_id != prog && q.skb_prog_id != prog)) {
		errbuf_set(errbuf, errlen, "the XDP program is not attached to %s", ifname);
		return -1;
	}
	return 0;
}

static int check_egress(const char *root, const char *ifname, int ifindex, __u32 prog,
			char *errbuf, size_t errlen)
{
	__u32 type, id, w[2];
	char path[PATH_MAX];
	int err;

	link_path(root, TC_PREFIX, ifname, path, sizeof(path));
	err = pinned_link(path, &type, &id, w);
	if (err == -ENOENT) {
		if (legacy_tc_prog(ifindex) == prog)
			return 0;
		errbuf_set(errbuf, errlen, "the egress program is not attached to %s", ifname);
		return -1;
	}
	if (err || type != IXDP_BPF_LINK_TYPE_TCX || id != prog || w[0] != (__u32)ifindex ||
	    w[1] != IXDP_BPF_TCX_EGRESS) {
		errbuf_set(errbuf, errlen, "%s is no tcx egress link of %s running the pinned "
			   "program", path, ifname);
		return -1;
	}
	return 0;
}

int dp_verify_iface(const char *root, const char *ifname, char *errbuf, size_t errlen)
{
	int ifindex = (int)if_nametoindex(ifname);
	__u32 xdp = pinned_prog_id(root, "ixdp_xdp_ingress");
	__u32 tc = pinned_prog_id(root, TC_PROG_NAME);
	unsigned abi = 0;

	if (!ifindex) {
		errbuf_set(errbuf, errlen, "no interface named '%s'", ifname);
		return -1;
	}
	if (!xdp || !tc) {
		errbuf_set(errbuf, errlen, "the programs are not pinned under %s/progs", root);
		return -1;
	}
	if (dp_pinned_abi(root, &abi) || abi != IXDP_ABI_VERSION) {
		errbuf_set(errbuf, errlen, "the maps under %s/maps are missing or of another "
			   "layout", root);
		return -1;
	}
	if (dp_pin_root_check(root, errbuf, errlen))
		return -1;
	if (check_xdp(root, ifname, ifindex, xdp, errbuf, errlen))
		return -1;
	return check_egress(root, ifname, ifindex, tc, errbuf, errlen);
}

/* ---- unloading ------------------------------------------------------------- */

static int add_name(char ***v, size_t *n, const char *name)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], name))
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = strdup(name);
	if (!nv[*n])
		return -1;
	(*n)++;
	return 0;
}

int dp_list_ifaces(const char *root, char ***names, size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/links", root);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		const char *name = NULL;

		if (!strncmp(de->d_name, XDP_PREFIX, strlen(XDP_PREFIX)))
			name = de->d_name + strlen(XDP_PREFIX);
		else if (!strncmp(de->d_name, TC_PREFIX, strlen(TC_PREFIX)))
			name = de->d_name + strlen(TC_PREFIX);
		if (name && add_name(names, n, name))
			break;
	}
	closedir(d);
	return 0;
}

/* One link pin of an interface that went (the link's ifindex 0: detached
 * with it) or was renamed (the link's interface has another name now):
 * removed, or moved to the new name.  Appends what it did to note. */
static bool tidy_pin(const char *root, const char *prefix, const char *name,
		     char *note, size_t len)
{
	char path[PATH_MAX], to[PATH_MAX], now[IF_NAMESIZE];
	__u32 type, prog, w[2];
	size_t used = strlen(note);

	link_path(root, prefix, name, path, sizeof(path));
	if (pinned_link(path, &type, &prog, w) ||
	    (w[0] && w[0] == if_nametoindex(name)))
		return false;
	if (w[0] && if_indextoname(w[0], now)) {
		link_path(root, prefix, now, to, sizeof(to));
		if (access(to, F_OK) && rename(path, to) == 0) {
			snprintf(note + used, len - used, "%s%s%s renamed %s", used ? "; " : "",
				 prefix, name, now);
			return true;
		}
		/* its new name has links of its own: this one is surplus */
		detach_pinned_link(path);
	}
	unlink(path);
	snprintf(note + used, len - used, "%s%s%s: interface gone", used ? "; " : "", prefix,
		 name);
	return true;
}

int dp_tidy_links(const char *root, char *note, size_t len)
{
	static const char *const prefixes[] = { XDP_PREFIX, TC_PREFIX };
	char **names;
	size_t n;
	int changed = 0;

	note[0] = '\0';
	if (dp_list_ifaces(root, &names, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t p = 0; p < 2; p++)
			changed += tidy_pin(root, prefixes[p], names[i], note, len);
		free(names[i]);
	}
	free(names);
	return changed;
}

static void remove_pins(const char *root)
{
	const char *subdirs[] = { "maps", "links", "progs" };
	char path[PATH_MAX];

	remove_staging(root);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		sub_path(root, subdirs[i], path, sizeof(path));
		remove_dir(path);
	}
	rmdir(root);
}

int dp_unload(const char *root, const char *ifname, char *errbuf, size_t errlen)
{
	char **names;
	size_t n;

	if (ifname) {
		if (detach_iface(root, ifname))
			return 0;
		errbuf_set(errbuf, errlen, "ipsec-xdp is not attached to '%s'", ifname);
		return -1;
	}
	if (dp_list_ifaces(root, &names, &n)) {
		errbuf_set(errbuf, errlen, "cannot read %s/links: %s", root, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		detach_iface(root, names[i]);
		free(names[i]);
	}
	free(names);
	remove_pins(root);
	return 0;
}
