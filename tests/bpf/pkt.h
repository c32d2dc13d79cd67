/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pkt.h - craft test frames: Ethernet (optionally VLAN-tagged), IPv4 (with
 * options) or IPv6 (with extension headers), fragments, and a TCP, UDP,
 * SCTP, UDP-Lite or ICMP header.  Checksums are left 0: the dataplane does
 * not look at them.
 */
#ifndef IXDP_TEST_PKT_H
#define IXDP_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include "ipsec_xdp.h"

#define PKT_MAX 2048

struct pkt_spec {
	uint8_t fam;            /* IXDP_FAM_V4 / IXDP_FAM_V6 */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;  /* port protocols */
	uint8_t icmp_type;      /* ICMP / ICMPv6 */
	uint16_t echo_id;
	bool l2_bcast;          /* Ethernet destination ff:ff:ff:ff:ff:ff */
	uint16_t vlan_tpid;     /* 0: untagged; 0x8100 or 0x88a8: one tag */
	uint8_t ip_opts;        /* IPv4 option bytes, a multiple of 4, <= 40 */
	uint16_t frag_off;      /* fragment offset in 8-byte units */
	bool more_frags;
	bool v6_frag;           /* IPv6: add a fragment header (last) */
	uint8_t next;           /* IPv6: number of extension headers in ext[] */
	uint8_t ext[12];        /* 0 hop-by-hop, 43 routing, 60 dst options */
	uint16_t payload;       /* bytes after the L4 header */
};

static inline void pkt_addr(struct pkt_spec *s, uint8_t *dst, const char *a)
{
	memset(dst, 0, 16);
	inet_pton(s->fam == IXDP_FAM_V4 ? AF_INET : AF_INET6, a, dst);
}

/* A spec with addresses from text, e.g. pkt_spec4("10.0.0.1", "10.0.0.2",
 * IPPROTO_TCP, 1234, 80). */
static inline struct pkt_spec pkt_spec_of(uint8_t fam, const char *src,
					  const char *dst, uint8_t proto,
					  uint16_t sport, uint16_t dport)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	s.fam = fam;
	pkt_addr(&s, s.src, src);
	pkt_addr(&s, s.dst, dst);
	s.proto = proto;
	s.sport = sport;
	s.dport = dport;
	return s;
}

static inline size_t pkt_l4_len(uint8_t fam, uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		return 8;
	case IPPROTO_SCTP:
		return 12;
	case IPPROTO_ICMP:
		return fam == IXDP_FAM_V4 ? 8 : 0;
	case IPPROTO_ICMPV6:
		return fam == IXDP_FAM_V6 ? 8 : 0;
	}
	return 0;
}

static inline size_t pkt_l3_off(const struct pkt_spec *s)
{
	return 14 + (s->vlan_tpid ? 4 : 0);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline size_t pkt_put_eth(const struct pkt_spec *s, uint8_t *b)
{
	static const uint8_t uni[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t me[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	uint16_t type = s->fam == IXDP_FAM_V4 ? 0x0800 : 0x86dd;
	size_t off = 12;

	if (s->l2_bcast)
		memset(b, 0xff, 6);
	else
		memcpy(b, uni, 6);
	memcpy(b + 6, me, 6);
	if (s->vlan_tpid) {
		put16(b + 12, s->vlan_tpid);
		put16(b + 14, 42);
		off = 16;
	}
	put16(b + off, type);
	return off + 2;
}

/* The L4 header (none in a non-first fragment) and the payload. */
static inline size_t pkt_put_l4(const struct pkt_spec *s, uint8_t *b)
{
	size_t l4 = s->frag_off ? 0 : pkt_l4_len(s->fam, s->proto);

	memset(b, 0, l4 + s->payload);
	if (l4 && (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6)) {
		b[0] = s->icmp_type;
		put16(b + 4, s->echo_id);
	} else if (l4) {
		put16(b, s->sport);
		put16(b + 2, s->dport);
		if (s->proto == IPPROTO_TCP)
			b[12] = 5 << 4;         /* data offset */
		if (s->proto == IPPROTO_UDP)
			put16(b + 4, (uint16_t)(8 + s->payload));
	}
	return l4 + s->payload;
}

static inline size_t pkt_put_ipv4(const struct pkt_spec *s, uint8_t *b)
{
	size_t hlen = 20 + s->ip_opts, len;
	uint16_t frag = s->frag_off | (s->more_frags ? 0x2000 : 0);

	memset(b, 0, hlen);
	b[0] = (uint8_t)(0x40 | (hlen / 4));
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = s->proto;
	memcpy(b + 12, s->src, 4);
	memcpy(b + 16, s->dst, 4);
	for (size_t i = 20; i < hlen; i++)
		b[i] = 1;               /* NOP options */
	len = hlen + pkt_put_l4(s, b + hlen);
	put16(b + 2, (uint16_t)len);
	return len;
}

static inline size_t pkt_put_ipv6(const struct pkt_spec *s, uint8_t *b)
{
	size_t off = 40;
	uint8_t *nh = b + 6;

	memset(b, 0, 40);
	b[0] = 0x60;
	b[7] = 64;
	memcpy(b + 8, s->src, 16);
	memcpy(b + 24, s->dst, 16);
	for (unsigned i = 0; i < s->next; i++) {
		*nh = s->ext[i];
		memset(b + off, 0, 8);
		b[off + 1] = 0;         /* 8 bytes */
		if (s->ext[i] != 43)
			b[off + 2] = 1; /* PadN of 4 bytes, then zeros */
		b[off + 3] = 4;
		nh = b + off;
		off += 8;
	}
	if (s->v6_frag) {
		*nh = 44;
		memset(b + off, 0, 8);
		put16(b + off + 2, (uint16_t)(s->frag_off << 3 | s->more_frags));
		nh = b + off;
		off += 8;
	}
	*nh = s->proto;
	off += pkt_put_l4(s, b + off);
	put16(b + 4, (uint16_t)(off - 40));
	return off;
}

/* The frame into buf (PKT_MAX bytes); returns its length. */
static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *buf)
{
	size_t off = pkt_put_eth(s, buf);

	if (s->fam == IXDP_FAM_V4)
		return off + pkt_put_ipv4(s, buf + off);
	return off + pkt_put_ipv6(s, buf + off);
}

/* ARP request: the non-IP case. */
static inline size_t pkt_build_arp(uint8_t *buf)
{
	memset(buf, 0, 42);
	memset(buf, 0xff, 6);
	buf[6] = 0x02;
	put16(buf + 12, 0x0806);
	put16(buf + 14, 1);
	put16(buf + 16, 0x0800);
	buf[18] = 6;
	buf[19] = 4;
	put16(buf + 20, 1);
	return 42;
}

#endif /* IXDP_TEST_PKT_H */
