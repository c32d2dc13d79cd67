/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_treepair.h - pair a built decision tree's cuts two by two (a cut
 * and the cut most of its children make: one level of the walk instead of
 * two), and give a paired tree back in the build's form, for the guide of
 * the next build.  Pure computation; compile_tree.c calls both.
 */
#ifndef IXDP_COMPILE_TREEPAIR_H
#define IXDP_COMPILE_TREEPAIR_H

#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"

struct tree_pairs {
	struct ixdp_tnode *nodes;   /* roots at 0 and 1, leaves as built */
	uint32_t nnodes;
	uint32_t *hint;             /* per node, a node of the paired tree in
				     * force it likely equals (UINT32_MAX:
				     * none), or NULL */
	uint32_t depth;             /* the longest root-to-leaf path, in nodes */
};

/*
 * The paired form of the built tree nodes[0..n).  hint (or NULL): per
 * built node, the node of the guide it followed, where the guide is
 * tree_unpair() of a paired tree of image_nodes nodes; an index below
 * image_nodes names that tree's node.  -ENOSPC when the paired tree
 * would not fit IXDP_TREE_NODES, -ENOMEM: the caller keeps the built tree.
 */
int tree_pair(const struct ixdp_tnode *nodes, uint32_t n, const uint32_t *hint,
	      uint32_t image_nodes, struct tree_pairs *out);

/*
 * A paired tree as read back (n nodes, indexes checked) in the build's
 * form: nodes [0, n) keep their places (a paired node becomes its first
 * cut), the first cuts' children are appended.  For a tree tree_pair()
 * made, the build's tree exactly (as a graph of cuts and leaves).
 */
int tree_unpair(const struct ixdp_tnode *nodes, uint32_t n, struct ixdp_tnode **out,
		uint32_t *nout);

#endif /* IXDP_COMPILE_TREEPAIR_H */
