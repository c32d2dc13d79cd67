// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ctree.c - the decision tree (lib/compile/compile_tree.c): its
 * lookup, the walk of the BPF program, gives filter_table_match()'s answer
 * for every packet (random tables and probes), its leaves are truncated
 * after a filter certain to match, and its limits are errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "compile/compiler.h"
#include "compile/compile_tree.h"
#include "compile/compile_treelayout.h"
#include "compile/compile_treepair.h"

/* ---- deterministic random numbers (splitmix64) -------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* ---- random tables -------------------------------------------------------- */

static unsigned alen(uint8_t fam)
{
	return fam == IXDP_FAM_V4 ? 4 : 16;
}

static void mask_addr(uint8_t *a, uint8_t fam, unsigned plen)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;

		if (i >= alen(fam))
			a[i] = 0;
		else if (bits < 8)
			a[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

/* Addresses near one another, so that filters overlap. */
static void random_addr(uint8_t fam, uint8_t *a)
{
	for (unsigned i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd();
	a[0] = (uint8_t)(fam == IXDP_FAM_V4 ? 10 : 0x20);
	if (below(4))
		a[1] = (uint8_t)below(3);
	if (fam == IXDP_FAM_V6 && below(4))
		a[8] = (uint8_t)below(2);
	if (below(2))
		a[alen(fam) - 1] = (uint8_t)below(4);
}

static unsigned random_plen(uint8_t fam)
{
	static const uint8_t v6[] = { 0, 8, 16, 31, 32, 33, 48, 64, 65, 96, 127, 128 };

	if (fam == IXDP_FAM_V4)
		return below(33);
	return below(3) ? v6[below(sizeof(v6))] : below(129);
}

/* Set: a third of the port ranges run from anywhere to 65535, as
 * `1024-65535` does (a cut of the ports' high bits then splits them
 * unevenly). */
static bool open_ended_ports;

static void random_ports(struct port_spec *ps)
{
	uint32_t p = below(10);

	ps->lo = ps->hi = 0;
	if (open_ended_ports && below(3) == 0) {
		ps->lo = (uint16_t)(1 + below(65534));
		ps->hi = 65535;
		return;
	}
	if (p < 4)
		return;                         /* any */
	if (p < 7) {
		ps->lo = ps->hi = (uint16_t)(1 + below(8) * 100);
		return;
	}
	ps->lo = (uint16_t)(below(3) ? below(4) * 100 : 0);  /* may start at 0 */
	ps->hi = (uint16_t)(ps->lo + 1 + below(400));
}

static void random_filter(struct specific_filter *f, unsigned ngroups)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
					  IPPROTO_ICMPV6, 47 };

	memset(f, 0, sizeof(*f));
	f->fam = below(10) < 6 ? IXDP_FAM_V4 : IXDP_FAM_V6;
	random_addr(f->fam, f->src);
	random_addr(f->fam, f->dst);
	f->src_plen = (uint8_t)random_plen(f->fam);
	f->dst_plen = (uint8_t)random_plen(f->fam);
	mask_addr(f->src, f->fam, f->src_plen);
	mask_addr(f->dst, f->fam, f->dst_plen);
	f->proto_exact = below(4) != 0;
	f->proto = f->proto_exact ? protos[below(sizeof(protos))] : 0;
	random_ports(&f->sport);
	random_ports(&f->dport);
	f->action = (uint8_t)below(3);
	f->ifgroup = (uint8_t)(below(3) ? 0 : below(ngroups));
	f->rule = 0;
	f->name = "t";
}

static void random_table(struct filter_table *t, size_t n)
{
	struct specific_filter f;

	memset(t, 0, sizeof(*t));
	t->ngroups = 4;
	for (size_t i = 0; i < n; i++) {
		random_filter(&f, 4);
		assert_int_equal(filter_table_push(t, &f), 0);
	}
	assert_int_equal(filter_table_sort(t), 0);
}

/* ---- random probes -------------------------------------------------------- */

static void host_in(uint8_t fam, const uint8_t *net, unsigned plen, uint8_t *out)
{
	uint8_t r[16];

	for (unsigned i = 0; i < 16; i++)
		r[i] = (uint8_t)rnd();
	if (below(4) == 0)
		memset(r, below(2) ? 0xff : 0, 16);    /* the prefix's edges */
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;
		uint8_t keep = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		out[i] = i < alen(fam) ? (uint8_t)((net[i] & keep) | (r[i] & ~keep)) : 0;
	}
}

static uint16_t port_near(const struct port_spec *ps)
{
	switch (below(6)) {
	case 0: return ps->lo;
	case 1: return ps->hi;
	case 2: return (uint16_t)(ps->lo - 1);
	case 3: return (uint16_t)(ps->hi + 1);
	case 4: return 0;
	default: return (uint16_t)below(1000);
	}
}

static void random_probe(const struct filter_table *t, struct pkt_tuple *p)
{
	static const uint16_t masks[] = { 0, 1, 2, 4, 6, 8, 14 };

	memset(p, 0, sizeof(*p));
	if (t->n && below(4)) {
		const struct specific_filter *f = &t->v[below((uint32_t)t->n)];

		p->fam = f->fam;
		host_in(f->fam, f->src, f->src_plen, p->src);
		host_in(f->fam, f->dst, f->dst_plen, p->dst);
		p->proto = below(4) ? f->proto : (uint8_t)below(60);
		p->sport = port_near(&f->sport);
		p->dport = port_near(&f->dport);
	} else {
		p->fam = (uint8_t)below(2);
		random_addr(p->fam, p->src);
		random_addr(p->fam, p->dst);
		mask_addr(p->src, p->fam, 128);
		mask_addr(p->dst, p->fam, 128);
		p->proto = below(2) ? IPPROTO_TCP : (uint8_t)below(256);
		p->sport = (uint16_t)below(1000);
		p->dport = (uint16_t)below(1000);
	}
	p->frag = below(8) == 0;
	p->ifmask = masks[below(sizeof(masks) / sizeof(masks[0]))];
}

static void check_oracle(const struct filter_table *t, const struct ctree *tr,
			 unsigned probes)
{
	struct pkt_tuple p;

	for (unsigned i = 0; i < probes; i++) {
		random_probe(t, &p);
		long want = filter_table_match(t, &p), got = ctree_lookup(tr, t, &p);

		if (want != got)
			fail_msg("probe %u: the tree says %ld, the table %ld", i, got, want);
	}
}

static void check_shape(const struct ctree *tr)
{
	assert_true(tr->nnodes >= 2 && tr->nnodes <= IXDP_TREE_NODES);
	assert_true(tr->depth <= IXDP_TREE_DEPTH);
	assert_true(tr->leaf_longest <= IXDP_TREE_LEAF_MAX);
	for (uint32_t i = 0; i < tr->nnodes; i++) {
		const struct ixdp_tnode *nd = &tr->nodes[i];

		if (nd->leaf) {
			assert_true(nd->n <= tr->nleaf - (nd->n ? nd->base : 0));
			for (uint32_t k = 1; k < nd->n; k++)
				assert_true(tr->leaf[nd->base + k - 1] <
					    tr->leaf[nd->base + k]);
		} else {
			assert_true(nd->bits >= 1 && nd->bits <= IXDP_TREE_CUT_BITS);
			assert_true(nd->bits2 <= IXDP_TREE_CUT_BITS);
			assert_true(nd->bits + nd->bits2 <= IXDP_TREE_PAIR_BITS);
			assert_true(nd->base + (1u << (nd->bits + nd->bits2)) <= tr->nnodes);
		}
	}
}

static void oracle_round(size_t n, unsigned probes)
{
	struct filter_table t;
	struct ctree tr;
	char err[256] = "";

	random_table(&t, n);
	if (ctree_build(&t, &tr, err, sizeof(err)))
		fail_msg("ctree_build of %zu filters: %s", n, err);
	check_shape(&tr);
	check_oracle(&t, &tr, probes);
	ctree_free(&tr);
	filter_table_free(&t);
}

/* A kept tree (ctree_keep(), what the limits check does) is what the next
 * build of the same table returns, once; another table is built afresh. */
static void test_kept_tree_taken_once(void **state)
{
	struct filter_table t, u;
	struct ctree kept, first, second, other, fresh;
	const struct ixdp_tnode *nodes;
	char err[256] = "";

	(void)state;
	random_table(&t, 300);
	assert_int_equal(ctree_build(&t, &kept, err, sizeof(err)), 0);
	nodes = kept.nodes;
	ctree_keep(&t, &kept);
	assert_null(kept.nodes);
	assert_int_equal(ctree_build(&t, &first, err, sizeof(err)), 0);
	assert_ptr_equal(first.nodes, nodes);          /* taken, not built */
	assert_int_equal(ctree_build(&t, &second, err, sizeof(err)), 0);
	assert_ptr_not_equal(second.nodes, first.nodes); /* kept no longer */
	assert_int_equal(second.nnodes, first.nnodes);
	assert_memory_equal(second.nodes, first.nodes,
			    first.nnodes * sizeof(*first.nodes));
	check_oracle(&t, &first, 2000);

	/* another table (t's first 150 filters, whose tree differs from t's):
	 * built afresh, the kept tree of t dropped */
	memset(&u, 0, sizeof(u));
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(filter_table_push(&u, &t.v[i]), 0);
	ctree_keep(&t, &second);
	assert_int_equal(ctree_build(&u, &other, err, sizeof(err)), 0);
	assert_int_equal(ctree_build(&u, &fresh, err, sizeof(err)), 0);
	assert_true(fresh.nleaf != first.nleaf || fresh.nnodes != first.nnodes ||
		    memcmp(fresh.nodes, first.nodes, fresh.nnodes * sizeof(*fresh.nodes)));
	assert_int_equal(other.nnodes, fresh.nnodes);
	assert_int_equal(other.nleaf, fresh.nleaf);
	assert_memory_equal(other.nodes, fresh.nodes, fresh.nnodes * sizeof(*fresh.nodes));
	assert_memory_equal(other.leaf, fresh.leaf, fresh.nleaf * sizeof(*fresh.leaf));
	check_oracle(&u, &other, 2000);
	ctree_free(&fresh);
	ctree_free(&other);
	ctree_free(&first);
	filter_table_free(&u);
	filter_table_free(&t);
}

static void test_random_oracle(void **state)
{
	(void)state;
	rng_state = 42;
	for (unsigned round = 0; round < 150; round++)
		oracle_round(1 + below(round < 100 ? 60 : 400), 1500);
	oracle_round(3000, 20000);
}

/* ---- hand-written tables -------------------------------------------------- */

static struct specific_filter any_filter(uint8_t fam, uint8_t action)
{
	struct specific_filter f;

	memset(&f, 0, sizeof(f));
	f.fam = fam;
	f.action = action;
	f.name = "t";
	return f;
}

static void push(struct filter_table *t, const struct specific_filter *f)
{
	assert_int_equal(filter_table_push(t, f), 0);
}

static struct pkt_tuple v4_pkt(uint8_t proto, uint16_t dport, bool frag,
			       uint16_t ifmask)
{
	struct pkt_tuple p;

	memset(&p, 0, sizeof(p));
	p.fam = IXDP_FAM_V4;
	p.src[0] = 192;
	p.dst[0] = 10;
	p.dst[3] = 9;
	p.proto = proto;
	p.dport = dport;
	p.frag = frag;
	p.ifmask = ifmask;
	return p;
}

static void build_ok(struct filter_table *t, struct ctree *tr)
{
	char err[256] = "";

	assert_int_equal(filter_table_sort(t), 0);
	if (ctree_build(t, tr, err, sizeof(err)))
		fail_msg("ctree_build: %s", err);
	check_shape(tr);
}

/* A filter of group 0, ports any, covering the region ends the leaf. */
static void test_truncate_covering(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_PERMIT);
	struct ctree tr;
	struct pkt_tuple p = v4_pkt(IPPROTO_TCP, 80, false, 0);

	(void)state;
	f.dst[0] = 10;
	f.dst_plen = 8;
	f.proto_exact = true;
	f.proto = IPPROTO_TCP;
	f.dport.lo = f.dport.hi = 80;
	push(&t, &f);                                   /* 0: 10/8 tcp 80 */
	push(&t, &(struct specific_filter){ .fam = IXDP_FAM_V4,
		 .action = IXDP_ACT_BLOCK, .name = "t" });  /* 1: any, block */
	push(&t, &(struct specific_filter){ .fam = IXDP_FAM_V4,
		 .action = IXDP_ACT_PERMIT, .name = "t" }); /* 2: any, permit */
	build_ok(&t, &tr);
	assert_int_equal(tr.nodes[0].leaf, 1);
	assert_int_equal(tr.nodes[0].n, 2);             /* the permit is dropped */
	assert_int_equal(tr.leaf[tr.nodes[0].base + 1], 1);
	assert_int_equal(ctree_lookup(&tr, &t, &p), 0);
	p.frag = true;
	assert_int_equal(ctree_lookup(&tr, &t, &p), 1);
	ctree_free(&tr);
	filter_table_free(&t);
}

/* A filter covering the region in every field, but with ports, does not
 * end the leaf when fragments (ports 0) can reach it. */
static void test_truncate_ports_fragments(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter g = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct specific_filter h = any_filter(IXDP_FAM_V4, IXDP_ACT_PERMIT);
	struct ctree tr;
	struct pkt_tuple p = v4_pkt(IPPROTO_UDP, 5, false, 0);

	(void)state;
	g.dport.lo = 1;
	g.dport.hi = 0xffff;                            /* every port but 0 */
	push(&t, &g);
	push(&t, &h);
	build_ok(&t, &tr);
	assert_int_equal(tr.nodes[0].leaf, 1);
	assert_int_equal(tr.nodes[0].n, 2);
	assert_int_equal(ctree_lookup(&tr, &t, &p), 0);
	p.frag = true;
	assert_int_equal(ctree_lookup(&tr, &t, &p), 1);
	p = v4_pkt(IPPROTO_ICMP, 0, false, 0);
	assert_int_equal(ctree_lookup(&tr, &t, &p), 1);
	ctree_free(&tr);
	filter_table_free(&t);
}

/* A covering filter of interface group 1 does not end the leaf. */
static void test_truncate_ifgroup(void **state)
{
	struct filter_table t = { .ngroups = 2 };
	struct specific_filter k = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct specific_filter h = any_filter(IXDP_FAM_V4, IXDP_ACT_PERMIT);
	struct ctree tr;
	struct pkt_tuple p = v4_pkt(IPPROTO_TCP, 22, false, 0);

	(void)state;
	k.ifgroup = 1;
	push(&t, &k);
	push(&t, &h);
	build_ok(&t, &tr);
	assert_int_equal(tr.nodes[0].leaf, 1);
	assert_int_equal(tr.nodes[0].n, 2);
	assert_int_equal(ctree_lookup(&tr, &t, &p), 1);
	p.ifmask = 2;
	assert_int_equal(ctree_lookup(&tr, &t, &p), 0);
	ctree_free(&tr);
	filter_table_free(&t);
}

/* Many port filters under one destination: the tree cuts the ports, and
 * a range excluding port 0 then ends the leaves it covers. */
static void test_port_cuts(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct ctree tr;

	(void)state;
	f.proto_exact = true;
	f.proto = IPPROTO_TCP;
	for (unsigned i = 0; i < 200; i++) {
		f.dport.lo = f.dport.hi = (uint16_t)(1000 + 7 * i);
		push(&t, &f);
	}
	f.dport.lo = 1;
	f.dport.hi = 0xffff;
	f.action = IXDP_ACT_PERMIT;
	push(&t, &f);
	push(&t, &(struct specific_filter){ .fam = IXDP_FAM_V4, .name = "t" });
	build_ok(&t, &tr);
	assert_true(tr.depth >= 1);
	assert_true(tr.leaf_longest <= 12);
	rng_state = 7;
	check_oracle(&t, &tr, 20000);
	for (unsigned port = 0; port < 3000; port++) {
		struct pkt_tuple p = v4_pkt(IPPROTO_TCP, (uint16_t)port, false, 0);

		assert_int_equal(ctree_lookup(&tr, &t, &p), filter_table_match(&t, &p));
		p.frag = true;
		assert_int_equal(ctree_lookup(&tr, &t, &p), filter_table_match(&t, &p));
	}
	ctree_free(&tr);
	filter_table_free(&t);
}

/* Port ranges of every size, straddling the blocks of the port cuts,
 * on both sides, probed at their edges, fragments included. */
static void test_port_ranges(void **state)
{
	(void)state;
	rng_state = 5;
	for (unsigned round = 0; round < 20; round++) {
		struct filter_table t = { 0 };
		struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
		struct ctree tr;

		f.proto_exact = true;
		f.proto = IPPROTO_UDP;
		for (unsigned i = 0; i < 150; i++) {
			unsigned lo = below(1 << (1 + below(16))), len = below(1 << below(16));

			f.dport.lo = (uint16_t)(lo > 0xffff ? 0xffff : lo);
			f.dport.hi = (uint16_t)(lo + len > 0xffff ? 0xffff : lo + len);
			f.sport.lo = f.sport.hi = 0;
			if (below(4) == 0)
				f.sport = f.dport;
			push(&t, &f);
		}
		build_ok(&t, &tr);
		for (unsigned i = 0; i < 20000; i++) {
			struct pkt_tuple p = v4_pkt(IPPROTO_UDP, 0, below(16) == 0, 0);
			const struct port_spec *ps = &t.v[below((uint32_t)t.n)].dport;

			p.dport = below(2) ? port_near(ps) : (uint16_t)below(65536);
			p.sport = below(2) ? p.dport : (uint16_t)below(65536);
			assert_int_equal(ctree_lookup(&tr, &t, &p), filter_table_match(&t, &p));
		}
		ctree_free(&tr);
		filter_table_free(&t);
	}
}

/* Filters agreeing on their first 16 bits (10.1/16) are cut below them
 * with no node for those bits (a skip): one cut, short leaves.  The
 * packets of other values there reach the same leaves and must still
 * find the filter spanning everything, though 10.1/16 covers the values
 * the skip assumed (it must not cut the lists short). */
static void test_skip(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct ctree tr;

	(void)state;
	f.dst[0] = 10;
	f.dst[1] = 1;
	f.dst_plen = 24;
	for (unsigned i = 0; i < 200; i++) {
		f.dst[2] = (uint8_t)i;
		push(&t, &f);
	}
	f.dst[2] = 0;
	f.dst_plen = 16;
	f.action = IXDP_ACT_PERMIT;
	push(&t, &f);
	push(&t, &(struct specific_filter){ .fam = IXDP_FAM_V4, .name = "t" });
	build_ok(&t, &tr);
	assert_true(tr.leaf_longest <= 8);
	assert_true(tr.depth <= 2);
	rng_state = 11;
	check_oracle(&t, &tr, 20000);
	for (unsigned i = 0; i < 256 * 4; i++) {
		struct pkt_tuple p = v4_pkt(IPPROTO_TCP, 80, false, 0);

		p.dst[1] = (uint8_t)(i / 256 == 0 ? 1 : i / 256 == 1 ? 2 : 129);
		p.dst[0] = (uint8_t)(i / 256 == 3 ? 11 : 10);
		p.dst[2] = (uint8_t)i;
		assert_int_equal(ctree_lookup(&tr, &t, &p), filter_table_match(&t, &p));
	}
	ctree_free(&tr);
	filter_table_free(&t);
}

/* ---- limits and empty tables ----------------------------------------------- */

/* More identical filters than a leaf may hold: no cut separates them. */
static void test_leaf_limit(void **state)
{
	struct filter_table t = { .ngroups = 2 };
	struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct ctree tr;
	char err[256] = "";

	(void)state;
	f.dst[0] = 10;
	f.dst_plen = 8;
	f.ifgroup = 1;
	for (unsigned i = 0; i < IXDP_TREE_LEAF_MAX + 1; i++)
		push(&t, &f);
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(ctree_build(&t, &tr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1025 filters"));
	assert_non_null(strstr(err, "limit of 1024"));
	assert_null(tr.nodes);
	t.n = IXDP_TREE_LEAF_MAX;               /* exactly the limit fits */
	build_ok(&t, &tr);
	assert_int_equal(tr.leaf_longest, IXDP_TREE_LEAF_MAX);
	ctree_free(&tr);
	filter_table_free(&t);
}

static void test_empty_table(void **state)
{
	struct filter_table t = { 0 };
	struct ctree tr;
	struct pkt_tuple p = v4_pkt(IPPROTO_TCP, 80, false, 0);

	(void)state;
	build_ok(&t, &tr);
	assert_int_equal(tr.nnodes, 2);
	assert_int_equal(tr.nleaf, 0);
	for (unsigned fam = 0; fam < 2; fam++) {
		assert_int_equal(tr.nodes[fam].leaf, 1);
		assert_int_equal(tr.nodes[fam].n, 0);
	}
	assert_int_equal(ctree_lookup(&tr, &t, &p), -1);
	p.fam = IXDP_FAM_V6;
	assert_int_equal(ctree_lookup(&tr, &t, &p), -1);
	ctree_free(&tr);
}

/* A table of IPv6 filters only: the IPv4 root is an empty leaf. */
static void test_one_family(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter f = any_filter(IXDP_FAM_V6, IXDP_ACT_BLOCK);
	struct ctree tr;

	(void)state;
	f.dst[0] = 0x20;
	f.dst_plen = 16;
	for (unsigned i = 0; i < 100; i++) {
		f.dst[1] = (uint8_t)i;
		push(&t, &f);
	}
	build_ok(&t, &tr);
	assert_int_equal(tr.nodes[0].leaf, 1);
	assert_int_equal(tr.nodes[0].n, 0);
	assert_int_equal(tr.nodes[1].leaf, 0);
	rng_state = 3;
	check_oracle(&t, &tr, 5000);
	ctree_free(&tr);
	filter_table_free(&t);
}

/* A corrupt tree fails closed: no answer rather than a wild read. */
static void test_lookup_fails_closed(void **state)
{
	struct filter_table t = { 0 };
	struct specific_filter f = any_filter(IXDP_FAM_V4, IXDP_ACT_BLOCK);
	struct ixdp_tnode nodes[2] = {
		{ .leaf = 0, .field = IXDP_TF_DST0, .shift = 24, .bits = 8, .base = 2 },
		{ .leaf = 1, .base = 5, .n = 1 },
	};
	uint32_t leaf[1] = { 0 };
	struct ctree tr = { .nodes = nodes, .nnodes = 2, .leaf = leaf, .nleaf = 1 };
	struct pkt_tuple p = v4_pkt(IPPROTO_TCP, 80, false, 0);

	(void)state;
	push(&t, &f);
	assert_int_equal(ctree_lookup(&tr, &t, &p), -1);   /* child out of range */
	p.fam = IXDP_FAM_V6;
	assert_int_equal(ctree_lookup(&tr, &t, &p), -1);   /* leaf out of range */
	filter_table_free(&t);
}

/* ---- laying a tree out over a bank's (compile_treelayout.c) -------------- */

/* Every filter gets an id, kept in `rule`, as the dataplane's slots: an
 * edit keeps the ids of the filters it does not touch. */
static void number_filters(struct filter_table *t, int *next_id)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].rule = (*next_id)++;
}

/* The tree as a bank holds it: leaf entries are ids (slots). */
static void image_of(const struct ctree *tr, const struct filter_table *t,
		     struct tree_image *img)
{
	memset(img, 0, sizeof(*img));
	img->nodes = malloc((tr->nnodes + 1) * sizeof(*img->nodes));
	img->leaf = malloc((tr->nleaf + 1) * sizeof(*img->leaf));
	assert_non_null(img->nodes);
	assert_non_null(img->leaf);
	memcpy(img->nodes, tr->nodes, tr->nnodes * sizeof(*img->nodes));
	for (uint32_t i = 0; i < tr->nleaf; i++)
		img->leaf[i] = (uint32_t)t->v[tr->leaf[i]].rule;
	img->nnodes = tr->nnodes;
	img->nleaf = tr->nleaf;
}

/* A laid-out image walks like the table's own tree: ids back to positions. */
static void check_image(const struct tree_image *img, const struct filter_table *t,
			int nids, unsigned probes)
{
	uint32_t *pos_of = malloc((size_t)nids * sizeof(*pos_of));
	uint32_t *leaf = malloc((img->nleaf + 1) * sizeof(*leaf));
	struct ctree view = { .nodes = img->nodes, .nnodes = img->nnodes,
			      .leaf = leaf, .nleaf = img->nleaf };

	assert_non_null(pos_of);
	assert_non_null(leaf);
	memset(pos_of, 0xff, (size_t)nids * sizeof(*pos_of));
	for (size_t i = 0; i < t->n; i++)
		pos_of[t->v[i].rule] = (uint32_t)i;
	for (uint32_t i = 0; i < img->nleaf; i++)
		leaf[i] = img->leaf[i] < (uint32_t)nids ? pos_of[img->leaf[i]]
							: 0xffffffffu;
	check_oracle(t, &view, probes);
	free(pos_of);
	free(leaf);
}

/* Entries of out that differ from old (or lie past it): what a bank
 * holding old would be written. */
static size_t entries_written(const struct tree_image *old,
			      const struct tree_image *out)
{
	size_t w = 0;

	for (uint32_t i = 0; i < out->nnodes; i++)
		w += i >= old->nnodes ||
		     memcmp(&out->nodes[i], &old->nodes[i], sizeof(out->nodes[i]));
	for (uint32_t i = 0; i < out->nleaf; i++)
		w += i >= old->nleaf || out->leaf[i] != old->leaf[i];
	return w;
}

static void build_image(struct filter_table *t, struct tree_image *img)
{
	struct ctree tr;

	build_ok(t, &tr);
	image_of(&tr, t, img);
	ctree_free(&tr);
}

/* The same list again: the bank's tree as it is, nothing written. */
static void test_relayout_same_list(void **state)
{
	struct filter_table t;
	struct tree_image a, b, out;
	int ids = 0;

	(void)state;
	rng_state = 41;
	random_table(&t, 1500);
	number_filters(&t, &ids);
	build_image(&t, &a);
	build_image(&t, &b);
	assert_int_equal(tree_relayout(&a, &b, &out), 1);
	assert_int_equal(entries_written(&a, &out), 0);
	check_image(&out, &t, ids, 3000);
	tree_image_free(&a);
	tree_image_free(&b);
	tree_image_free(&out);
	filter_table_free(&t);
}

/* Random edits, each laid out over the last: the answers are the new
 * table's, and a one-filter edit writes a small part of the tree. */
static void test_relayout_edits(void **state)
{
	struct filter_table t;
	struct tree_image cur, nw, out;
	int ids = 0;
	size_t small = 0;

	(void)state;
	rng_state = 42;
	random_table(&t, 2000);
	number_filters(&t, &ids);
	build_image(&t, &cur);
	for (int e = 0; e < 30; e++) {
		struct specific_filter f;
		size_t total, w;

		if (e % 3 == 2 && t.n > 1) {    /* delete one */
			size_t i = below((uint32_t)t.n);

			memmove(&t.v[i], &t.v[i + 1], (t.n - i - 1) * sizeof(t.v[0]));
			t.n--;
		} else {                        /* add one */
			random_filter(&f, 4);
			f.rule = ids++;
			assert_int_equal(filter_table_push(&t, &f), 0);
			assert_int_equal(filter_table_sort(&t), 0);
		}
		build_image(&t, &nw);
		assert_true(tree_relayout(&cur, &nw, &out) >= 0);
		check_image(&out, &t, ids, 1500);
		w = entries_written(&cur, &out);
		total = nw.nnodes + nw.nleaf;
		small += w * 10 < total;
		tree_image_free(&cur);
		tree_image_free(&nw);
		cur = out;
	}
	printf("relayout: %zu of 30 one-filter edits wrote under a tenth of the tree\n",
	       small);
	assert_true(small >= 20);
	tree_image_free(&cur);
	filter_table_free(&t);
}

/* Whatever a bank holds (a torn write, garbage), the layout is right. */
static void test_relayout_over_garbage(void **state)
{
	struct filter_table t;
	struct tree_image junk = { 0 }, nw, out;
	int ids = 0;

	(void)state;
	rng_state = 43;
	random_table(&t, 800);
	number_filters(&t, &ids);
	build_image(&t, &nw);
	junk.nnodes = 5000;
	junk.nleaf = 5000;
	junk.nodes = malloc(junk.nnodes * sizeof(*junk.nodes));
	junk.leaf = malloc(junk.nleaf * sizeof(*junk.leaf));
	assert_non_null(junk.nodes);
	assert_non_null(junk.leaf);
	for (uint32_t i = 0; i < junk.nnodes; i++) {
		junk.nodes[i].leaf = (uint8_t)below(2);
		junk.nodes[i].field = (uint8_t)below(12);
		junk.nodes[i].shift = (uint8_t)below(32);
		junk.nodes[i].bits = (uint8_t)below(10);
		junk.nodes[i].base = below(6000);
		junk.nodes[i].n = below(50);
		junk.nodes[i].field2 = (uint8_t)below(12);
		junk.nodes[i].shift2 = (uint8_t)below(34);
		junk.nodes[i].bits2 = below(2) ? 0 : (uint8_t)below(10);
		/* shared blocks and cycles: every node points near the start */
		if (below(2))
			junk.nodes[i].base = below(8);
	}
	for (uint32_t i = 0; i < junk.nleaf; i++)
		junk.leaf[i] = below((uint32_t)ids + 5);
	assert_true(tree_relayout(&junk, &nw, &out) >= 0);
	check_image(&out, &t, ids, 3000);
	tree_image_free(&junk);
	tree_image_free(&nw);
	tree_image_free(&out);
	filter_table_free(&t);
}

/* ---- the guide (ctree_guide) ---------------------------------------------- */

/* t's tree, guided by g's nodes (none when g is NULL). */
static void build_guided(const struct filter_table *t, const struct ctree *g,
			 struct ctree *tr)
{
	char err[256] = "";

	ctree_guide(g ? g->nodes : NULL, g ? g->nnodes : 0, g ? g->origin_nodes : 0);
	if (ctree_build(t, tr, err, sizeof(err)))
		fail_msg("ctree_build of %zu filters: %s", t->n, err);
	check_shape(tr);
}

static void assert_same_tree(const struct ctree *a, const struct ctree *b)
{
	assert_int_equal(a->nnodes, b->nnodes);
	assert_int_equal(a->nleaf, b->nleaf);
	assert_memory_equal(a->nodes, b->nodes, a->nnodes * sizeof(*a->nodes));
	assert_memory_equal(a->leaf, b->leaf, a->nleaf * sizeof(*a->leaf));
}

/* A list's own tree as the guide: the build scores no cut and makes the
 * tree a build without a guide makes. */
static void test_guide_same_list(void **state)
{
	static const size_t sizes[] = { 40, 400, 2000 };

	(void)state;
	rng_state = 44;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct filter_table t;
		struct ctree fresh, guided;

		random_table(&t, sizes[i]);
		build_guided(&t, NULL, &fresh);
		assert_int_equal(fresh.cuts_guided, 0);
		build_guided(&t, &fresh, &guided);
		assert_same_tree(&fresh, &guided);
		assert_int_equal(guided.cuts_chosen, 0);
		assert_true(guided.cuts_guided > 0);
		ctree_free(&guided);
		ctree_free(&fresh);
		filter_table_free(&t);
	}
	ctree_guide(NULL, 0, 0);
}

/* A guided node scores the guide's cut from the spans at the cut's own
 * width (score_own_cut()), choose_cut() from the finest cut's: the two
 * must agree, or a list guided by its own tree refuses some of its cuts.
 * Open-ended port ranges are where they could differ: a filter that
 * starts inside the first child of a cut but not at its first port. */
static void test_guide_scores_as_choose_cut(void **state)
{
	static const size_t sizes[] = { 300, 3000 };

	(void)state;
	rng_state = 46;
	open_ended_ports = true;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct filter_table t;
		struct ctree fresh, guided;

		random_table(&t, sizes[i]);
		build_guided(&t, NULL, &fresh);
		build_guided(&t, &fresh, &guided);
		assert_same_tree(&fresh, &guided);
		assert_int_equal(guided.cuts_chosen, 0);
		ctree_free(&guided);
		ctree_free(&fresh);
		filter_table_free(&t);
	}
	open_ended_ports = false;
	ctree_guide(NULL, 0, 0);
}

/* Edit e of a table: delete one filter, add one, or give one another
 * action (e % 3), the table sorted again. */
static void edit_table(struct filter_table *t, int *ids, int e)
{
	struct specific_filter f;
	size_t i = below((uint32_t)t->n);

	if (e % 3 == 0) {
		memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
		t->n--;
	} else if (e % 3 == 1) {
		random_filter(&f, 4);
		f.rule = (*ids)++;
		assert_int_equal(filter_table_push(t, &f), 0);
	} else {
		t->v[i].action = (uint8_t)((t->v[i].action + 1) % 3);
	}
	assert_int_equal(filter_table_sort(t), 0);
}

/* One filter of a 1500-filter table deleted, added, or given another
 * action, 30 times, each tree guided by the last one built (as an apply
 * is guided by the tree in force): every tree gives the table's answers,
 * is about as deep and as large as a build without a guide makes it
 * (growth does not add up over the edits), and together the builds score
 * under a tenth of the cuts those builds score. */
static void test_guided_edits(void **state)
{
	struct filter_table t;
	struct ctree cur;
	size_t chosen = 0, chosen_fresh = 0;
	int ids = 0;

	(void)state;
	rng_state = 45;
	random_table(&t, 1500);
	number_filters(&t, &ids);
	build_guided(&t, NULL, &cur);
	for (int e = 0; e < 30; e++) {
		struct ctree nw, fresh;

		edit_table(&t, &ids, e);
		build_guided(&t, &cur, &nw);
		check_oracle(&t, &nw, 1000);
		build_guided(&t, NULL, &fresh);
		/* as fast to search, and no more than 1/8 larger */
		assert_true(nw.depth <= fresh.depth + 1);
		assert_true(nw.leaf_longest <= fresh.leaf_longest + fresh.leaf_longest / 8 + 1);
		assert_true(nw.nnodes <= fresh.nnodes + fresh.nnodes / 8 + 64);
		assert_true(nw.nleaf <= fresh.nleaf + fresh.nleaf / 8 + 256);
		chosen += nw.cuts_chosen;
		chosen_fresh += fresh.cuts_chosen;
		ctree_free(&fresh);
		ctree_free(&cur);
		cur = nw;
	}
	printf("guided edits: %zu cuts scored, %zu without the guide\n",
	       chosen, chosen_fresh);
	assert_true(chosen * 10 < chosen_fresh);
	ctree_guide(NULL, 0, 0);
	ctree_free(&cur);
	filter_table_free(&t);
}

/* t's tree, after whatever guide ctree_guide() set. */
static void build_guided_now(const struct filter_table *t, struct ctree *tr)
{
	char err[256] = "";

	if (ctree_build(t, tr, err, sizeof(err)))
		fail_msg("ctree_build of %zu filters: %s", t->n, err);
	check_shape(tr);
}

/* The tree of each edit built after the one in force and laid out over
 * it by its hints (as an apply does: the bank holds the tree in force):
 * the answers are the table's, and the writes stay about as few as a
 * layout that hashes both trees finds. */
static void test_relayout_hinted_edits(void **state)
{
	struct filter_table t;
	struct ctree tr;
	struct tree_image cur, nw, out, by_hash;
	size_t w_hint = 0, w_hash = 0, small = 0;
	int ids = 0;

	(void)state;
	rng_state = 47;
	random_table(&t, 2000);
	number_filters(&t, &ids);
	build_guided(&t, NULL, &tr);
	assert_null(tr.hint);
	image_of(&tr, &t, &cur);
	cur.origin = tr.origin_nodes;
	ctree_free(&tr);
	for (int e = 0; e < 30; e++) {
		edit_table(&t, &ids, e);
		ctree_guide(cur.nodes, cur.nnodes, cur.origin);
		build_guided_now(&t, &tr);
		assert_non_null(tr.hint);
		image_of(&tr, &t, &nw);
		assert_true(tree_relayout(&cur, &nw, &by_hash) >= 0);
		nw.hint = tr.hint;
		assert_true(tree_relayout(&cur, &nw, &out) >= 0);
		check_image(&out, &t, ids, 1500);
		w_hint += entries_written(&cur, &out);
		w_hash += entries_written(&cur, &by_hash);
		small += entries_written(&cur, &out) * 10 < nw.nnodes + nw.nleaf;
		out.origin = tr.origin_nodes;
		tree_image_free(&by_hash);
		tree_image_free(&nw);
		tree_image_free(&cur);
		ctree_free(&tr);
		cur = out;
	}
	printf("relayout by hints: %zu entries written over 30 edits (by hashes: "
	       "%zu); %zu edits wrote under a tenth of the tree\n", w_hint, w_hash,
	       small);
	assert_true(small >= 20);
	assert_true(w_hint <= w_hash + w_hash / 8 + 64);
	tree_image_free(&cur);
	filter_table_free(&t);
	ctree_guide(NULL, 0, 0);
}

/* Hints are guesses: wrong ones (another tree's, out of range, garbage)
 * still give a right layout. */
static void test_relayout_wrong_hints(void **state)
{
	struct filter_table t;
	struct ctree tr;
	struct tree_image cur, nw, out;
	uint32_t *junk;
	int ids = 0;

	(void)state;
	rng_state = 48;
	random_table(&t, 1500);
	number_filters(&t, &ids);
	build_guided(&t, NULL, &tr);
	image_of(&tr, &t, &cur);
	ctree_free(&tr);
	for (int round = 0; round < 3; round++) {
		edit_table(&t, &ids, round);
		build_guided(&t, NULL, &tr);
		image_of(&tr, &t, &nw);
		junk = malloc((nw.nnodes + 1) * sizeof(*junk));
		assert_non_null(junk);
		for (uint32_t i = 0; i < nw.nnodes; i++)
			junk[i] = round == 0 ? below(cur.nnodes) :
				  round == 1 ? 0xffffffffu - below(4) : i % 3;
		nw.hint = junk;
		assert_true(tree_relayout(&cur, &nw, &out) >= 0);
		check_image(&out, &t, ids, 1500);
		free(junk);
		tree_image_free(&nw);
		tree_image_free(&cur);
		ctree_free(&tr);
		cur = out;
	}
	tree_image_free(&cur);
	filter_table_free(&t);
}

/* The guide is only a hint: the tree of another list, or garbage (cycles,
 * indexes out of range, fields of the other family), still gives a tree
 * with the table's answers. */
static void test_guide_unrelated_or_garbage(void **state)
{
	struct filter_table a, b;
	struct ctree ta, tb, junk = { 0 };

	(void)state;
	rng_state = 46;
	random_table(&a, 800);
	random_table(&b, 800);
	build_guided(&a, NULL, &ta);
	build_guided(&b, &ta, &tb);
	check_oracle(&b, &tb, 3000);
	ctree_free(&tb);
	junk.nnodes = 5000;
	junk.nodes = calloc(junk.nnodes, sizeof(*junk.nodes));
	assert_non_null(junk.nodes);
	for (uint32_t i = 0; i < junk.nnodes; i++) {
		junk.nodes[i].leaf = (uint8_t)(below(4) == 0);
		junk.nodes[i].field = (uint8_t)below(12);
		junk.nodes[i].shift = (uint8_t)below(34);
		junk.nodes[i].bits = (uint8_t)below(10);
		junk.nodes[i].base = below(2) ? below(8) : below(6000);
		junk.nodes[i].n = below(50);
		junk.nodes[i].field2 = (uint8_t)below(12);
		junk.nodes[i].shift2 = (uint8_t)below(34);
		junk.nodes[i].bits2 = below(2) ? 0 : (uint8_t)below(10);
	}
	build_guided(&b, &junk, &tb);
	check_oracle(&b, &tb, 3000);
	ctree_guide(NULL, 0, 0);
	ctree_free(&tb);
	ctree_free(&ta);
	free(junk.nodes);
	filter_table_free(&a);
	filter_table_free(&b);
}

/* ---- paired cuts (compile_treepair.c) ---------------------------------------- */

/* The packet's fields as the BPF program reads them (enum ixdp_tree_field). */
static void probe_fields(const struct pkt_tuple *p, uint32_t f[16])
{
	memset(f, 0, 16 * sizeof(*f));
	for (unsigned j = 0; j < (p->fam == IXDP_FAM_V4 ? 1u : 4u); j++) {
		f[IXDP_TF_SRC0 + j] = (uint32_t)p->src[4 * j] << 24 | p->src[4 * j + 1] << 16 |
				      p->src[4 * j + 2] << 8 | p->src[4 * j + 3];
		f[IXDP_TF_DST0 + j] = (uint32_t)p->dst[4 * j] << 24 | p->dst[4 * j + 1] << 16 |
				      p->dst[4 * j + 2] << 8 | p->dst[4 * j + 3];
	}
	f[IXDP_TF_SPORT] = p->frag ? 0 : p->sport;
	f[IXDP_TF_DPORT] = p->frag ? 0 : p->dport;
	f[IXDP_TF_PROTO] = p->proto;
}

/* The leaf packet p reaches in nodes[], and the levels it walks. */
static const struct ixdp_tnode *walk(const struct ixdp_tnode *nodes, uint32_t n,
				     const struct pkt_tuple *p, unsigned *levels)
{
	const struct ixdp_tnode *nd = &nodes[p->fam == IXDP_FAM_V6];
	uint32_t f[16];

	probe_fields(p, f);
	for (*levels = 0; !nd->leaf; ++*levels) {
		uint32_t i = nd->base + ixdp_tnode_child(nd, f);

		assert_true(i < n && *levels <= IXDP_TREE_DEPTH);
		nd = &nodes[i];
	}
	return nd;
}

/* A built tree's cuts are paired: every packet reaches the leaf it
 * reached in the build's form (tree_unpair()), in fewer levels overall;
 * and pairing that form again gives the same nodes, so the guide that
 * tree_unpair() makes of a tree in force is the tree that was built. */
static void test_paired_cuts(void **state)
{
	static const size_t sizes[] = { 300, 3000 };

	(void)state;
	rng_state = 48;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct filter_table t;
		struct ctree tr;
		struct ixdp_tnode *u;
		struct tree_pairs again;
		uint32_t nu, paired = 0;
		unsigned long lv_paired = 0, lv_built = 0;

		random_table(&t, sizes[i]);
		build_guided(&t, NULL, &tr);
		for (uint32_t k = 0; k < tr.nnodes; k++)
			paired += !tr.nodes[k].leaf && tr.nodes[k].bits2;
		assert_true(paired > 0);
		assert_int_equal(tree_unpair(tr.nodes, tr.nnodes, &u, &nu), 0);
		for (uint32_t k = 0; k < nu; k++)
			assert_true(u[k].leaf || !u[k].bits2);
		for (unsigned k = 0; k < 3000; k++) {
			struct pkt_tuple p;
			unsigned a, b;
			const struct ixdp_tnode *la, *lb;

			random_probe(&t, &p);
			la = walk(tr.nodes, tr.nnodes, &p, &a);
			lb = walk(u, nu, &p, &b);
			assert_memory_equal(la, lb, sizeof(*la));
			assert_true(a <= b);
			lv_paired += a;
			lv_built += b;
		}
		assert_true(lv_paired < lv_built);
		assert_int_equal(tree_pair(u, nu, NULL, 0, &again), 0);
		assert_int_equal(again.nnodes, tr.nnodes);
		assert_memory_equal(again.nodes, tr.nodes, tr.nnodes * sizeof(*tr.nodes));
		assert_int_equal(again.depth, tr.depth);
		check_oracle(&t, &tr, 3000);
		free(again.nodes);
		free(u);
		ctree_free(&tr);
		filter_table_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_oracle),
		cmocka_unit_test(test_truncate_covering),
		cmocka_unit_test(test_truncate_ports_fragments),
		cmocka_unit_test(test_truncate_ifgroup),
		cmocka_unit_test(test_port_cuts),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_leaf_limit),
		cmocka_unit_test(test_empty_table),
		cmocka_unit_test(test_one_family),
		cmocka_unit_test(test_lookup_fails_closed),
		cmocka_unit_test(test_relayout_same_list),
		cmocka_unit_test(test_relayout_edits),
		cmocka_unit_test(test_relayout_over_garbage),
		cmocka_unit_test(test_kept_tree_taken_once),
		cmocka_unit_test(test_guide_same_list),
		cmocka_unit_test(test_guide_scores_as_choose_cut),
		cmocka_unit_test(test_guided_edits),
		cmocka_unit_test(test_relayout_hinted_edits),
		cmocka_unit_test(test_relayout_wrong_hints),
		cmocka_unit_test(test_guide_unrelated_or_garbage),
		cmocka_unit_test(test_paired_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
