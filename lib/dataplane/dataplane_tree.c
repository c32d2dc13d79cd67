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
#include "compile/compile_treelayout.h"
#include "dataplane/dataplane.h"
#include "dataplane/dataplane_internal.h"

static __u32 plen_mask(unsigned plen, unsigned word)
{
	int bits = (int)plen - 32 * (int)word;

	if (bits <= 0)
		return 0;
	return bits >= 32 ? 0xffffffffu : ~0u << (32 - bits);
}

/* The bits of address word `word` after a prefix of plen bits, 0..32:
 * the BPF program's mask of the word is ~0 shifted left by it. */
static __u8 word_shift(unsigned plen, unsigned word)
{
	int bits = (int)plen - 32 * (int)word;

	return (__u8)(bits <= 0 ? 32 : bits >= 32 ? 0 : 32 - bits);
}

void dp_tmatch_from_info(const struct ixdp_filter_info *in, struct ixdp_tmatch *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned j = 0; j < 4; j++) {
		m->src[j] = ntohl(in->src[j]) & plen_mask(in->src_plen, j);
		m->dst[j] = ntohl(in->dst[j]) & plen_mask(in->dst_plen, j);
		m->sshift[j] = word_shift(in->src_plen, j);
		m->dshift[j] = word_shift(in->dst_plen, j);
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

/* Write vals[0..n) at fd's [start, start + n) where they differ from cur
 * (what the array holds; ncur entries of it known); *written counts them. */
static int write_runs(int fd, __u32 start, const void *vals, size_t n,
		      const void *cur, size_t ncur, size_t esize, size_t *written)
{
	const char *v = vals, *c = cur;
	size_t i = 0;
	int err = 0;

	while (!err && i < n) {
		size_t j = i;

		while (j < n && (j >= ncur || memcmp(c + j * esize, v + j * esize, esize)))
			j++;
		if (j > i) {
			err = dp_array_write(fd, start + (__u32)i, j - i, v + i * esize,
					     esize);
			*written += j - i;
			i = j;
		}
		while (i < n && i < ncur && !memcmp(c + i * esize, v + i * esize, esize))
			i++;
	}
	return err;
}

/* The tree bank `bank` holds, as far as its recorded extents say; an
 * unreadable one is empty (then everything is written). */
static void read_image(struct dp *dp, __u32 bank, struct tree_image *img)
{
	__u32 nn = 0, nl = 0;

	memset(img, 0, sizeof(*img));
	if (dp_read_u32(dp->state_fd, IXDP_STATE_TREE_NODES0 + bank, &nn) ||
	    dp_read_u32(dp->state_fd, IXDP_STATE_TREE_LEAF0 + bank, &nl) ||
	    nn > IXDP_TREE_NODES || nl > IXDP_TREE_LEAF_REFS)
		return;
	img->nodes = malloc((nn + 1) * sizeof(*img->nodes));
	img->leaf = malloc((nl + 1) * sizeof(*img->leaf));
	if (!img->nodes || !img->leaf ||
	    (nn && dp_array_read(dp->tnodes_fd, bank * IXDP_TREE_NODES, nn,
				 img->nodes, sizeof(*img->nodes))) ||
	    (nl && dp_array_read(dp->tleaf_fd, bank * IXDP_TREE_LEAF_REFS, nl,
				 img->leaf, sizeof(*img->leaf)))) {
		tree_image_free(img);
		return;
	}
	img->nnodes = nn;
	img->nleaf = nl;
}

/* The live bank's tree, when it is the live list's (its mark names the
 * bank's generation), as the guide of the next builds (ctree_guide()). */
int dp_guide_tree(struct dp *dp)
{
	struct ixdp_bank b;
	struct ixdp_tnode *nodes;
	__u32 live, gen = 0, nn = 0, origin = 0;
	int err;

	ctree_guide(NULL, 0, 0);
	if ((err = dp_read_bank(dp, &live, &b)) ||
	    (err = dp_read_u32(dp->state_fd, IXDP_STATE_TREE_GEN0 + live, &gen)) ||
	    (err = dp_read_u32(dp->state_fd, IXDP_STATE_TREE_NODES0 + live, &nn)) ||
	    (err = dp_read_u32(dp->state_fd, IXDP_STATE_TREE_ORIGIN0 + live, &origin)))
		return err;
	if (!gen || gen != b.generation || nn < 2 || nn > IXDP_TREE_NODES)
		return 0;
	if (!(nodes = malloc(nn * sizeof(*nodes))))
		return -ENOMEM;
	err = dp_array_read(dp->tnodes_fd, live * IXDP_TREE_NODES, nn, nodes,
			    sizeof(*nodes));
	if (!err)
		ctree_guide(nodes, nn, origin);
	free(nodes);
	return err;
}

/* Bring bank `bank`'s tree arrays from *old to *img, record the extents
 * and mark the tree as generation gen's (after it is whole). */
static int write_image(struct dp *dp, __u32 bank, __u32 gen,
		       const struct tree_image *old, const struct tree_image *img)
{
	int err = write_runs(dp->tleaf_fd, bank * IXDP_TREE_LEAF_REFS, img->leaf,
			     img->nleaf, old->leaf, old->nleaf, sizeof(*img->leaf),
			     &dp->stats.tree_written);

	if (!err)
		err = write_runs(dp->tnodes_fd, bank * IXDP_TREE_NODES, img->nodes,
				 img->nnodes, old->nodes, old->nnodes,
				 sizeof(*img->nodes), &dp->stats.tree_written);
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_TREE_NODES0 + bank,
				   img->nnodes);
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_TREE_LEAF0 + bank,
				   img->nleaf);
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_TREE_ORIGIN0 + bank,
				   img->origin);
	if (!err)
		err = dp_write_u32(dp->state_fd, IXDP_STATE_TREE_GEN0 + bank, gen);
	return err;
}

int dp_tree_unready(struct dp *dp, __u32 bank)
{
	return dp_write_u32(dp->state_fd, IXDP_STATE_TREE_GEN0 + (bank & 1), 0);
}

/* The built tree as the arrays hold it: leaf entries are slots. */
static int slot_image(const struct ctree *tr, const __u32 *slot_of_pos,
		      size_t npos, struct tree_image *img)
{
	memset(img, 0, sizeof(*img));
	img->nodes = tr->nodes;
	img->nnodes = tr->nnodes;
	img->nleaf = tr->nleaf;
	img->origin = tr->origin_nodes;
	/* built after the live tree, which the target bank holds too (both
	 * banks keep one layout: dp_mirror_tree()) */
	img->hint = tr->hint;
	img->leaf = malloc((tr->nleaf + 1) * sizeof(*img->leaf));
	if (!img->leaf)
		return -ENOMEM;
	for (size_t i = 0; i < tr->nleaf; i++)
		img->leaf[i] = tr->leaf[i] < npos ? slot_of_pos[tr->leaf[i]]
						  : IXDP_NO_FILTER;
	return 0;
}

int dp_write_tree(struct dp *dp, __u32 bank, __u32 generation,
		  const struct ctree *tr, const __u32 *slot_of_pos, size_t npos,
		  struct tree_image *laid)
{
	struct tree_image nw, old;
	int err;

	bank &= 1;
	memset(laid, 0, sizeof(*laid));
	/* Whatever the bank's tree held, it is not this list's: a failure
	 * below must not leave it marked with this generation (an apply
	 * that fails after this point reuses the number). */
	if ((err = dp_tree_unready(dp, bank)))
		return err;
	dp->stats.tree_nodes = tr->nnodes;
	dp->stats.tree_entries = tr->nleaf;
	dp->stats.tree_depth = tr->depth;
	dp->stats.tree_leaf_longest = tr->leaf_longest;
	dp->stats.tree_cuts_chosen = tr->cuts_chosen;
	dp->stats.tree_cuts_guided = tr->cuts_guided;
	if ((err = slot_image(tr, slot_of_pos, npos, &nw)))
		return err;
	read_image(dp, bank, &old);
	err = tree_relayout(&old, &nw, laid);
	if (err >= 0) {
		dp->stats.tree_relaid = err == 1;
		err = write_image(dp, bank, generation, &old, laid);
	}
	free(nw.leaf);
	tree_image_free(&old);
	if (err)
		tree_image_free(laid);
	else
		dp->stats.tree_ready = true;
	return err;
}

int dp_mirror_tree(struct dp *dp, __u32 bank, __u32 generation,
		   const struct tree_image *laid)
{
	struct tree_image old;
	int err;

	bank &= 1;
	if ((err = dp_tree_unready(dp, bank)))
		return err;
	read_image(dp, bank, &old);
	err = write_image(dp, bank, generation, &old, laid);
	tree_image_free(&old);
	return err;
}
