// SPDX-License-Identifier: GPL-2.0-only
/*
 * dp_attach.c - load the BPF object, pin it, attach it to interfaces and
 * take it away again.
 *
 * Layout under the pin root:
 *   maps/<map name>        every map (LIBBPF_PIN_BY_NAME): shared by all
 *                          interfaces, reused by every later load
 *   links/xdp-<ifname>     the XDP bpf_link of one interface
 *   progs/<program name>   the programs of the last load (for bpftool and
 *                          for anyone who wants to inspect what runs)
 * The TC egress program hangs off a clsact qdisc as a tc filter with our
 * handle; the kernel keeps it there without a pin.
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

#include "dataplane.h"
#include "errbuf.h"
#include "ipsec_xdp.skel.h"

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11
#define TC_HANDLE   0x1a5e  /* our tc filter's handle and priority */
#define TC_PRIORITY 0x1a5e
#define LINK_PREFIX "xdp-"


const char *dp_pin_root(void)
{
	const char *env = getenv("IPSEC_XDP_BPFFS");

	return env && *env ? env : IXDP_PIN_ROOT_DEFAULT;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC_NUMBER;
}

static int mkdir_p(const char *path, mode_t mode)
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

/*
 * Make sure the pin root lies on a bpffs.  The default root's parent is
 * /sys/fs/bpf, which is mounted there if it is not (as on hosts without
 * systemd's mount); any other root gets a bpffs of its own if needed.
 */
static int ensure_bpffs(const char *root, char *errbuf, size_t errlen)
{
	char parent[PATH_MAX];
	char *slash;

	if (is_bpffs(root))
		return 0;
	snprintf(parent, sizeof(parent), "%s", root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (mkdir_p(parent, 0700)) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", parent, strerror(errno));
		return -1;
	}
	if (!is_bpffs(parent) && mount("bpf", parent, "bpf", 0, "mode=0700")) {
		errbuf_set(errbuf, errlen, "cannot mount a BPF file system on %s: %s",
			parent, strerror(errno));
		return -1;
	}
	if (mkdir(root, 0700) && errno != EEXIST) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", root, strerror(errno));
		return -1;
	}
	return 0;
}

bool dp_is_loaded(const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/maps/ixdp_state", root);
	return access(path, F_OK) == 0;
}

static void link_path(const char *root, const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/links/" LINK_PREFIX "%s", root, ifname);
}

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

/* A second load on one interface replaces the program inside its link. */
static int attach_xdp(const char *root, const char *ifname, int ifindex,
		      int prog_fd, enum dp_xdp_mode mode, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	int link_fd;

	link_path(root, ifname, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		int err = bpf_link_update(link_fd, prog_fd, NULL);

		close(link_fd);
		if (err) {
			errbuf_set(errbuf, errlen, "cannot replace the XDP program on %s: %s",
				ifname, strerror(-err));
			return -1;
		}
		return 0;
	}

	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_mode_flags(mode));
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (link_fd < 0) {
		int e = errno;

		errbuf_set(errbuf, errlen, "cannot attach XDP to %s: %s%s", ifname, strerror(e),
			e == EBUSY ? " (another XDP program is attached)" :
			e == EOPNOTSUPP && mode == DP_XDP_NATIVE ?
			" (the driver has no native XDP: try --xdp-mode generic)" : "");
		return -1;
	}
	if (bpf_obj_pin(link_fd, path)) {
		errbuf_set(errbuf, errlen, "cannot pin %s: %s", path, strerror(errno));
		close(link_fd);
		return -1;
	}
	close(link_fd);
	return 0;
}

static int attach_tc(const char *ifname, int ifindex, int prog_fd, char *errbuf,
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

static void detach_tc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	bpf_tc_detach(&hook, &opts);
}

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

static struct ipsec_xdp_bpf *open_and_load(const char *root, char *errbuf, size_t errlen)
{
	char maps[PATH_MAX];
	struct ipsec_xdp_bpf *skel;
	int err;

	load_xfrm_interface_module();
	snprintf(maps, sizeof(maps), "%s/maps", root);
	if (mkdir_p(maps, 0700)) {
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
			"cannot load the BPF programs: %s (maps pinned under %s from another "
			"version? run `ipsec-xdp unload` first)", strerror(-err), maps);
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

	snprintf(path, sizeof(path), "%s/progs", root);
	if (mkdir_p(path, 0700)) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
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

int dp_load_iface(const char *root, const char *ifname, enum dp_xdp_mode mode,
		  char *errbuf, size_t errlen)
{
	char links[PATH_MAX];
	struct ipsec_xdp_bpf *skel;
	int ifindex = (int)if_nametoindex(ifname);
	int ret = -1;

	if (!ifindex) {
		errbuf_set(errbuf, errlen, "no interface named '%s'", ifname);
		return -1;
	}
	if (ensure_bpffs(root, errbuf, errlen))
		return -1;
	snprintf(links, sizeof(links), "%s/links", root);
	if (mkdir_p(links, 0700)) {
		errbuf_set(errbuf, errlen, "cannot create %s: %s", links, strerror(errno));
		return -1;
	}
	skel = open_and_load(root, errbuf, errlen);
	if (!skel)
		return -1;
	if (attach_tc(ifname, ifindex, bpf_program__fd(skel->progs.ixdp_tc_egress),
		      errbuf, errlen))
		goto out;
	if (attach_xdp(root, ifname, ifindex,
		       bpf_program__fd(skel->progs.ixdp_xdp_ingress), mode, errbuf, errlen)) {
		detach_tc(ifindex);
		goto out;
	}
	ret = pin_programs(root, skel, errbuf, errlen);
out:
	ipsec_xdp_bpf__destroy(skel); /* the link and the tc filter keep the programs */
	return ret;
}

/* Detach one interface's link (named by its pin) and its tc filter. */
static int detach_link(const char *root, const char *ifname, char *errbuf, size_t errlen)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	link_path(root, ifname, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0) {
		errbuf_set(errbuf, errlen, "ipsec-xdp is not attached to '%s'", ifname);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.xdp.ifindex)
		detach_tc((int)info.xdp.ifindex);
	else if (if_nametoindex(ifname))
		detach_tc((int)if_nametoindex(ifname));
	bpf_link_detach(fd); /* fails harmlessly if the interface is gone */
	close(fd);
	if (unlink(path)) {
		errbuf_set(errbuf, errlen, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int dp_list_ifaces(const char *root, char ***names, size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0;
	DIR *d;

	*names = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/links", root);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		char **nv;

		if (strncmp(de->d_name, LINK_PREFIX, strlen(LINK_PREFIX)))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[cnt] = strdup(de->d_name + strlen(LINK_PREFIX));
		if (v[cnt])
			cnt++;
	}
	closedir(d);
	*names = v;
	*n = cnt;
	return 0;
}

static void remove_pins(const char *root)
{
	const char *subdirs[] = { "maps", "links", "progs" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/%s", root, subdirs[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
		rmdir(path);
	}
	rmdir(root);
}

int dp_unload(const char *root, const char *ifname, char *errbuf, size_t errlen)
{
	char **names;
	size_t n;
	int ret = 0;

	if (ifname)
		return detach_link(root, ifname, errbuf, errlen);
	if (dp_list_ifaces(root, &names, &n)) {
		errbuf_set(errbuf, errlen, "cannot read %s/links: %s", root, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (detach_link(root, names[i], errbuf, errlen))
			ret = -1;
		free(names[i]);
	}
	free(names);
	remove_pins(root);
	return ret;
}
