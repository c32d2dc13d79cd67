// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_dropev.c - read the drop events; see dataplane_dropev.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane_dropev.h"
#include "dataplane/dataplane_internal.h"

static int dropev_sample(void *ctx, void *data, size_t size)
{
	struct dp_dropev *r = ctx;
	struct ixdp_drop_event ev;

	if (size < sizeof(ev))
		return 0;       /* not ours: skip */
	memcpy(&ev, data, sizeof(ev));
	return r->cb ? r->cb(r->ctx, &ev) : 0;
}

static int open_pinned(const char *root, const char *name, char *errbuf,
		       size_t errlen)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/maps/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int e = errno;

		dp_err(errbuf, errlen, "cannot open %s: %s%s", path, strerror(e),
		       e == ENOENT ? " (dataplane not loaded, or loaded by a "
		       "version without drop events: `ipsec-xdp load` again "
		       "replaces its maps)" : "");
	}
	return fd;
}

int dp_dropev_open(struct dp_dropev *r, const char *root, dp_dropev_cb cb,
		   void *ctx, char *errbuf, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->limit_fd = -1;
	r->cb = cb;
	r->ctx = ctx;
	r->ring_fd = open_pinned(root, "ixdp_drop_events", errbuf, errlen);
	if (r->ring_fd < 0)
		return -1;
	r->limit_fd = open_pinned(root, "ixdp_drop_limit", errbuf, errlen);
	if (r->limit_fd < 0) {
		dp_dropev_close(r);
		return -1;
	}
	r->rb = ring_buffer__new(r->ring_fd, dropev_sample, r, NULL);
	if (!r->rb) {
		dp_err(errbuf, errlen, "cannot read the ring buffer "
		       "ixdp_drop_events: %s", strerror(errno));
		dp_dropev_close(r);
		return -1;
	}
	return 0;
}

void dp_dropev_close(struct dp_dropev *r)
{
	ring_buffer__free(r->rb);
	r->rb = NULL;
	if (r->ring_fd >= 0)
		close(r->ring_fd);
	if (r->limit_fd >= 0)
		close(r->limit_fd);
	r->ring_fd = r->limit_fd = -1;
}

int dp_dropev_fd(struct dp_dropev *r)
{
	return r->rb ? ring_buffer__epoll_fd(r->rb) : -1;
}

int dp_dropev_process(struct dp_dropev *r)
{
	int n;

	if (!r->rb)
		return -EINVAL;
	n = ring_buffer__consume(r->rb);
	return n < 0 ? (n == -EINTR ? 0 : n) : n;
}

int dp_dropev_totals(struct dp_dropev *r, struct dp_dropev_totals *t)
{
	size_t esize = dp_percpu_size(sizeof(struct ixdp_drop_limiter));
	size_t ncpu = esize / sizeof(struct ixdp_drop_limiter);
	struct ixdp_drop_limiter *l = malloc(esize);
	__u32 zero = 0;
	int err;

	memset(t, 0, sizeof(*t));
	if (!l)
		return -ENOMEM;
	err = bpf_map_lookup_elem(r->limit_fd, &zero, l) ? -errno : 0;
	for (size_t c = 0; !err && c < ncpu; c++) {
		t->events += l[c].events;
		t->suppressed += l[c].suppressed;
		t->lost += l[c].lost;
	}
	free(l);
	return err;
}
