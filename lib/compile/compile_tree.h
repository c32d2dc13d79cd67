/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_tree.h - lay the sorted filter table out as the dataplane's
 * decision tree (include/ipsec_xdp.h, "The decision tree";
 * docs/classifier.md): cuts over the packet's fields down to leaves that
 * list, in enforcement order, the filters a packet of the leaf's region
 * can match.  Pure computation: dataplane.c writes the result into one
 * bank of the pinned maps, turning the leaves' positions into slots.
 */
#ifndef IXDP_COMPILE_TREE_H
#define IXDP_COMPILE_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"
#include "compile/compiler.h"

struct ctree {
	struct ixdp_tnode *nodes;  /* nodes[0]: IPv4 root, nodes[1]: IPv6 root */
	uint32_t nnodes;
	uint32_t *leaf;            /* positions in the table, per leaf in
				    * enforcement order (the dataplane writes
				    * their slots) */
	uint32_t nleaf;
	uint32_t depth;            /* the longest root-to-leaf path, in nodes
				    * (a paired node is one: tree_pair()) */
	uint32_t leaf_longest;     /* the most filters of one leaf */
	uint32_t cuts_chosen;      /* nodes whose cut was chosen by scoring */
	uint32_t cuts_guided;      /* nodes that took the guide's cut, or
				    * stayed a leaf where it has one */
	uint32_t origin_nodes;     /* the node count of the build without a
				    * guide this tree descends from (itself,
				    * built without one): ctree_guide() */
	uint32_t *hint;            /* built with a guide: per node, the guide
				    * node it followed (UINT32_MAX: none), where
				    * the bank likely holds the same subtree
				    * (tree_relayout()); else NULL */
};

/* Build from a sorted table, its cuts then paired where that fits
 * (compile_treepair.c).  -1 with errbuf (naming the limit and the
 * figure that exceeded it) when the tree needs more than IXDP_TREE_NODES
 * nodes, IXDP_TREE_LEAF_REFS leaf entries, or a leaf of more than
 * IXDP_TREE_LEAF_MAX filters. */
int ctree_build(const struct filter_table *t, struct ctree *tr,
		char *errbuf, size_t errlen);
void ctree_free(struct ctree *tr);

/*
 * The nodes of a tree in force (a bank's ixdp_tnodes, roots at 0 and 1,
 * as read back: indexes are checked) guide the builds that follow until
 * the next call (NULL: none).  A node takes the cut its guide node made
 * when its list allows it, instead of scoring every cut: the tree of a
 * list one filter apart from the guide's is built in a fraction of the
 * time, with the same cuts where the lists are the same.  The answers
 * never depend on the guide.  origin: the guide's origin_nodes (0:
 * unknown); a guided tree of more than 9/8 of it is built again without
 * the guide.  The nodes are copied, and turned into the build's form
 * (tree_unpair()) when a build first uses them.
 */
void ctree_guide(const struct ixdp_tnode *nodes, uint32_t n, uint32_t origin);

/* Keep tr (built from t; tr is emptied) for the next ctree_build() of a
 * table equal to t, which takes it instead of building: one process that
 * checks a list (compile_limits.c) and then applies it builds its tree
 * once.  Only the last kept tree is kept, and only until the next build. */
void ctree_keep(const struct filter_table *t, struct ctree *tr);

/* The walk the BPF program does, in userspace (for tests;
 * compile_treewalk.c): the position
 * of the first filter of the table that matches and applies, or -1. */
long ctree_lookup(const struct ctree *tr, const struct filter_table *t,
		  const struct pkt_tuple *p);

#endif /* IXDP_COMPILE_TREE_H */
