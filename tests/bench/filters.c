// SPDX-License-Identifier: GPL-2.0-only
/*
 * filters.c - the classifier benchmark and the rule sets of the packet-rate
 * benchmark (tests/bench/run.sh).
 *
 *   filters classify [--bpffs DIR] [--repeat R] [--miss-iter M] [--sizes N,N..]
 *                    [--policy default|many-shapes]
 *       JSON lines {"bench":"classify",...}: the XDP program under
 *       bpf_prog_test_run_opts() with a generated policy of N filters; a
 *       size the dataplane refuses gets a line with "error" instead of
 *       figures, and the exit status is then 3 (CLASSIFY_REFUSED).
 *   filters shapes N [--policy default|many-shapes]
 *                                 JSON line: policy N's distinct shapes,
 *                                 prefix lengths and the dataplane limits
 *                                 it exceeds, nothing applied
 *   filters tree N [--policy default|many-shapes]
 *                                 JSON line: policy N's decision tree built
 *                                 in userspace (no root): size, build time,
 *                                 the cuts and leaf entries its packets walk
 *                                 (random ones and classify's), and the
 *                                 tree of one change built with it as the
 *                                 guide (guided_one_change)
 *   filters memory N DIR          JSON line {"bench":"dataplane_memory",...}:
 *                                 the maps' sizes (bpf_map_info) with policy N
 *                                 applied, the dataplane pinned under DIR
 *   filters apply N ROOT          write policy N into the dataplane at ROOT
 *   filters nft N DEV             policy N as an nftables ruleset (stdout)
 *   filters nft N DEV --form concat-interval-layers
 *                                 the same as layered concatenated-interval
 *                                 verdict maps (default: per-shape-maps)
 *   filters frames N SMAC DMAC [--per-filter K] [--mix MIX]
 *                                 probe frames (hex, one a line) of one
 *                                 traffic mix (block, the default: all end
 *                                 in block filters of policy N; permit,
 *                                 negotiate, nomatch: see cmd_frames)
 *   filters frames N SMAC DMAC --cover
 *                                 a frame for every filter, and 16 for none
 *   filters expect N FILE         the reference matcher's verdict on each
 *                                 frame of FILE ("drop|pass HEX TUPLE")
 *   filters xdp-drop IFNAME       attach a 2-instruction XDP_DROP program
 *   filters xdp-off IFNAME        detach whatever XDP program IFNAME has
 *   filters gro IFNAME on|off     GRO (so NAPI, on a veth) on or off
 *
 * Policy N is deterministic (seeded by N): the same table for the
 * dataplane, for nftables and for the probe frames.  `--policy many-shapes`
 * (classify and shapes only) is another one, with every prefix length
 * (gen_many_shapes()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile/compiler.h"
#include "dataplane/dataplane.h"
#include "compile/compile_tuplespace.h"
#include "compile/compile_limits.h"
#include "compile/compile_tree.h"
#include <time.h>
#include "ipsec_xdp.skel.h"

#define BPF_FS_MAGIC 0xcafe4a11
#define EXEMPT_LEVEL 3          /* the default ipsecexempt: IKE only */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "filters: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- deterministic random numbers (splitmix64) ------------------------------ */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed * 0x2545f4914f6cdd1dull + 0x1a5e;
}

/* ---- the policy generator ----------------------------------------------------- */

/* Destination ports of services, and port ranges that do not overlap one
 * another (so that no two range filters of one shape overlap: nftables
 * refuses overlapping elements in one interval map). */
static const uint16_t common_ports[] = {
	22, 25, 53, 80, 110, 123, 143, 161, 389, 443, 445, 465, 514, 587,
	636, 993, 995, 1433, 1521, 2049, 3306, 3389, 5432, 5671, 5672, 6379,
	6443, 8080, 8443, 9090, 9200, 9300, 11211, 27017,
};
static const struct port_spec common_ranges[] = {
	{ 5060, 5061 }, { 6000, 6063 }, { 8000, 8099 }, { 10000, 10999 },
	{ 16384, 32767 }, { 33434, 33534 }, { 49152, 65535 },
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static size_t arg_size(const char *s);

static size_t alen(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 4 : 16;
}

static uint8_t maxplen(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 32 : 128;
}

static void put_v4(uint8_t *a, uint32_t host)
{
	memset(a, 0, 16);
	a[0] = (uint8_t)(host >> 24);
	a[1] = (uint8_t)(host >> 16);
	a[2] = (uint8_t)(host >> 8);
	a[3] = (uint8_t)host;
}

static void apply_mask(uint8_t *a, uint8_t fam, uint8_t plen)
{
	for (unsigned i = 0; i < alen(fam); i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;

		if (bits >= 8)
			continue;
		a[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

/* Random bits under the prefix: a host of the network a/plen. */
static void random_host_in(struct rng *r, uint8_t fam, const uint8_t *net,
			   uint8_t plen, uint8_t *out)
{
	uint8_t rb[16];

	for (unsigned i = 0; i < 16; i++)
		rb[i] = (uint8_t)rnd(r);
	memset(out, 0, 16);
	for (unsigned i = 0; i < alen(fam); i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;
		uint8_t keep = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		out[i] = (uint8_t)((net[i] & keep) | (rb[i] & ~keep));
	}
	if (fam == IXDP_FAM_V4 && plen < 32 && (out[3] == 0 || out[3] == 255))
		out[3] = 7;     /* not the network or broadcast address */
}

/* The host's address i (0..3): 192.0.2.10-13, 2001:db8:ffff::10-13. */
static void host_addr(uint8_t fam, unsigned i, uint8_t *a)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff };

	if (fam == IXDP_FAM_V4) {
		put_v4(a, 0xc0000200u + 10 + i);
	} else {
		memcpy(a, v6, 16);
		a[15] = (uint8_t)(0x10 + i);
	}
}

/* The local side: the host the policy is for has a few addresses. */
static void local_addr(struct rng *r, uint8_t fam, uint8_t *a)
{
	host_addr(fam, below(r, 4), a);
}

/* A remote network of prefix length plen (a host when plen is the maximum).
 * Never 100.64.0.0/10 or 2001:db8:dead::/48: those hold the packets that
 * must match no filter. */
static void remote_net(struct rng *r, uint8_t fam, uint8_t plen, uint8_t *a)
{
	if (fam == IXDP_FAM_V4) {
		uint32_t x = (uint32_t)rnd(r), p = below(r, 100);

		if (plen == 8) {
			uint32_t o;

			do
				o = 1 + below(r, 223);
			while (o == 100 || o == 127 || o == 192);
			x = (o << 24) | (x & 0xffffff);
		} else if (p < 75) {
			x = 0x0a000000u | (x & 0x00ffffff);     /* 10/8 */
		} else if (p < 90) {
			x = 0xac100000u | (x & 0x000fffff);     /* 172.16/12 */
		} else {
			x = 0xc0a80000u | (x & 0x0000ffff);     /* 192.168/16 */
		}
		put_v4(a, x);
	} else {
		for (unsigned i = 0; i < 16; i++)
			a[i] = (uint8_t)rnd(r);
		a[0] = 0x20;
		a[1] = 0x01;
		a[2] = 0x0d;
		a[3] = 0xb8;
		if (a[4] == 0xde && a[5] == 0xad)
			a[5] = 0;
		if (a[4] == 0xff && a[5] == 0xff)
			a[5] = 0;       /* not the local /48 */
	}
	apply_mask(a, fam, plen);
}

static const char bench_rule_name[] = "bench";

/* The host of local_addr(): its addresses carry the IKE exemptions. */
static const struct host_info *bench_host(void)
{
	static struct host_prefix me[8];
	static struct host_info h = { .me = me, .nme = 8 };

	for (unsigned i = 0; i < 4; i++) {
		me[i].addr.family = AF_INET;
		put_v4(me[i].addr.bytes, 0xc0000200u + 10 + i);
		me[i].plen = 24;
		me[4 + i].addr.family = AF_INET6;
		memcpy(me[4 + i].addr.bytes, (const uint8_t[16]){ 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff }, 16);
		me[4 + i].addr.bytes[15] = (uint8_t)(0x10 + i);
		me[4 + i].plen = 48;
	}
	return &h;
}

/* A filter's action (35 % block, 35 % permit, the rest negotiate, some
 * of those with inbound pass-through), its rule and name; the first three
 * rules have one action each, so every policy has all three. */
static void random_action(struct rng *r, size_t rule, struct specific_filter *f)
{
	uint32_t p = below(r, 100);

	f->action = p < 35 ? IXDP_ACT_BLOCK : p < 70 ? IXDP_ACT_PERMIT :
		    IXDP_ACT_NEGOTIATE;
	if (rule < 3)
		f->action = rule == 0 ? IXDP_ACT_BLOCK : rule == 1 ?
			    IXDP_ACT_PERMIT : IXDP_ACT_NEGOTIATE;
	if (f->action == IXDP_ACT_NEGOTIATE && below(r, 100) < 30)
		f->flags = IXDP_F_INPASS;
	f->rule = (int)rule;
	f->name = bench_rule_name;
}

/* A table of the default exemptions alone: the size it must reach with
 * n specific filters more. */
static size_t start_table(struct filter_table *t, size_t n)
{
	memset(t, 0, sizeof(*t));
	if (compile_exemptions(EXEMPT_LEVEL, bench_host(), t))
		die("compile_exemptions failed");
	return t->n + n;
}

/*
 * A realistic policy of n specific filters (plus the default IKE
 * exemptions): rules from the host's own addresses to a remote host or
 * network (/24 /16 /8; IPv6 /64 /56 /48), protocol any/tcp/udp/icmp, mostly
 * one destination port, some ranges, mostly mirrored, all three actions;
 * about 85 % IPv4.  Sorted into enforcement order.
 */
static void gen_table(size_t n, struct filter_table *t)
{
	struct rng r;
	size_t target, rule = 0;

	target = start_table(t, n);
	rng_seed(&r, n);
	while (t->n < target) {
		struct specific_filter f, m;
		uint8_t fam = below(&r, 100) < 85 ? IXDP_FAM_V4 : IXDP_FAM_V6;
		uint32_t p = below(&r, 100);
		uint8_t plen;
		struct port_spec ports = { 0, 0 };
		bool mirrored = below(&r, 100) < 90;

		if (p < 40)
			plen = maxplen(fam);
		else if (p < 65)
			plen = fam == IXDP_FAM_V4 ? 24 : 64;
		else if (p < 85)
			plen = fam == IXDP_FAM_V4 ? 16 : 56;
		else
			plen = fam == IXDP_FAM_V4 ? 8 : 48;

		memset(&f, 0, sizeof(f));
		f.fam = fam;
		local_addr(&r, fam, f.src);
		f.src_plen = maxplen(fam);
		remote_net(&r, fam, plen, f.dst);
		f.dst_plen = plen;

		p = below(&r, 100);
		if (p < 25) {
			f.proto_exact = false;
		} else {
			f.proto_exact = true;
			f.proto = p < 70 ? IPPROTO_TCP : p < 90 ? IPPROTO_UDP :
				  fam == IXDP_FAM_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		}
		if (f.proto_exact && proto_has_ports(f.proto)) {
			p = below(&r, 100);
			if (p < 70) {
				uint16_t port = below(&r, 100) < 80 ?
					common_ports[below(&r, NELEM(common_ports))] :
					(uint16_t)(1024 + below(&r, 64512));

				if (port == 500 || port == 4500)
					port = 443;
				ports.lo = ports.hi = port;
			} else if (p < 80) {
				ports = common_ranges[below(&r, NELEM(common_ranges))];
			}
		}
		f.dport = ports;

		random_action(&r, rule++, &f);
		if (filter_table_push(t, &f))
			die("out of memory");
		if (mirrored && t->n < target) {
			m = f;
			memcpy(m.src, f.dst, 16);
			memcpy(m.dst, f.src, 16);
			m.src_plen = f.dst_plen;
			m.dst_plen = f.src_plen;
			m.sport = f.dport;
			m.dport = f.sport;
			m.mirror = true;
			if (filter_table_push(t, &m))
				die("out of memory");
		}
	}
	if (filter_table_sort(t))
		die("out of memory");
}

/* ---- the many-shapes policy ----------------------------------------------------- */

/* The packets that must match no filter (packet_nomatch()): from
 * 100.64.0.0/10 or 2001:db8:dead::/48 to one of the host's addresses, TCP
 * or UDP, these source and destination ports. */
#define NOMATCH_SPORT_LO 32768
#define NOMATCH_SPORT_N  28232          /* 32768-60999 */
#define NOMATCH_DPORT_LO 1024
#define NOMATCH_DPORT_N  3000           /* 1024-4023 */
static const uint8_t nomatch_net4[16] = { 100, 64 };
static const uint8_t nomatch_net6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad };

static const uint8_t *nomatch_net(uint8_t fam, uint8_t *plen)
{
	*plen = fam == IXDP_FAM_V4 ? 10 : 48;
	return fam == IXDP_FAM_V4 ? nomatch_net4 : nomatch_net6;
}

/* Do a/ka and b/kb share an address (their first min(ka, kb) bits)? */
static bool prefixes_overlap(const uint8_t *a, uint8_t ka, const uint8_t *b, uint8_t kb)
{
	unsigned k = ka < kb ? ka : kb;

	for (unsigned i = 0; i < k; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool ports_overlap(const struct port_spec *ps, unsigned lo, unsigned hi)
{
	return port_kind(ps) == IXDP_PORT_ANY || (ps->lo <= hi && ps->hi >= lo);
}

/* Could f match one of packet_nomatch()'s packets? */
static bool meets_nomatch(const struct specific_filter *f)
{
	uint8_t nplen, a[16];
	const uint8_t *net = nomatch_net(f->fam, &nplen);
	bool to_host = false;

	if (!prefixes_overlap(f->src, f->src_plen, net, nplen))
		return false;
	for (unsigned i = 0; i < 4 && !to_host; i++) {
		host_addr(f->fam, i, a);
		to_host = prefixes_overlap(f->dst, f->dst_plen, a, maxplen(f->fam));
	}
	if (!to_host || (f->proto_exact && f->proto != IPPROTO_TCP &&
			 f->proto != IPPROTO_UDP))
		return false;
	return ports_overlap(&f->sport, NOMATCH_SPORT_LO,
			     NOMATCH_SPORT_LO + NOMATCH_SPORT_N - 1) &&
	       ports_overlap(&f->dport, NOMATCH_DPORT_LO,
			     NOMATCH_DPORT_LO + NOMATCH_DPORT_N - 1);
}

/*
 * A remote network of any prefix length: remote_net() where it has one
 * (IPv4 /8 and longer, IPv6 longer than /32), else random bits (IPv6 /16
 * to /32 in 2000::/3); where the length allows, not overlapping the
 * no-match sources nor multicast (IPv4 224/3, IPv6 ff00::/8).
 */
static void remote_any(struct rng *r, uint8_t fam, uint8_t plen, uint8_t *a)
{
	static const uint8_t mc4[16] = { 224 }, mc6[16] = { 0xff };
	bool v4 = fam == IXDP_FAM_V4;
	uint8_t nplen;
	const uint8_t *net = nomatch_net(fam, &nplen);

	for (int tries = 0; tries < 64; tries++) {
		if (v4 ? plen >= 8 : plen > 32) {
			remote_net(r, fam, plen, a);
		} else {
			for (unsigned i = 0; i < 16; i++)
				a[i] = v4 && i >= 4 ? 0 : (uint8_t)rnd(r);
			if (!v4 && plen >= 16)
				a[0] = (uint8_t)(0x20 | (a[0] & 0x1f));
			apply_mask(a, fam, plen);
		}
		if (!plen)
			return;
		if (!prefixes_overlap(a, plen, net, nplen) &&
		    (plen < (v4 ? 3 : 8) ||
		     !prefixes_overlap(a, plen, v4 ? mc4 : mc6, v4 ? 3 : 8)))
			return;
	}
}

/* Port ranges of the many-shapes policy, some overlapping one another. */
static const struct port_spec ms_dranges[] = {
	{ 20, 21 }, { 135, 139 }, { 1024, 65535 }, { 3000, 3999 },
	{ 5060, 5061 }, { 6000, 6063 }, { 6000, 6009 }, { 8000, 8099 },
	{ 8080, 8089 }, { 10000, 10999 }, { 10000, 20000 }, { 16384, 32767 },
	{ 33434, 33534 }, { 49152, 65535 },
};
static const struct port_spec ms_sranges[] = {
	{ 0, 1023 }, { 1024, 65535 }, { 32768, 60999 }, { 49152, 65535 },
	{ 5060, 5061 },
};
static const uint16_t ms_sports[] = { 20, 53, 123, 389, 443, 1812, 5060 };

/* A destination and a source port of the kinds asked (IXDP_PORT_*). */
static void ms_ports(struct rng *r, int dkind, int skind, struct specific_filter *f)
{
	memset(&f->dport, 0, sizeof(f->dport));
	memset(&f->sport, 0, sizeof(f->sport));
	if (dkind == IXDP_PORT_EXACT) {
		uint16_t p = below(r, 100) < 80 ?
			common_ports[below(r, NELEM(common_ports))] :
			(uint16_t)(1024 + below(r, 64512));

		f->dport.lo = f->dport.hi = p == 500 || p == 4500 ? 443 : p;
	} else if (dkind == IXDP_PORT_RANGE) {
		f->dport = ms_dranges[below(r, NELEM(ms_dranges))];
	}
	if (skind == IXDP_PORT_EXACT)
		f->sport.lo = f->sport.hi = ms_sports[below(r, NELEM(ms_sports))];
	else if (skind == IXDP_PORT_RANGE)
		f->sport = ms_sranges[below(r, NELEM(ms_sranges))];
}

/* The shape of one rule: its sides' prefix lengths, its protocol (into
 * f) and its port kinds. */
struct ms_shape {
	uint8_t lplen, rplen;   /* local and remote side */
	int dkind, skind;       /* IXDP_PORT_* */
};

static void ms_draw_shape(struct rng *r, struct specific_filter *f, struct ms_shape *sh)
{
	static const uint8_t c4[] = { 32, 32, 24, 24, 16, 8 },
			     c6[] = { 128, 128, 64, 64, 56, 48 };
	bool v4 = f->fam == IXDP_FAM_V4;
	uint32_t p = below(r, 100);

	/* the remote side: the usual lengths or any at all (IPv6: every 4th) */
	if (p < 70)
		sh->rplen = (v4 ? c4 : c6)[below(r, 6)];
	else
		sh->rplen = v4 ? (uint8_t)below(r, 33) : (uint8_t)(4 * below(r, 33));
	/* the local side: one of the host's addresses or a network around it */
	sh->lplen = below(r, 100) < 75 ? maxplen(f->fam) :
		    v4 ? (uint8_t)below(r, 32) : (uint8_t)(4 * below(r, 32));
	p = below(r, 100);
	if (p >= 20) {
		f->proto_exact = true;
		f->proto = p < 65 ? IPPROTO_TCP : p < 90 ? IPPROTO_UDP :
			   v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	}
	sh->dkind = sh->skind = IXDP_PORT_ANY;
	if (f->proto_exact && proto_has_ports(f->proto)) {
		p = below(r, 100);
		sh->dkind = p < 60 ? IXDP_PORT_EXACT : p < 80 ? IXDP_PORT_RANGE :
			    IXDP_PORT_ANY;
		p = below(r, 100);
		sh->skind = p < 80 ? IXDP_PORT_ANY : p < 90 ? IXDP_PORT_EXACT :
			    IXDP_PORT_RANGE;
	}
}

/* One rule's filter, its mirror in *m.  Returns whether it is mirrored. */
static bool ms_filter(struct rng *r, struct specific_filter *f,
		      struct specific_filter *m)
{
	uint8_t fam = below(r, 100) < 75 ? IXDP_FAM_V4 : IXDP_FAM_V6;
	bool inbound = below(r, 100) < 40, mirrored = below(r, 100) < 70;
	uint8_t local[16], remote[16];
	struct ms_shape sh;

	memset(f, 0, sizeof(*f));
	f->fam = fam;
	ms_draw_shape(r, f, &sh);
	/* addresses and ports again (same shape) while the filter or its
	 * mirror would take the packets meant to match nothing; then ICMP */
	for (int tries = 0;; tries++) {
		local_addr(r, fam, local);
		apply_mask(local, fam, sh.lplen);
		remote_any(r, fam, sh.rplen, remote);
		memcpy(inbound ? f->dst : f->src, local, 16);
		memcpy(inbound ? f->src : f->dst, remote, 16);
		f->src_plen = inbound ? sh.rplen : sh.lplen;
		f->dst_plen = inbound ? sh.lplen : sh.rplen;
		ms_ports(r, sh.dkind, sh.skind, f);
		*m = *f;
		memcpy(m->src, f->dst, 16);
		memcpy(m->dst, f->src, 16);
		m->src_plen = f->dst_plen;
		m->dst_plen = f->src_plen;
		m->sport = f->dport;
		m->dport = f->sport;
		m->mirror = true;
		if (!meets_nomatch(f) && !(mirrored && meets_nomatch(m)))
			return mirrored;
		if (tries == 16) {
			f->proto_exact = true;
			f->proto = fam == IXDP_FAM_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
			sh.dkind = sh.skind = IXDP_PORT_ANY;
		}
	}
}

/*
 * The many-shapes policy of n specific filters (plus the default IKE
 * exemptions): like gen_table()'s, from or to the host's own addresses or
 * a network around them (any prefix length), to or from a remote network
 * of any length (IPv4 0-32, IPv6 every 4th of 0-128, the usual ones more
 * often), protocol any/tcp/udp/icmp, exact ports, port ranges (some
 * overlapping), source ports, 70 % mirrored, all three actions, 75 % IPv4.
 * None takes packet_nomatch()'s packets.  Sorted into enforcement order.
 */
static void gen_many_shapes(size_t n, struct filter_table *t)
{
	struct rng r;
	size_t target, rule = 0;

	target = start_table(t, n);
	rng_seed(&r, n ^ 0x5ca1ab1eull);
	while (t->n < target) {
		struct specific_filter f, m;
		bool mirrored = ms_filter(&r, &f, &m);

		random_action(&r, rule++, &f);
		m.action = f.action;
		m.flags = f.flags;
		m.rule = f.rule;
		m.name = f.name;
		if (filter_table_push(t, &f))
			die("out of memory");
		if (mirrored && t->n < target && filter_table_push(t, &m))
			die("out of memory");
	}
	if (filter_table_sort(t))
		die("out of memory");
}

/* The policies: gen_table()'s ("default") and gen_many_shapes()'s. */
enum policy_kind { POLICY_DEFAULT, POLICY_MANY_SHAPES };
static const char *const policy_names[] = { "default", "many-shapes" };

static enum policy_kind parse_policy(const char *s)
{
	for (size_t k = 0; k < NELEM(policy_names); k++)
		if (!strcmp(s, policy_names[k]))
			return (enum policy_kind)k;
	die("--policy: default or many-shapes, not %s", s);
	return POLICY_DEFAULT;
}

static void gen_policy(enum policy_kind kind, size_t n, struct filter_table *t)
{
	if (kind == POLICY_MANY_SHAPES)
		gen_many_shapes(n, t);
	else
		gen_table(n, t);
}

/* Distinct shapes (specific_filter_same_shape) per family. */
static void count_shapes(const struct filter_table *t, size_t n[2])
{
	size_t *first = malloc((t->n ? t->n : 1) * sizeof(*first)), nf = 0;

	if (!first)
		die("out of memory");
	n[0] = n[1] = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = 0;

		while (k < nf && !specific_filter_same_shape(&t->v[first[k]], &t->v[i]))
			k++;
		if (k < nf)
			continue;
		first[nf++] = i;
		n[t->v[i].fam == IXDP_FAM_V6]++;
	}
	free(first);
}

/* ---- packets ------------------------------------------------------------------ */

/* XDP verdict of the reference matcher for an inbound packet. */
static int expected_xdp(const struct filter_table *t, const struct pkt_tuple *p,
			long *idx)
{
	long i = filter_table_match(t, p);
	const struct specific_filter *f;

	if (idx)
		*idx = i;
	if (i < 0)
		return XDP_PASS;
	f = &t->v[i];
	if (f->action == IXDP_ACT_PERMIT)
		return XDP_PASS;
	if (f->action == IXDP_ACT_NEGOTIATE && (f->flags & IXDP_F_INPASS))
		return XDP_PASS;
	return XDP_DROP;
}

static uint16_t pick_port(struct rng *r, const struct port_spec *ps)
{
	switch (port_kind(ps)) {
	case IXDP_PORT_EXACT:
		return ps->lo;
	case IXDP_PORT_RANGE:
		return (uint16_t)(ps->lo + below(r, (uint32_t)(ps->hi - ps->lo) + 1));
	default:
		return (uint16_t)(32768 + below(r, 28232));     /* ephemeral */
	}
}

/* A packet that filter f matches (another, heavier filter may match first). */
static void packet_for(struct rng *r, const struct specific_filter *f,
		       struct pkt_tuple *p)
{
	memset(p, 0, sizeof(*p));
	p->fam = f->fam;
	random_host_in(r, f->fam, f->src, f->src_plen, p->src);
	random_host_in(r, f->fam, f->dst, f->dst_plen, p->dst);
	if (f->proto_exact) {
		p->proto = f->proto;
	} else {
		uint32_t x = below(r, 3);

		p->proto = x == 0 ? IPPROTO_TCP : x == 1 ? IPPROTO_UDP :
			   f->fam == IXDP_FAM_V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	}
	if (proto_has_ports(p->proto)) {
		p->sport = pick_port(r, &f->sport);
		p->dport = pick_port(r, &f->dport);
		if (p->sport == 500 || p->sport == 4500)
			p->sport = 40000;
	}
}

/* A probe's destination not multicast (nor IPv4's reserved 240/4) where
 * the filter's prefix (dst_plen) leaves the bit free: the dataplane drops
 * multicast on a negotiate filter, which the reference verdict does not
 * model (only the many-shapes policy has destinations that short). */
static void unicast_dst(struct pkt_tuple *p, uint8_t dst_plen)
{
	if (p->fam == IXDP_FAM_V4 && dst_plen < 3 && p->dst[0] >= 224)
		p->dst[0] &= (uint8_t)~0x20;
	if (p->fam == IXDP_FAM_V6 && dst_plen < 8 && p->dst[0] == 0xff)
		p->dst[0] = 0xfe;
}

/* A packet of the host that matches no filter: from an address no rule
 * names (100.64.0.0/10, 2001:db8:dead::/48) to a local address. */
static void packet_nomatch(struct rng *r, uint8_t fam, struct pkt_tuple *p)
{
	memset(p, 0, sizeof(*p));
	p->fam = fam;
	if (fam == IXDP_FAM_V4) {
		put_v4(p->src, 0x64400000u | (below(r, 1u << 22)));
	} else {
		for (unsigned i = 0; i < 16; i++)
			p->src[i] = (uint8_t)rnd(r);
		memcpy(p->src, "\x20\x01\x0d\xb8\xde\xad", 6);
	}
	local_addr(r, fam, p->dst);
	p->proto = below(r, 2) ? IPPROTO_TCP : IPPROTO_UDP;
	p->sport = (uint16_t)(NOMATCH_SPORT_LO + below(r, NOMATCH_SPORT_N));
	p->dport = (uint16_t)(NOMATCH_DPORT_LO + below(r, NOMATCH_DPORT_N));
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#define FRAME_MIN 60
#define FRAME_MAX 128

/* Ethernet + IPv4/IPv6 + TCP (SYN) / UDP / ICMP echo request, valid
 * checksums, padded to the Ethernet minimum.  Returns the length. */
static size_t build_frame(const struct pkt_tuple *p, const uint8_t dmac[6],
			  const uint8_t smac[6], uint16_t ip_id, uint8_t *b)
{
	bool v4 = p->fam == IXDP_FAM_V4;
	size_t l3 = 14, l3len = v4 ? 20 : 40, l4 = l3 + l3len, l4len, len;
	uint8_t *h = b + l4;
	uint32_t sum;

	memset(b, 0, FRAME_MAX);
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, v4 ? 0x0800 : 0x86dd);
	switch (p->proto) {
	case IPPROTO_TCP:
		l4len = 20;
		put16(h, p->sport);
		put16(h + 2, p->dport);
		put16(h + 4, 0x1a5e);           /* sequence number */
		h[12] = 5 << 4;
		h[13] = 0x02;                   /* SYN */
		put16(h + 14, 64240);
		break;
	case IPPROTO_UDP:
		l4len = 8 + 18;
		put16(h, p->sport);
		put16(h + 2, p->dport);
		put16(h + 4, (uint16_t)l4len);
		break;
	default:                                /* ICMP / ICMPv6 echo request */
		l4len = 8 + 18;
		h[0] = v4 ? 8 : 128;
		put16(h + 4, 0x1a5e);
		put16(h + 6, ip_id);
		break;
	}
	len = l4 + l4len;
	if (v4) {
		uint8_t *ip = b + l3;

		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(l3len + l4len));
		put16(ip + 4, ip_id);
		ip[8] = 64;
		ip[9] = p->proto;
		memcpy(ip + 12, p->src, 4);
		memcpy(ip + 16, p->dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	} else {
		uint8_t *ip = b + l3;

		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = p->proto;
		ip[7] = 64;
		memcpy(ip + 8, p->src, 16);
		memcpy(ip + 24, p->dst, 16);
	}
	/* L4 checksum over the pseudo header (ICMPv4: none). */
	sum = 0;
	if (v4 && p->proto != IPPROTO_ICMP) {
		sum = csum_add(sum, p->src, 4);
		sum = csum_add(sum, p->dst, 4);
		sum += p->proto + (uint32_t)l4len;
	} else if (!v4) {
		sum = csum_add(sum, p->src, 16);
		sum = csum_add(sum, p->dst, 16);
		sum += p->proto + (uint32_t)l4len;
	}
	sum = csum_add(sum, h, l4len);
	{
		uint16_t c = csum_fold(sum);
		size_t off = p->proto == IPPROTO_TCP ? 16 : p->proto == IPPROTO_UDP ? 6 : 2;

		if (p->proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		put16(h + off, c);
	}
	return len < FRAME_MIN ? FRAME_MIN : len;
}

/* ---- a private dataplane (bpffs + skeleton + dp_open) -------------------------- */

static char env_dir[PATH_MAX];
static bool env_mounted;

static void env_cleanup(void)
{
	if (env_mounted)
		umount2(env_dir, MNT_DETACH);
	env_mounted = false;
}

static void on_signal(int sig)
{
	env_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* Load the skeleton with its maps pinned under dir/maps (dir on a bpffs,
 * mounted here when it is not). */
static struct ipsec_xdp_bpf *env_up(const char *dir, struct dp *dp)
{
	char maps[PATH_MAX], err[512];
	struct statfs st;
	struct ipsec_xdp_bpf *skel;

	snprintf(env_dir, sizeof(env_dir), "%s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	if (statfs(dir, &st) || st.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", dir, "bpf", 0, "mode=0700"))
			die("mount -t bpf %s: %s", dir, strerror(errno));
		env_mounted = true;
		atexit(env_cleanup);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
	}
	snprintf(maps, sizeof(maps), "%s/maps", dir);
	if (mkdir(maps, 0700) && errno != EEXIST)
		die("mkdir %s: %s", maps, strerror(errno));
	libbpf_set_print(quiet_print);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = maps);
	skel = ipsec_xdp_bpf__open_opts(&oo);
	if (!skel || ipsec_xdp_bpf__load(skel))
		die("cannot load the BPF skeleton: %s", strerror(errno));
	if (dp_open(dp, dir, err, sizeof(err)))
		die("dp_open: %s", err);
	return skel;
}

/* ---- classify ------------------------------------------------------------------ */

struct bench_pkt {
	struct pkt_tuple t;
	uint8_t frame[FRAME_MAX];
	size_t len;
	int expect;             /* XDP_PASS / XDP_DROP */
	bool nomatch;
	struct ixdp_flow_key fkey;
};

static int run_prog(int fd, const void *frame, size_t len, int repeat, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = (__u32)len, .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		die("bpf_prog_test_run_opts: %s", strerror(errno));
	if (ns)
		*ns = o.duration;
	return (int)o.retval;
}

/* An XDP program of two instructions: r0 = verdict; exit. */
static int trivial_xdp(int verdict)
{
	struct bpf_insn insns[2];
	int fd;

	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[0].imm = verdict;
	insns[1].code = BPF_JMP | BPF_EXIT;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "ixbench_triv", "GPL", insns, 2, NULL);
	if (fd < 0)
		die("bpf_prog_load: %s", strerror(errno));
	return fd;
}

static void flow_key_of(const struct pkt_tuple *p, struct ixdp_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->fam = p->fam;
	k->proto = p->proto;
	if (proto_has_ports(p->proto)) {
		k->sport = p->sport;
		k->dport = p->dport;
	}
	memcpy(k->src, p->src, 16);
	memcpy(k->dst, p->dst, 16);
}

#define NPKT_HIT     24          /* packets of the set that match filters */
#define NPKT_NOMATCH 8           /* and that match none */
#define NPKT (NPKT_HIT + NPKT_NOMATCH)

static void make_packets(const struct filter_table *t, size_t n, struct bench_pkt *pk)
{
	static const uint8_t dmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };
	size_t first = 0, npol;
	struct rng r;

	rng_seed(&r, n * 7919 + 1);
	while (first < t->n && (t->v[first].flags & IXDP_F_EXEMPTION))
		first++;    /* exemptions weigh the most: they sort first */
	npol = t->n - first;
	for (int i = 0; i < NPKT; i++) {
		struct bench_pkt *b = &pk[i];
		long idx;

		memset(b, 0, sizeof(*b));
		if (i < NPKT_HIT) {
			/* a filter of each family: IPv6 for every sixth packet */
			const struct specific_filter *f;
			uint8_t want = i % 6 == 5 ? IXDP_FAM_V6 : IXDP_FAM_V4;

			do
				f = &t->v[first + below(&r, (uint32_t)npol)];
			while (f->fam != want && below(&r, 20));
			packet_for(&r, f, &b->t);
			unicast_dst(&b->t, f->dst_plen);
		} else {
			packet_nomatch(&r, i % 4 == 3 ? IXDP_FAM_V6 : IXDP_FAM_V4, &b->t);
			b->nomatch = true;
		}
		b->expect = expected_xdp(t, &b->t, &idx);
		if (b->nomatch && idx >= 0)
			die("a no-match packet matches filter %ld", idx);
		if (!b->nomatch && idx < 0)
			die("a packet built for a filter matches none");
		b->len = build_frame(&b->t, dmac, smac, (uint16_t)i, b->frame);
		flow_key_of(&b->t, &b->fkey);
	}
}

static uint64_t cache_hits(struct dp *dp)
{
	uint64_t pkts[IXDP_PKT__MAX];

	if (dp_read_pkts(dp, pkts))
		die("dp_read_pkts failed");
	return pkts[IXDP_PKT_CACHE_HIT];
}

/* The packet counters of the two searches a new flow can take. */
static void search_counts(struct dp *dp, uint64_t c[2])
{
	uint64_t pkts[IXDP_PKT__MAX];

	if (dp_read_pkts(dp, pkts))
		die("dp_read_pkts failed");
	c[0] = pkts[IXDP_PKT_TREE_SEARCH];
	c[1] = pkts[IXDP_PKT_TUPLE_SEARCH];
}

struct classify_result {
	double hit, miss, miss_nomatch, miss_evict;
	double miss_mean;       /* miss with the mean of the pairs, not the median */
	uint64_t tree, tuples;  /* searches during the miss timing */
	int repeat;
};

/* Which search answered the new flows of the miss timing. */
static const char *searched(const struct classify_result *res)
{
	if (res->tree && res->tuples)
		return "mixed";
	return res->tree ? "tree" : res->tuples ? "tuples" : "none";
}

/* A filler flow that no packet of the set has (198.18.0.0/15). */
static void filler_key(uint32_t i, struct ixdp_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->fam = IXDP_FAM_V4;
	k->proto = IPPROTO_UDP;
	k->sport = (uint16_t)i;
	k->dport = 53;
	put_v4((uint8_t *)k->src, 0xc6120000u | (i >> 16));
	put_v4((uint8_t *)k->dst, 0xc6130001u);
}

/*
 * The flow cache is a direct-mapped per-CPU array (include/ipsec_xdp.h):
 * forgetting a flow = clearing its slot on every CPU; a full cache = the
 * slot holds another, valid flow, which the program must overwrite.
 */
struct cache_io {
	struct dp *dp;
	int ncpu;
	size_t stride;          /* per-CPU value size, 8-byte aligned */
	char *vals;             /* ncpu * stride */
	uint32_t generation;    /* the live bank's */
};

static void cache_io_init(struct cache_io *io, struct dp *dp)
{
	struct ixdp_bank bank;
	uint32_t live;

	io->dp = dp;
	io->ncpu = libbpf_num_possible_cpus();
	if (io->ncpu < 1)
		io->ncpu = 1;
	io->stride = (sizeof(struct ixdp_flow_entry) + 7) & ~(size_t)7;
	io->vals = calloc((size_t)io->ncpu, io->stride);
	if (!io->vals)
		die("out of memory");
	if (dp_read_bank(dp, &live, &bank))
		die("dp_read_bank failed");
	io->generation = bank.generation;
}

/* Put e (or zeros) in the slot of key k on every CPU. */
static void cache_slot_write(struct cache_io *io, const struct ixdp_flow_key *k,
			     const struct ixdp_flow_entry *e)
{
	__u32 slot = ixdp_flow_slot(k);

	for (int c = 0; c < io->ncpu; c++) {
		if (e)
			memcpy(io->vals + (size_t)c * io->stride, e, sizeof(*e));
		else
			memset(io->vals + (size_t)c * io->stride, 0, io->stride);
	}
	if (bpf_map_update_elem(io->dp->flow_cache_fd, &slot, io->vals, BPF_ANY))
		die("flow cache update: %s", strerror(errno));
}

/* Does the slot of k hold k (on any CPU)? */
static bool cache_holds(struct cache_io *io, const struct ixdp_flow_key *k)
{
	__u32 slot = ixdp_flow_slot(k);

	if (bpf_map_lookup_elem(io->dp->flow_cache_fd, &slot, io->vals))
		die("flow cache lookup: %s", strerror(errno));
	for (int c = 0; c < io->ncpu; c++) {
		const struct ixdp_flow_entry *e =
			(const void *)(io->vals + (size_t)c * io->stride);

		if (!memcmp(&e->key, k, sizeof(*k)) && e->val.generation == io->generation)
			return true;
	}
	return false;
}

/* The slot of k taken by a valid filler flow (198.18.0.0/15). */
static void cache_slot_fill(struct cache_io *io, const struct ixdp_flow_key *k,
			    uint32_t i)
{
	struct ixdp_flow_entry e;

	memset(&e, 0, sizeof(e));
	filler_key(i, &e.key);
	e.val.generation = io->generation;
	e.val.slot = IXDP_NO_FILTER;
	cache_slot_write(io, k, &e);
}

static int cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return a < b ? -1 : a > b;
}

static double median_i64(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* A single run longer than this was preempted or buried in interrupts
 * (this is a shared machine): the pair is not counted. */
#define OUTLIER_NS 100000

/* Over `iter` pairs of (time of a run that misses - time of a run that
 * hits), both with repeat = 1: their median, and their mean into *mean.
 * With `filler`, the packet's slot holds another valid flow before each
 * miss (a full cache): the program's insert overwrites it. */
static double miss_extra(int prog, struct cache_io *io, const struct bench_pkt *b,
			 int iter, uint32_t *filler, double *mean)
{
	int64_t sum = 0, *d = malloc((size_t)iter * sizeof(*d));
	int n = 0;
	double med;

	if (!d)
		die("out of memory");
	for (int k = 0; k < iter; k++) {
		uint32_t a, c;

		if (filler)
			cache_slot_fill(io, &b->fkey, (*filler)++);
		else
			cache_slot_write(io, &b->fkey, NULL);
		run_prog(prog, b->frame, b->len, 1, &a);
		run_prog(prog, b->frame, b->len, 1, &c);
		if (a > OUTLIER_NS || c > OUTLIER_NS)
			continue;
		d[n++] = (int64_t)a - (int64_t)c;
		sum += d[n - 1];
	}
	if (n < iter / 2)
		die("more than half of the single runs took over %d ns", OUTLIER_NS);
	*mean = (double)sum / n;
	med = median_i64(d, n);
	free(d);
	return med;
}

/* Steady state: the median of 5 test runs of repeat/5 repetitions each. */
static double hit_cost(int prog, const struct bench_pkt *b, int repeat)
{
	int64_t v[5];
	int per = repeat / 5 > 0 ? repeat / 5 : 1;

	for (int k = 0; k < 5; k++) {
		uint32_t ns;

		run_prog(prog, b->frame, b->len, per, &ns);
		v[k] = ns;
	}
	return median_i64(v, 5);
}

/*
 * Hit cost: each packet run `repeat` times (5 test runs, the median)
 * after a warm-up run: every repetition is answered by the flow cache.
 *
 * Miss cost: a test run is timed by the kernel around the program, so one
 * repetition cannot be made to miss but by changing the packet or the
 * cache between repetitions.  We delete the packet's flow-cache entry from
 * userspace and time one run (repeat = 1: a new flow: tuple space search +
 * cache insert), then time one run of the same packet again (repeat = 1,
 * a hit).  Both single runs carry the same fixed timer overhead, so their
 * difference is the extra cost of a miss; ns_per_pkt_miss = the median of
 * that difference + the steady-state hit cost, as the hit cost is a median
 * of runs: on a shared machine a few runs in 2000 take microseconds (an
 * interrupt, a preemption), which moves the mean by tens of ns from one
 * run of the benchmark to the next (the mean is ns_per_pkt_miss_mean).
 * ns_per_pkt_miss_evict: the same with the cache full, so that every
 * insert must evict (a flood of new flows).
 */
static void measure(int prog, struct dp *dp, struct bench_pkt *pk, int repeat,
		    int miss_iter, struct classify_result *res)
{
	struct cache_io io;
	double hit_sum = 0, extra_sum = 0, extra_nm = 0, hit_nm = 0, evict_sum = 0;
	double mean_sum = 0, mean;
	double hits[NPKT];
	uint64_t c0[2], c1[2];
	uint32_t filler;
	int nm = 0;

	res->tree = res->tuples = 0;
	res->repeat = repeat;
	cache_io_init(&io, dp);
	for (int i = 0; i < NPKT; i++) {
		struct bench_pkt *b = &pk[i];
		double ns, x;
		uint64_t h0;
		int rv;

		/* correctness: the dataplane agrees with the reference matcher */
		rv = run_prog(prog, b->frame, b->len, 1, NULL);
		if (rv != b->expect)
			die("packet %d: XDP returned %d, the reference matcher says %d",
			    i, rv, b->expect);
		/* our flow key is the dataplane's, and a deleted key misses */
		if (!cache_holds(&io, &b->fkey))
			die("packet %d: its flow is not in the flow cache", i);
		cache_slot_write(&io, &b->fkey, NULL);
		h0 = cache_hits(dp);
		run_prog(prog, b->frame, b->len, 1, NULL);
		if (cache_hits(dp) != h0)
			die("packet %d: a deleted flow was answered by the cache", i);
		h0 = cache_hits(dp);
		run_prog(prog, b->frame, b->len, 1, NULL);
		if (cache_hits(dp) != h0 + 1)
			die("packet %d: the second run was not a cache hit", i);

		ns = hit_cost(prog, b, repeat);
		hits[i] = ns;
		hit_sum += ns;

		search_counts(dp, c0);
		x = miss_extra(prog, &io, b, miss_iter, NULL, &mean);
		mean_sum += mean;
		search_counts(dp, c1);
		res->tree += c1[0] - c0[0];
		res->tuples += c1[1] - c0[1];
		extra_sum += x;
		if (b->nomatch) {
			nm++;
			extra_nm += x;
			hit_nm += ns;
		}
	}
	/* the same misses with a full cache */
	filler = 0;
	for (int i = 0; i < NPKT; i++)
		evict_sum += hits[i] + miss_extra(prog, &io, &pk[i], miss_iter, &filler, &mean);
	res->hit = hit_sum / NPKT;
	res->miss = res->hit + extra_sum / NPKT;
	res->miss_mean = res->hit + mean_sum / NPKT;
	res->miss_nomatch = nm ? (hit_nm + extra_nm) / nm : 0;
	res->miss_evict = evict_sum / NPKT;
	free(io.vals);
}

static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* A JSON string's contents: " and \\ escaped, a newline as \\n, other
 * control characters dropped. */
static void put_json_str(FILE *out, const char *str)
{
	for (; *str; str++) {
		if (*str == '\n')
			fputs("\\n", out);
		if (*str == '"' || *str == '\\')
			fputc('\\', out);
		if ((unsigned char)*str >= 0x20)
			fputc(*str, out);
	}
}

/* The start of every classify line: the policy, its size and shapes. */
static void classify_head(enum policy_kind kind, size_t n, const struct filter_table *t)
{
	size_t sh[2];

	count_shapes(t, sh);
	printf("{\"bench\":\"classify\",\"policy\":\"%s\",\"filters\":%zu,"
	       "\"specific_filters\":%zu,\"shapes\":%zu,\"shapes_v4\":%zu,"
	       "\"shapes_v6\":%zu,", policy_names[kind], n, t->n, sh[0] + sh[1],
	       sh[0], sh[1]);
}

struct classify_opts {
	const char *dir;
	int repeat, miss_iter;
	enum policy_kind policy;
	size_t sizes[16], nsizes;
};

static void classify_args(int argc, char **argv, struct classify_opts *o)
{
	static const size_t def[] = { 10, 100, 1000, 10000 };

	memset(o, 0, sizeof(*o));
	o->repeat = 1000000;
	o->miss_iter = 2000;
	memcpy(o->sizes, def, sizeof(def));
	o->nsizes = NELEM(def);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bpffs") && i + 1 < argc) {
			o->dir = argv[++i];
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			o->repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--miss-iter") && i + 1 < argc) {
			o->miss_iter = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--policy") && i + 1 < argc) {
			o->policy = parse_policy(argv[++i]);
		} else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *str = argv[++i], *tok;

			o->nsizes = 0;
			while ((tok = strsep(&str, ",")) && o->nsizes < NELEM(o->sizes))
				o->sizes[o->nsizes++] = arg_size(tok);
		} else {
			die("usage: filters classify [--bpffs DIR] [--repeat R] "
			    "[--miss-iter M] [--sizes N,N...] [--policy default|many-shapes]");
		}
	}
	if (o->repeat < 1 || o->miss_iter < 1 || !o->nsizes)
		die("bad arguments");
}

/* Exit status of classify when the dataplane refused a policy (its line
 * carries "error"); the other sizes were measured. */
#define CLASSIFY_REFUSED 3

/* Whether the live bank's new flows go to its decision tree (as after an
 * apply) or to its tuple space: the tree's entry of ixdp_state names the
 * bank's generation, or not. */
static void tree_use(struct dp *dp, bool on)
{
	struct ixdp_bank b;
	uint32_t live, idx, gen;

	if (dp_read_bank(dp, &live, &b))
		die("cannot read the live bank");
	idx = IXDP_STATE_TREE_GEN0 + live;
	gen = on ? b.generation : 0;
	if (bpf_map_update_elem(dp->state_fd, &idx, &gen, BPF_ANY))
		die("cannot write ixdp_state: %s", strerror(errno));
}

/* One classify line.  The target: every figure at most 150 ns at
 * 10000 filters; the older ones: hits under 100 ns, within 2x of the
 * first size's. */
static void classify_line(enum policy_kind kind, size_t n, const struct filter_table *t,
			  const char *classifier, const char *tuples, const char *tree,
			  const struct classify_result *res, uint32_t floor_ns,
			  size_t base_n, double base_hit, double base_miss)
{
	bool ok100 = res->hit < 100, ok2x = res->hit <= 2 * base_hit;
	bool mok100 = res->miss < 100, mok2x = res->miss <= 2 * base_miss;
	bool ok150 = res->hit <= 150 && res->miss <= 150 &&
		     res->miss_nomatch <= 150;

	classify_head(kind, n, t);
	printf("\"classifier\":\"%s\",%s,%s,\"packets\":%d,\"packets_nomatch\":%d,"
	       "\"repeat\":%d,"
	       "\"ns_per_pkt\":%.1f,\"ns_per_pkt_miss\":%.1f,"
	       "\"ns_per_pkt_miss_nomatch\":%.1f,\"ns_per_pkt_miss_evict\":%.1f,"
	       "\"ns_per_pkt_miss_mean\":%.1f,"
	       "\"searched\":\"%s\",\"floor_ns\":%u,"
	       "\"target_ns\":150,\"target_ok_150ns\":%s,"
	       "\"baseline_filters\":%zu,"
	       "\"target_ok_under_100ns\":%s,\"target_ok_within_2x\":%s,"
	       "\"miss_target_ok_under_100ns\":%s,\"miss_target_ok_within_2x\":%s,"
	       "\"target_ok\":%s}\n",
	       classifier, tuples, tree, NPKT, NPKT_NOMATCH, res->repeat, res->hit, res->miss,
	       res->miss_nomatch, res->miss_evict, res->miss_mean, searched(res), floor_ns,
	       ok150 ? "true" : "false",
	       base_n, ok100 ? "true" : "false", ok2x ? "true" : "false",
	       mok100 ? "true" : "false", mok2x ? "true" : "false",
	       ok100 && ok2x ? "true" : "false");
	fflush(stdout);
}

static int cmd_classify(int argc, char **argv)
{
	struct classify_opts o;
	char tmp[64];
	int floor_fd, refused = 0;
	struct ipsec_xdp_bpf *skel;
	struct dp dp;
	uint32_t floor_ns;
	double base_hit = 0, base_miss = 0;
	size_t base_n = 0;

	classify_args(argc, argv, &o);
	if (!o.dir) {
		snprintf(tmp, sizeof(tmp), "/tmp/ixdp-bench.XXXXXX");
		if (!mkdtemp(tmp))
			die("mkdtemp: %s", strerror(errno));
		o.dir = tmp;
	}
	pin_cpu();
	skel = env_up(o.dir, &dp);
	floor_fd = trivial_xdp(XDP_PASS);
	{
		static const uint8_t f[FRAME_MIN];

		run_prog(floor_fd, f, sizeof(f), o.repeat, &floor_ns);
	}
	fprintf(stderr, "classify: test_run floor (2-instruction XDP program): %u ns\n",
		floor_ns);

	for (size_t s = 0; s < o.nsizes; s++) {
		struct filter_table t;
		struct tuplespace ts;
		struct bench_pkt pk[NPKT];
		struct classify_result res;
		char err[512], tuples[160], tree[160], about[96] = "no tuple space";
		size_t n = o.sizes[s];
		bool tree_line;

		gen_policy(o.policy, n, &t);
		if (dp_apply_table(&dp, &t, true, err, sizeof(err))) {
			fprintf(stderr, "classify: %s policy, %zu filters: the dataplane "
				"refused it: %s\n", policy_names[o.policy], n, err);
			classify_head(o.policy, n, &t);
			printf("\"error\":\"dp_apply_table: ");
			put_json_str(stdout, err);
			printf("\"}\n");
			fflush(stdout);
			refused++;
			filter_table_free(&t);
			continue;
		}
		/* the tuple space's figures, where it can be built */
		memset(&ts, 0, sizeof(ts));
		if (tuplespace_build(&t, &ts, err, sizeof(err))) {
			fprintf(stderr, "classify: no tuple space figures: %s\n", err);
			snprintf(tuples, sizeof(tuples), "\"tuples\":null,\"tuples_v4\":null,"
				 "\"tuples_v6\":null,\"hash_keys\":null");
		} else {
			snprintf(tuples, sizeof(tuples), "\"tuples\":%u,\"tuples_v4\":%u,"
				 "\"tuples_v6\":%u,\"hash_keys\":%zu",
				 ts.ntuples[0] + ts.ntuples[1], ts.ntuples[0],
				 ts.ntuples[1], ts.nentries);
			snprintf(about, sizeof(about), "%u+%u tuples, %zu keys",
				 ts.ntuples[0], ts.ntuples[1], ts.nentries);
		}
		make_packets(&t, n, pk);
		fprintf(stderr, "classify: %s policy, %zu filters, %s, tree of %zu "
			"nodes: measuring\n", policy_names[o.policy], n, about,
			dp.stats.tree_nodes);
		tree_line = dp.stats.tree_ready;
		snprintf(tree, sizeof(tree), "\"tree_nodes\":%zu,\"tree_leaf_entries\":%zu,"
			 "\"tree_depth\":%u,\"tree_leaf_longest\":%u",
			 dp.stats.tree_nodes, dp.stats.tree_entries,
			 dp.stats.tree_depth, dp.stats.tree_leaf_longest);
		measure(bpf_program__fd(skel->progs.ixdp_xdp_ingress), &dp, pk, o.repeat,
			o.miss_iter, &res);
		if (!base_n) {  /* the first size measured */
			base_hit = res.hit;
			base_miss = res.miss;
			base_n = n;
		}
		classify_line(o.policy, n, &t, tree_line ? "tree" : "tuples", tuples,
			      tree, &res, floor_ns, base_n, base_hit, base_miss);
		/* side by side, in the same run: the tuple space alone (the
		 * tree's fallback), where it holds the list */
		if (tree_line && ts.nentries) {
			tree_use(&dp, false);
			measure(bpf_program__fd(skel->progs.ixdp_xdp_ingress), &dp, pk,
				o.repeat, o.miss_iter, &res);
			tree_use(&dp, true);
			classify_line(o.policy, n, &t, "tuples", tuples, tree, &res,
				      floor_ns, base_n, base_hit, base_miss);
		}
		fflush(stdout);
		tuplespace_free(&ts);
		filter_table_free(&t);
	}
	close(floor_fd);
	dp_close(&dp);
	ipsec_xdp_bpf__destroy(skel);
	env_cleanup();
	if (o.dir == tmp)
		rmdir(tmp);
	return refused ? CLASSIFY_REFUSED : 0;
}

/* ---- the decision tree alone, in userspace ------------------------------------- */

/* The packet's field f as the BPF program reads it (host order). */
static uint32_t tree_pkt_field(const struct pkt_tuple *p, unsigned f)
{
	const uint8_t *a = f < IXDP_TF_DST0 ? p->src : p->dst;
	unsigned j = f % 4;

	if (f == IXDP_TF_SPORT || f == IXDP_TF_DPORT)
		return p->frag ? 0 : f == IXDP_TF_SPORT ? p->sport : p->dport;
	if (f == IXDP_TF_PROTO)
		return p->proto;
	if (p->fam == IXDP_FAM_V4 && j > 0)
		return 0;
	return (uint32_t)a[4 * j] << 24 | (uint32_t)a[4 * j + 1] << 16 |
	       (uint32_t)a[4 * j + 2] << 8 | a[4 * j + 3];
}

/* The cuts walked and the leaf entries checked by packet p (the first
 * that matches ends the scan); dies when the tree's answer is not the
 * reference matcher's. */
static void tree_walk(const struct ctree *tr, const struct filter_table *t,
		      const struct pkt_tuple *p, unsigned *levels, unsigned *checked)
{
	const struct ixdp_tnode *nd = &tr->nodes[p->fam == IXDP_FAM_V6];
	long want = filter_table_match(t, p), got = -1;
	uint32_t f[16] = { 0 };

	for (unsigned k = 0; k < IXDP_TF__MAX; k++)
		f[k] = tree_pkt_field(p, k);
	*levels = 0;
	while (!nd->leaf) {
		nd = &tr->nodes[nd->base + ixdp_tnode_child(nd, f)];
		++*levels;
	}
	for (*checked = 0; *checked < nd->n && got < 0; ++*checked) {
		uint32_t pos = tr->leaf[nd->base + *checked];

		if (filter_applies(&t->v[pos], p->ifmask) &&
		    specific_filter_matches(&t->v[pos], p))
			got = pos;
	}
	if (got != want)
		die("the tree answers %ld, the reference matcher %ld", got, want);
}

struct walk_stats {
	double levels, checked;         /* sums */
	unsigned max_levels, max_checked, n;
};

static void walk_add(struct walk_stats *w, unsigned levels, unsigned checked)
{
	w->levels += levels;
	w->checked += checked;
	w->max_levels = levels > w->max_levels ? levels : w->max_levels;
	w->max_checked = checked > w->max_checked ? checked : w->max_checked;
	w->n++;
}

static void walk_put(const char *name, const struct walk_stats *w)
{
	printf(",\"%s\":{\"levels\":%.2f,\"levels_max\":%u,\"checked\":%.2f,"
	       "\"checked_max\":%u,\"ns_model\":%.1f}", name, w->levels / w->n,
	       w->max_levels, w->checked / w->n, w->max_checked,
	       (6.5 * w->levels + 9.0 * w->checked) / w->n);
}

/* Packets of random filters (as classify's) and of none: their walks. */
static void tree_walks(const struct ctree *tr, const struct filter_table *t,
		       size_t n, unsigned npkt)
{
	struct walk_stats hit = { 0 }, nm = { 0 };
	struct rng r;

	rng_seed(&r, n * 7919 + 1);
	for (unsigned i = 0; i < npkt; i++) {
		struct pkt_tuple p;
		unsigned lv, ck;

		if (i % 4 != 3) {
			const struct specific_filter *f = &t->v[below(&r, (uint32_t)t->n)];

			packet_for(&r, f, &p);
			unicast_dst(&p, f->dst_plen);
			tree_walk(tr, t, &p, &lv, &ck);
			walk_add(&hit, lv, ck);
		} else {
			packet_nomatch(&r, below(&r, 4) == 3 ? IXDP_FAM_V6 : IXDP_FAM_V4, &p);
			tree_walk(tr, t, &p, &lv, &ck);
			walk_add(&nm, lv, ck);
		}
	}
	walk_put("match", &hit);
	walk_put("nomatch", &nm);
}

/* The walks of classify's own packets (make_packets()). */
static void tree_walks_classify(const struct ctree *tr, const struct filter_table *t,
				size_t n)
{
	struct walk_stats hit = { 0 }, nm = { 0 };
	struct bench_pkt pk[NPKT];

	make_packets(t, n, pk);
	for (int i = 0; i < NPKT; i++) {
		unsigned lv, ck;

		tree_walk(tr, t, &pk[i].t, &lv, &ck);
		walk_add(pk[i].nomatch ? &nm : &hit, lv, ck);
	}
	walk_put("classify_match", &hit);
	walk_put("classify_nomatch", &nm);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The tree of t with one filter's action changed, built with tr (t's
 * tree) as its guide, as an apply of that change builds it: its build
 * time, the cuts it scored and took from the guide, and its size. */
static void guided_rebuild(struct filter_table *t, const struct ctree *tr)
{
	struct specific_filter *f = &t->v[t->n / 2];
	struct ctree nw;
	char err[512];
	double t0, ms;

	f->action = f->action == IXDP_ACT_PERMIT ? IXDP_ACT_BLOCK : IXDP_ACT_PERMIT;
	if (filter_table_sort(t))
		die("filter_table_sort: out of memory");
	ctree_guide(tr->nodes, tr->nnodes, tr->origin_nodes);
	t0 = now_ms();
	if (ctree_build(t, &nw, err, sizeof(err)))
		die("ctree_build (guided): %s", err);
	ms = now_ms() - t0;
	ctree_guide(NULL, 0, 0);
	printf(",\"guided_one_change\":{\"build_ms\":%.1f,\"cuts_guided\":%u,"
	       "\"cuts_scored\":%u,\"nodes\":%u,\"leaf_entries\":%u}",
	       ms, nw.cuts_guided, nw.cuts_chosen, nw.nnodes, nw.nleaf);
	ctree_free(&nw);
}

/* filters tree N [--policy P]: the tree of policy N built in userspace,
 * its size, build time and walks (no BPF, no root). */
static int cmd_tree(int argc, char **argv)
{
	enum policy_kind kind = POLICY_DEFAULT;
	struct filter_table t;
	struct ctree tr;
	char err[512];
	double t0, ms;
	size_t n;

	if (argc == 4 && !strcmp(argv[2], "--policy"))
		kind = parse_policy(argv[3]);
	else if (argc != 2)
		die("usage: filters tree N [--policy default|many-shapes]");
	n = arg_size(argv[1]);
	gen_policy(kind, n, &t);
	t0 = now_ms();
	if (ctree_build(&t, &tr, err, sizeof(err)))
		die("ctree_build: %s", err);
	ms = now_ms() - t0;
	printf("{\"policy\":\"%s\",\"filters\":%zu,\"build_ms\":%.1f,\"nodes\":%u,"
	       "\"leaf_entries\":%u,\"depth\":%u,\"leaf_longest\":%u",
	       policy_names[kind], n, ms, tr.nnodes, tr.nleaf, tr.depth,
	       tr.leaf_longest);
	tree_walks(&tr, &t, n, 20000);
	tree_walks_classify(&tr, &t, n);
	guided_rebuild(&t, &tr);
	printf("}\n");
	ctree_free(&tr);
	filter_table_free(&t);
	return 0;
}

/* ---- the packet-rate benchmark's pieces ------------------------------------------ */

static size_t arg_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || !v)
		die("not a number of filters: %s", s);
	return v;
}

/* How many distinct prefix lengths the rules' filters of family fam (not
 * the exemptions) have on one side (0 source, 1 destination). */
static unsigned plens_seen(const struct filter_table *t, uint8_t fam, int side)
{
	bool seen[129] = { false };
	unsigned k = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct specific_filter *f = &t->v[i];
		uint8_t pl = side ? f->dst_plen : f->src_plen;

		if (f->fam == fam && !(f->flags & IXDP_F_EXEMPTION) && !seen[pl]) {
			seen[pl] = true;
			k++;
		}
	}
	return k;
}

#define SHAPES_NOMATCH_CHECK 1000

/* The classify probes of policy t (make_packets() checks them against the
 * reference matcher), and SHAPES_NOMATCH_CHECK more packets that must
 * match nothing.  Returns the number of distinct filters the probes meet
 * first. */
static size_t check_probes(const struct filter_table *t, size_t n)
{
	struct bench_pkt pk[NPKT];
	long first[NPKT_HIT];
	size_t distinct = 0;
	struct pkt_tuple p;
	struct rng r;

	make_packets(t, n, pk);
	for (int i = 0; i < NPKT_HIT; i++) {
		int k = 0;

		first[i] = filter_table_match(t, &pk[i].t);
		while (k < i && first[k] != first[i])
			k++;
		distinct += k == i;
	}
	rng_seed(&r, n * 104729 + 3);
	for (int i = 0; i < SHAPES_NOMATCH_CHECK; i++) {
		packet_nomatch(&r, i % 4 == 3 ? IXDP_FAM_V6 : IXDP_FAM_V4, &p);
		if (filter_table_match(t, &p) >= 0)
			die("a no-match packet matches filter %ld", filter_table_match(t, &p));
	}
	return distinct;
}

/*
 * filters shapes N [--policy P]: generate policy N, count, apply nothing.
 * One JSON line: its shapes, the prefix lengths its filters use on each
 * side, how many filters classify's probes meet first (the probes and
 * SHAPES_NOMATCH_CHECK packets that must match nothing are checked against
 * the reference matcher), and the dataplane's limits it exceeds
 * (policy_limits_check_table: what `policy apply` would refuse it for).
 */
static int cmd_shapes(int argc, char **argv)
{
	enum policy_kind kind = POLICY_DEFAULT;
	struct policy_limits lim = { 0 };
	struct filter_table t;
	size_t sh[2], n;
	char msgs[4096];

	if (argc == 4 && !strcmp(argv[2], "--policy"))
		kind = parse_policy(argv[3]);
	else if (argc != 2)
		die("usage: filters shapes N [--policy default|many-shapes]");
	n = arg_size(argv[1]);
	gen_policy(kind, n, &t);
	count_shapes(&t, sh);
	if (policy_limits_check_table(&t, &lim) < 0)
		die("out of memory");
	policy_limits_join(&lim, msgs, sizeof(msgs));
	printf("{\"policy\":\"%s\",\"filters\":%zu,\"specific_filters\":%zu,"
	       "\"shapes\":%zu,\"shapes_v4\":%zu,\"shapes_v6\":%zu,"
	       "\"src_plens_v4\":%u,\"dst_plens_v4\":%u,"
	       "\"src_plens_v6\":%u,\"dst_plens_v6\":%u,\"probe_filters\":%zu,"
	       "\"within_limits\":%s,\"limits\":\"", policy_names[kind], n, t.n,
	       sh[0] + sh[1], sh[0], sh[1], plens_seen(&t, IXDP_FAM_V4, 0),
	       plens_seen(&t, IXDP_FAM_V4, 1), plens_seen(&t, IXDP_FAM_V6, 0),
	       plens_seen(&t, IXDP_FAM_V6, 1), check_probes(&t, n),
	       lim.n ? "false" : "true");
	put_json_str(stdout, msgs);
	printf("\"}\n");
	policy_limits_free(&lim);
	filter_table_free(&t);
	return 0;
}

/* The maps' real sizes, from bpf_map_info of the loaded, pinned maps, with
 * policy N in force (the maps are sized for the limits: N changes nothing,
 * it is printed to show which list was applied). */
static int cmd_memory(int argc, char **argv)
{
	struct ipsec_xdp_bpf *skel;
	struct filter_table t;
	struct dp_memory m;
	struct dp dp;
	char err[512];
	size_t n;
	int rc;

	if (argc != 3)
		die("usage: filters memory N DIR");
	n = arg_size(argv[1]);
	skel = env_up(argv[2], &dp);
	gen_table(n, &t);
	if (dp_apply_table(&dp, &t, true, err, sizeof(err)))
		die("dp_apply_table (%zu filters): %s", n, err);
	rc = dp_memory(argv[2], &m);
	if (rc)
		die("cannot read the maps' sizes: %s", strerror(-rc));
	printf("{\"bench\":\"dataplane_memory\",\"filters\":%zu,\"maps\":%u,"
	       "\"bytes_per_cpu\":%" PRIu64 ",\"bytes_shared\":%" PRIu64 ","
	       "\"target_per_cpu\":%u,\"target_ok\":%s}\n",
	       n, m.maps, m.bytes_per_cpu, m.bytes_shared, IXDP_PERCPU_BUDGET,
	       m.bytes_per_cpu <= IXDP_PERCPU_BUDGET ? "true" : "false");
	fflush(stdout);
	filter_table_free(&t);
	dp_close(&dp);
	ipsec_xdp_bpf__destroy(skel);
	env_cleanup();
	rmdir(argv[2]);
	return 0;
}

static int cmd_apply(int argc, char **argv)
{
	struct filter_table t;
	struct dp dp;
	char err[512];

	if (argc != 3)
		die("usage: filters apply N ROOT");
	gen_table(arg_size(argv[1]), &t);
	if (dp_open(&dp, argv[2], err, sizeof(err)))
		die("%s", err);
	if (dp_apply_table(&dp, &t, true, err, sizeof(err)))
		die("dp_apply_table: %s", err);
	dp_close(&dp);
	filter_table_free(&t);
	return 0;
}

static void fmt_addr(uint8_t fam, const uint8_t *a, uint8_t plen, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(fam == IXDP_FAM_V4 ? AF_INET : AF_INET6, a, s, sizeof(s));
	if (plen == maxplen(fam))
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%s/%u", s, plen);
}

static void fmt_ports(const struct port_spec *ps, char *buf, size_t len)
{
	if (ps->lo == ps->hi)
		snprintf(buf, len, "%u", ps->lo);
	else
		snprintf(buf, len, "%u-%u", ps->lo, ps->hi);
}

/* The filter's verdict on inbound traffic, as nftables says it. */
static const char *nft_verdict(const struct specific_filter *f)
{
	if (f->action == IXDP_ACT_PERMIT)
		return "accept";
	if (f->action == IXDP_ACT_NEGOTIATE && (f->flags & IXDP_F_INPASS))
		return "accept";
	return "drop";  /* block; negotiate without an SA refuses plaintext */
}

/* The base chain of both forms: it counts every frame, passes ESP and AH
 * before any filter, as the dataplane does, and jumps to the family's chain
 * (v4, v6); what no rule drops or accepts is accepted.  Ends the table. */
static void emit_nft_ingress(const char *dev)
{
	printf("\tchain ingress {\n"
	       "\t\ttype filter hook ingress device \"%s\" priority 0; policy accept;\n"
	       "\t\tcounter name \"seen\"\n"
	       "\t\tmeta l4proto { esp, ah } accept\n"
	       "\t\tmeta protocol vmap { ip : jump v4, ip6 : jump v6 }\n"
	       "\t}\n}\n", dev);
}

struct elem {
	char *key;
	size_t order;
	const char *verdict;
};

static int cmp_elem(const void *pa, const void *pb)
{
	const struct elem *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	return c ? c : (a->order < b->order ? -1 : a->order > b->order);
}

/*
 * One shape (dataplane tuple) = one verdict map keyed by the fields the
 * shape names, tried in weight order; a map is a hash where every field is
 * exact and an interval map (pipapo) where a prefix or a port range needs
 * one.  Equal keys: the first filter in enforcement order wins, as in the
 * dataplane.  A chain per family, chosen by one verdict map on the
 * protocol.  ESP and AH pass before any filter, as in the dataplane.
 */
static void emit_nft(const struct filter_table *t, const char *dev)
{
	size_t i = 0, nmaps[2] = { 0, 0 };
	char *rules[2] = { NULL, NULL };
	size_t rlen[2] = { 0, 0 };
	FILE *rf[2];

	rf[0] = open_memstream(&rules[0], &rlen[0]);
	rf[1] = open_memstream(&rules[1], &rlen[1]);
	if (!rf[0] || !rf[1])
		die("out of memory");
	printf("table netdev ixbench {\n\tcounter seen { }\n");
	while (i < t->n) {
		const struct specific_filter *f = &t->v[i];
		bool v4 = f->fam == IXDP_FAM_V4;
		const char *ipn = v4 ? "ip" : "ip6", *aty = v4 ? "ipv4_addr" : "ipv6_addr";
		bool interval = false;
		size_t j = i, ne = 0;
		struct elem *el;
		char sel[256] = "", typ[256] = "";
		int nf = 0;

		while (j < t->n && specific_filter_same_shape(&t->v[i], &t->v[j]))
			j++;
#define FIELD(s, ty) do { \
		snprintf(sel + strlen(sel), sizeof(sel) - strlen(sel), "%s%s", nf ? " . " : "", s); \
		snprintf(typ + strlen(typ), sizeof(typ) - strlen(typ), "%s%s", nf ? " . " : "", ty); \
		nf++; } while (0)
		char fs[64];

		if (f->src_plen) {
			snprintf(fs, sizeof(fs), "%s saddr", ipn);
			FIELD(fs, aty);
			interval |= f->src_plen != maxplen(f->fam);
		}
		if (f->dst_plen) {
			snprintf(fs, sizeof(fs), "%s daddr", ipn);
			FIELD(fs, aty);
			interval |= f->dst_plen != maxplen(f->fam);
		}
		if (f->proto_exact)
			FIELD("meta l4proto", "inet_proto");
		if (port_kind(&f->sport) != IXDP_PORT_ANY) {
			FIELD("th sport", "inet_service");
			interval |= port_kind(&f->sport) == IXDP_PORT_RANGE;
		}
		if (port_kind(&f->dport) != IXDP_PORT_ANY) {
			FIELD("th dport", "inet_service");
			interval |= port_kind(&f->dport) == IXDP_PORT_RANGE;
		}
#undef FIELD
		if (!nf) {      /* matches every packet of the family */
			fprintf(rf[f->fam], "\t\t%s\n", nft_verdict(f));
			i = j;
			continue;
		}
		el = calloc(j - i, sizeof(*el));
		if (!el)
			die("out of memory");
		for (size_t k = i; k < j; k++) {
			const struct specific_filter *g = &t->v[k];
			char key[256] = "", part[80];
			size_t kl = 0;

			if (g->src_plen) {
				fmt_addr(g->fam, g->src, g->src_plen, part, sizeof(part));
				kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s", part);
			}
			if (g->dst_plen) {
				fmt_addr(g->fam, g->dst, g->dst_plen, part, sizeof(part));
				kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%s",
						       kl ? " . " : "", part);
			}
			if (g->proto_exact)
				kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%u",
						       kl ? " . " : "", g->proto);
			if (port_kind(&g->sport) != IXDP_PORT_ANY) {
				fmt_ports(&g->sport, part, sizeof(part));
				kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%s",
						       kl ? " . " : "", part);
			}
			if (port_kind(&g->dport) != IXDP_PORT_ANY) {
				fmt_ports(&g->dport, part, sizeof(part));
				kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s%s",
						       kl ? " . " : "", part);
			}
			el[ne].key = strdup(key);
			el[ne].order = k;
			el[ne].verdict = nft_verdict(g);
			if (!el[ne].key)
				die("out of memory");
			ne++;
		}
		qsort(el, ne, sizeof(*el), cmp_elem);
		printf("\tmap %s_%zu {\n\t\ttype %s : verdict\n", v4 ? "v4" : "v6",
		       nmaps[f->fam], typ);
		if (interval)
			printf("\t\tflags interval\n");
		printf("\t\telements = {");
		for (size_t k = 0, out = 0; k < ne; k++) {
			if (k && !strcmp(el[k].key, el[k - 1].key))
				continue;       /* an earlier filter owns this key */
			printf("%s\n\t\t\t%s : %s", out++ ? "," : "", el[k].key,
			       el[k].verdict);
		}
		printf("\n\t\t}\n\t}\n");
		fprintf(rf[f->fam], "\t\t%s vmap @%s_%zu\n", sel, v4 ? "v4" : "v6",
			nmaps[f->fam]);
		nmaps[f->fam]++;
		for (size_t k = 0; k < ne; k++)
			free(el[k].key);
		free(el);
		i = j;
	}
	fclose(rf[0]);
	fclose(rf[1]);
	printf("\tchain v4 {\n%s\t}\n", rules[0]);
	printf("\tchain v6 {\n%s\t}\n", rules[1]);
	emit_nft_ingress(dev);
	free(rules[0]);
	free(rules[1]);
}

/* ---- the second nftables form: layered concatenated-interval verdict maps ---- */

/* Do the first n bits of a and b agree? */
static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned n)
{
	unsigned full = n / 8, rest = n % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || !((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest)));
}

static uint16_t port_lo(const struct port_spec *ps)
{
	return port_kind(ps) == IXDP_PORT_ANY ? 0 : ps->lo;
}

static uint16_t port_hi(const struct port_spec *ps)
{
	return port_kind(ps) == IXDP_PORT_ANY ? 65535 : ps->hi;
}

/* Filters g and f (one family) seen as boxes over (source, destination,
 * protocol[, source port, destination port]): do they share a packet?
 * ports: whether the ports count (the maps of TCP, UDP, SCTP, UDP-Lite). */
static bool boxes_overlap(const struct specific_filter *g,
			  const struct specific_filter *f, bool ports)
{
	if (!bits_equal(g->src, f->src, g->src_plen < f->src_plen ? g->src_plen : f->src_plen) ||
	    !bits_equal(g->dst, f->dst, g->dst_plen < f->dst_plen ? g->dst_plen : f->dst_plen))
		return false;
	if (g->proto_exact && f->proto_exact && g->proto != f->proto)
		return false;
	if (!ports)
		return true;
	return port_lo(&g->sport) <= port_hi(&f->sport) && port_lo(&f->sport) <= port_hi(&g->sport) &&
	       port_lo(&g->dport) <= port_hi(&f->dport) && port_lo(&f->dport) <= port_hi(&g->dport);
}

/* Does g's box hold all of f's (so f can never be the first match)? */
static bool box_covers(const struct specific_filter *g, const struct specific_filter *f,
		       bool ports)
{
	if (g->src_plen > f->src_plen || !bits_equal(g->src, f->src, g->src_plen) ||
	    g->dst_plen > f->dst_plen || !bits_equal(g->dst, f->dst, g->dst_plen))
		return false;
	if (g->proto_exact && (!f->proto_exact || g->proto != f->proto))
		return false;
	if (!ports)
		return true;
	return port_lo(&g->sport) <= port_lo(&f->sport) && port_hi(&f->sport) <= port_hi(&g->sport) &&
	       port_lo(&g->dport) <= port_lo(&f->dport) && port_hi(&f->dport) <= port_hi(&g->dport);
}

static void put_port_range(FILE *o, const struct port_spec *ps)
{
	if (port_lo(ps) == port_hi(ps))
		fprintf(o, " . %u", port_lo(ps));
	else
		fprintf(o, " . %u-%u", port_lo(ps), port_hi(ps));
}

/* One element: prefixes (0.0.0.0/0, ::/0 for any), the protocol (0-255 for
 * any), the port ranges (0-65535 for any) when the map has ports. */
static void put_box(FILE *o, const struct specific_filter *f, bool ports)
{
	char a[80];

	fmt_addr(f->fam, f->src, f->src_plen, a, sizeof(a));
	fprintf(o, "%s", a);
	fmt_addr(f->fam, f->dst, f->dst_plen, a, sizeof(a));
	fprintf(o, " . %s", a);
	if (f->proto_exact)
		fprintf(o, " . %u", f->proto);
	else
		fprintf(o, " . 0-255");
	if (ports) {
		put_port_range(o, &f->sport);
		put_port_range(o, &f->dport);
	}
}

/*
 * Layers for one family and one class of packets (ports: TCP, UDP, SCTP,
 * UDP-Lite, keyed by the 5-tuple; otherwise by addresses and protocol):
 * the filters that can match that class, in enforcement order, each put in
 * the layer after the last layer that holds a heavier filter it overlaps,
 * so no two elements of a layer overlap and the layers, looked up in order
 * (first hit wins), give every packet the verdict of its first matching
 * filter.  A filter whose box a heavier one holds whole is left out (it
 * can never be the first match).  Prints the maps; returns how many.
 */
static unsigned emit_layers(const struct filter_table *t, uint8_t fam, bool ports,
			    FILE *chain)
{
	const char *ipn = fam == IXDP_FAM_V4 ? "ip" : "ip6";
	const char *aty = fam == IXDP_FAM_V4 ? "ipv4_addr" : "ipv6_addr";
	const char *cls = ports ? "p" : "n";
	size_t *idx = calloc(t->n ? t->n : 1, sizeof(*idx));
	int *layer = calloc(t->n ? t->n : 1, sizeof(*layer));
	size_t m = 0, shadowed = 0;
	int nlayers = 0;

	if (!idx || !layer)
		die("out of memory");
	for (size_t i = 0; i < t->n; i++) {
		const struct specific_filter *f = &t->v[i];
		int l = 0;
		bool dead = false;

		if (f->fam != fam || (f->proto_exact && proto_has_ports(f->proto) != ports))
			continue;
		for (size_t k = 0; k < m && !dead; k++) {
			const struct specific_filter *g = &t->v[idx[k]];

			if (box_covers(g, f, ports))
				dead = true;
			else if (layer[k] >= l && boxes_overlap(g, f, ports))
				l = layer[k] + 1;
		}
		if (dead) {
			shadowed++;
			continue;
		}
		idx[m] = i;
		layer[m++] = l;
		if (l + 1 > nlayers)
			nlayers = l + 1;
	}
	for (int l = 0; l < nlayers; l++) {
		size_t out = 0;

		printf("\tmap %s%s_%d {\n\t\ttype %s . %s . inet_proto%s : verdict\n"
		       "\t\tflags interval\n\t\telements = {",
		       fam == IXDP_FAM_V4 ? "v4" : "v6", cls, l, aty, aty,
		       ports ? " . inet_service . inet_service" : "");
		for (size_t k = 0; k < m; k++) {
			if (layer[k] != l)
				continue;
			printf("%s\n\t\t\t", out++ ? "," : "");
			put_box(stdout, &t->v[idx[k]], ports);
			printf(" : %s", nft_verdict(&t->v[idx[k]]));
		}
		printf("\n\t\t}\n\t}\n");
		fprintf(chain, "\t\t%s saddr . %s daddr . meta l4proto%s vmap @%s%s_%d\n",
			ipn, ipn, ports ? " . th sport . th dport" : "",
			fam == IXDP_FAM_V4 ? "v4" : "v6", cls, l);
	}
	fprintf(stderr, "nft concat-interval-layers: %s %s ports: %d maps, %zu "
		"filters (%zu more that heavier ones hold whole: left out)\n",
		fam == IXDP_FAM_V4 ? "IPv4" : "IPv6", ports ? "with" : "without",
		nlayers, m, shadowed);
	free(idx);
	free(layer);
	return (unsigned)nlayers;
}

/*
 * The same verdicts as emit_nft(), as layered concatenated-interval verdict
 * maps: per family, the packets with ports (TCP, UDP, SCTP, UDP-Lite) go to
 * a chain of maps keyed by saddr . daddr . l4proto . sport . dport, the
 * others through maps keyed by saddr . daddr . l4proto.  A miss in a layer
 * falls through to the next; a miss in all is accepted by the policy, as a
 * packet that matches no filter passes the dataplane.
 */
static void emit_nft_layers(const struct filter_table *t, const char *dev)
{
	printf("table netdev ixbench {\n\tcounter seen { }\n");
	for (uint8_t fam = 0; fam < 2; fam++) {
		const char *fn = fam == IXDP_FAM_V4 ? "v4" : "v6";
		char *pbuf = NULL, *nbuf = NULL;
		size_t plen = 0, nlen = 0;
		FILE *pc = open_memstream(&pbuf, &plen), *nc = open_memstream(&nbuf, &nlen);

		if (!pc || !nc)
			die("out of memory");
		emit_layers(t, fam, true, pc);
		emit_layers(t, fam, false, nc);
		fclose(pc);
		fclose(nc);
		printf("\tchain %s_ports {\n%s\t}\n", fn, pbuf);
		printf("\tchain %s {\n"
		       "\t\tmeta l4proto vmap { tcp : goto %s_ports, udp : goto %s_ports, "
		       "sctp : goto %s_ports, udplite : goto %s_ports }\n%s\t}\n",
		       fn, fn, fn, fn, fn, nbuf);
		free(pbuf);
		free(nbuf);
	}
	emit_nft_ingress(dev);
}

static int cmd_nft(int argc, char **argv)
{
	struct filter_table t;

	if (!(argc == 3 || (argc == 5 && !strcmp(argv[3], "--form"))))
		die("usage: filters nft N DEV [--form per-shape-maps|concat-interval-layers]");
	if (argc == 5 && strcmp(argv[4], "per-shape-maps") &&
	    strcmp(argv[4], "concat-interval-layers"))
		die("--form: per-shape-maps or concat-interval-layers, not %s", argv[4]);
	gen_table(arg_size(argv[1]), &t);
	if (argc == 5 && !strcmp(argv[4], "concat-interval-layers"))
		emit_nft_layers(&t, argv[2]);
	else
		emit_nft(&t, argv[2]);
	filter_table_free(&t);
	return 0;
}

static void parse_mac(const char *s, uint8_t mac[6])
{
	unsigned m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		die("not a MAC address: %s", s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
}

#define PROBE_FILTERS 8

static void print_frame(const uint8_t *frame, size_t len)
{
	for (size_t b = 0; b < len; b++)
		printf("%02x", frame[b]);
	putchar('\n');
}

/*
 * The check set (--cover): a packet of every filter of policy N (whatever
 * filter the reference matcher then says it meets first) and 16 that match
 * none, every action, protocol and shape: what run.sh checks each
 * nftables form against, with the probes, before measuring it.
 */
static void cover_frames(const struct filter_table *t, const uint8_t smac[6],
			 const uint8_t dmac[6])
{
	uint8_t frame[FRAME_MAX];
	struct pkt_tuple p;
	struct rng r;
	uint16_t id = 0;

	rng_seed(&r, t->n * 131 + 17);
	for (size_t i = 0; i < t->n; i++) {
		packet_for(&r, &t->v[i], &p);
		print_frame(frame, build_frame(&p, dmac, smac, id++, frame));
	}
	for (int i = 0; i < 16; i++) {
		packet_nomatch(&r, i % 4 == 3 ? IXDP_FAM_V6 : IXDP_FAM_V4, &p);
		print_frame(frame, build_frame(&p, dmac, smac, id++, frame));
	}
}

/*
 * Probe traffic for the packet-rate benchmark, one traffic mix a file:
 *   block      established flows on block filters (dropped),
 *   permit     on permit filters (passed to the stack),
 *   negotiate  on negotiate filters, no SA: half of them with inbound
 *              pass-through (inpass: passed, the dataplane reports the
 *              need for an SA), half without (dropped),
 *   nomatch    flows that match no filter (passed).
 * PROBE_FILTERS filters of the mix's action spread evenly over the
 * enforcement order (so both early and late shapes are hit), 3/4 IPv4 and
 * 1/4 IPv6 where the policy has them, each with per_filter flows that
 * differ in the source port (the filters chosen leave the source port
 * free); nomatch: PROBE_FILTERS such packets of the host.  Every frame's
 * first matching filter (reference matcher) is one of the mix's action.
 */
enum mix { MIX_BLOCK, MIX_PERMIT, MIX_NEGOTIATE, MIX_NOMATCH };
static const char *const mix_names[] = { "block", "permit", "negotiate", "nomatch" };
static const uint8_t mix_action[] = { IXDP_ACT_BLOCK, IXDP_ACT_PERMIT, IXDP_ACT_NEGOTIATE };

/* Is p's first matching filter (idx: its index, -1 none) one of mix m? */
static bool in_mix(const struct filter_table *t, const struct pkt_tuple *p,
		   enum mix m, long *idx)
{
	long i = filter_table_match(t, p);

	*idx = i;
	if (m == MIX_NOMATCH)
		return i < 0;
	return i >= 0 && !(t->v[i].flags & IXDP_F_EXEMPTION) &&
	       t->v[i].action == mix_action[m];
}

/*
 * Up to want filters of action `action` (inpass: 0 without the flag, 1 with
 * it, -1 either) whose source port is free and whose protocol has ports or
 * is any, spread over the enforcement order, 3/4 of them IPv4 and 1/4 IPv6
 * (fewer of a family the policy lacks, more of the other).  Into pick[].
 */
static size_t pick_filters(const struct filter_table *t, uint8_t action, int inpass,
			   size_t want_all, size_t *pick)
{
	static size_t cand[2][IXDP_MAX_FILTERS];
	size_t ncand[2] = { 0, 0 }, npick = 0;

	for (size_t i = 0; i < t->n && i < IXDP_MAX_FILTERS; i++) {
		const struct specific_filter *f = &t->v[i];

		if (f->action != action || (f->flags & IXDP_F_EXEMPTION) ||
		    port_kind(&f->sport) != IXDP_PORT_ANY)
			continue;
		if (inpass >= 0 && !!(f->flags & IXDP_F_INPASS) != inpass)
			continue;
		if (f->proto_exact && !proto_has_ports(f->proto))
			continue;       /* ICMP: the flow key has no ports to vary */
		cand[f->fam][ncand[f->fam]++] = i;
	}
	for (int fam = 0; fam < 2; fam++) {
		size_t want = fam == IXDP_FAM_V4 ? want_all - want_all / 4 : want_all / 4;

		if (fam == IXDP_FAM_V6 && ncand[1] < want)
			want = ncand[1];
		if (fam == IXDP_FAM_V4 && ncand[1] < want_all / 4)
			want = want_all - ncand[1];
		if (want > ncand[fam])
			want = ncand[fam];
		for (size_t k = 0; k < want; k++)
			pick[npick++] = cand[fam][(2 * k + 1) * ncand[fam] / (2 * want)];
	}
	return npick;
}

static enum mix parse_mix(const char *s)
{
	for (size_t m = 0; m < NELEM(mix_names); m++)
		if (!strcmp(s, mix_names[m]))
			return (enum mix)m;
	die("--mix: block, permit, negotiate or nomatch, not %s", s);
	return MIX_BLOCK;
}

static int cmd_frames(int argc, char **argv)
{
	struct filter_table t;
	uint8_t smac[6], dmac[6], frame[FRAME_MAX];
	size_t per = 4, pick[PROBE_FILTERS], npick = 0, nbase;
	enum mix mix = MIX_BLOCK;
	bool cover = false;
	struct rng r;
	uint16_t id = 0;

	if (argc < 4)
		die("usage: filters frames N SRCMAC DSTMAC [--per-filter K] [--mix MIX] | --cover");
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--per-filter") && i + 1 < argc) {
			char *end;

			per = strtoul(argv[++i], &end, 10);
			if (*end || !per || per > 60000)
				die("--per-filter: 1..60000, not %s", argv[i]);
		} else if (!strcmp(argv[i], "--mix") && i + 1 < argc) {
			mix = parse_mix(argv[++i]);
		} else if (!strcmp(argv[i], "--cover") && argc == 5) {
			cover = true;
		} else {
			die("usage: filters frames N SRCMAC DSTMAC [--per-filter K] [--mix MIX] | --cover");
		}
	}
	gen_table(arg_size(argv[1]), &t);
	parse_mac(argv[2], smac);
	parse_mac(argv[3], dmac);
	if (cover) {
		cover_frames(&t, smac, dmac);
		filter_table_free(&t);
		return 0;
	}
	rng_seed(&r, t.n * 31 + 5 + (uint64_t)mix * 7919);
	if (mix == MIX_NEGOTIATE) {     /* half with inpass, half without */
		npick = pick_filters(&t, IXDP_ACT_NEGOTIATE, 1, PROBE_FILTERS / 2, pick);
		npick += pick_filters(&t, IXDP_ACT_NEGOTIATE, 0, PROBE_FILTERS - npick,
				      pick + npick);
	} else if (mix != MIX_NOMATCH) {
		npick = pick_filters(&t, mix_action[mix], -1, PROBE_FILTERS, pick);
	}
	nbase = mix == MIX_NOMATCH ? PROBE_FILTERS : npick;
	if (!nbase)
		die("policy %s has no %s filter to probe", argv[1], mix_names[mix]);
	for (size_t k = 0; k < nbase; k++) {
		const struct specific_filter *f = mix == MIX_NOMATCH ? NULL : &t.v[pick[k]];
		struct pkt_tuple base, p;
		long idx;
		int tries = 0;

		/* a packet whose first matching filter is one of the mix */
		do {
			if (f) {
				packet_for(&r, f, &base);
			} else {
				packet_nomatch(&r, k % 4 == 3 ? IXDP_FAM_V6 : IXDP_FAM_V4,
					       &base);
			}
			if (!proto_has_ports(base.proto)) {
				base.proto = IPPROTO_UDP;
				base.sport = 40000;
				base.dport = 9;
			}
		} while (!in_mix(&t, &base, mix, &idx) && ++tries < 100);
		if (tries == 100)
			die("no %s packet for probe %zu", mix_names[mix], k);
		if (idx >= 0)
			fprintf(stderr, "frames: %s probe %zu: filter %ld of %zu (%s, weight %#x%s)\n",
				mix_names[mix], k, idx, t.n,
				base.fam == IXDP_FAM_V4 ? "IPv4" : "IPv6", t.v[idx].weight,
				t.v[idx].flags & IXDP_F_INPASS ? ", inpass" : "");
		else
			fprintf(stderr, "frames: %s probe %zu: no filter (%s)\n", mix_names[mix],
				k, base.fam == IXDP_FAM_V4 ? "IPv4" : "IPv6");
		for (size_t q = 0; q < per; q++) {
			size_t len;

			p = base;
			p.sport = (uint16_t)(1024 + (base.sport - 1024 + q * 1) % 64512);
			if (!in_mix(&t, &p, mix, &idx))
				continue;       /* another filter claims this port */
			len = build_frame(&p, dmac, smac, id++, frame);
			print_frame(frame, len);
		}
	}
	filter_table_free(&t);
	return 0;
}

/* The tuple of one of build_frame()'s frames (Ethernet, IPv4 without
 * options or IPv6 without extension headers).  0: not such a frame. */
static int parse_frame(const uint8_t *b, size_t len, struct pkt_tuple *p)
{
	size_t l4;

	memset(p, 0, sizeof(*p));
	if (len < 14 + 20)
		return 0;
	if (b[12] == 0x08 && b[13] == 0x00 && (b[14] >> 4) == 4 && (b[14] & 15) == 5) {
		p->fam = IXDP_FAM_V4;
		p->proto = b[14 + 9];
		memcpy(p->src, b + 14 + 12, 4);
		memcpy(p->dst, b + 14 + 16, 4);
		l4 = 14 + 20;
	} else if (b[12] == 0x86 && b[13] == 0xdd && len >= 14 + 40 && (b[14] >> 4) == 6) {
		p->fam = IXDP_FAM_V6;
		p->proto = b[14 + 6];
		memcpy(p->src, b + 14 + 8, 16);
		memcpy(p->dst, b + 14 + 24, 16);
		l4 = 14 + 40;
	} else {
		return 0;
	}
	if (proto_has_ports(p->proto)) {
		if (len < l4 + 4)
			return 0;
		p->sport = (uint16_t)(b[l4] << 8 | b[l4 + 1]);
		p->dport = (uint16_t)(b[l4 + 2] << 8 | b[l4 + 3]);
	}
	return 1;
}

/*
 * The reference matcher's verdict on each frame of FILE (hex, one a line,
 * as `filters frames` writes them): "drop HEX TUPLE" or "pass HEX TUPLE",
 * TUPLE being "src dst proto sport dport filter-index" (-1: no filter).
 * run.sh checks every nftables form against these before measuring it.
 */
static int cmd_expect(int argc, char **argv)
{
	struct filter_table t;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	FILE *in;

	if (argc != 3)
		die("usage: filters expect N FILE");
	gen_table(arg_size(argv[1]), &t);
	in = fopen(argv[2], "r");
	if (!in)
		die("%s: %s", argv[2], strerror(errno));
	while ((n = getline(&line, &cap, in)) > 0) {
		uint8_t frame[FRAME_MAX];
		struct pkt_tuple p;
		char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
		size_t len = 0;
		long idx;
		int v;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n % 2 || n / 2 > FRAME_MAX)
			die("%s:%zu: not a frame", argv[2], lineno);
		for (; len < (size_t)n / 2; len++)
			if (sscanf(line + 2 * len, "%2hhx", &frame[len]) != 1)
				die("%s:%zu: not hex", argv[2], lineno);
		if (!parse_frame(frame, len, &p))
			die("%s:%zu: not an IPv4/IPv6 frame of `filters frames`", argv[2], lineno);
		v = expected_xdp(&t, &p, &idx);
		inet_ntop(p.fam == IXDP_FAM_V4 ? AF_INET : AF_INET6, p.src, s, sizeof(s));
		inet_ntop(p.fam == IXDP_FAM_V4 ? AF_INET : AF_INET6, p.dst, d, sizeof(d));
		printf("%s %s %s %s %u %u %u %ld\n", v == XDP_DROP ? "drop" : "pass", line,
		       s, d, p.proto, p.sport, p.dport, idx);
	}
	free(line);
	fclose(in);
	filter_table_free(&t);
	return 0;
}

static int ifindex_of(const char *name)
{
	int i = (int)if_nametoindex(name);

	if (!i)
		die("no interface %s", name);
	return i;
}

static int cmd_xdp_drop(int argc, char **argv)
{
	int fd;

	if (argc != 2)
		die("usage: filters xdp-drop IFNAME");
	fd = trivial_xdp(XDP_DROP);
	if (bpf_xdp_attach(ifindex_of(argv[1]), fd, XDP_FLAGS_DRV_MODE, NULL))
		die("cannot attach XDP to %s: %s", argv[1], strerror(errno));
	return 0;   /* the interface keeps the program */
}

static int cmd_xdp_off(int argc, char **argv)
{
	if (argc != 2)
		die("usage: filters xdp-off IFNAME");
	bpf_xdp_detach(ifindex_of(argv[1]), XDP_FLAGS_DRV_MODE, NULL);
	return 0;
}

/* GRO on a veth gives it NAPI: what its peer's ndo_xdp_xmit needs to
 * deliver xdp_frames to it when it has no XDP program (the live-frames
 * generator, pktgen -m live).  `ethtool -K IFNAME gro on|off`, without
 * needing ethtool. */
static int cmd_gro(int argc, char **argv)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO };
	struct ifreq ifr;
	int fd;

	if (argc != 3 || (strcmp(argv[2], "on") && strcmp(argv[2], "off")))
		die("usage: filters gro IFNAME on|off");
	ev.data = !strcmp(argv[2], "on");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	ifr.ifr_data = (void *)&ev;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr))
		die("cannot set GRO %s on %s: %s", argv[2], argv[1], strerror(errno));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "classify", cmd_classify }, { "memory", cmd_memory },
		{ "apply", cmd_apply }, { "shapes", cmd_shapes },
		{ "nft", cmd_nft }, { "frames", cmd_frames }, { "expect", cmd_expect },
		{ "xdp-drop", cmd_xdp_drop }, { "xdp-off", cmd_xdp_off },
		{ "gro", cmd_gro }, { "tree", cmd_tree },
	};

	if (argc >= 2)
		for (size_t i = 0; i < NELEM(cmds); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "usage: filters classify|shapes|tree|memory|apply|nft|frames|expect|xdp-drop|xdp-off|gro ...\n"
		"(see the head of tests/bench/filters.c)\n");
	return 2;
}
