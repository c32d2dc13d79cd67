/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dp_env.h - a private dataplane for BPF tests: a temporary bpffs, the
 * skeleton loaded with its maps pinned there, dp_open() on it, and helpers
 * to run crafted frames through the programs with bpf_prog_test_run_opts().
 */
#ifndef IXDP_TEST_DP_ENV_H
#define IXDP_TEST_DP_ENV_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "ipsec_xdp.skel.h"
#include "pkt.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

struct dp_env {
	char dir[64];           /* the bpffs mount point; pin root */
	bool mounted;
	struct ipsec_xdp_bpf *skel;
	struct dp dp;
	bool dp_open;
	int xdp_fd, tc_fd;
};

static int dp_env_quiet_print(enum libbpf_print_level level, const char *fmt,
			      va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void dp_env_down(struct dp_env *e)
{
	if (e->dp_open)
		dp_close(&e->dp);
	ipsec_xdp_bpf__destroy(e->skel);
	e->skel = NULL;
	if (e->mounted)
		umount2(e->dir, MNT_DETACH);
	if (e->dir[0])
		rmdir(e->dir);
	memset(e, 0, sizeof(*e));
}

/* 0, or -1 with a message on stderr. */
static int dp_env_up(struct dp_env *e)
{
	char maps[128], err[512];

	memset(e, 0, sizeof(*e));
	libbpf_set_print(dp_env_quiet_print);
	snprintf(e->dir, sizeof(e->dir), "/tmp/ixdp-test-bpffs.XXXXXX");
	if (!mkdtemp(e->dir)) {
		e->dir[0] = 0;
		perror("mkdtemp");
		return -1;
	}
	if (mount("bpf", e->dir, "bpf", 0, NULL)) {
		perror("mount -t bpf");
		goto fail;
	}
	e->mounted = true;
	snprintf(maps, sizeof(maps), "%s/maps", e->dir);
	if (mkdir(maps, 0700)) {
		perror("mkdir maps");
		goto fail;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	e->skel = ipsec_xdp_bpf__open_opts(&oo);
	if (!e->skel || ipsec_xdp_bpf__load(e->skel)) {
		fprintf(stderr, "cannot load the BPF skeleton: %s\n", strerror(errno));
		goto fail;
	}
	if (dp_open(&e->dp, e->dir, err, sizeof(err))) {
		fprintf(stderr, "dp_open: %s\n", err);
		goto fail;
	}
	e->dp_open = true;
	e->xdp_fd = bpf_program__fd(e->skel->progs.ixdp_xdp_ingress);
	e->tc_fd = bpf_program__fd(e->skel->progs.ixdp_tc_egress);
	return 0;
fail:
	dp_env_down(e);
	return -1;
}

/* Run one frame `repeat` times; the program's return value, or -1.  With
 * ns, the kernel's average run time per repetition. */
static int dp_env_run(int prog_fd, const void *frame, size_t len, int repeat,
		      __u32 *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = (__u32)len, .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	if (ns)
		*ns = o.duration;
	return (int)o.retval;
}

/* 'P' pass, 'D' drop, '?' anything else (a failed run). */
static char dp_env_verdict(const struct dp_env *e, int dir, const void *frame,
			   size_t len)
{
	int r;

	if (dir == IXDP_DIR_IN) {
		r = dp_env_run(e->xdp_fd, frame, len, 1, NULL);
		return r == XDP_PASS ? 'P' : r == XDP_DROP ? 'D' : '?';
	}
	r = dp_env_run(e->tc_fd, frame, len, 1, NULL);
	return r == TC_ACT_OK ? 'P' : r == TC_ACT_SHOT ? 'D' : '?';
}

static char dp_env_send(const struct dp_env *e, int dir, const struct pkt_spec *s)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf);

	return dp_env_verdict(e, dir, buf, len);
}

#endif /* IXDP_TEST_DP_ENV_H */
