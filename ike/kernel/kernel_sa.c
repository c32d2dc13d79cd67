// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel_sa.c - xfrm SAs and policies: SPIs, adding, updating, deleting, counters
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/socket.h>

#include "kernel/kernel.h"
#include "kernel/kernel_internal.h"


/* ---- SAs ---------------------------------------------------------------------------- */

void ikk_sa_wipe(struct ikk_sa *sa)
{
	explicit_bzero(sa, sizeof(*sa));
}

static int sa_send(struct ikk *k, const struct ikk_sa *sa, bool update)
{
	char d[256], why[256] = "";
	struct nl_msg *msg = NULL;
	int built;

	ikk_sa_str(sa, d, sizeof(d));
	built = ikk_build_sa_msg(sa, update, &msg, why, sizeof(why));
	return ikk_send_built(k, built, why, msg, update ? "update" : "add", d, 's');
}

int ikk_sa_add(struct ikk *k, const struct ikk_sa *sa)
{
	return sa_send(k, sa, false);
}

int ikk_sa_update(struct ikk *k, const struct ikk_sa *sa)
{
	return sa_send(k, sa, true);
}

static struct nl_msg *sa_id_msg(int type, const struct ikk_addr *dst, uint32_t spi,
				uint8_t proto, uint32_t mark, uint32_t mark_mask)
{
	struct xfrm_usersa_id id;
	struct nl_msg *msg;

	memset(&id, 0, sizeof(id));
	ikk_put_xaddr(&id.daddr, dst);
	id.spi = htonl(spi);
	id.family = dst->family;
	id.proto = proto;
	msg = ikk_msg_new(type, 0, &id, sizeof(id));
	if (msg && ikk_put_mark_ifid(msg, mark, mark_mask, 0)) {
		ikk_msg_free(msg);
		msg = NULL;
	}
	return msg;
}

int ikk_sa_delete(struct ikk *k, const struct ikk_addr *dst, uint32_t spi,
		  uint8_t proto, uint32_t mark, uint32_t mark_mask)
{
	char a[INET6_ADDRSTRLEN], kmsg[256];
	struct nl_msg *msg;
	int err;

	k->err[0] = 0;
	if (dst->family != AF_INET && dst->family != AF_INET6)
		return ikk_fail(k, EINVAL, "cannot delete %s SA 0x%08x: no destination address",
				ikk_proto_name(proto), spi);
	msg = sa_id_msg(XFRM_MSG_DELSA, dst, spi, proto, mark, mark_mask);
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot delete %s SA 0x%08x to %s: %s%s", ikk_proto_name(proto),
			 spi, ikk_addr_str(dst, a, sizeof(a)), strerror(-err), ikk_hint(err, 's'));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

static int got_spi(void *ctx, const struct nlmsghdr *h)
{
	const struct xfrm_usersa_info *p = NLMSG_DATA(h);

	if (h->nlmsg_type != XFRM_MSG_NEWSA || h->nlmsg_len < NLMSG_LENGTH(sizeof(*p)))
		return -EIO;
	*(uint32_t *)ctx = ntohl(p->id.spi);
	return 0;
}

int ikk_spi_alloc(struct ikk *k, const struct ikk_addr *src,
		  const struct ikk_addr *dst, uint8_t proto, uint8_t mode,
		  uint32_t reqid, uint32_t if_id, uint32_t min, uint32_t max,
		  uint32_t *spi)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], kmsg[256];
	struct xfrm_userspi_info u;
	struct nl_msg *msg;
	int err;

	k->err[0] = 0;
	if (!min && !max) {
		min = IKK_SPI_MIN;
		max = IKK_SPI_MAX;
	}
	if (src->family != dst->family || !dst->family || min < 256 || min > max)
		return ikk_fail(k, EINVAL, "cannot allocate an SPI: bad addresses or range");
	memset(&u, 0, sizeof(u));
	ikk_put_xaddr(&u.info.id.daddr, dst);
	u.info.id.proto = proto;
	ikk_put_xaddr(&u.info.saddr, src);
	u.info.family = dst->family;
	u.info.mode = mode;
	u.info.reqid = reqid;
	u.info.sel.family = dst->family;
	u.min = min;
	u.max = max;
	msg = ikk_msg_new(XFRM_MSG_ALLOCSPI, 0, &u, sizeof(u));
	if (msg && if_id && ikk_put_u32(msg, XFRMA_IF_ID, if_id)) {
		ikk_msg_free(msg);
		msg = NULL;
	}
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, false, got_spi, spi, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot allocate an %s SPI for %s->%s: %s%s", ikk_proto_name(proto),
			 ikk_addr_str(src, a, sizeof(a)), ikk_addr_str(dst, b, sizeof(b)),
			 strerror(-err), ikk_hint(err, 's'));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

static void get_counters(struct ikk_sa_counters *c, const struct xfrm_usersa_info *p)
{
	memset(c, 0, sizeof(*c));
	c->bytes = p->curlft.bytes;
	c->packets = p->curlft.packets;
	c->add_time = p->curlft.add_time;
	c->use_time = p->curlft.use_time;
	c->replay_window = p->stats.replay_window;
	c->replay = p->stats.replay;
	c->integrity_failed = p->stats.integrity_failed;
}

static int got_counters(void *ctx, const struct nlmsghdr *h)
{
	const struct xfrm_usersa_info *p = NLMSG_DATA(h);

	if (h->nlmsg_type != XFRM_MSG_NEWSA || h->nlmsg_len < NLMSG_LENGTH(sizeof(*p)))
		return -EIO;
	get_counters(ctx, p);
	return 0;
}

int ikk_sa_counters(struct ikk *k, const struct ikk_addr *dst, uint32_t spi,
		    uint8_t proto, uint32_t mark, uint32_t mark_mask,
		    struct ikk_sa_counters *out)
{
	char a[INET6_ADDRSTRLEN], kmsg[256];
	struct nl_msg *msg;
	int err;

	k->err[0] = 0;
	memset(out, 0, sizeof(*out));
	if (dst->family != AF_INET && dst->family != AF_INET6)
		return ikk_fail(k, EINVAL, "cannot read %s SA 0x%08x: no destination address",
				ikk_proto_name(proto), spi);
	msg = sa_id_msg(XFRM_MSG_GETSA, dst, spi, proto, mark, mark_mask);
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, false, got_counters, out, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot read %s SA 0x%08x to %s: %s%s", ikk_proto_name(proto), spi,
			 ikk_addr_str(dst, a, sizeof(a)), strerror(-err), ikk_hint(err, 's'));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

struct dump_ctx {
	int (*cb)(void *ctx, const struct ikk_sa_info *sa);
	void *ctx;
};

static void alg_name(char *dst, size_t len, const struct nlattr *a)
{
	/* Every xfrm_algo* starts with the 64-byte name. */
	if (a && nla_len(a) >= 64)
		snprintf(dst, len, "%.*s", 63, (const char *)nla_data(a));
}

static int got_sa(void *vctx, const struct nlmsghdr *h)
{
	struct dump_ctx *d = vctx;
	const struct xfrm_usersa_info *p = NLMSG_DATA(h);
	struct nlattr *tb[XFRMA_MAX + 1];
	struct ikk_sa_info s;

	if (h->nlmsg_type != XFRM_MSG_NEWSA || h->nlmsg_len < NLMSG_LENGTH(sizeof(*p)))
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*p), tb, XFRMA_MAX, NULL))
		return 0;
	memset(&s, 0, sizeof(s));
	ikk_get_xaddr(&s.src, &p->saddr, p->family);
	ikk_get_xaddr(&s.dst, &p->id.daddr, p->family);
	s.spi = ntohl(p->id.spi);
	s.proto = p->id.proto;
	s.mode = p->mode;
	s.reqid = p->reqid;
	s.replay_window_size = p->replay_window;
	s.esn = p->flags & XFRM_STATE_ESN;
	ikk_get_sel(&s.sel, &p->sel);
	s.life.soft_bytes = p->lft.soft_byte_limit == XFRM_INF ? 0 : p->lft.soft_byte_limit;
	s.life.hard_bytes = p->lft.hard_byte_limit == XFRM_INF ? 0 : p->lft.hard_byte_limit;
	s.life.soft_packets = p->lft.soft_packet_limit == XFRM_INF ? 0 : p->lft.soft_packet_limit;
	s.life.hard_packets = p->lft.hard_packet_limit == XFRM_INF ? 0 : p->lft.hard_packet_limit;
	s.life.soft_secs = p->lft.soft_add_expires_seconds;
	s.life.hard_secs = p->lft.hard_add_expires_seconds;
	get_counters(&s.ctr, p);
	if (tb[XFRMA_ALG_AEAD] && nla_len(tb[XFRMA_ALG_AEAD]) >= (int)sizeof(struct xfrm_algo_aead)) {
		const struct xfrm_algo_aead *x = nla_data(tb[XFRMA_ALG_AEAD]);

		alg_name(s.encr, sizeof(s.encr), tb[XFRMA_ALG_AEAD]);
		s.encr_key_bits = (uint16_t)(x->alg_key_len > 32 ? x->alg_key_len - 32 : 0);
		s.integ_icv_bits = (uint16_t)x->alg_icv_len;
	}
	if (tb[XFRMA_ALG_CRYPT] && nla_len(tb[XFRMA_ALG_CRYPT]) >= (int)sizeof(struct xfrm_algo)) {
		const struct xfrm_algo *x = nla_data(tb[XFRMA_ALG_CRYPT]);

		alg_name(s.encr, sizeof(s.encr), tb[XFRMA_ALG_CRYPT]);
		s.encr_key_bits = (uint16_t)x->alg_key_len;
	}
	if (tb[XFRMA_ALG_AUTH_TRUNC] &&
	    nla_len(tb[XFRMA_ALG_AUTH_TRUNC]) >= (int)sizeof(struct xfrm_algo_auth)) {
		const struct xfrm_algo_auth *x = nla_data(tb[XFRMA_ALG_AUTH_TRUNC]);

		alg_name(s.integ, sizeof(s.integ), tb[XFRMA_ALG_AUTH_TRUNC]);
		s.integ_icv_bits = (uint16_t)x->alg_trunc_len;
	} else if (tb[XFRMA_ALG_AUTH]) {
		alg_name(s.integ, sizeof(s.integ), tb[XFRMA_ALG_AUTH]);
	}
	if (tb[XFRMA_ENCAP] && nla_len(tb[XFRMA_ENCAP]) >= (int)sizeof(struct xfrm_encap_tmpl)) {
		const struct xfrm_encap_tmpl *e = nla_data(tb[XFRMA_ENCAP]);

		s.encap = true;
		s.encap_sport = ntohs(e->encap_sport);
		s.encap_dport = ntohs(e->encap_dport);
	}
	if (tb[XFRMA_IF_ID] && nla_len(tb[XFRMA_IF_ID]) >= 4)
		s.if_id = nla_get_u32(tb[XFRMA_IF_ID]);
	if (tb[XFRMA_REPLAY_ESN_VAL] &&
	    nla_len(tb[XFRMA_REPLAY_ESN_VAL]) >= (int)sizeof(struct xfrm_replay_state_esn)) {
		const struct xfrm_replay_state_esn *r = nla_data(tb[XFRMA_REPLAY_ESN_VAL]);

		s.replay_window_size = r->replay_window;
	}
	return d->cb(d->ctx, &s);
}

int ikk_sa_dump(struct ikk *k, int (*cb)(void *ctx, const struct ikk_sa_info *sa),
		void *ctx)
{
	struct dump_ctx d = { cb, ctx };
	char kmsg[256];
	struct nl_msg *msg;
	int err;

	k->err[0] = 0;
	msg = ikk_msg_new(XFRM_MSG_GETSA, NLM_F_DUMP, NULL, 0);
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, false, got_sa, &d, kmsg, sizeof(kmsg));
	if (err < 0) {
		ikk_fail(k, err, "cannot list the SAs: %s%s", strerror(-err), ikk_hint(err, 's'));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

/* ---- policies ------------------------------------------------------------------------ */

static const char *dir_name(uint8_t dir)
{
	return dir == IKK_DIR_IN ? "in" : dir == IKK_DIR_OUT ? "out" :
	       dir == IKK_DIR_FWD ? "fwd" : "?";
}

static struct nl_msg *policy_id_msg(int type, const struct ikk_policy *pol)
{
	struct xfrm_userpolicy_id id;
	struct nl_msg *msg;

	memset(&id, 0, sizeof(id));
	ikk_put_sel(&id.sel, &pol->sel);
	id.dir = pol->dir;
	msg = ikk_msg_new(type, 0, &id, sizeof(id));
	if (msg && ikk_put_mark_ifid(msg, pol->mark, pol->mark_mask, pol->if_id)) {
		ikk_msg_free(msg);
		msg = NULL;
	}
	return msg;
}

static int got_policy(void *ctx, const struct nlmsghdr *h)
{
	const struct xfrm_userpolicy_info *p = NLMSG_DATA(h);

	if (h->nlmsg_type != XFRM_MSG_NEWPOLICY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*p)))
		return -EIO;
	*(uint32_t *)ctx = p->index;
	return 0;
}

static int policy_send(struct ikk *k, struct ikk_policy *pol, bool update)
{
	char d[256], kmsg[256], why[256] = "";
	struct nl_msg *msg = NULL;
	int err;

	k->err[0] = 0;
	snprintf(d, sizeof(d), "%s policy ", dir_name(pol->dir));
	ikk_sel_str(&pol->sel, d + strlen(d), sizeof(d) - strlen(d));
	if (pol->if_id)
		snprintf(d + strlen(d), sizeof(d) - strlen(d), " if_id %u", pol->if_id);
	err = ikk_build_policy_msg(pol, update, &msg, why, sizeof(why));
	err = ikk_send_built(k, err, why, msg, update ? "update" : "add", d, 'p');
	if (err)
		return err;
	/* The kernel's index (ACQUIRE names the policy by it). */
	msg = policy_id_msg(XFRM_MSG_GETPOLICY, pol);
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, false, got_policy, &pol->index, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "added %s, but cannot read it back: %s", d, strerror(-err));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

int ikk_policy_add(struct ikk *k, struct ikk_policy *pol)
{
	return policy_send(k, pol, false);
}

int ikk_policy_update(struct ikk *k, struct ikk_policy *pol)
{
	return policy_send(k, pol, true);
}

int ikk_policy_delete(struct ikk *k, const struct ikk_policy *pol)
{
	char d[256], kmsg[256];
	struct nl_msg *msg;
	int err;

	k->err[0] = 0;
	snprintf(d, sizeof(d), "%s policy ", dir_name(pol->dir));
	ikk_sel_str(&pol->sel, d + strlen(d), sizeof(d) - strlen(d));
	if ((err = ikk_check_sel(&pol->sel, k->err, sizeof(k->err))))
		return ikk_fail(k, err, "cannot delete %s: bad selector", d);
	msg = policy_id_msg(XFRM_MSG_DELPOLICY, pol);
	if (!msg)
		return ikk_fail(k, ENOMEM, "out of memory");
	err = ikk_talk(k->xfrm, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot delete %s%s%.0u: %s%s", d, pol->if_id ? " if_id " : "",
			 pol->if_id, strerror(-err), ikk_hint(err, 'p'));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}
