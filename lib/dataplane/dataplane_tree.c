// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_tree.c - write the decision tree of the live list into its
 * bank (include/ipsec_xdp.h, "The decision tree"; docs/classifier.md).
 *
 * The programs use a bank's tree only while ixdp_state[IXDP_STATE_TREE_GEN0
 * + bank] names the bank's generation, else its tuple space, which holds
 * the same list.  So a list the tuple space holds is in force from the
 * flip, and its tree is written afterwards into the bank now live (its
 * entry zero meanwhile: no packet reads the arrays), then marked; a list
 * over the tuple space's limits (ixdp_bank.tss_off) has its tree written
 * into the inactive bank and marked before the flip.  After the flip the
 * old bank gets the new list's difference and the new generation (the
 * mirror), so its tree, of the older list, is no longer used; the next
 * apply, which writes that bank, writes its tree too.
 *
 * Only the entries that differ from what the bank holds are written: the
 * arrays are read back first (a tree built from a list one filter apart
 * differs in few nodes; its leaves' entries move when a leaf grows).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "compile/compile_tree.h"
#include "dataplane/dataplane.h"
#include "dataplane/dataplane_internal.h"

static __u32 plen_mask(unsigned plen, unsigned word)
{
	int bits = (int)plen - 32 * (int)word;

	if (bits <= 0)
		return 0;
	return bits >= 32 ? 0xffffffffu : ~0u << (32 - bits);
}

void dp_tmatch_from_info(const struct ixdp_filter_info *in, struct ixdp_tmatch *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned j = 0; j < 4; j++) {
		m->smask[j] = plen_mask(in->src_plen, j);
		m->dmask[j] = plen_mask(in->dst_plen, j);
		m->src[j] = ntohl(in->src[j]) & m->smask[j];
		m->dst[j] = ntohl(in->dst[j]) & m->dmask[j];
	}
	/* ixdp_info keeps `any` as 0,0 */
	m->sport_lo = in->sport_lo;
	m->sport_hi = in->sport_lo || in->sport_hi ? in->sport_hi : 0xffff;
	m->dport_lo = in->dport_lo;
	m->dport_hi = in->dport_lo || in->dport_hi ? in->dport_hi : 0xffff;
	m->frag_ok = !in->sport_lo && !in->sport_hi && !in->dport_lo && !in->dport_hi;
	m->proto = in->proto;
	m->proto_any = !in->proto_exact;
	m->ifgroup = in->ifgroup;
	m->action = in->action;
	m->flags = in->flags;
	m->fam = in->fam;
}

/* Write vals[0..n) (esize bytes each) at fd's [start, start + n) where
 * they differ from what the array holds; *written counts them. */
static int write_changed(int fd, __u32 start, const void *vals, size_t n,
			 size_t esize, size_t *written)
{
	char *cur = malloc(n ? n * esize : 1);
	size_t i = 0;
	int err = 0;

	if (!cur)
		return -ENOMEM;
	if (n && dp_array_read(fd, start, n, cur, esize))
		memset(cur, 0xff, n * esize);   /* unknown: write them all */
	while (!err && i < n) {
		size_t j;

		if (!memcmp(cur + i * esize, (const char *)vals + i * esize, esize)) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && memcmp(cur + j * esize,
			(const char *)vals + j * esize, esize); j++)
			;
		err = dp_array_write(fd, start + (__u32)i,  j - i,
				     (const char *)vals + i * esize, esize);
		*written += j - i;
		i = j;
	}
	free(cur);
	return err;
}

static int write_tree(struct dp *dp, __u32 bank, const struct ctree *tr,
		      const __u32 *slot_of_pos, size_t npos)
{
	__u32 *slots = malloc((tr->nleaf + 1) * sizeof(*slots));
	int err;

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < tr->nleaf; i++)
		slots[i] = tr->leaf[i] < npos ? slot_of_pos[tr->leaf[i]]
					      : IXDP_NO_FILTER;
	err = write_changed(dp->tleaf_fd, bank * IXDP_TREE_LEAF_REFS, slots,
			    tr->nleaf, sizeof(*slots), &dp->stats.tree_written);
	if (!err)
		err = write_changed(dp->tnodes_fd, bank * IXDP_TREE_NODES,
				    tr->nodes, tr->nnodes, sizeof(*tr->nodes),
				    &dp->stats.tree_written);
	free(slots);
	return err;
}

int dp_tree_unready(struct dp *dp, __u32 bank)
{
	return dp_write_u32(dp->state_fd, IXDP_STATE_TREE_GEN0 + (bank & 1), 0);
}

int dp_write_tree(struct dp *dp, __u32 bank, __u32 generation,
		  const struct ctree *tr, const __u32 *slot_of_pos, size_t npos)
{
	int err;

	/* Whatever the bank's tree held, it is not this list's: a failure
	 * below must not leave it marked with this generation (an apply
	 * that fails after this point reuses the number). */
	if ((err = dp_tree_unready(dp, bank)))
		return err;
	dp->stats.tree_nodes = tr->nnodes;
	dp->stats.tree_entries = tr->nleaf;
	dp->stats.tree_depth = tr->depth;
	dp->stats.tree_leaf_longest = tr->leaf_longest;
	err = write_tree(dp, bank & 1, tr, slot_of_pos, npos);
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_TREE_GEN0 + (bank & 1),
				   generation);
	if (err)
		return err;
	dp->stats.tree_ready = true;
	return 0;
}
