/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * parse.h - bounds-checked packet parsing for the dataplane programs.
 *
 * parse_packet() reads Ethernet (one 802.1Q/802.1ad tag), IPv4 or IPv6
 * (extension headers walked) and the first bytes of the L4 header, from
 * (data, data_end), and fills struct ixdp_pkt.  Every read is checked
 * against data_end; every length field is checked against the frame.
 *
 * IXDP_PARSE_TRUNCATED means "a header runs past data_end": for XDP the
 * frame is whole, so that is malformed; TC may pull the rest of the skb
 * into the linear area and parse again.
 */
#ifndef IXDP_PARSE_H
#define IXDP_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Macros of the uapi headers, which cannot be included beside vmlinux.h. */
#define IXDP_ETH_HLEN       14
#define IXDP_ETH_P_IP       0x0800
#define IXDP_ETH_P_IPV6     0x86DD
#define IXDP_ETH_P_8021Q    0x8100
#define IXDP_ETH_P_8021AD   0x88A8
#define IXDP_IP_OFFSET      0x1fff  /* IPv4 fragment offset mask (host order) */
#define IXDP_IP6_OFFSET     0xfff8  /* IPv6 fragment offset mask (host order) */
#define IXDP_MAX_EXTHDRS    8

#define IXDP_PROTO_HOPOPTS  0
#define IXDP_PROTO_ICMP     1
#define IXDP_PROTO_TCP      6
#define IXDP_PROTO_UDP      17
#define IXDP_PROTO_ROUTING  43
#define IXDP_PROTO_FRAGMENT 44
#define IXDP_PROTO_ESP      50
#define IXDP_PROTO_AH       51
#define IXDP_PROTO_ICMPV6   58
#define IXDP_PROTO_DSTOPTS  60
#define IXDP_PROTO_SCTP     132
#define IXDP_PROTO_UDPLITE  136

enum ixdp_parse_result {
	IXDP_PARSE_OK = 0,
	IXDP_PARSE_NON_IP,      /* not IPv4/IPv6 (ARP, LLDP, ...) */
	IXDP_PARSE_MALFORMED,   /* inconsistent or truncated headers */
	IXDP_PARSE_TRUNCATED,   /* a header runs past data_end */
};

/* What the classifier and the boot rules need to know about a packet. */
struct ixdp_pkt {
	__u32 src[4];           /* network byte order; IPv4 in word 0 */
	__u32 dst[4];
	__u16 sport, dport;     /* host order; 0 when the protocol has none */
	__u16 echo_id;          /* host order: ICMP/ICMPv6 echo identifier */
	__u8  fam;              /* enum ixdp_family_idx */
	__u8  proto;            /* upper-layer protocol (after IPv6 ext hdrs) */
	__u8  frag;             /* non-first fragment: no L4 header, no ports */
	__u8  bcast;            /* broadcast or multicast destination */
	__u8  is_echo;          /* ICMP/ICMPv6 echo request or reply */
	__u8  nd;               /* ICMPv6 neighbour discovery (133-137) */
	__u16 ifgroups[2];      /* its interface's groups per bank, beyond
				 * group 0 (set by the program after parsing) */
};

/* Fail with TRUNCATED if [ptr, ptr + len) is not inside the linear data. */
#define IXDP_NEED(ptr, len, data_end)                                        \
	do {                                                                 \
		if ((void *)(ptr) + (len) > (data_end))                      \
			return IXDP_PARSE_TRUNCATED;                         \
	} while (0)

struct ixdp_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

static __always_inline bool is_l2_broadcast(const struct ethhdr *eth)
{
	const __u8 *d = eth->h_dest;

	return d[0] == 0xff && d[1] == 0xff && d[2] == 0xff &&
	       d[3] == 0xff && d[4] == 0xff && d[5] == 0xff;
}

static __always_inline bool is_vlan(__u16 ethertype)
{
	return ethertype == IXDP_ETH_P_8021Q || ethertype == IXDP_ETH_P_8021AD;
}

/* Ethernet + at most one VLAN tag.  *l3 = the network header. */
static __always_inline int parse_eth(void *data, void *data_end,
				     struct ixdp_pkt *p, void **l3,
				     __u16 *ethertype)
{
	struct ethhdr *eth = data;
	struct ixdp_vlan_hdr *vh;
	__u16 type;

	IXDP_NEED(eth, sizeof(*eth), data_end);
	p->bcast = is_l2_broadcast(eth);
	type = bpf_ntohs(eth->h_proto);
	*l3 = eth + 1;
	if (is_vlan(type)) {
		vh = *l3;
		IXDP_NEED(vh, sizeof(*vh), data_end);
		type = bpf_ntohs(vh->proto);
		*l3 = vh + 1;
		/* A second tag is not ours to look through: the stack of this
		 * host would not deliver it either. */
		if (is_vlan(type))
			return IXDP_PARSE_MALFORMED;
	}
	*ethertype = type;
	return IXDP_PARSE_OK;
}

static __always_inline bool proto_carries_ports(__u8 proto)
{
	return proto == IXDP_PROTO_TCP || proto == IXDP_PROTO_UDP ||
	       proto == IXDP_PROTO_SCTP || proto == IXDP_PROTO_UDPLITE;
}

static __always_inline bool proto_is_icmp(const struct ixdp_pkt *p)
{
	return (p->fam == IXDP_FAM_V4 && p->proto == IXDP_PROTO_ICMP) ||
	       (p->fam == IXDP_FAM_V6 && p->proto == IXDP_PROTO_ICMPV6);
}

/* The fixed part of the L4 header we insist on in a first fragment: a
 * shorter one would hide the ports (or TCP flags) in a later fragment. */
static __always_inline __u32 l4_min_len(const struct ixdp_pkt *p)
{
	switch (p->proto) {
	case IXDP_PROTO_TCP:
		return 20;
	case IXDP_PROTO_UDP:
	case IXDP_PROTO_UDPLITE:
		return 8;
	case IXDP_PROTO_SCTP:
		return 12;
	}
	return proto_is_icmp(p) ? 8 : 0;
}

static __always_inline void read_icmp(const __u8 *l4, struct ixdp_pkt *p)
{
	__u8 type = l4[0];

	if (p->fam == IXDP_FAM_V4)
		p->is_echo = type == 0 || type == 8;
	else
		p->is_echo = type == 128 || type == 129;
	p->nd = p->fam == IXDP_FAM_V6 && type >= 133 && type <= 137;
	p->echo_id = bpf_ntohs(*(__be16 *)(l4 + 4));
}

/* L4 of a first fragment (or unfragmented packet).  room = bytes of IP
 * payload left from l4 on, as the IP header(s) say. */
static __always_inline int parse_l4(void *data_end, void *l4,
				    __u32 room, struct ixdp_pkt *p)
{
	__u32 need = l4_min_len(p);

	if (p->frag || need == 0)
		return IXDP_PARSE_OK;
	if (need > room)
		return IXDP_PARSE_MALFORMED;
	IXDP_NEED(l4, 8, data_end);    /* what is read below */
	IXDP_NEED(l4, need, data_end); /* what must be there */
	if (proto_carries_ports(p->proto)) {
		p->sport = bpf_ntohs(*(__be16 *)l4);
		p->dport = bpf_ntohs(*(__be16 *)(l4 + 2));
	} else {
		read_icmp(l4, p);
	}
	return IXDP_PARSE_OK;
}

static __always_inline bool ipv4_is_multicast(__be32 addr)
{
	return (bpf_ntohl(addr) & 0xf0000000) == 0xe0000000;
}

/* l3_room = bytes of the frame from the network header on. */
static __always_inline int parse_ipv4(void *data_end, void *l3,
				      __u32 l3_room, struct ixdp_pkt *p)
{
	struct iphdr *iph = l3;
	__u32 hlen, tot;

	IXDP_NEED(iph, sizeof(*iph), data_end);
	if (iph->version != 4 || iph->ihl < 5)
		return IXDP_PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	IXDP_NEED(iph, hlen, data_end);
	tot = bpf_ntohs(iph->tot_len);
	/* A GSO packet bigger than 64 KiB (BIG TCP) carries tot_len 0. */
	if (tot == 0 && l3_room > 0xffff)
		tot = l3_room;
	if (tot < hlen || tot > l3_room)
		return IXDP_PARSE_MALFORMED;

	p->fam = IXDP_FAM_V4;
	p->proto = iph->protocol;
	p->src[0] = iph->saddr;
	p->dst[0] = iph->daddr;
	p->frag = (bpf_ntohs(iph->frag_off) & IXDP_IP_OFFSET) != 0;
	if (iph->daddr == 0xffffffff || ipv4_is_multicast(iph->daddr))
		p->bcast = 1;
	return parse_l4(data_end, l3 + hlen, tot - hlen, p);
}

static __always_inline bool is_ipv6_exthdr(__u8 nh)
{
	return nh == IXDP_PROTO_HOPOPTS || nh == IXDP_PROTO_ROUTING ||
	       nh == IXDP_PROTO_FRAGMENT || nh == IXDP_PROTO_DSTOPTS;
}

struct ixdp_ip6_walk {
	void *cur;      /* the next header */
	__u32 used;     /* payload bytes taken by extension headers so far */
	__u8 nh;        /* its type */
	__u8 done;      /* reached the upper-layer protocol */
};

/* One extension header at w->cur; room = the IPv6 payload length. */
static __always_inline int ipv6_skip_exthdr(void *data_end,
					    struct ixdp_ip6_walk *w, __u32 room,
					    struct ixdp_pkt *p)
{
	__u8 *h = w->cur;
	__u32 len;

	if (w->nh == IXDP_PROTO_FRAGMENT) {
		IXDP_NEED(h, 8, data_end);
		len = 8;
		if (bpf_ntohs(*(__be16 *)(h + 2)) & IXDP_IP6_OFFSET) {
			p->frag = 1;    /* the rest is in the first fragment */
			w->done = 1;
		}
	} else {
		IXDP_NEED(h, 2, data_end);
		len = ((__u32)h[1] + 1) * 8;
		IXDP_NEED(h, len, data_end);
	}
	if (w->used + len > room)
		return IXDP_PARSE_MALFORMED;
	w->nh = h[0];
	w->used += len;
	w->cur = h + len;
	return IXDP_PARSE_OK;
}

static __always_inline void ipv6_addr_copy(__u32 *dst, const struct in6_addr *a)
{
	dst[0] = a->in6_u.u6_addr32[0];
	dst[1] = a->in6_u.u6_addr32[1];
	dst[2] = a->in6_u.u6_addr32[2];
	dst[3] = a->in6_u.u6_addr32[3];
}

static __always_inline int parse_ipv6(void *data_end, void *l3,
				      __u32 l3_room, struct ixdp_pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	struct ixdp_ip6_walk w;
	__u32 room;
	int r;

	IXDP_NEED(ip6, sizeof(*ip6), data_end);
	if (ip6->version != 6)
		return IXDP_PARSE_MALFORMED;
	room = bpf_ntohs(ip6->payload_len);
	/* payload_len 0: a jumbogram or a BIG TCP GSO packet, the frame says. */
	if (room == 0)
		room = l3_room - sizeof(*ip6);
	else if (room > l3_room - sizeof(*ip6))
		return IXDP_PARSE_MALFORMED;

	p->fam = IXDP_FAM_V6;
	ipv6_addr_copy(p->src, &ip6->saddr);
	ipv6_addr_copy(p->dst, &ip6->daddr);
	if (ip6->daddr.in6_u.u6_addr8[0] == 0xff)
		p->bcast = 1;

	w.cur = ip6 + 1;
	w.used = 0;
	w.nh = ip6->nexthdr;
	w.done = 0;
	/* A bounded loop: the verifier walks it at most 8 times. */
	for (int i = 0; i < IXDP_MAX_EXTHDRS; i++) {
		if (w.done || !is_ipv6_exthdr(w.nh))
			break;
		r = ipv6_skip_exthdr(data_end, &w, room, p);
		if (r != IXDP_PARSE_OK)
			return r;
	}
	if (!w.done && is_ipv6_exthdr(w.nh))
		return IXDP_PARSE_MALFORMED;    /* more than 8 of them */
	p->proto = w.nh;
	return parse_l4(data_end, w.cur, room - w.used, p);
}

/* A packet without a link-layer header: its IP version names its type. */
static __always_inline int parse_no_l2(void *data, void *data_end, __u16 *ethertype)
{
	__u8 *v = data;

	IXDP_NEED(v, 1, data_end);
	if ((*v >> 4) == 4)
		*ethertype = IXDP_ETH_P_IP;
	else if ((*v >> 4) == 6)
		*ethertype = IXDP_ETH_P_IPV6;
	return IXDP_PARSE_OK;
}

/* frame_len: the whole frame (XDP: data_end - data; TC: skb->len).
 * l3: the interface has no link layer (IXDP_IF_L3). */
static __always_inline int parse_packet(void *data, void *data_end,
					__u32 frame_len, bool l3dev,
					struct ixdp_pkt *p)
{
	__u16 ethertype = 0;
	void *l3 = data;
	__u32 l3_off;
	int r;

	__builtin_memset(p, 0, sizeof(*p));
	if (l3dev)
		r = parse_no_l2(data, data_end, &ethertype);
	else
		r = parse_eth(data, data_end, p, &l3, &ethertype);
	if (r != IXDP_PARSE_OK)
		return r;
	if (ethertype != IXDP_ETH_P_IP && ethertype != IXDP_ETH_P_IPV6)
		return IXDP_PARSE_NON_IP;
	l3_off = l3 - data;
	if (l3_off > frame_len)
		return IXDP_PARSE_MALFORMED;
	if (ethertype == IXDP_ETH_P_IP)
		return parse_ipv4(data_end, l3, frame_len - l3_off, p);
	return parse_ipv6(data_end, l3, frame_len - l3_off, p);
}

#endif /* IXDP_PARSE_H */
