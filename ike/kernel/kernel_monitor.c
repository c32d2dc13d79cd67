// SPDX-License-Identifier: GPL-2.0-only
/* kernel_monitor.c - the kernel's IPsec counters for `stats` and `show-sa`; see
 * monitor.h. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "kernel/kernel_monitor.h"

#define MONITOR_MAX_SAS 100000	/* bounds the memory one reply takes */

/* ---- reading ---------------------------------------------------------------------- */

struct sa_vec {
	struct monitor_kernel *k;
	size_t cap;
};

static int keep_sa(void *ctx, const struct ikk_sa_info *sa)
{
	struct sa_vec *v = ctx;
	struct monitor_kernel *k = v->k;

	if (k->nsa == MONITOR_MAX_SAS)
		return -E2BIG;
	if (k->nsa == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct ikk_sa_info *n = realloc(k->sa, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		k->sa = n;
		v->cap = cap;
	}
	k->sa[k->nsa++] = *sa;
	return 0;
}

static void read_sas(struct monitor_kernel *k)
{
	struct sa_vec v = { k, 0 };
	struct ikk *h;
	int err;

	if (ikk_open(&h, k->sa_err, sizeof(k->sa_err)))
		return;
	err = ikk_sa_dump(h, keep_sa, &v);
	if (err == -E2BIG || err == -ENOMEM)
		snprintf(k->sa_err, sizeof(k->sa_err), "%s",
			 err == -E2BIG ? "more than 100000 SAs: not summed"
				       : "out of memory");
	else if (err < 0)
		snprintf(k->sa_err, sizeof(k->sa_err), "%s", ikk_error(h));
	else
		k->have_sa = true;
	ikk_close(h);
}

static void read_local_addrs(struct monitor_kernel *k)
{
	struct ifaddrs *all, *i;
	size_t n = 0;

	if (getifaddrs(&all))
		return;
	for (i = all; i; i = i->ifa_next)
		n += i->ifa_addr != NULL;
	k->local = calloc(n ? n : 1, sizeof(*k->local));
	for (i = all; k->local && i; i = i->ifa_next) {
		struct sockaddr_storage ss;

		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, i->ifa_addr, i->ifa_addr->sa_family == AF_INET
		       ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		ikk_addr_from_sockaddr(&ss, &k->local[k->nlocal++]);
	}
	freeifaddrs(all);
}

void monitor_kernel_read(struct monitor_kernel *k)
{
	memset(k, 0, sizeof(*k));
	read_sas(k);
	read_local_addrs(k);
	k->have_xs = !xfrmstat_read(XFRMSTAT_PATH, &k->xs, k->xs_err,
				    sizeof(k->xs_err));
}

void monitor_kernel_free(struct monitor_kernel *k)
{
	free(k->sa);
	free(k->local);
	memset(k, 0, sizeof(*k));
}

/* ---- sums -------------------------------------------------------------------------- */

static bool addr_same(const struct ikk_addr *a, const struct ikk_addr *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && !memcmp(a->u.b, b->u.b, len);
}

bool monitor_is_local(const struct monitor_kernel *k, const struct ikk_addr *a)
{
	for (size_t i = 0; i < k->nlocal; i++)
		if (addr_same(&k->local[i], a))
			return true;
	return false;
}

static void flow_add(struct monitor_flow *f, bool in, const struct ikk_sa_info *s)
{
	if (in) {
		f->bytes_in += s->ctr.bytes;
		f->packets_in += s->ctr.packets;
	} else {
		f->bytes_out += s->ctr.bytes;
		f->packets_out += s->ctr.packets;
	}
}

void monitor_totals(const struct monitor_kernel *k, struct monitor_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < k->nsa; i++) {
		const struct ikk_sa_info *s = &k->sa[i];
		bool in = monitor_is_local(k, &s->dst);

		if (s->proto != IPPROTO_ESP && s->proto != IPPROTO_AH)
			continue;
		t->sas++;
		flow_add(s->proto == IPPROTO_ESP ? &t->esp : &t->ah, in, s);
		flow_add(s->mode == IKK_MODE_TUNNEL ? &t->tunnel : &t->transport,
			 in, s);
		t->integrity_failed += s->ctr.integrity_failed;
		t->replay += s->ctr.replay;
		t->replay_window += s->ctr.replay_window;
	}
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(
		v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v));
}

static struct json_object *flow_json(const struct monitor_flow *f)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "bytes_in", f->bytes_in);
	add_u64(o, "bytes_out", f->bytes_out);
	add_u64(o, "packets_in", f->packets_in);
	add_u64(o, "packets_out", f->packets_out);
	return o;
}

static struct json_object *xfrmstat_json(const struct xfrmstat *xs)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < xs->n; i++)
		add_u64(o, xs->c[i].name, xs->c[i].value);
	return o;
}

struct json_object *monitor_kernel_json(const struct monitor_kernel *k)
{
	struct json_object *o = json_object_new_object();
	struct monitor_totals t;

	if (k->have_sa) {
		monitor_totals(k, &t);
		add_u64(o, "sas", t.sas);
		json_object_object_add(o, "esp", flow_json(&t.esp));
		json_object_object_add(o, "ah", flow_json(&t.ah));
		json_object_object_add(o, "transport", flow_json(&t.transport));
		json_object_object_add(o, "tunnel", flow_json(&t.tunnel));
		add_u64(o, "integrity_failed", t.integrity_failed);
		add_u64(o, "replay", t.replay);
		add_u64(o, "replay_window", t.replay_window);
	} else {
		json_object_object_add(o, "sa_error",
				       json_object_new_string(k->sa_err));
	}
	if (k->have_xs)
		json_object_object_add(o, "xfrm_stat", xfrmstat_json(&k->xs));
	else
		json_object_object_add(o, "xfrm_stat_error",
				       json_object_new_string(k->xs_err));
	return o;
}

static const struct ikk_sa_info *find_sa(const struct monitor_kernel *k,
					 uint32_t spi, const struct ikk_addr *dst)
{
	for (size_t i = 0; i < k->nsa; i++)
		if (k->sa[i].spi == spi && addr_same(&k->sa[i].dst, dst))
			return &k->sa[i];
	return NULL;
}

/* Seconds left before a limit of `limit` seconds from `added`; 0: none. */
static void add_left(struct json_object *o, const char *key, uint64_t limit,
		     uint64_t added, uint64_t now)
{
	uint64_t age = now > added ? now - added : 0;

	if (limit)
		add_u64(o, key, limit > age ? limit - age : 0);
}

static struct json_object *life_json(const struct ikk_sa_info *s, uint64_t now)
{
	const struct ikk_lifetime *l = &s->life;
	struct json_object *o = json_object_new_object();

	add_u64(o, "soft_s", l->soft_secs);
	add_u64(o, "hard_s", l->hard_secs);
	add_u64(o, "soft_kb", l->soft_bytes / 1024);
	add_u64(o, "hard_kb", l->hard_bytes / 1024);
	add_left(o, "soft_left_s", l->soft_secs, s->ctr.add_time, now);
	add_left(o, "hard_left_s", l->hard_secs, s->ctr.add_time, now);
	if (l->soft_bytes)
		add_u64(o, "soft_left_kb", l->soft_bytes > s->ctr.bytes
			? (l->soft_bytes - s->ctr.bytes) / 1024 : 0);
	if (l->hard_bytes)
		add_u64(o, "hard_left_kb", l->hard_bytes > s->ctr.bytes
			? (l->hard_bytes - s->ctr.bytes) / 1024 : 0);
	return o;
}

static struct json_object *sa_json(const struct ikk_sa_info *s, uint64_t now)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "bytes", s->ctr.bytes);
	add_u64(o, "packets", s->ctr.packets);
	add_u64(o, "age_s", now > s->ctr.add_time ? now - s->ctr.add_time : 0);
	if (s->ctr.use_time)
		add_u64(o, "idle_s", now > s->ctr.use_time
			? now - s->ctr.use_time : 0);
	add_u64(o, "integrity_failed", s->ctr.integrity_failed);
	add_u64(o, "replay", s->ctr.replay);
	add_u64(o, "replay_window", s->ctr.replay_window);
	json_object_object_add(o, "lifetime", life_json(s, now));
	return o;
}

static bool child_field(struct json_object *child, const char *key,
			const char **out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(child, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return false;
	*out = json_object_get_string(v);
	return true;
}

/* One direction: the SA with SPI child[spi_key] toward child[dst_key]. */
static void add_direction(struct json_object *child, const char *spi_key,
			  const char *dst_key, const char *out_key,
			  const struct monitor_kernel *k, uint64_t now)
{
	const struct ikk_sa_info *s;
	const char *spi_text, *dst_text;
	struct ikk_addr dst;
	unsigned long spi;
	char *end;

	if (!child_field(child, spi_key, &spi_text) ||
	    !child_field(child, dst_key, &dst_text) ||
	    ikk_addr_parse(dst_text, &dst))
		return;
	errno = 0;
	spi = strtoul(spi_text, &end, 16);
	if (errno || *end || end == spi_text || spi > UINT32_MAX)
		return;
	s = find_sa(k, (uint32_t)spi, &dst);
	if (s)
		json_object_object_add(child, out_key, sa_json(s, now));
}

void monitor_child_json(struct json_object *child,
			const struct monitor_kernel *k, uint64_t now)
{
	add_direction(child, "spi_in", "local", "in", k, now);
	add_direction(child, "spi_out", "peer", "out", k, now);
}
