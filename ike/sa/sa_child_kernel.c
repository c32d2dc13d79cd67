// SPDX-License-Identifier: GPL-2.0-only
/*
 * sa_child_kernel.c - a CHILD SA in the kernel: its xfrm SAs and policies through struct child_kops, installed, replaced and removed
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sa/sa_child.h"
#include "sa/sa_child_policy.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "sa/sa_child_internal.h"

/* ---- the kernel ------------------------------------------------------------------- */

void ikk_addr_of(const struct sockaddr_storage *ss, struct ikk_addr *a)
{
	memset(a, 0, sizeof(*a));
	ikk_addr_from_sockaddr(ss, a);
}

static uint8_t ikk_encr(uint16_t encr)
{
	return encr == IKEV2_ENCR_AES_GCM_16 ? IKK_ENCR_AES_GCM16
					     : IKK_ENCR_AES_CBC;
}

static uint8_t ikk_integ(uint16_t integ)
{
	switch (integ) {
	case IKEV2_INTEG_HMAC_SHA2_256_128: return IKK_INTEG_HMAC_SHA256_128;
	case IKEV2_INTEG_HMAC_SHA2_384_192: return IKK_INTEG_HMAC_SHA384_192;
	case IKEV2_INTEG_HMAC_SHA2_512_256: return IKK_INTEG_HMAC_SHA512_256;
	default:                            return IKK_INTEG_NONE;
	}
}

/* The selector src -> dst of a CHILD SA (ports: the first block of each
 * range here; policies get every block). */
static bool selector(const struct ike_ts *src, const struct ike_ts *dst,
		     struct ikk_selector *sel)
{
	memset(sel, 0, sizeof(*sel));
	if (!ts_prefix(src, &sel->src, &sel->src_plen) ||
	    !ts_prefix(dst, &sel->dst, &sel->dst_plen))
		return false;
	sel->family = sel->src.family;
	sel->proto = src->ip_proto ? src->ip_proto : dst->ip_proto;
	return true;
}

static void sa_common(struct ikesa *sa, const struct child_sa *c, bool in,
		      struct ikk_sa *k)
{
	memset(k, 0, sizeof(*k));
	k->src = in ? c->remote : c->local;
	k->dst = in ? c->local : c->remote;
	k->spi = in ? c->spi_in : c->spi_out;
	k->proto = c->proto;
	k->mode = c->mode;
	k->reqid = c->reqid;
	k->encr = c->proto == IPPROTO_AH ? IKK_ENCR_NONE
					 : ikk_encr(c->suite.encr);
	k->encr_key_bits = c->suite.encr_key_bits;
	k->integ = ikk_integ(c->suite.integ);
	k->replay_window = in ? REPLAY_WINDOW : 0;
	k->life.hard_secs = c->lifetime_s;
	k->life.soft_secs = c->soft_s;
	k->life.hard_bytes = c->lifetime_kb * 1024;
	k->life.soft_bytes = c->lifetime_kb * 1024 / 10 * 9;
	if (c->encap) {
		uint16_t lp = addr_port(&sa->path.local);
		uint16_t pp = addr_port(&sa->path.peer);

		k->encap = true;
		k->encap_sport = in ? pp : lp;
		k->encap_dport = in ? lp : pp;
	}
	k->if_id = c->if_id;
	k->acquire_seq = in ? 0 : c->acquire_seq;
	if (in)
		k->has_sel = selector(&c->ts_r, &c->ts_l, &k->sel);
	else
		k->has_sel = selector(&c->ts_l, &c->ts_r, &k->sel);
}

static void set_keys(struct ikk_sa *k, const uint8_t *encr, size_t elen,
		     const uint8_t *integ, size_t ilen)
{
	memcpy(k->encr_key, encr, elen);
	k->encr_key_len = elen;
	memcpy(k->integ_key, integ, ilen);
	k->integ_key_len = ilen;
}

static void policies_del(struct child_ctx *cx, struct child_sa *c)
{
	while (c->npol)
		cx->kops->policy_delete(cx->kops_ctx, &c->pol[--c->npol]);
}

/* out, in (and fwd in tunnel mode) for every port block combination. */
static int policies_add(struct child_ctx *cx, struct child_sa *c,
			char *err, size_t errlen)
{
	uint16_t lp[4], lm[4], rp[4], rm[4];
	size_t nl = 1, nr = 1, i, j, dir;
	struct ikk_selector base;

	if (!selector(&c->ts_l, &c->ts_r, &base)) {
		snprintf(err, errlen, "an address range that is no prefix");
		return -1;
	}
	lp[0] = lm[0] = rp[0] = rm[0] = 0;
	if (!(c->ts_l.start_port == 0 && c->ts_l.end_port == 65535))
		nl = ikk_port_range_split(c->ts_l.start_port, c->ts_l.end_port,
					  lp, lm, 4);
	if (!(c->ts_r.start_port == 0 && c->ts_r.end_port == 65535))
		nr = ikk_port_range_split(c->ts_r.start_port, c->ts_r.end_port,
					  rp, rm, 4);
	if (nl > 4 || nr > 4 ||
	    nl * nr * (c->mode == IKK_MODE_TUNNEL ? 3 : 2) > CHILD_POL_MAX) {
		snprintf(err, errlen, "port ranges need too many policies");
		return -1;
	}
	for (i = 0; i < nl; i++)
		for (j = 0; j < nr; j++)
			for (dir = 0; dir < 3; dir++) {
				struct ikk_policy *p = &c->pol[c->npol];
				bool out = dir == 0;

				if (dir == 2 && c->mode != IKK_MODE_TUNNEL)
					continue;
				memset(p, 0, sizeof(*p));
				p->sel = base;
				if (!out) {
					p->sel.src = base.dst;
					p->sel.dst = base.src;
					p->sel.src_plen = base.dst_plen;
					p->sel.dst_plen = base.src_plen;
				}
				p->sel.sport = out ? lp[i] : rp[j];
				p->sel.sport_mask = out ? lm[i] : rm[j];
				p->sel.dport = out ? rp[j] : lp[i];
				p->sel.dport_mask = out ? rm[j] : lm[i];
				p->dir = dir == 0 ? IKK_DIR_OUT : dir == 1
					 ? IKK_DIR_IN : IKK_DIR_FWD;
				p->action = IKK_POL_IPSEC;
				p->priority = POL_PRIO_BASE - base.src_plen -
					      base.dst_plen -
					      (base.proto ? 8 : 0) -
					      (p->sel.sport_mask ? 4 : 0) -
					      (p->sel.dport_mask ? 4 : 0);
				p->if_id = c->if_id;
				p->ntmpl = 1;
				p->tmpl[0].proto = c->proto;
				p->tmpl[0].mode = c->mode;
				p->tmpl[0].reqid = c->reqid;
				if (c->mode == IKK_MODE_TUNNEL) {
					p->tmpl[0].src = out ? c->local : c->remote;
					p->tmpl[0].dst = out ? c->remote : c->local;
				}
				if (cx->kops->policy_add(cx->kops_ctx, p, true)) {
					snprintf(err, errlen, "%s", kerr(cx));
					policies_del(cx, c);
					return -1;
				}
				c->npol++;
			}
	return 0;
}

/* IKE (our ports, either way) never goes into ESP. */
static void ike_bypass(struct daemon *d, struct child_ctx *cx)
{
	static const uint8_t fams[2] = { AF_INET, AF_INET6 };
	uint16_t ports[2] = { d->port, d->natt_port };
	size_t f, p, dir;

	if (cx->bypass_done)
		return;
	cx->bypass_done = true;
	for (f = 0; f < 2; f++)
		for (p = 0; p < 2; p++)
			for (dir = 0; dir < 2; dir++) {
				struct ikk_policy pol;

				memset(&pol, 0, sizeof(pol));
				pol.sel.family = fams[f];
				pol.sel.src.family = pol.sel.dst.family = fams[f];
				pol.sel.proto = IPPROTO_UDP;
				if (dir == 0) {		/* out: from our port */
					pol.sel.sport = ports[p];
					pol.sel.sport_mask = 0xffff;
				} else {		/* in: to our port */
					pol.sel.dport = ports[p];
					pol.sel.dport_mask = 0xffff;
				}
				pol.dir = dir ? IKK_DIR_IN : IKK_DIR_OUT;
				pol.action = IKK_POL_BYPASS;
				pol.priority = POL_PRIO_IKE;
				if (cx->kops->policy_add(cx->kops_ctx, &pol, true))
					log_warn("IKE bypass policy: %s", kerr(cx));
			}
}

/* Keys into the two SAs: _i is traffic from the exchange's initiator. */
static void keys_to_sas(const struct ike_child_keys *keys, bool initiator,
			struct ikk_sa *in, struct ikk_sa *out)
{
	if (initiator) {
		set_keys(in, keys->encr_r, keys->encr_len, keys->integ_r,
			 keys->integ_len);
		set_keys(out, keys->encr_i, keys->encr_len, keys->integ_i,
			 keys->integ_len);
	} else {
		set_keys(in, keys->encr_i, keys->encr_len, keys->integ_i,
			 keys->integ_len);
		set_keys(out, keys->encr_r, keys->encr_len, keys->integ_r,
			 keys->integ_len);
	}
}

/* Another CHILD SA of the same reqid (a rekey's other half), or NULL. */
static struct child_sa *same_reqid(struct ikesa *sa, const struct child_sa *c)
{
	struct child_state *st = sa->child;
	size_t i;

	for (i = 0; st && i < st->n; i++)
		if (&st->c[i] != c && st->c[i].reqid == c->reqid)
			return &st->c[i];
	return NULL;
}

void out_pending_free(struct child_sa *c)
{
	if (!c->out_pending)
		return;
	ikk_sa_wipe(c->out_pending);
	free(c->out_pending);
	c->out_pending = NULL;
}

/* Keep the outbound SA for later (a rekey's responder). */
static int defer_out(struct child_sa *c, const struct ikk_sa *out)
{
	c->out_pending = malloc(sizeof(*c->out_pending));
	if (!c->out_pending)
		return -1;
	*c->out_pending = *out;
	return 0;
}

/* Both SAs (the outbound one deferred when asked) and, for a new reqid,
 * the policies.  keys: ours to wipe.  0, or -1 and err. */
static int install(struct daemon *d, struct ikesa *sa, struct child_sa *c,
		   const struct child_keymat *km, struct ike_child_keys *keys,
		   bool later_out, char *err, size_t errlen)
{
	struct child_ctx *cx = ctx_of(d);
	bool policies = !same_reqid(sa, c);
	struct ikk_sa in, out;
	int rc = -1;

	sa_common(sa, c, true, &in);
	sa_common(sa, c, false, &out);
	keys_to_sas(keys, km->initiator, &in, &out);
	c->encr_key_len = keys->encr_len;
	c->integ_key_len = keys->integ_len;
	ike_child_keys_wipe(keys);
	ike_bypass(d, cx);
	if (cx->kops->sa_add(cx->kops_ctx, &in, true)) {
		snprintf(err, errlen, "inbound SA: %s", kerr(cx));
		goto out;
	}
	if (later_out ? defer_out(c, &out)
		      : cx->kops->sa_add(cx->kops_ctx, &out, false)) {
		snprintf(err, errlen, "outbound SA: %s", kerr(cx));
		cx->kops->sa_delete(cx->kops_ctx, &c->local, c->spi_in,
				    c->proto);
		goto out;
	}
	if (policies && policies_add(cx, c, err, errlen)) {
		cx->kops->sa_delete(cx->kops_ctx, &c->local, c->spi_in,
				    c->proto);
		if (c->out_pending)
			out_pending_free(c);
		else
			cx->kops->sa_delete(cx->kops_ctx, &c->remote,
					    c->spi_out, c->proto);
		goto out;
	}
	c->installed = time(NULL);
	c->installed_ms = c->active_ms = daemon_now_ms(d);
	cx->added++;
	d->stats.v[ST_KEY_ADDITIONS]++;
	rc = 0;
out:
	ikk_sa_wipe(&in);
	ikk_sa_wipe(&out);
	return rc;
}

/* Both SAs out of the kernel; the policies go to a CHILD SA of the same
 * reqid when there is one, else they go too. */
void uninstall(struct daemon *d, struct ikesa *sa, struct child_sa *c)
{
	struct child_ctx *cx = ctx_of(d);
	struct child_sa *heir = same_reqid(sa, c);

	if (heir && c->npol) {
		memcpy(heir->pol, c->pol, c->npol * sizeof(c->pol[0]));
		heir->npol = c->npol;
		c->npol = 0;
	}
	policies_del(cx, c);
	cx->kops->sa_delete(cx->kops_ctx, &c->local, c->spi_in, c->proto);
	if (c->out_pending)
		out_pending_free(c);
	else if (!c->dying)	/* a dying one's went first */
		cx->kops->sa_delete(cx->kops_ctx, &c->remote, c->spi_out,
				    c->proto);
	cx->deleted++;
	d->stats.v[ST_KEY_DELETIONS]++;
	if (d->child_change)
		d->child_change(d, c->rule, c->mode, c->remote.family,
				c->remote.u.b, false);
}

struct child_state *state_of(struct ikesa *sa, bool create)
{
	if (!sa->child && create)
		sa->child = calloc(1, sizeof(struct child_state));
	return sa->child;
}

void state_drop_if_empty(struct ikesa *sa)
{
	struct child_state *st = sa->child;

	if (st && st->n == 0) {
		free(st);
		sa->child = NULL;
	}
}

/* The soft limit (a rekey starts there): 90 % of the lifetime less up to
 * 5 % at random, so that the two peers rarely rekey at the same time. */
static uint32_t soft_secs(uint32_t hard)
{
	uint32_t r = 0;

	ike_random(&r, sizeof(r));
	return (uint32_t)((uint64_t)hard * 9 / 10 -
			  (uint64_t)hard / 20 * (r % 1000) / 1000);
}

/* Derive and install; on success the CHILD SA joins sa's. */
int establish(struct daemon *d, struct ikesa *sa, struct child_sa *c,
	      const struct child_keymat *km, bool later_out)
{
	struct ike_child_keys keys;
	struct child_state *st;
	char err[300], l[128], r[128];

	struct child_ctx *cx = ctx_of(d);

	cx->why[0] = 0;
	cx->why_stat = ST_FAIL_OTHER;
	if (ike_child_keys_derive(&keys, &sa->keys, &c->suite, km->g_ir,
				  km->g_ir_len, km->ni, km->ni_len, km->nr,
				  km->nr_len) != IKE_CRYPTO_OK) {
		snprintf(cx->why, sizeof(cx->why), "cannot derive its keys");
		ikelog_event(d, "sa-failed", sa, "CHILD SA failed reason=\"%s\"",
		       cx->why);
		return -1;
	}
	st = state_of(sa, true);
	if (!st || st->n >= CHILD_MAX) {
		ike_child_keys_wipe(&keys);
		snprintf(cx->why, sizeof(cx->why), "too many CHILD SAs");
		ikelog_event(d, "sa-failed", sa, "CHILD SA failed reason=\"%s\"",
		       cx->why);
		return -1;
	}
	/* the dataplane hands traffic over by if_id (dplink.h) */
	c->if_id = d->child_if_id_of ? d->child_if_id_of(d, c->rule, c->mode)
		   : c->mode == IKK_MODE_TRANSPORT ? d->child_if_id : 0;
	c->out_pending = NULL;
	c->npol = 0;
	c->soft_s = soft_secs(c->lifetime_s);
	st->c[st->n] = *c;
	if (install(d, sa, &st->c[st->n], km, &keys, later_out, err,
		    sizeof(err))) {
		state_drop_if_empty(sa);
		cx->failed++;
		cx->why_stat = ST_FAIL_KERNEL;
		snprintf(cx->why, sizeof(cx->why), "the kernel refused the %s "
			 "SA: %s", ikk_proto_name(c->proto), err);
		ikelog_event(d, "sa-failed", sa, "CHILD SA failed reason=\"%s\"",
		       cx->why);
		return -1;
	}
	*c = st->c[st->n++];
	sa->children_keyed++;
	ikelog_event(d, "sa-added", sa, "CHILD SA established rule=%s "
	       "mode=%s spi-in=%08" PRIx32 " spi-out=%08" PRIx32 " reqid=%"
	       PRIu32 " local=%s remote=%s%s%s", c->rule,
	       ikk_mode_name(c->mode), c->spi_in, c->spi_out, c->reqid,
	       ts_str(&c->ts_l, l, sizeof(l)), ts_str(&c->ts_r, r, sizeof(r)),
	       c->encap ? " udp-encap" : "", c->suite.dh ? " pfs" : "");
	if (d->child_change)
		d->child_change(d, c->rule, c->mode, c->remote.family,
				c->remote.u.b, true);
	return 0;
}
