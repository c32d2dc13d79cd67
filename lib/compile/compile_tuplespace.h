/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_tuplespace.h - lay the sorted filter table out as the dataplane's maps:
 * tuples in weight order, one hash key per (filter, port class), and the
 * port -> class arrays for port ranges.  Pure computation: dataplane.c
 * writes the result into one bank of the pinned maps.
 */
#ifndef IXDP_TUPLESPACE_H
#define IXDP_TUPLESPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"
#include "compile/compiler.h"

struct ts_entry {
	struct ixdp_fkey key;   /* bank field left 0: set when written */
	struct ixdp_fval val;   /* val.slot holds the filter's position in the
				 * table; the dataplane writes its slot */
};

struct tuplespace {
	struct ixdp_tuple tuples[2][IXDP_MAX_TUPLES]; /* [fam][i], weight order */
	uint32_t ntuples[2];
	struct ts_entry *entries;
	size_t nentries, cap;
	uint16_t *port_class[2];  /* [side][65536]; side 0 = sport, 1 = dport */
	bool over_limit;          /* the build failed on a limit of the tuple
				   * space (shapes, keys): the decision tree
				   * may still hold the list */
};

/*
 * The order of a tuple space's entries, and of the keys of a bank read
 * back or remembered (dataplane_diff.c merges the two): by ts_key_rank(),
 * a 32-bit hash of the key without its bank byte, then byte by byte.  So
 * the entries of a list and the keys of either bank holding it are in one
 * order, and sorting them is a radix sort of 32-bit ranks instead of a
 * comparison sort of 44-byte keys.
 */
uint32_t ts_key_rank(const struct ixdp_fkey *k);
int ts_key_cmp(uint32_t rank_a, const struct ixdp_fkey *a,
	       uint32_t rank_b, const struct ixdp_fkey *b);
/* v[0..n) in key order; entries of equal keys by val.slot.  -ENOMEM. */
int ts_entries_sort(struct ts_entry *v, size_t n);

/* Build from a sorted table: its entries in key order, each key once.
 * -1 with errbuf if a limit is exceeded (ts->over_limit set) or a filter
 * is bad. */
int tuplespace_build(const struct filter_table *t, struct tuplespace *ts,
		     char *errbuf, size_t errlen);
void tuplespace_free(struct tuplespace *ts);

/* The same lookup the BPF program does, in userspace (for tests): the
 * filter index, or IXDP_NO_FILTER. */
uint32_t tuplespace_lookup(const struct tuplespace *ts, const struct pkt_tuple *p);

#endif /* IXDP_TUPLESPACE_H */
