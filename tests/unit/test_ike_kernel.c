// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_kernel.c - ike/kernel/kernel.c: the xfrm messages it builds (read back
 * attribute by attribute), its checks and error sentences, event decoding,
 * port ranges; then, as root in a private network namespace, the host
 * kernel: policies install and delete, an ACQUIRE event arrives, and an
 * ESP SA fails with a clear message where the kernel has no ESP (this
 * host) -- where it has, the SA is installed, read and deleted instead.
 * SAs carrying traffic are tested in the VM (vmtest/guest_xfrm.sh).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <cmocka.h>

#include "kernel/kernel.h"

static char eb[512];

/* ---- helpers ------------------------------------------------------------------- */

static struct ikk_addr A(const char *s)
{
	struct ikk_addr a;

	assert_int_equal(ikk_addr_parse(s, &a), 0);
	return a;
}

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

static struct ikk_sa gcm_sa(void)
{
	struct ikk_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.src = A("10.0.0.1");
	sa.dst = A("10.0.0.2");
	sa.spi = 0xc0001001;
	sa.proto = IPPROTO_ESP;
	sa.mode = IKK_MODE_TRANSPORT;
	sa.reqid = 42;
	sa.encr = IKK_ENCR_AES_GCM16;
	sa.encr_key_bits = 128;
	sa.encr_key_len = 20;
	fill(sa.encr_key, 20, 1);
	return sa;
}

static struct ikk_sa cbc_sa(uint8_t integ, size_t integ_len)
{
	struct ikk_sa sa = gcm_sa();

	sa.encr = IKK_ENCR_AES_CBC;
	sa.encr_key_bits = 256;
	sa.encr_key_len = 32;
	fill(sa.encr_key, 32, 0x40);
	sa.integ = integ;
	sa.integ_key_len = integ_len;
	fill(sa.integ_key, integ_len, 0x80);
	return sa;
}

struct parsed {
	struct nl_msg *msg;
	struct nlmsghdr *nlh;
	struct nlattr *tb[XFRMA_MAX + 1];
};

static void parse_msg(struct nl_msg *msg, size_t hdrlen, struct parsed *p)
{
	p->msg = msg;
	p->nlh = nlmsg_hdr(msg);
	assert_int_equal(nlmsg_parse(p->nlh, (int)hdrlen, p->tb, XFRMA_MAX, NULL), 0);
}

static struct parsed build_sa(const struct ikk_sa *sa, bool update)
{
	struct parsed p;
	struct nl_msg *msg;

	if (ikk_build_sa_msg(sa, update, &msg, eb, sizeof(eb)))
		fail_msg("ikk_build_sa_msg: %s", eb);
	parse_msg(msg, sizeof(struct xfrm_usersa_info), &p);
	return p;
}

static void build_fails(const struct ikk_sa *sa, const char *needle)
{
	struct nl_msg *msg = (struct nl_msg *)1;

	eb[0] = 0;
	assert_int_equal(ikk_build_sa_msg(sa, false, &msg, eb, sizeof(eb)), -EINVAL);
	assert_null(msg);
	if (!strstr(eb, needle))
		fail_msg("error '%s' does not say '%s'", eb, needle);
}

/* ---- SA messages --------------------------------------------------------------- */

static void test_sa_gcm_message(void **state)
{
	struct ikk_sa sa = gcm_sa();
	struct xfrm_usersa_info *u;
	struct xfrm_algo_aead *aead;
	struct xfrm_mark *mark;
	struct parsed p;

	sa.if_id = 7;
	sa.mark = 0x10;
	sa.mark_mask = 0xff;
	sa.replay_window = 32;
	sa.acquire_seq = 77;
	sa.life = (struct ikk_lifetime){ .soft_secs = 3000, .hard_secs = 3600,
					 .soft_bytes = 90000, .hard_bytes = 100000 };
	sa.has_sel = true;
	sa.sel = (struct ikk_selector){ .family = AF_INET, .proto = IPPROTO_TCP,
					.src = A("10.0.0.1"), .dst = A("10.0.0.2"),
					.src_plen = 32, .dst_plen = 32,
					.dport = 5432, .dport_mask = 0xffff };
	p = build_sa(&sa, false);
	assert_int_equal(p.nlh->nlmsg_type, XFRM_MSG_NEWSA);
	u = nlmsg_data(p.nlh);
	assert_int_equal(u->id.spi, htonl(0xc0001001));
	assert_int_equal(u->id.proto, IPPROTO_ESP);
	assert_int_equal(u->family, AF_INET);
	assert_int_equal(u->mode, XFRM_MODE_TRANSPORT);
	assert_int_equal(u->reqid, 42);
	assert_int_equal(u->seq, 77);	/* the ACQUIRE: its larval SA goes */
	assert_int_equal(u->replay_window, 32);
	assert_int_equal(u->flags & XFRM_STATE_ESN, 0);
	assert_memory_equal(&u->saddr, sa.src.u.b, 4);
	assert_memory_equal(&u->id.daddr, sa.dst.u.b, 4);
	assert_int_equal(u->lft.soft_add_expires_seconds, 3000);
	assert_int_equal(u->lft.hard_add_expires_seconds, 3600);
	assert_int_equal(u->lft.soft_byte_limit, 90000);
	assert_int_equal(u->lft.hard_byte_limit, 100000);
	assert_true(u->lft.soft_packet_limit == XFRM_INF);
	/* The selector: the filter the SA may carry. */
	assert_int_equal(u->sel.family, AF_INET);
	assert_int_equal(u->sel.proto, IPPROTO_TCP);
	assert_int_equal(u->sel.prefixlen_d, 32);
	assert_int_equal(u->sel.dport, htons(5432));
	assert_int_equal(u->sel.dport_mask, 0xffff);
	assert_int_equal(u->sel.sport_mask, 0);
	/* rfc4106: 20 key bytes (16 + salt) = 160 bits, ICV 128. */
	assert_non_null(p.tb[XFRMA_ALG_AEAD]);
	aead = nla_data(p.tb[XFRMA_ALG_AEAD]);
	assert_string_equal(aead->alg_name, "rfc4106(gcm(aes))");
	assert_int_equal(aead->alg_key_len, 160);
	assert_int_equal(aead->alg_icv_len, 128);
	assert_memory_equal(aead->alg_key, sa.encr_key, 20);
	assert_null(p.tb[XFRMA_ALG_AUTH_TRUNC]);
	assert_null(p.tb[XFRMA_ALG_CRYPT]);
	assert_null(p.tb[XFRMA_REPLAY_ESN_VAL]);
	assert_null(p.tb[XFRMA_ENCAP]);
	assert_int_equal(nla_get_u32(p.tb[XFRMA_IF_ID]), 7);
	mark = nla_data(p.tb[XFRMA_MARK]);
	assert_int_equal(mark->v, 0x10);
	assert_int_equal(mark->m, 0xff);
	ikk_msg_free(p.msg);

	/* Update; 256-bit key; no selector: all of the family; no limits. */
	sa = gcm_sa();
	sa.encr_key_bits = 256;
	sa.encr_key_len = 36;
	p = build_sa(&sa, true);
	assert_int_equal(p.nlh->nlmsg_type, XFRM_MSG_UPDSA);
	u = nlmsg_data(p.nlh);
	assert_int_equal(u->sel.family, AF_INET);
	assert_int_equal(u->sel.prefixlen_s, 0);
	assert_true(u->lft.hard_byte_limit == XFRM_INF);
	assert_int_equal(u->lft.hard_add_expires_seconds, 0);
	aead = nla_data(p.tb[XFRMA_ALG_AEAD]);
	assert_int_equal(aead->alg_key_len, 288);
	assert_null(p.tb[XFRMA_IF_ID]);
	assert_null(p.tb[XFRMA_MARK]);
	ikk_msg_free(p.msg);
	ikk_sa_wipe(&sa);
}

static void test_sa_cbc_hmac_sha2_truncation(void **state)
{
	static const struct {
		uint8_t integ;
		size_t key;
		const char *alg;
		unsigned trunc;
	} cases[] = {
		/* RFC 4868: key = output length, ICV = half of it. */
		{ IKK_INTEG_HMAC_SHA256_128, 32, "hmac(sha256)", 128 },
		{ IKK_INTEG_HMAC_SHA384_192, 48, "hmac(sha384)", 192 },
		{ IKK_INTEG_HMAC_SHA512_256, 64, "hmac(sha512)", 256 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ikk_sa sa = cbc_sa(cases[i].integ, cases[i].key);
		struct parsed p = build_sa(&sa, false);
		struct xfrm_algo *c;
		struct xfrm_algo_auth *a;

		assert_null(p.tb[XFRMA_ALG_AEAD]);
		c = nla_data(p.tb[XFRMA_ALG_CRYPT]);
		assert_string_equal(c->alg_name, "cbc(aes)");
		assert_int_equal(c->alg_key_len, 256);
		assert_memory_equal(c->alg_key, sa.encr_key, 32);
		a = nla_data(p.tb[XFRMA_ALG_AUTH_TRUNC]);
		assert_string_equal(a->alg_name, cases[i].alg);
		assert_int_equal(a->alg_key_len, cases[i].key * 8);
		assert_int_equal(a->alg_trunc_len, cases[i].trunc);
		assert_memory_equal(a->alg_key, sa.integ_key, cases[i].key);
		ikk_msg_free(p.msg);
	}
}

static void test_sa_ah_tunnel_esn_encap(void **state)
{
	struct ikk_sa sa = cbc_sa(IKK_INTEG_HMAC_SHA256_128, 32);
	struct xfrm_replay_state_esn *r;
	struct xfrm_encap_tmpl *e;
	struct xfrm_usersa_info *u;
	struct parsed p;

	/* ESP in tunnel mode, IPv6, ESN with a 128-packet window, NAT-T. */
	sa.src = A("fd00::1");
	sa.dst = A("fd00::2");
	sa.mode = IKK_MODE_TUNNEL;
	sa.esn = true;
	sa.replay_window = 128;
	sa.encap = true;
	sa.encap_sport = 4500;
	sa.encap_dport = 4501;
	p = build_sa(&sa, false);
	u = nlmsg_data(p.nlh);
	assert_int_equal(u->family, AF_INET6);
	assert_int_equal(u->mode, XFRM_MODE_TUNNEL);
	assert_int_equal(u->flags & XFRM_STATE_ESN, XFRM_STATE_ESN);
	assert_int_equal(u->replay_window, 0);        /* the kernel wants 0 with ESN */
	assert_memory_equal(&u->id.daddr, sa.dst.u.b, 16);
	r = nla_data(p.tb[XFRMA_REPLAY_ESN_VAL]);
	assert_int_equal(r->replay_window, 128);
	assert_int_equal(r->bmp_len, 4);
	assert_int_equal(nla_len(p.tb[XFRMA_REPLAY_ESN_VAL]), sizeof(*r) + 16);
	e = nla_data(p.tb[XFRMA_ENCAP]);
	assert_int_equal(e->encap_type, 2);        /* UDP_ENCAP_ESPINUDP */
	assert_int_equal(e->encap_sport, htons(4500));
	assert_int_equal(e->encap_dport, htons(4501));
	ikk_msg_free(p.msg);

	/* A window over 32 without ESN also needs the ESN replay state. */
	sa = gcm_sa();
	sa.replay_window = 64;
	p = build_sa(&sa, false);
	u = nlmsg_data(p.nlh);
	assert_int_equal(u->replay_window, 0);
	assert_int_equal(u->flags & XFRM_STATE_ESN, 0);
	r = nla_data(p.tb[XFRMA_REPLAY_ESN_VAL]);
	assert_int_equal(r->replay_window, 64);
	assert_int_equal(r->bmp_len, 2);
	ikk_msg_free(p.msg);

	/* AH: integrity only. */
	sa = cbc_sa(IKK_INTEG_HMAC_SHA512_256, 64);
	sa.proto = IPPROTO_AH;
	sa.encr = IKK_ENCR_NONE;
	sa.encr_key_len = 0;
	sa.encr_key_bits = 0;
	p = build_sa(&sa, false);
	assert_int_equal(((struct xfrm_usersa_info *)nlmsg_data(p.nlh))->id.proto, IPPROTO_AH);
	assert_null(p.tb[XFRMA_ALG_CRYPT]);
	assert_null(p.tb[XFRMA_ALG_AEAD]);
	assert_non_null(p.tb[XFRMA_ALG_AUTH_TRUNC]);
	ikk_msg_free(p.msg);
}

static void test_sa_checks(void **state)
{
	struct ikk_sa sa = gcm_sa();

	sa.encr_key_len = 16;           /* the salt forgotten */
	build_fails(&sa, "must be 20 bytes (key + 4-byte salt), not 16");
	sa = gcm_sa();
	sa.encr_key_bits = 100;
	build_fails(&sa, "128, 192 or 256");
	sa = gcm_sa();
	sa.integ = IKK_INTEG_HMAC_SHA256_128;
	sa.integ_key_len = 32;
	build_fails(&sa, "AES-GCM takes no separate integrity");
	sa = cbc_sa(IKK_INTEG_NONE, 0);
	build_fails(&sa, "AES-CBC needs an integrity");
	sa = cbc_sa(IKK_INTEG_HMAC_SHA384_192, 32);
	build_fails(&sa, "hmac(sha384) key must be 48 bytes, not 32");
	sa = cbc_sa(IKK_INTEG_HMAC_SHA256_128, 32);
	sa.proto = IPPROTO_AH;
	build_fails(&sa, "AH does not encrypt");
	sa = gcm_sa();
	sa.dst = A("fd00::2");
	build_fails(&sa, "two families");
	sa = gcm_sa();
	sa.spi = 5;
	build_fails(&sa, "reserved");
	sa = gcm_sa();
	sa.proto = 17;
	build_fails(&sa, "ESP or AH");
	sa = gcm_sa();
	sa.mode = 4;
	build_fails(&sa, "transport or tunnel");
	sa = gcm_sa();
	sa.encap = true;
	build_fails(&sa, "both ports");
	sa = gcm_sa();
	sa.has_sel = true;
	sa.sel.family = AF_INET;
	sa.sel.dst_plen = 33;
	build_fails(&sa, "prefix length");
	/* The sentence names the SA, and never a key byte. */
	sa = gcm_sa();
	sa.encr_key_len = 19;
	build_fails(&sa, "ESP SA 0xc0001001 10.0.0.1->10.0.0.2 (transport, rfc4106(gcm(aes)) 128)");
}

static void test_sa_wipe(void **state)
{
	struct ikk_sa sa = cbc_sa(IKK_INTEG_HMAC_SHA512_256, 64), zero;

	ikk_sa_wipe(&sa);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&sa, &zero, sizeof(sa));
}

/* ---- policy messages ------------------------------------------------------------- */

static void test_policy_message(void **state)
{
	struct ikk_policy pol;
	struct xfrm_userpolicy_info *u;
	struct xfrm_user_tmpl *t;
	struct nl_msg *msg;
	struct parsed p;

	memset(&pol, 0, sizeof(pol));
	pol.sel = (struct ikk_selector){ .family = AF_INET, .src = A("10.1.0.0"),
					 .src_plen = 16, .dst = A("10.2.0.0"),
					 .dst_plen = 16, .proto = IPPROTO_UDP,
					 .sport = 1024, .sport_mask = 0xfc00 };
	pol.dir = IKK_DIR_OUT;
	pol.priority = 1000;
	pol.if_id = 9;
	pol.ntmpl = 1;
	pol.tmpl[0] = (struct ikk_tmpl){ .proto = IPPROTO_ESP, .mode = IKK_MODE_TUNNEL,
					 .reqid = 5, .src = A("192.0.2.1"),
					 .dst = A("192.0.2.2") };
	assert_int_equal(ikk_build_policy_msg(&pol, false, &msg, eb, sizeof(eb)), 0);
	parse_msg(msg, sizeof(*u), &p);
	assert_int_equal(p.nlh->nlmsg_type, XFRM_MSG_NEWPOLICY);
	u = nlmsg_data(p.nlh);
	assert_int_equal(u->dir, XFRM_POLICY_OUT);
	assert_int_equal(u->action, XFRM_POLICY_ALLOW);
	assert_int_equal(u->priority, 1000);
	assert_int_equal(u->sel.family, AF_INET);
	assert_int_equal(u->sel.prefixlen_s, 16);
	assert_int_equal(u->sel.proto, IPPROTO_UDP);
	assert_int_equal(u->sel.sport, htons(1024));
	assert_int_equal(u->sel.sport_mask, htons(0xfc00));
	assert_int_equal(nla_len(p.tb[XFRMA_TMPL]), sizeof(*t));
	t = nla_data(p.tb[XFRMA_TMPL]);
	assert_int_equal(t->id.proto, IPPROTO_ESP);
	assert_int_equal(t->mode, XFRM_MODE_TUNNEL);
	assert_int_equal(t->reqid, 5);
	assert_int_equal(t->family, AF_INET);
	assert_memory_equal(&t->id.daddr, pol.tmpl[0].dst.u.b, 4);
	assert_memory_equal(&t->saddr, pol.tmpl[0].src.u.b, 4);
	assert_int_equal(t->optional, 0);
	assert_int_equal(nla_get_u32(p.tb[XFRMA_IF_ID]), 9);
	ikk_msg_free(msg);

	/* Transport templates carry no addresses; block takes none. */
	pol.tmpl[0] = (struct ikk_tmpl){ .proto = IPPROTO_AH, .mode = IKK_MODE_TRANSPORT };
	pol.dir = IKK_DIR_IN;
	assert_int_equal(ikk_build_policy_msg(&pol, true, &msg, eb, sizeof(eb)), 0);
	parse_msg(msg, sizeof(*u), &p);
	assert_int_equal(p.nlh->nlmsg_type, XFRM_MSG_UPDPOLICY);
	t = nla_data(p.tb[XFRMA_TMPL]);
	assert_int_equal(t->family, AF_INET);
	assert_int_equal(t->id.daddr.a4, 0);
	ikk_msg_free(msg);
	pol.action = IKK_POL_BLOCK;
	assert_int_equal(ikk_build_policy_msg(&pol, false, &msg, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "take no template"));
	pol.ntmpl = 0;
	assert_int_equal(ikk_build_policy_msg(&pol, false, &msg, eb, sizeof(eb)), 0);
	parse_msg(msg, sizeof(*u), &p);
	assert_int_equal(((struct xfrm_userpolicy_info *)nlmsg_data(p.nlh))->action,
			 XFRM_POLICY_BLOCK);
	assert_null(p.tb[XFRMA_TMPL]);
	ikk_msg_free(msg);
	pol.action = IKK_POL_IPSEC;
	assert_int_equal(ikk_build_policy_msg(&pol, false, &msg, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "IPsec needs 1 to 2 templates"));
	pol.ntmpl = 1;
	pol.tmpl[0] = (struct ikk_tmpl){ .proto = IPPROTO_ESP, .mode = IKK_MODE_TUNNEL };
	assert_int_equal(ikk_build_policy_msg(&pol, false, &msg, eb, sizeof(eb)), -EINVAL);
	assert_non_null(strstr(eb, "a tunnel needs both endpoints"));
}

static void test_port_range_split(void **state)
{
	uint16_t ports[64], masks[64];
	size_t n;

	n = ikk_port_range_split(80, 80, ports, masks, 64);
	assert_int_equal(n, 1);
	assert_int_equal(ports[0], 80);
	assert_int_equal(masks[0], 0xffff);
	n = ikk_port_range_split(0, 65535, ports, masks, 64);
	assert_int_equal(n, 1);
	assert_int_equal(masks[0], 0);
	n = ikk_port_range_split(1024, 2047, ports, masks, 64);
	assert_int_equal(n, 1);
	assert_int_equal(masks[0], 0xfc00);
	/* Any range: the blocks tile it exactly, in order. */
	for (unsigned lo = 0; lo < 70000; lo += 997) {
		unsigned hi = lo + (lo * 7) % 5000;

		if (hi > 65535)
			hi = 65535;
		if (lo > 65535)
			break;
		n = ikk_port_range_split((uint16_t)lo, (uint16_t)hi, ports, masks, 64);
		assert_true(n <= 64);
		unsigned next = lo;

		for (size_t i = 0; i < n; i++) {
			unsigned size = (uint16_t)~masks[i] + 1u;

			assert_int_equal(ports[i], next);
			assert_int_equal(ports[i] & ~masks[i] & 0xffff, 0);
			next += size;
		}
		assert_int_equal(next, hi + 1);
	}
	assert_int_equal(ikk_port_range_split(9, 3, ports, masks, 64), 0);
	/* A short array: the count says how many are needed. */
	assert_true(ikk_port_range_split(1, 65534, ports, masks, 2) > 2);
}

/* ---- events ------------------------------------------------------------------------ */

static void test_parse_events(void **state)
{
	struct {
		struct nlmsghdr h;
		struct xfrm_user_acquire a;
		struct nlattr tmpl_hdr;
		struct xfrm_user_tmpl t;
		struct nlattr ifid_hdr;
		uint32_t if_id;
	} __attribute__((packed)) acq;
	struct {
		struct nlmsghdr h;
		struct xfrm_user_expire x;
	} __attribute__((aligned(4))) exp;
	struct ikk_event ev;
	char a[INET6_ADDRSTRLEN];

	memset(&acq, 0, sizeof(acq));
	acq.h.nlmsg_type = XFRM_MSG_ACQUIRE;
	acq.h.nlmsg_len = sizeof(acq);
	acq.a.sel.family = AF_INET;
	acq.a.sel.proto = IPPROTO_UDP;
	acq.a.sel.dport = htons(9);
	acq.a.sel.dport_mask = 0xffff;
	inet_pton(AF_INET, "10.9.0.2", &acq.a.sel.daddr);
	inet_pton(AF_INET, "10.9.0.2", &acq.a.id.daddr);
	inet_pton(AF_INET, "10.9.0.1", &acq.a.saddr);
	acq.a.id.proto = IPPROTO_ESP;
	acq.a.policy.index = 0x1234;
	acq.a.policy.dir = XFRM_POLICY_OUT;
	acq.a.seq = 77;
	acq.tmpl_hdr.nla_type = XFRMA_TMPL;
	acq.tmpl_hdr.nla_len = sizeof(acq.tmpl_hdr) + sizeof(acq.t);
	acq.t.family = AF_INET;
	acq.t.reqid = 5;
	acq.t.mode = XFRM_MODE_TUNNEL;
	acq.t.id.proto = IPPROTO_ESP;
	acq.ifid_hdr.nla_type = XFRMA_IF_ID;
	acq.ifid_hdr.nla_len = 8;
	acq.if_id = 3;
	assert_int_equal(sizeof(struct xfrm_user_acquire) % 4, 0);
	assert_int_equal(ikk_parse_event(&acq, sizeof(acq), &ev), 0);
	assert_int_equal(ev.type, IKK_EV_ACQUIRE);
	assert_int_equal(ev.policy_index, 0x1234);
	assert_int_equal(ev.policy_dir, IKK_DIR_OUT);
	assert_int_equal(ev.reqid, 5);
	assert_int_equal(ev.mode, IKK_MODE_TUNNEL);
	assert_int_equal(ev.proto, IPPROTO_ESP);
	assert_int_equal(ev.seq, 77);
	assert_int_equal(ev.if_id, 3);
	assert_int_equal(ev.sel.proto, IPPROTO_UDP);
	assert_int_equal(ev.sel.dport, 9);
	assert_string_equal(ikk_addr_str(&ev.dst, a, sizeof(a)), "10.9.0.2");
	assert_string_equal(ikk_addr_str(&ev.src, a, sizeof(a)), "10.9.0.1");

	memset(&exp, 0, sizeof(exp));
	exp.h.nlmsg_type = XFRM_MSG_EXPIRE;
	exp.h.nlmsg_len = NLMSG_LENGTH(sizeof(exp.x));
	exp.x.state.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::2", &exp.x.state.id.daddr);
	exp.x.state.id.spi = htonl(0xc0000005);
	exp.x.state.id.proto = IPPROTO_AH;
	exp.x.state.reqid = 8;
	exp.x.hard = 1;
	assert_int_equal(ikk_parse_event(&exp, exp.h.nlmsg_len, &ev), 0);
	assert_int_equal(ev.type, IKK_EV_EXPIRE);
	assert_int_equal(ev.spi, 0xc0000005);
	assert_int_equal(ev.proto, IPPROTO_AH);
	assert_int_equal(ev.reqid, 8);
	assert_true(ev.hard);
	assert_string_equal(ikk_addr_str(&ev.dst, a, sizeof(a)), "fd00::2");
	/* Truncated, or something else: refused. */
	assert_int_equal(ikk_parse_event(&exp, 20, &ev), -EINVAL);
	exp.h.nlmsg_type = XFRM_MSG_NEWSA;
	assert_int_equal(ikk_parse_event(&exp, exp.h.nlmsg_len, &ev), -EINVAL);
}

static void test_addresses(void **state)
{
	struct ikk_addr a;
	struct sockaddr_storage ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(ikk_addr_parse("nonsense", &a), -EINVAL);
	assert_int_equal(ikk_addr_parse("fd00::7", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.9", &((struct sockaddr_in *)&ss)->sin_addr);
	assert_int_equal(ikk_addr_from_sockaddr(&ss, &a), 0);
	assert_string_equal(ikk_addr_str(&a, buf, sizeof(buf)), "192.0.2.9");
	ss.ss_family = AF_UNIX;
	assert_int_equal(ikk_addr_from_sockaddr(&ss, &a), -EAFNOSUPPORT);
	memset(&a, 0, sizeof(a));
	assert_string_equal(ikk_addr_str(&a, buf, sizeof(buf)), "any");
	assert_string_equal(ikk_proto_name(IPPROTO_AH), "AH");
	assert_string_equal(ikk_mode_name(IKK_MODE_TUNNEL), "tunnel");
}

/* ---- the host kernel (root, a private network namespace) --------------------------- */

static struct ikk *K;
static bool have_netns;

static void need_kernel(void)
{
	if (!have_netns) {
		printf("not root (or no network namespaces): kernel tests skipped\n");
		skip();
	}
}

static void lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

static struct ikk_policy udp_policy(uint8_t dir, const char *dst, uint16_t port)
{
	struct ikk_policy pol;

	memset(&pol, 0, sizeof(pol));
	pol.sel = (struct ikk_selector){ .family = AF_INET, .proto = IPPROTO_UDP,
					 .dst = A(dst), .dst_plen = 32,
					 .dport = port, .dport_mask = 0xffff };
	pol.dir = dir;
	pol.ntmpl = 1;
	pol.tmpl[0] = (struct ikk_tmpl){ .proto = IPPROTO_ESP,
					 .mode = IKK_MODE_TRANSPORT, .reqid = 5 };
	return pol;
}

static void test_kernel_policies(void **state)
{
	struct ikk_policy in, out;

	need_kernel();
	out = udp_policy(IKK_DIR_OUT, "10.99.0.2", 9);
	in = udp_policy(IKK_DIR_IN, "10.99.0.1", 9);
	in.if_id = out.if_id = 17;
	if (ikk_policy_add(K, &out))
		fail_msg("%s", ikk_error(K));
	assert_int_not_equal(out.index, 0);
	if (ikk_policy_add(K, &in))
		fail_msg("%s", ikk_error(K));
	assert_int_not_equal(in.index, out.index);
	/* Twice: EEXIST, and the sentence says what was attempted. */
	assert_int_equal(ikk_policy_add(K, &out), -EEXIST);
	assert_non_null(strstr(ikk_error(K), "cannot add out policy any -> 10.99.0.2/32 "
			       "udp dport 9 if_id 17"));
	assert_non_null(strstr(ikk_error(K), strerror(EEXIST)));
	/* update replaces it in place */
	out.priority = 50;
	assert_int_equal(ikk_policy_update(K, &out), 0);
	/* if_id is part of the policy's identity */
	out.if_id = 18;
	assert_int_equal(ikk_policy_delete(K, &out), -ENOENT);
	assert_non_null(strstr(ikk_error(K), "no such policy"));
	out.if_id = 17;
	assert_int_equal(ikk_policy_delete(K, &out), 0);
	assert_int_equal(ikk_policy_delete(K, &in), 0);
	assert_int_equal(ikk_policy_delete(K, &in), -ENOENT);
}

static struct ikk_event got[8];
static int ngot;

static void on_event(void *ctx, const struct ikk_event *ev)
{
	if (ngot < 8)
		got[ngot++] = *ev;
}

static void test_kernel_acquire(void **state)
{
	struct ikk_policy out;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct pollfd pfd;
	char a[INET6_ADDRSTRLEN];
	int s, i;

	need_kernel();
	if (ikk_events_fd(K) < 0 && ikk_events_open(K, on_event, NULL))
		fail_msg("%s", ikk_error(K));
	/* Not over lo: the kernel never applies xfrm there (NOXFRM). */
	if (system("ip link add ixk0 type veth peer name ixk1 && "
		   "ip addr add 10.98.0.1/24 dev ixk0 && ip link set ixk0 up && "
		   "ip link set ixk1 up")) {
		printf("cannot make a veth pair here: ACQUIRE not tested\n");
		skip();
	}
	out = udp_policy(IKK_DIR_OUT, "10.98.0.2", 9);
	if (ikk_policy_add(K, &out))
		fail_msg("%s", ikk_error(K));
	/* A datagram the policy wants ESP for, with no SA: ACQUIRE. */
	inet_pton(AF_INET, "10.98.0.2", &to.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
	close(s);
	ngot = 0;
	pfd = (struct pollfd){ .fd = ikk_events_fd(K), .events = POLLIN };
	for (i = 0; i < 20 && !ngot; i++) {
		if (poll(&pfd, 1, 100) > 0)
			assert_true(ikk_events_process(K) >= 0);
	}
	assert_int_equal(ikk_events_process(K), 0);     /* nothing more, no block */
	assert_true(ngot >= 1);
	assert_int_equal(got[0].type, IKK_EV_ACQUIRE);
	assert_int_equal(got[0].policy_index, out.index);
	assert_int_equal(got[0].policy_dir, IKK_DIR_OUT);
	assert_int_equal(got[0].reqid, 5);
	assert_int_equal(got[0].proto, IPPROTO_ESP);
	assert_int_equal(got[0].sel.proto, IPPROTO_UDP);
	assert_int_equal(got[0].sel.dport, 9);
	assert_string_equal(ikk_addr_str(&got[0].dst, a, sizeof(a)), "10.98.0.2");
	assert_string_equal(ikk_addr_str(&got[0].src, a, sizeof(a)), "10.98.0.1");
	assert_int_equal(ikk_policy_delete(K, &out), 0);
}

static void test_kernel_sa(void **state)
{
	struct ikk_sa sa = gcm_sa();
	struct ikk_sa_counters c;
	int err;

	need_kernel();
	sa.src = A("127.0.0.1");
	sa.dst = A("127.0.0.2");
	sa.if_id = 4;
	err = ikk_sa_add(K, &sa);
	if (err == -EPROTONOSUPPORT || err == -ENOSYS) {
		/* This host: no ESP.  The sentence must say so, and what. */
		assert_non_null(strstr(ikk_error(K),
				       "cannot add ESP SA 0xc0001001 127.0.0.1->127.0.0.2"));
		assert_non_null(strstr(ikk_error(K), strerror(-err)));
		printf("the host kernel has no ESP (%s): SA install/read/delete run in "
		       "the VM test (vmtest/guest_xfrm.sh)\n", ikk_error(K));
		struct ikk_addr dst = sa.dst;

		ikk_sa_wipe(&sa);
		assert_int_equal(ikk_sa_delete(K, &dst, 0xc0001001, IPPROTO_ESP, 0, 0),
				 -ESRCH);
		assert_non_null(strstr(ikk_error(K), "cannot delete ESP SA 0xc0001001 to 127.0.0.2"));
		return;
	}
	if (err)
		fail_msg("%s", ikk_error(K));
	assert_int_equal(ikk_sa_add(K, &sa), -EEXIST);
	assert_int_equal(ikk_sa_counters(K, &sa.dst, sa.spi, IPPROTO_ESP, 0, 0, &c), 0);
	assert_int_equal(c.packets, 0);
	assert_int_equal(ikk_sa_delete(K, &sa.dst, sa.spi, IPPROTO_ESP, 0, 0), 0);
	ikk_sa_wipe(&sa);
}

static void test_kernel_xfrmi(void **state)
{
	int idx, err;

	need_kernel();
	err = ikk_xfrmi_add(K, "ixk-test0", 0, true, &idx);
	if (err) {
		/* The host has no xfrm interfaces: a clear refusal. */
		assert_non_null(strstr(ikk_error(K), "cannot add xfrm interface ixk-test0"));
		printf("%s\n", ikk_error(K));
		return;
	}
	assert_true(idx > 0);
	assert_int_equal(ikk_xfrmi_add(K, "ixk-test1", 0, true, NULL), -EEXIST);
	assert_int_equal(ikk_xfrmi_add(K, "ixk-test1", 6, false, &idx), 0);
	assert_int_equal(ikk_xfrmi_del(K, "ixk-test1"), 0);
	assert_int_equal(ikk_xfrmi_del(K, "ixk-test0"), 0);
}

static void test_xfrmi_checks(void **state)
{
	struct ikk *k;

	if (ikk_open(&k, eb, sizeof(eb))) {
		printf("no xfrm netlink here (%s): skipped\n", eb);
		skip();
	}
	assert_int_equal(ikk_xfrmi_add(k, "x", 5, true, NULL), -EINVAL);
	assert_non_null(strstr(ikk_error(k), "no if_id of its own"));
	assert_int_equal(ikk_xfrmi_add(k, "x", 0, false, NULL), -EINVAL);
	assert_int_equal(ikk_xfrmi_add(k, "a-name-much-too-long-for-linux", 1, false, NULL),
			 -EINVAL);
	assert_int_equal(ikk_events_process(k), -EINVAL);
	ikk_close(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sa_gcm_message),
		cmocka_unit_test(test_sa_cbc_hmac_sha2_truncation),
		cmocka_unit_test(test_sa_ah_tunnel_esn_encap),
		cmocka_unit_test(test_sa_checks),
		cmocka_unit_test(test_sa_wipe),
		cmocka_unit_test(test_policy_message),
		cmocka_unit_test(test_port_range_split),
		cmocka_unit_test(test_parse_events),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_xfrmi_checks),
		cmocka_unit_test(test_kernel_policies),
		cmocka_unit_test(test_kernel_acquire),
		cmocka_unit_test(test_kernel_sa),
		cmocka_unit_test(test_kernel_xfrmi),
	};
	int rc;

	/* The kernel tests run in a network namespace of their own. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0) {
		lo_up();
		if (ikk_open(&K, eb, sizeof(eb)) == 0)
			have_netns = true;
		else
			printf("%s: kernel tests skipped\n", eb);
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ikk_close(K);
	return rc;
}
