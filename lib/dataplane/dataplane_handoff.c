// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_handoff.c - negotiate traffic and xfrm: SA bundles (keyed by rule id) and the need-SA events of the hand-off
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "compile/compile_tuplespace.h"
#include "dataplane/dataplane_internal.h"

/* ---- negotiate traffic and xfrm: SA bundles, events --------------------------
 *
 * The daemon fills ixdp_bundles (which xfrm interface and if_id carries a
 * negotiate flow's SA, or that the pair fell back to clear) and reads
 * ixdp_events (negotiate traffic that found no SA).  Layouts and meaning:
 * include/ipsec_xdp.h.
 */
#include <sys/socket.h>

static const struct {
	const char *name;
	size_t off;
} dp_handoff_maps[] = {
	{ "ixdp_bundles", offsetof(struct dp_handoff, bundles_fd) },
	{ "ixdp_events", offsetof(struct dp_handoff, events_fd) },
	{ "ixdp_event_last", offsetof(struct dp_handoff, event_last_fd) },
	{ "ixdp_xfrm_stats", offsetof(struct dp_handoff, xstats_fd) },
};

#define NHANDOFF (sizeof(dp_handoff_maps) / sizeof(dp_handoff_maps[0]))

static int *handoff_fd(struct dp_handoff *h, size_t i)
{
	return (int *)((char *)h + dp_handoff_maps[i].off);
}

int dp_handoff_open(struct dp_handoff *h, const char *root, char *errbuf,
		    size_t errlen)
{
	char path[512];

	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < NHANDOFF; i++)
		*handoff_fd(h, i) = -1;
	for (size_t i = 0; i < NHANDOFF; i++) {
		snprintf(path, sizeof(path), "%s/maps/%s", root, dp_handoff_maps[i].name);
		*handoff_fd(h, i) = bpf_obj_get(path);
		if (*handoff_fd(h, i) < 0) {
			int e = errno;

			dp_handoff_close(h);
			return dp_err(errbuf, errlen, "cannot open %s: %s%s", path,
				      strerror(e), e == ENOENT ?
				      " (dataplane not loaded, or loaded by a version "
				      "without SA bundles: `ipsec-xdp unload` and load "
				      "again)" : "");
		}
	}
	return 0;
}

void dp_handoff_close(struct dp_handoff *h)
{
	ring_buffer__free(h->rb);
	h->rb = NULL;
	for (size_t i = 0; i < NHANDOFF; i++) {
		int *fd = handoff_fd(h, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

void dp_bundle_key_init(struct ixdp_bundle_key *k, uint32_t rule, int af,
			const void *peer)
{
	memset(k, 0, sizeof(*k));
	k->rule = rule;
	k->fam = af == AF_INET6 ? IXDP_FAM_V6 : IXDP_FAM_V4;
	if (peer)
		memcpy(k->peer, peer, af == AF_INET6 ? 16 : 4);
}

const char *bundle_state_name(uint32_t state)
{
	switch (state) {
	case IXDP_BUNDLE_NONE:
		return "none";
	case IXDP_BUNDLE_NEGOTIATING:
		return "negotiating";
	case IXDP_BUNDLE_UP:
		return "up";
	case IXDP_BUNDLE_SOFT:
		return "soft";
	}
	return "unknown";
}

int dp_bundle_set(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  const struct ixdp_bundle *b, char *errbuf, size_t errlen)
{
	int err;

	if (b->state < IXDP_BUNDLE_NEGOTIATING || b->state > IXDP_BUNDLE_SOFT)
		return dp_err(errbuf, errlen, "SA bundle of rule %u: unknown state %u",
			      k->rule, b->state);
	if (b->state == IXDP_BUNDLE_UP && !b->ifindex)
		return dp_err(errbuf, errlen, "SA bundle of rule %u: state up needs "
			      "the ifindex of an xfrm interface", k->rule);
	if (k->fam > IXDP_FAM_V6 || k->pad[0] || k->pad[1] || k->pad[2])
		return dp_err(errbuf, errlen, "SA bundle of rule %u: bad key", k->rule);
	err = bpf_map_update_elem(h->bundles_fd, k, b, BPF_ANY);
	if (err)
		return dp_err(errbuf, errlen, "cannot write SA bundle of rule %u "
			      "(ixdp_bundles): %s%s", k->rule, strerror(-err),
			      err == -E2BIG || err == -ENOMEM ? " (table full?)" : "");
	return 0;
}

int dp_bundle_get(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  struct ixdp_bundle *b)
{
	return bpf_map_lookup_elem(h->bundles_fd, k, b);
}

int dp_bundle_del(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  char *errbuf, size_t errlen)
{
	int err = bpf_map_delete_elem(h->bundles_fd, k);

	bpf_map_delete_elem(h->event_last_fd, k);  /* report at once next time */
	if (err && err != -ENOENT)
		return dp_err(errbuf, errlen, "cannot delete SA bundle of rule %u: %s",
			      k->rule, strerror(-err));
	return 0;
}

int dp_bundle_list(struct dp_handoff *h, struct ixdp_bundle_key **keys,
		   struct ixdp_bundle **vals, size_t *n)
{
	struct ixdp_bundle_key k, next, *kv = NULL;
	const struct ixdp_bundle_key *prev = NULL;
	struct ixdp_bundle *vv = NULL;
	size_t cnt = 0, cap = 0;
	int err;

	*keys = NULL;
	*vals = NULL;
	*n = 0;
	while (!(err = bpf_map_get_next_key(h->bundles_fd, prev, &next))) {
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			void *a = realloc(kv, nc * sizeof(*kv));

			if (a)
				kv = a;
			a = a ? realloc(vv, nc * sizeof(*vv)) : NULL;
			if (!a) {
				err = -ENOMEM;
				break;
			}
			vv = a;
			cap = nc;
		}
		/* Gone between the two calls: skip it. */
		if (!bpf_map_lookup_elem(h->bundles_fd, &next, &vv[cnt]))
			kv[cnt++] = next;
		k = next;
		prev = &k;
	}
	if (err != -ENOENT) {
		free(kv);
		free(vv);
		return err;
	}
	*keys = kv;
	*vals = vv;
	*n = cnt;
	return 0;
}

static int dp_event_sample(void *ctx, void *data, size_t size)
{
	struct dp_handoff *h = ctx;
	struct ixdp_event ev;

	if (size < sizeof(ev))
		return 0;       /* not ours: skip */
	memcpy(&ev, data, sizeof(ev));
	return h->cb ? h->cb(h->ctx, &ev) : 0;
}

int dp_events_subscribe(struct dp_handoff *h, dp_event_cb cb, void *ctx,
			char *errbuf, size_t errlen)
{
	if (h->rb)
		return dp_err(errbuf, errlen, "already subscribed to ixdp_events");
	h->cb = cb;
	h->ctx = ctx;
	h->rb = ring_buffer__new(h->events_fd, dp_event_sample, h, NULL);
	if (!h->rb)
		return dp_err(errbuf, errlen, "cannot read the ring buffer ixdp_events: %s",
			      strerror(errno));
	return 0;
}

int dp_events_fd(struct dp_handoff *h)
{
	return h->rb ? ring_buffer__epoll_fd(h->rb) : -1;
}

int dp_events_process(struct dp_handoff *h)
{
	int n;

	if (!h->rb)
		return -EINVAL;
	n = ring_buffer__consume(h->rb);
	return n < 0 ? (n == -EINTR ? 0 : n) : n;
}

int dp_read_xfrm_stats(struct dp_handoff *h, uint64_t xs[IXDP_XS__MAX])
{
	return dp_read_percpu_u64(h->xstats_fd, IXDP_XS__MAX, xs);
}

const char *xfrm_stat_name(enum ixdp_xfrm_counter c)
{
	static const char *const names[IXDP_XS__MAX] = {
		[IXDP_XS_REDIRECT]       = "redirect",
		[IXDP_XS_SOFT_PASS]      = "soft_pass",
		[IXDP_XS_NO_BUNDLE]      = "no_bundle",
		[IXDP_XS_NEGOTIATING]    = "negotiating",
		[IXDP_XS_PLAIN_REFUSED]  = "plain_refused",
		[IXDP_XS_XFRM_INFO_FAIL] = "xfrm_info_fail",
		[IXDP_XS_EVENTS]         = "events",
		[IXDP_XS_EVENTS_LIMITED] = "events_limited",
		[IXDP_XS_EVENTS_LOST]    = "events_lost",
		[IXDP_XS_DEFAULT_RESPONSE] = "default_response",
	};

	return (unsigned)c < IXDP_XS__MAX ? names[c] : "unknown";
}

int dp_rule_index(struct dp *dp, const char *name, uint32_t *rule)
{
	struct ixdp_filter_info *info;
	struct ixdp_counter *ctr;
	size_t n;
	int err = dp_read_filters(dp, &info, &ctr, &n);

	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (info[i].rule != ~0u && !strncmp(info[i].name, name, sizeof(info[i].name))) {
			*rule = info[i].rule;
			err = 0;
			break;
		}
	free(info);
	free(ctr);
	return err;
}

/* The first live filter of a rule, by name (id 0) or by id. */
static int find_live_rule(struct dp *dp, const char *name, uint32_t id,
			  struct ixdp_filter_info *out)
{
	struct ixdp_filter_info *info;
	struct ixdp_counter *ctr;
	size_t n;
	int err = dp_read_filters(dp, &info, &ctr, &n);

	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n && err; i++) {
		if (info[i].rule == ~0u || !info[i].rule_id)
			continue;
		if (name ? !strncmp(info[i].name, name, sizeof(info[i].name))
			 : info[i].rule_id == id) {
			*out = info[i];
			err = 0;
		}
	}
	free(info);
	free(ctr);
	return err;
}

int dp_rule_id(struct dp *dp, const char *name, uint32_t *id)
{
	struct ixdp_filter_info f;
	int err = find_live_rule(dp, name, 0, &f);

	if (!err)
		*id = f.rule_id;
	return err;
}

int dp_rule_by_id(struct dp *dp, uint32_t id, char *name, size_t len)
{
	struct ixdp_filter_info f;
	int err = id ? find_live_rule(dp, NULL, id, &f) : -ENOENT;

	if (!err)
		snprintf(name, len, "%.*s", (int)sizeof(f.name), f.name);
	return err;
}
