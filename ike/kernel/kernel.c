// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel.c - xfrm over netlink with libnl-3 (kernel.h says what and why):
 * errors, addresses and selectors, messages, the handle, xfrm interfaces;
 * SAs and policies are in kernel_sa.c, the events in kernel_events.c.
 *
 * Requests go out on a blocking NETLINK_XFRM (or NETLINK_ROUTE) socket with
 * acks capped and extended acks on; the answer is read with nl_recv() and
 * matched by sequence number.  Every buffer received is wiped before it is
 * freed, every request is wiped after it was sent (ikk_msg_free).
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

/* ---- errors -------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
int ikk_fail(struct ikk *k, int err, const char *fmt, ...)
{
	va_list ap;

	if (k) {
		va_start(ap, fmt);
		vsnprintf(k->err, sizeof(k->err), fmt, ap);
		va_end(ap);
	}
	return err < 0 ? err : -err;
}

__attribute__((format(printf, 4, 5)))
static int fail_buf(char *buf, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return err < 0 ? err : -err;
}

const char *ikk_error(const struct ikk *k)
{
	return k ? k->err : "no handle";
}

/* libnl's error codes, for the few places that return them. */
int ikk_nle_errno(int nle)
{
	switch (-nle) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_PERM:
		return -EPERM;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* A hint for the errno of a failed request about an SA / a policy / an
 * interface. */
const char *ikk_hint(int err, char what)
{
	switch (-err) {
	case EPERM:
		return " (needs CAP_NET_ADMIN)";
	case EPROTONOSUPPORT:
		return what == 's' ? " (no ESP/AH support for this address family in this "
				     "kernel: modules esp4, esp6, ah4, ah6 provide it)" : "";
	case ENOSYS:
		return what == 's' ? " (the algorithm is not in the kernel's crypto API)" : "";
	case EEXIST:
		return what == 's' ? " (an SA with this SPI exists)" :
		       what == 'p' ? " (a policy with this selector exists)" :
		       " (the name, or the if_id, or the one external interface of this "
		       "network namespace exists)";
	case ESRCH:
		return " (no such SA)";
	case ENOENT:
		return what == 'p' ? " (no such policy)" : "";
	case EOPNOTSUPP:
		return what == 'i' ? " (no xfrm interfaces in this kernel: module "
				     "xfrm_interface)" : "";
	}
	return "";
}

/* ---- addresses, selectors -------------------------------------------------------- */

int ikk_addr_parse(const char *text, struct ikk_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, &a->u.v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a->u.v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *ikk_addr_str(const struct ikk_addr *a, char *buf, size_t len)
{
	if (!a->family || !inet_ntop(a->family, a->u.b, buf, (socklen_t)len))
		snprintf(buf, len, "%s", a->family ? "?" : "any");
	return buf;
}

int ikk_addr_from_sockaddr(const struct sockaddr_storage *ss, struct ikk_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->family = AF_INET;
		a->u.v4 = ((const struct sockaddr_in *)ss)->sin_addr;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		a->family = AF_INET6;
		a->u.v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
		return 0;
	}
	return -EAFNOSUPPORT;
}

static size_t alen(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

void ikk_put_xaddr(xfrm_address_t *x, const struct ikk_addr *a)
{
	memset(x, 0, sizeof(*x));
	if (a->family)
		memcpy(x, a->u.b, alen(a->family));
}

void ikk_get_xaddr(struct ikk_addr *a, const xfrm_address_t *x, uint16_t family)
{
	memset(a, 0, sizeof(*a));
	if (family != AF_INET && family != AF_INET6)
		return;
	a->family = (uint8_t)family;
	memcpy(a->u.b, x, alen((uint8_t)family));
}

size_t ikk_port_range_split(uint16_t lo, uint16_t hi, uint16_t *ports,
			    uint16_t *masks, size_t max)
{
	uint32_t p = lo, end = hi;
	size_t n = 0;

	if (lo > hi)
		return 0;
	while (p <= end) {
		uint32_t size = 1;

		/* The largest aligned block at p that stays inside the range. */
		while (size < 0x10000 && !(p & (size * 2 - 1)) &&
		       p + size * 2 - 1 <= end)
			size *= 2;
		if (n < max) {
			ports[n] = (uint16_t)p;
			masks[n] = (uint16_t)(0xffffu & ~(size - 1));
		}
		n++;
		p += size;
	}
	return n;
}

void ikk_put_sel(struct xfrm_selector *x, const struct ikk_selector *s)
{
	memset(x, 0, sizeof(*x));
	x->family = s->family;
	ikk_put_xaddr(&x->saddr, &s->src);
	ikk_put_xaddr(&x->daddr, &s->dst);
	x->prefixlen_s = s->src_plen;
	x->prefixlen_d = s->dst_plen;
	x->proto = s->proto;
	x->sport = htons(s->sport & s->sport_mask);
	x->sport_mask = htons(s->sport_mask);
	x->dport = htons(s->dport & s->dport_mask);
	x->dport_mask = htons(s->dport_mask);
}

void ikk_get_sel(struct ikk_selector *s, const struct xfrm_selector *x)
{
	memset(s, 0, sizeof(*s));
	s->family = (uint8_t)x->family;
	ikk_get_xaddr(&s->src, &x->saddr, x->family);
	ikk_get_xaddr(&s->dst, &x->daddr, x->family);
	s->src_plen = x->prefixlen_s;
	s->dst_plen = x->prefixlen_d;
	s->proto = x->proto;
	s->sport = ntohs(x->sport);
	s->sport_mask = ntohs(x->sport_mask);
	s->dport = ntohs(x->dport);
	s->dport_mask = ntohs(x->dport_mask);
}

int ikk_check_sel(const struct ikk_selector *s, char *eb, size_t el)
{
	unsigned max = s->family == AF_INET6 ? 128 : 32;

	if (s->family != AF_INET && s->family != AF_INET6)
		return fail_buf(eb, el, EINVAL, "selector: family must be IPv4 or IPv6");
	if ((s->src.family && s->src.family != s->family) ||
	    (s->dst.family && s->dst.family != s->family))
		return fail_buf(eb, el, EINVAL, "selector: addresses of another family");
	if (s->src_plen > max || s->dst_plen > max)
		return fail_buf(eb, el, EINVAL, "selector: prefix length over %u", max);
	return 0;
}

static void port_str(char *buf, size_t len, const char *what, uint16_t port,
		     uint16_t mask)
{
	size_t l = strlen(buf);

	if (!mask)
		return;
	if (mask == 0xffff)
		snprintf(buf + l, len - l, " %s %u", what, port);
	else
		snprintf(buf + l, len - l, " %s %u/0x%04x", what, port & mask, mask);
}

/* "10.0.0.1/32 -> any udp dport 53" */
const char *ikk_sel_str(const struct ikk_selector *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 4], b[INET6_ADDRSTRLEN + 4];
	const char *pn = s->proto == IPPROTO_TCP ? "tcp" : s->proto == IPPROTO_UDP ? "udp" :
			 s->proto == IPPROTO_ICMP ? "icmp" :
			 s->proto == IPPROTO_ICMPV6 ? "icmpv6" : NULL;
	bool icmp = s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6;

	ikk_addr_str(&s->src, a, sizeof(a));
	if (s->src.family)
		snprintf(a + strlen(a), sizeof(a) - strlen(a), "/%u", s->src_plen);
	ikk_addr_str(&s->dst, b, sizeof(b));
	if (s->dst.family)
		snprintf(b + strlen(b), sizeof(b) - strlen(b), "/%u", s->dst_plen);
	snprintf(buf, len, "%s -> %s", a, b);
	if (pn)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s", pn);
	else if (s->proto)
		snprintf(buf + strlen(buf), len - strlen(buf), " proto %u", s->proto);
	port_str(buf, len, icmp ? "type" : "sport", s->sport, s->sport_mask);
	port_str(buf, len, icmp ? "code" : "dport", s->dport, s->dport_mask);
	return buf;
}

/* ---- SAs: algorithms and checks ------------------------------------------------- */

const char *ikk_proto_name(uint8_t proto)
{
	return proto == IPPROTO_ESP ? "ESP" : proto == IPPROTO_AH ? "AH" : "?";
}

const char *ikk_mode_name(uint8_t mode)
{
	return mode == IKK_MODE_TRANSPORT ? "transport" :
	       mode == IKK_MODE_TUNNEL ? "tunnel" : "?";
}

static const char *encr_alg(uint8_t encr)
{
	return encr == IKK_ENCR_AES_GCM16 ? "rfc4106(gcm(aes))" :
	       encr == IKK_ENCR_AES_CBC ? "cbc(aes)" : "";
}

static const struct {
	const char *alg;
	size_t key_len;
	unsigned icv_bits;
} integs[] = {
	[IKK_INTEG_NONE]            = { "", 0, 0 },
	[IKK_INTEG_HMAC_SHA256_128] = { "hmac(sha256)", 32, 128 },
	[IKK_INTEG_HMAC_SHA384_192] = { "hmac(sha384)", 48, 192 },
	[IKK_INTEG_HMAC_SHA512_256] = { "hmac(sha512)", 64, 256 },
};

#define NINTEG (sizeof(integs) / sizeof(integs[0]))

/* "ESP SA 0xc0000001 10.0.0.1->10.0.0.2 (transport, rfc4106(gcm(aes)) 128)" */
const char *ikk_sa_str(const struct ikk_sa *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s SA 0x%08x %s->%s (%s%s%s%s%s%s)", ikk_proto_name(sa->proto),
		 sa->spi, ikk_addr_str(&sa->src, a, sizeof(a)),
		 ikk_addr_str(&sa->dst, b, sizeof(b)), ikk_mode_name(sa->mode),
		 sa->encr ? ", " : "", encr_alg(sa->encr),
		 sa->encr ? (sa->encr_key_bits == 256 ? " 256" : sa->encr_key_bits == 192 ?
			     " 192" : " 128") : "",
		 sa->integ < NINTEG && sa->integ ? ", " : "",
		 sa->integ < NINTEG ? integs[sa->integ].alg : "?");
	return buf;
}

static int check_sa(const struct ikk_sa *sa, char *eb, size_t el)
{
	char d[256];
	size_t want;

	ikk_sa_str(sa, d, sizeof(d));
	if (sa->src.family != AF_INET && sa->src.family != AF_INET6)
		return fail_buf(eb, el, EINVAL, "%s: no source address", d);
	if (sa->dst.family != sa->src.family)
		return fail_buf(eb, el, EINVAL, "%s: addresses of two families", d);
	if (sa->proto != IPPROTO_ESP && sa->proto != IPPROTO_AH)
		return fail_buf(eb, el, EINVAL, "%s: protocol must be ESP or AH", d);
	if (sa->mode != IKK_MODE_TRANSPORT && sa->mode != IKK_MODE_TUNNEL)
		return fail_buf(eb, el, EINVAL, "%s: mode must be transport or tunnel", d);
	if (!sa->spi || sa->spi < 256)
		return fail_buf(eb, el, EINVAL, "%s: SPIs below 256 are reserved", d);
	if (sa->integ >= NINTEG)
		return fail_buf(eb, el, EINVAL, "%s: unknown integrity algorithm %u", d,
				sa->integ);
	if (sa->proto == IPPROTO_AH) {
		if (sa->encr != IKK_ENCR_NONE)
			return fail_buf(eb, el, EINVAL, "%s: AH does not encrypt", d);
		if (sa->integ == IKK_INTEG_NONE)
			return fail_buf(eb, el, EINVAL, "%s: AH needs an integrity algorithm", d);
	} else {
		switch (sa->encr) {
		case IKK_ENCR_AES_GCM16:
			if (sa->integ != IKK_INTEG_NONE)
				return fail_buf(eb, el, EINVAL, "%s: AES-GCM takes no separate "
						"integrity algorithm", d);
			want = sa->encr_key_bits / 8 + 4;
			break;
		case IKK_ENCR_AES_CBC:
			if (sa->integ == IKK_INTEG_NONE)
				return fail_buf(eb, el, EINVAL, "%s: AES-CBC needs an integrity "
						"algorithm", d);
			want = sa->encr_key_bits / 8;
			break;
		default:
			return fail_buf(eb, el, EINVAL, "%s: ESP needs AES-GCM or AES-CBC", d);
		}
		if (sa->encr_key_bits != 128 && sa->encr_key_bits != 192 &&
		    sa->encr_key_bits != 256)
			return fail_buf(eb, el, EINVAL, "%s: AES keys are 128, 192 or 256 bits", d);
		if (sa->encr_key_len != want)
			return fail_buf(eb, el, EINVAL, "%s: the encryption key must be %zu "
					"bytes%s, not %zu", d, want,
					sa->encr == IKK_ENCR_AES_GCM16 ? " (key + 4-byte salt)" : "",
					sa->encr_key_len);
	}
	if (sa->integ && sa->integ_key_len != integs[sa->integ].key_len)
		return fail_buf(eb, el, EINVAL, "%s: the %s key must be %zu bytes, not %zu", d,
				integs[sa->integ].alg, integs[sa->integ].key_len,
				sa->integ_key_len);
	if (sa->encr_key_len > IKK_KEY_MAX || sa->integ_key_len > IKK_KEY_MAX)
		return fail_buf(eb, el, EINVAL, "%s: key too long", d);
	if (sa->encap && sa->proto != IPPROTO_ESP)
		return fail_buf(eb, el, EINVAL, "%s: only ESP is UDP-encapsulated", d);
	if (sa->encap && (!sa->encap_sport || !sa->encap_dport))
		return fail_buf(eb, el, EINVAL, "%s: UDP encapsulation needs both ports", d);
	if (sa->has_sel && ikk_check_sel(&sa->sel, eb, el))
		return -EINVAL;
	if (sa->has_sel && sa->mode == IKK_MODE_TRANSPORT && sa->sel.family != sa->src.family)
		return fail_buf(eb, el, EINVAL, "%s: a transport SA's selector is of its "
				"own family", d);
	if (sa->replay_window > 4096)
		return fail_buf(eb, el, EINVAL, "%s: replay window over 4096 packets", d);
	return 0;
}

static __u64 lim(uint64_t v)
{
	return v ? v : XFRM_INF;
}

/* ---- messages --------------------------------------------------------------------- */

void ikk_msg_free(struct nl_msg *msg)
{
	struct nlmsghdr *nlh;

	if (!msg)
		return;
	nlh = nlmsg_hdr(msg);
	/* The whole buffer: also what a failed build left past nlmsg_len. */
	explicit_bzero(nlh, IKK_MSG_SIZE);
	nlmsg_free(msg);
}

struct nl_msg *ikk_msg_new(int type, int flags, const void *payload, size_t len)
{
	struct nl_msg *msg = nlmsg_alloc_size(IKK_MSG_SIZE);
	struct nlmsghdr *nlh;

	if (!msg)
		return NULL;
	nlh = nlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, type, (int)len, flags);
	if (!nlh) {
		nlmsg_free(msg);
		return NULL;
	}
	if (len)
		memcpy(nlmsg_data(nlh), payload, len);
	return msg;
}

int ikk_put_u32(struct nl_msg *msg, int type, uint32_t v)
{
	return nla_put_u32(msg, type, v) ? -EMSGSIZE : 0;
}

int ikk_put_mark_ifid(struct nl_msg *msg, uint32_t mark, uint32_t mask, uint32_t if_id)
{
	if (mask) {
		struct xfrm_mark m = { .v = mark, .m = mask };

		if (nla_put(msg, XFRMA_MARK, sizeof(m), &m))
			return -EMSGSIZE;
	}
	if (if_id && ikk_put_u32(msg, XFRMA_IF_ID, if_id))
		return -EMSGSIZE;
	return 0;
}

/* The algorithm attributes: keys are written straight into the message. */
static int put_algs(struct nl_msg *msg, const struct ikk_sa *sa)
{
	struct nlattr *a;

	if (sa->encr == IKK_ENCR_AES_GCM16) {
		struct xfrm_algo_aead *x;

		a = nla_reserve(msg, XFRMA_ALG_AEAD, (int)(sizeof(*x) + sa->encr_key_len));
		if (!a)
			return -EMSGSIZE;
		x = nla_data(a);
		snprintf(x->alg_name, sizeof(x->alg_name), "%s", encr_alg(sa->encr));
		x->alg_key_len = (unsigned)(sa->encr_key_len * 8);
		x->alg_icv_len = 128;
		memcpy(x->alg_key, sa->encr_key, sa->encr_key_len);
	} else if (sa->encr == IKK_ENCR_AES_CBC) {
		struct xfrm_algo *x;

		a = nla_reserve(msg, XFRMA_ALG_CRYPT, (int)(sizeof(*x) + sa->encr_key_len));
		if (!a)
			return -EMSGSIZE;
		x = nla_data(a);
		snprintf(x->alg_name, sizeof(x->alg_name), "%s", encr_alg(sa->encr));
		x->alg_key_len = (unsigned)(sa->encr_key_len * 8);
		memcpy(x->alg_key, sa->encr_key, sa->encr_key_len);
	}
	if (sa->integ) {
		struct xfrm_algo_auth *x;

		a = nla_reserve(msg, XFRMA_ALG_AUTH_TRUNC,
				(int)(sizeof(*x) + sa->integ_key_len));
		if (!a)
			return -EMSGSIZE;
		x = nla_data(a);
		snprintf(x->alg_name, sizeof(x->alg_name), "%s", integs[sa->integ].alg);
		x->alg_key_len = (unsigned)(sa->integ_key_len * 8);
		x->alg_trunc_len = integs[sa->integ].icv_bits;
		memcpy(x->alg_key, sa->integ_key, sa->integ_key_len);
	}
	return 0;
}

int ikk_build_sa_msg(const struct ikk_sa *sa, bool update, struct nl_msg **out,
		     char *eb, size_t el)
{
	struct xfrm_usersa_info p;
	struct nl_msg *msg;
	int err;

	*out = NULL;
	if ((err = check_sa(sa, eb, el)))
		return err;
	memset(&p, 0, sizeof(p));
	if (sa->has_sel) {
		ikk_put_sel(&p.sel, &sa->sel);
	} else {
		p.sel.family = sa->src.family;  /* everything of the family */
	}
	ikk_put_xaddr(&p.id.daddr, &sa->dst);
	p.id.spi = htonl(sa->spi);
	p.id.proto = sa->proto;
	ikk_put_xaddr(&p.saddr, &sa->src);
	p.family = sa->src.family;
	p.mode = sa->mode;
	p.reqid = sa->reqid;
	p.seq = sa->acquire_seq;
	p.lft.soft_byte_limit = lim(sa->life.soft_bytes);
	p.lft.hard_byte_limit = lim(sa->life.hard_bytes);
	p.lft.soft_packet_limit = lim(sa->life.soft_packets);
	p.lft.hard_packet_limit = lim(sa->life.hard_packets);
	p.lft.soft_add_expires_seconds = sa->life.soft_secs;
	p.lft.hard_add_expires_seconds = sa->life.hard_secs;
	/* The legacy 32-bit bitmap below 33 packets; above, or with ESN, the
	 * ESN replay state (with the legacy field 0, as the kernel wants). */
	if (!sa->esn && sa->replay_window <= 32)
		p.replay_window = (uint8_t)sa->replay_window;
	if (sa->esn)
		p.flags |= XFRM_STATE_ESN;

	msg = ikk_msg_new(update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, 0, &p, sizeof(p));
	if (!msg)
		return fail_buf(eb, el, ENOMEM, "out of memory");
	err = put_algs(msg, sa);
	if (!err && (sa->esn || sa->replay_window > 32)) {
		uint32_t w = sa->replay_window ? sa->replay_window : 32;
		uint32_t bmp = (w + 31) / 32;
		struct xfrm_replay_state_esn *r;
		struct nlattr *a = nla_reserve(msg, XFRMA_REPLAY_ESN_VAL,
					       (int)(sizeof(*r) + bmp * sizeof(__u32)));

		if (!a) {
			err = -EMSGSIZE;
		} else {
			r = nla_data(a);
			memset(r, 0, sizeof(*r) + bmp * sizeof(__u32));
			r->bmp_len = bmp;
			r->replay_window = w;
		}
	}
	if (!err && sa->encap) {
		struct xfrm_encap_tmpl e;

		memset(&e, 0, sizeof(e));
		e.encap_type = UDP_ENCAP_ESPINUDP;
		e.encap_sport = htons(sa->encap_sport);
		e.encap_dport = htons(sa->encap_dport);
		ikk_put_xaddr(&e.encap_oa, &sa->encap_oa);
		if (nla_put(msg, XFRMA_ENCAP, sizeof(e), &e))
			err = -EMSGSIZE;
	}
	if (!err)
		err = ikk_put_mark_ifid(msg, sa->mark, sa->mark_mask, sa->if_id);
	if (err) {
		ikk_msg_free(msg);
		return fail_buf(eb, el, err, "cannot build the request: message too long");
	}
	*out = msg;
	return 0;
}

int ikk_build_policy_msg(const struct ikk_policy *pol, bool update,
			 struct nl_msg **out, char *eb, size_t el)
{
	struct xfrm_userpolicy_info p;
	struct nl_msg *msg;
	int err;

	*out = NULL;
	if ((err = ikk_check_sel(&pol->sel, eb, el)))
		return err;
	if (pol->dir > IKK_DIR_FWD)
		return fail_buf(eb, el, EINVAL, "policy: direction must be in, out or fwd");
	if (pol->action > IKK_POL_BLOCK)
		return fail_buf(eb, el, EINVAL, "policy: unknown action %u", pol->action);
	if (pol->action == IKK_POL_IPSEC && (!pol->ntmpl || pol->ntmpl > IKK_MAX_TMPL))
		return fail_buf(eb, el, EINVAL, "policy: IPsec needs 1 to %d templates",
				IKK_MAX_TMPL);
	if (pol->action != IKK_POL_IPSEC && pol->ntmpl)
		return fail_buf(eb, el, EINVAL, "policy: bypass and block take no template");
	for (size_t i = 0; i < pol->ntmpl; i++) {
		const struct ikk_tmpl *t = &pol->tmpl[i];

		if (t->proto != IPPROTO_ESP && t->proto != IPPROTO_AH)
			return fail_buf(eb, el, EINVAL, "policy template %zu: ESP or AH", i);
		if (t->mode == IKK_MODE_TUNNEL &&
		    (!t->src.family || t->src.family != t->dst.family))
			return fail_buf(eb, el, EINVAL, "policy template %zu: a tunnel needs "
					"both endpoints, of one family", i);
		if (t->mode != IKK_MODE_TUNNEL && t->mode != IKK_MODE_TRANSPORT)
			return fail_buf(eb, el, EINVAL, "policy template %zu: unknown mode", i);
	}
	memset(&p, 0, sizeof(p));
	ikk_put_sel(&p.sel, &pol->sel);
	p.lft.soft_byte_limit = p.lft.hard_byte_limit = XFRM_INF;
	p.lft.soft_packet_limit = p.lft.hard_packet_limit = XFRM_INF;
	p.priority = pol->priority;
	p.dir = pol->dir;
	p.action = pol->action == IKK_POL_BLOCK ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW;
	p.share = XFRM_SHARE_ANY;

	msg = ikk_msg_new(update ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY, 0, &p, sizeof(p));
	if (!msg)
		return fail_buf(eb, el, ENOMEM, "out of memory");
	if (pol->ntmpl) {
		struct xfrm_user_tmpl t[IKK_MAX_TMPL];

		memset(t, 0, sizeof(t));
		for (size_t i = 0; i < pol->ntmpl; i++) {
			const struct ikk_tmpl *s = &pol->tmpl[i];

			t[i].id.proto = s->proto;
			t[i].id.spi = htonl(s->spi);
			t[i].family = s->mode == IKK_MODE_TUNNEL ? s->dst.family : pol->sel.family;
			if (s->mode == IKK_MODE_TUNNEL) {
				ikk_put_xaddr(&t[i].id.daddr, &s->dst);
				ikk_put_xaddr(&t[i].saddr, &s->src);
			}
			t[i].reqid = s->reqid;
			t[i].mode = s->mode;
			t[i].share = XFRM_SHARE_ANY;
			t[i].optional = s->optional;
			t[i].aalgos = t[i].ealgos = t[i].calgos = ~0u;
		}
		if (nla_put(msg, XFRMA_TMPL, (int)(pol->ntmpl * sizeof(t[0])), t))
			err = -EMSGSIZE;
	}
	if (!err)
		err = ikk_put_mark_ifid(msg, pol->mark, pol->mark_mask, pol->if_id);
	if (err) {
		ikk_msg_free(msg);
		return fail_buf(eb, el, err, "cannot build the request: message too long");
	}
	*out = msg;
	return 0;
}

/* ---- talking to the kernel --------------------------------------------------------- */

int ikk_open_sock(int proto, struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, err;

	*out = NULL;
	if (!sk)
		return -ENOMEM;
	nl_socket_disable_auto_ack(sk);     /* acks asked for per request */
	nl_socket_enable_msg_peek(sk);      /* receive dumps whole */
	err = nl_connect(sk, proto);
	if (err) {
		int e = errno ? -errno : ikk_nle_errno(err);

		nl_socket_free(sk);
		return e;
	}
	/* Errors do not echo the request (it may hold keys); the kernel
	 * explains them in words where it can. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	*out = sk;
	return 0;
}

/* The errno and extended-ack message of an NLMSG_ERROR. */
static int parse_nlerr(const struct nlmsghdr *h, char *kmsg, size_t kmlen)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off;

	if (kmlen)
		kmsg[0] = 0;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return -EIO;
	if (e->error && (h->nlmsg_flags & NLM_F_ACK_TLVS) && kmlen) {
		off = sizeof(*e);
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(e->msg);
		if (NLMSG_LENGTH(off) < h->nlmsg_len) {
			struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
			struct nlattr *head = (struct nlattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(off));
			int len = (int)(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(off)));

			if (len > 0 && !nla_parse(tb, NLMSGERR_ATTR_MAX, head, len, NULL) &&
			    tb[NLMSGERR_ATTR_MSG])
				snprintf(kmsg, kmlen, "%.*s", nla_len(tb[NLMSGERR_ATTR_MSG]),
					 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
		}
	}
	return e->error;
}

/*
 * Send msg (it is wiped and freed here) and read the answer: an ack or
 * error, or (with on_reply) the reply messages until a single one, or
 * NLMSG_DONE for a dump.  0 or -errno; kmsg gets the kernel's words.
 */
int ikk_talk(struct nl_sock *sk, struct nl_msg *msg, bool ack, reply_fn on_reply,
	     void *ctx, char *kmsg, size_t kmlen)
{
	struct nlmsghdr *req = nlmsg_hdr(msg);
	bool dump = req->nlmsg_flags & NLM_F_DUMP;
	uint32_t seq;
	int err;

	if (kmlen)
		kmsg[0] = 0;
	if (ack)
		req->nlmsg_flags |= NLM_F_ACK;
	nl_complete_msg(sk, msg);
	seq = req->nlmsg_seq;
	err = nl_send(sk, msg);
	ikk_msg_free(msg);
	if (err < 0)
		return errno ? -errno : ikk_nle_errno(err);
	for (;;) {
		struct sockaddr_nl nla;
		unsigned char *buf = NULL;
		struct nlmsghdr *h;
		int n = nl_recv(sk, &nla, &buf, NULL), len, done = 0, rc = 0;

		if (n <= 0) {
			free(buf);
			if (n == -NLE_INTR || n == -NLE_AGAIN)
				continue;
			return n == 0 ? -EIO : ikk_nle_errno(n);
		}
		len = n;
		for (h = (struct nlmsghdr *)buf; nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				rc = parse_nlerr(h, kmsg, kmlen);
				done = 1;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
			} else if (on_reply && !rc) {
				rc = on_reply(ctx, h);
				if (!dump && !ack)
					done = 1;
				if (rc && dump)
					continue;       /* read the dump to its end */
			}
			if (done)
				break;
		}
		explicit_bzero(buf, (size_t)n);   /* SA replies carry keys */
		free(buf);
		if (done)
			return rc;
	}
}

void ikk_with_kmsg(struct ikk *k, const char *kmsg)
{
	size_t l = strlen(k->err);

	if (kmsg[0] && l + 12 < sizeof(k->err))
		snprintf(k->err + l, sizeof(k->err) - l, " (kernel: %s)", kmsg);
}

/*
 * Send a request that ikk_build_*_msg() built (built = its result, why =
 * its reason), or report why it could not be built; errors read "cannot
 * VERB WHAT: ...".  why is the caller's buffer, never k->err, which the
 * message is written into.
 */
int ikk_send_built(struct ikk *k, int built, const char *why, struct nl_msg *msg,
		   const char *verb, const char *what, char hint_kind)
{
	char kmsg[256];
	int err;

	k->err[0] = 0;
	if (built)
		return ikk_fail(k, built, "cannot %s %s: %s", verb, what,
				why[0] ? why : strerror(-built));
	err = ikk_talk(k->xfrm, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot %s %s: %s%s", verb, what, strerror(-err),
			 ikk_hint(err, hint_kind));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}

/* ---- the handle ------------------------------------------------------------------ */

int ikk_open(struct ikk **out, char *errbuf, size_t errlen)
{
	struct ikk *k = calloc(1, sizeof(*k));
	int err;

	*out = NULL;
	if (!k)
		return fail_buf(errbuf, errlen, ENOMEM, "out of memory");
	err = ikk_open_sock(NETLINK_XFRM, &k->xfrm);
	if (err) {
		free(k);
		return fail_buf(errbuf, errlen, err, "cannot open an xfrm netlink socket: %s%s",
				strerror(-err), err == -EPROTONOSUPPORT ?
				" (no xfrm_user in this kernel)" : "");
	}
	*out = k;
	return 0;
}

void ikk_close(struct ikk *k)
{
	if (!k)
		return;
	nl_socket_free(k->xfrm);
	nl_socket_free(k->ev);
	nl_socket_free(k->rt);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

/* ---- xfrm interfaces -------------------------------------------------------------------- */

static int rt_sock(struct ikk *k)
{
	int err;

	if (k->rt)
		return 0;
	err = ikk_open_sock(NETLINK_ROUTE, &k->rt);
	if (err)
		return ikk_fail(k, err, "cannot open an rtnetlink socket: %s", strerror(-err));
	return 0;
}

static int link_msg(struct ikk *k, int type, int flags, int ifindex, unsigned ifflags,
		    unsigned change, struct nl_msg **out)
{
	struct ifinfomsg ifi;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = ifindex;
	ifi.ifi_flags = ifflags;
	ifi.ifi_change = change;
	*out = ikk_msg_new(type, flags, &ifi, sizeof(ifi));
	return *out ? 0 : ikk_fail(k, ENOMEM, "out of memory");
}

int ikk_xfrmi_add(struct ikk *k, const char *name, uint32_t if_id, bool external,
		  int *ifindex)
{
	struct nlattr *info, *data, *af, *af6;
	char kmsg[256];
	struct nl_msg *msg;
	int err, idx;

	k->err[0] = 0;
	if (ifindex)
		*ifindex = 0;
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return ikk_fail(k, EINVAL, "cannot add xfrm interface: a name of 1 to %d characters",
				IFNAMSIZ - 1);
	if (external ? if_id != 0 : if_id == 0)
		return ikk_fail(k, EINVAL, "cannot add xfrm interface %s: %s", name, external ?
				"an external interface has no if_id of its own" :
				"a plain interface needs an if_id other than 0");
	if ((err = rt_sock(k)))
		return err;
	if ((err = link_msg(k, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0, 0, &msg)))
		return err;
	if (nla_put_string(msg, IFLA_IFNAME, name) ||
	    !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "xfrm") ||
	    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
	    (external ? nla_put_flag(msg, IFLA_XFRM_COLLECT_METADATA)
		      : nla_put_u32(msg, IFLA_XFRM_IF_ID, if_id))) {
		ikk_msg_free(msg);
		return ikk_fail(k, EMSGSIZE, "cannot build the request for %s", name);
	}
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	err = ikk_talk(k->rt, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot add xfrm interface %s (%s%.0u): %s%s", name,
			 external ? "external" : "if_id ", external ? 0 : if_id,
			 strerror(-err), ikk_hint(err, 'i'));
		ikk_with_kmsg(k, kmsg);
		return err;
	}
	idx = (int)if_nametoindex(name);
	if (!idx)
		return ikk_fail(k, errno ? errno : ENODEV, "added xfrm interface %s, but it is gone",
				name);
	/* Loose reverse-path filtering: decrypted packets arrive on this
	 * interface, the route back to their source is via the real one, and
	 * strict filtering (rp_filter 1 in net.ipv4.conf.all) would drop
	 * them; the kernel uses the larger of `all` and the interface's. */
	if (!link_msg(k, RTM_SETLINK, 0, idx, 0, 0, &msg)) {
		struct nlattr *conf;

		if ((af = nla_nest_start(msg, IFLA_AF_SPEC)) &&
		    (af6 = nla_nest_start(msg, AF_INET)) &&
		    (conf = nla_nest_start(msg, IFLA_INET_CONF)) &&
		    !nla_put_u32(msg, IPV4_DEVCONF_RP_FILTER, 2)) {
			nla_nest_end(msg, conf);
			nla_nest_end(msg, af6);
			nla_nest_end(msg, af);
			err = ikk_talk(k->rt, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
			if (err) {
				ikk_fail(k, err, "added xfrm interface %s, but cannot make its "
					 "rp_filter loose: %s", name, strerror(-err));
				ikk_with_kmsg(k, kmsg);
				return err;
			}
		} else {
			ikk_msg_free(msg);
		}
	}
	/* No IPv6 link-local address: no MLD or router solicitations that
	 * would leave without an if_id.  Not fatal where IPv6 is off. */
	if (!link_msg(k, RTM_SETLINK, 0, idx, 0, 0, &msg)) {
		if ((af = nla_nest_start(msg, IFLA_AF_SPEC)) &&
		    (af6 = nla_nest_start(msg, AF_INET6)) &&
		    !nla_put_u8(msg, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE)) {
			nla_nest_end(msg, af6);
			nla_nest_end(msg, af);
			ikk_talk(k->rt, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
		} else {
			ikk_msg_free(msg);
		}
	}
	if ((err = link_msg(k, RTM_SETLINK, 0, idx, IFF_UP, IFF_UP, &msg)))
		return err;
	err = ikk_talk(k->rt, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "added xfrm interface %s, but cannot set it up: %s", name,
			 strerror(-err));
		ikk_with_kmsg(k, kmsg);
		return err;
	}
	if (ifindex)
		*ifindex = idx;
	return 0;
}

int ikk_xfrmi_del(struct ikk *k, const char *name)
{
	char kmsg[256];
	struct nl_msg *msg;
	int err, idx;

	k->err[0] = 0;
	idx = name ? (int)if_nametoindex(name) : 0;
	if (!idx)
		return ikk_fail(k, ENODEV, "cannot delete xfrm interface %s: no such interface",
				name ? name : "(null)");
	if ((err = rt_sock(k)) || (err = link_msg(k, RTM_DELLINK, 0, idx, 0, 0, &msg)))
		return err;
	err = ikk_talk(k->rt, msg, true, NULL, NULL, kmsg, sizeof(kmsg));
	if (err) {
		ikk_fail(k, err, "cannot delete interface %s: %s", name, strerror(-err));
		ikk_with_kmsg(k, kmsg);
	}
	return err;
}
