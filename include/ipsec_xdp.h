/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ipsec_xdp.h - the one header shared by the BPF programs and userspace.
 *
 * It fixes the layout of every pinned map and the enums both sides use.
 * BPF code includes it after vmlinux.h; userspace gets <linux/types.h> here.
 *
 * How the dataplane is organised (see bpf/ipsec_xdp.bpf.c):
 *
 *  - Two "banks" of classifier tables, both kept equal to the live list.
 *    Userspace writes the difference into the inactive bank, flips
 *    IXDP_STATE_POLICY_BANK with one 32-bit write, waits for the readers
 *    of the old bank and writes the same difference into it
 *    (lib/dataplane/dataplane_diff.c).  A packet reads the bank number
 *    once and uses only that bank, so it sees the old filter list or the
 *    new one, never a mix.
 *  - Every specific filter has a *slot*, which it keeps while it is
 *    unchanged: the key values, ixdp_info and ixdp_counters name the slot
 *    (shared by both banks), and ixdp_order / ixdp_slot_pos give each
 *    bank's enforcement order.
 *  - The boot configuration (mode + exemptions) is double-buffered the same
 *    way, flipped by IXDP_STATE_BOOT_BANK.
 *  - Classification is tuple space search: every specific filter belongs to a
 *    "tuple" (its shape: family, prefix lengths, whether the protocol and
 *    each port is any / exact / a range).  All filters of one tuple have the
 *    same weight, and the tuples are stored in weight order, so the first
 *    tuple whose masked key is found in the hash wins.  The cost depends on
 *    the number of distinct shapes, never on the number of filters, and an
 *    exact-match flow cache in front makes repeated flows one lookup.
 */
#ifndef IPSEC_XDP_H
#define IPSEC_XDP_H

/* The fixed-size types: BPF has them from vmlinux.h, userspace from here. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define IXDP_PIN_ROOT_DEFAULT "/sys/fs/bpf/ipsec-xdp"

/*
 * The version of the pinned layout: every struct below, every map's type,
 * key, value and size (the IXDP_MAX_* limits), the indexes of ixdp_state.
 * Bump it with any such change: `load` finds the version of the pins in
 * ixdp_state[IXDP_STATE_ABI_VERSION] and, when it differs, replaces the
 * maps instead of reusing them (lib/dataplane/dataplane_attach.c).  The size checks at the
 * end of this file fail to compile when a shared struct changes size, as a
 * reminder.  Version 0: pins from before versioning (no such index).
 */
#define IXDP_ABI_VERSION 11	/* 2: the drop events (ixdp_drop_events);
				 * 3: default-response bundles (IXDP_XS_DEFAULT_RESPONSE);
				 * 4: interface groups (ixdp_ifmask, ixdp_ifgroup);
				 * 5: shared counters, 8192-slot flow cache;
				 * 6: filter slots (ixdp_order, ixdp_slot_pos),
				 *    keys naming their tuple by shape;
				 * 7: flow cache validity per slot
				 *    (ixdp_cache_gen, ixdp_bank.cache_min_gen);
				 * 8: the decision tree (ixdp_tnodes, ixdp_tleaf,
				 *    IXDP_STATE_TREE_GEN0/1);
				 * 9: ixdp_tnodes, ixdp_tleaf, ixdp_info,
				 *    ixdp_tmatch, ixdp_order, ixdp_slot_pos,
				 *    ixdp_cache_gen and ixdp_port_class
				 *    mmapable (BPF_F_MMAPABLE);
				 * 10: IXDP_STATE_TREE_ORIGIN0/1;
				 * 11: paired cuts (ixdp_tnode 16 bytes,
				 *    2^18 nodes per bank), ixdp_tmatch
				 *    of one cache line */

#define IXDP_MAX_TUPLES       128   /* distinct filter shapes per family */
#define IXDP_MAX_FILTERS      65536 /* specific filters per bank */
#define IXDP_MAX_SLOTS        (2 * IXDP_MAX_FILTERS) /* filter slots: the
				     * live list's and, during an apply, the
				     * new filters' */
#define IXDP_MAX_KEYS         262144 /* hash entries, both banks (port ranges expand) */
#define IXDP_MAX_BOOT_EXEMPT  64
#define IXDP_MAX_CONNS        65536 /* stateful boot mode connection table
				     * (see struct ixdp_conn) */
#define IXDP_FLOW_CACHE_SIZE  8192  /* slots per CPU; a power of 2
				     * (docs/classifier.md, "Memory per CPU") */
#define IXDP_PERCPU_BUDGET    (1u << 20) /* bytes of per-CPU maps, at most */
#define IXDP_PORT_CLASSES     65536 /* one entry per port value */

#define IXDP_NO_FILTER        0xffffffffu /* flow cache: "matched no filter" */
#define IXDP_CACHE_NO_MATCH   IXDP_MAX_SLOTS /* ixdp_cache_gen's entry for
					      * "matched no filter" */

/*
 * Interface groups: which interfaces a filter applies on.  Every rule's
 * `connection-type` and `interfaces` (ipsec-xdp.policy(5)) make one group;
 * group 0 is "every interface" (connection-type all, no interface list),
 * and the rules that share a combination share its group.  A filter of
 * group g is as if absent on an interface whose ixdp_ifmask lacks bit g.
 */
#define IXDP_MAX_IFGROUPS     16    /* groups per bank, group 0 included */
#define IXDP_IFGROUP_NAMES    16    /* interface names per group */
#define IXDP_IFNAMSIZ         16    /* the kernel's IFNAMSIZ */
#define IXDP_MAX_IFACES       4096  /* ixdp_ifmask entries */

enum ixdp_action {
	IXDP_ACT_PERMIT    = 0,
	IXDP_ACT_NEGOTIATE = 1,
	IXDP_ACT_BLOCK     = 2, /* numeric order = restrictiveness */
};

enum ixdp_dir {
	IXDP_DIR_IN  = 0,
	IXDP_DIR_OUT = 1,
};

enum ixdp_bootmode {
	IXDP_BOOT_PERMIT   = 0,
	IXDP_BOOT_BLOCK    = 1,
	IXDP_BOOT_STATEFUL = 2,
};

enum ixdp_port_kind {
	IXDP_PORT_ANY   = 0,
	IXDP_PORT_RANGE = 1, /* key holds the port's class id (ixdp_port_class) */
	IXDP_PORT_EXACT = 2,
};

enum ixdp_family_idx {
	IXDP_FAM_V4 = 0,
	IXDP_FAM_V6 = 1,
};

/* Why a packet was dropped: index of ixdp_drops (per-CPU array of __u64). */
enum ixdp_drop_reason {
	IXDP_DROP_BLOCK_FILTER = 0, /* matched a block filter */
	IXDP_DROP_NEGOTIATE,        /* matched negotiate, no SA (plaintext refused) */
	IXDP_DROP_BCAST_NEGOTIATE,  /* broadcast/multicast matched negotiate */
	IXDP_DROP_BOOT_BLOCK,       /* boot mode block */
	IXDP_DROP_BOOT_STATEFUL,    /* boot mode stateful: unsolicited inbound */
	IXDP_DROP_MALFORMED,        /* truncated or inconsistent headers */
	IXDP_DROP_FRAGMENT,         /* non-first fragment in stateful boot mode */
	IXDP_DROP_UNCLASSIFIED,     /* policy mode: the bank's decision tree
				     * unusable and its tuple space off */
	IXDP_DROP__MAX,
};

/* Per-CPU packet counters by path: index of ixdp_pkts. */
enum ixdp_pkt_counter {
	IXDP_PKT_IN = 0,        /* every packet seen on ingress */
	IXDP_PKT_OUT,           /* every packet seen on egress */
	IXDP_PKT_NON_IP,        /* ARP and other non-IP: always passed */
	IXDP_PKT_IPSEC,         /* ESP/AH passed to xfrm */
	IXDP_PKT_UNMATCHED,     /* policy mode: matched no filter, passed */
	IXDP_PKT_CACHE_HIT,     /* flow cache answered */
	IXDP_PKT_BOOT_PASS,     /* boot mode: passed */
	IXDP_PKT_ND,            /* IPv6 neighbour discovery: always passed */
	IXDP_PKT_CONN_FULL,     /* stateful boot mode: a new outbound flow
				 * passed but was not remembered (connection
				 * table full): its replies are dropped */
	IXDP_PKT_TREE_SEARCH,   /* policy mode: searched the decision tree */
	IXDP_PKT_TUPLE_SEARCH,  /* policy mode: searched the tuple space
				 * (the tree of the bank not yet written) */
	IXDP_PKT__MAX,
};

/* ixdp_state: array of __u32, each written alone by userspace. */
enum ixdp_state_idx {
	IXDP_STATE_POLICY_BANK = 0, /* 0 or 1: which ixdp_bank is live */
	IXDP_STATE_BOOT_BANK   = 1, /* 0 or 1: which ixdp_boot is live */
	IXDP_STATE_NEXT_RULE_ID = 2, /* the next ixdp_filter_info.rule_id to hand
				      * out (userspace only; ids never repeat) */
	IXDP_STATE_ABI_VERSION = 3, /* IXDP_ABI_VERSION of the maps (userspace only) */
	IXDP_STATE_TREE_GEN0   = 4, /* the generation of bank 0 (1) whose list */
	IXDP_STATE_TREE_GEN1   = 5, /* its decision tree holds; 0: none */
	IXDP_STATE_TREE_NODES0 = 6, /* how many ixdp_tnodes entries bank 0 */
	IXDP_STATE_TREE_NODES1 = 7, /* (1) uses, and ixdp_tleaf entries */
	IXDP_STATE_TREE_LEAF0  = 8, /* (userspace only: the next apply */
	IXDP_STATE_TREE_LEAF1  = 9, /* reads them back to write the difference) */
	IXDP_STATE_TREE_ORIGIN0 = 10, /* the node count of the tree built with */
	IXDP_STATE_TREE_ORIGIN1 = 11, /* no guide that bank 0's (1's) tree
				       * descends from (userspace only: the
				       * next build's guide, compile_tree.h) */
	IXDP_STATE__MAX,
};

/* ixdp_banks[bank]: written before the flip, never while live. */
struct ixdp_bank {
	__u32 has_policy;  /* 0: the boot mode rules; 1: the filter list rules */
	__u32 generation;  /* grows by one per apply; flow cache entries carry it */
	__u32 ntuples[2];  /* [ixdp_family_idx] */
	__u32 nfilters;
	__u32 port_class_sig; /* userspace only: a hash of the bank's
				 ixdp_port_class entries, 0 = unknown */
	__u32 cache_min_gen; /* flow cache entries of an older generation
				are invalid (set to `generation` by an apply
				that empties the cache) */
	__u32 tss_off;      /* 1: the list is over the tuple space's limits
			       and the bank's tuple space is empty: new flows
			       go to the decision tree alone, and without a
			       ready tree are dropped (fail closed) */
};

/* ixdp_tuples[(bank * 2 + fam) * IXDP_MAX_TUPLES + i], i in weight order. */
struct ixdp_tuple {
	__u32 src_mask[4];  /* network byte order; IPv4 uses word 0 */
	__u32 dst_mask[4];
	__u32 weight;
	__u8  proto_exact;  /* 1: key.proto is the packet's; 0: key.proto = 0 */
	__u8  sport_kind;   /* enum ixdp_port_kind */
	__u8  dport_kind;
	__u8  protos;       /* enum ixdp_proto_bit: protocols of its filters;
			       a packet of another skips the tuple (no hash
			       lookup).  0 = all (tables written before it) */
	__u16 groups;       /* bit g: a filter of interface group g is in the
			       tuple; only those groups are probed */
	__u32 shape;        /* ixdp_shape(): what its keys' `shape` holds */
};

/* The shape of a tuple as its keys name it, so that a tuple added or
 * removed does not change the keys of the others: everything that makes
 * two tuples differ (the weight too: an exemption's tuple and a rule's of
 * the same prefixes and ports are two tuples, and must not find each
 * other's keys). */
static inline __u32 ixdp_shape(__u8 src_plen, __u8 dst_plen, __u8 proto_exact,
			       __u8 sport_kind, __u8 dport_kind, __u8 exemption)
{
	return (__u32)src_plen | (__u32)dst_plen << 8 |
	       (__u32)(proto_exact & 1) << 16 | (__u32)(sport_kind & 3) << 17 |
	       (__u32)(dport_kind & 3) << 19 | (__u32)(exemption & 1) << 21;
}

enum ixdp_proto_bit {
	IXDP_PB_TCP   = 1 << 0,
	IXDP_PB_UDP   = 1 << 1,
	IXDP_PB_ICMP  = 1 << 2, /* ICMP and ICMPv6 */
	IXDP_PB_OTHER = 1 << 3,
	IXDP_PB_ALL   = 0x0f,
};

static inline __u8 ixdp_proto_bit(__u8 proto)
{
	switch (proto) {
	case 6:
		return IXDP_PB_TCP;
	case 17:
		return IXDP_PB_UDP;
	case 1:
	case 58:
		return IXDP_PB_ICMP;
	default:
		return IXDP_PB_OTHER;
	}
}

/* Key of ixdp_filters (hash): the packet's fields masked by one tuple. */
struct ixdp_fkey {
	__u8  bank;
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  proto;
	__u8  ifgroup;      /* the filter's interface group */
	__u16 sport;        /* host byte order: port, or class id for ranges */
	__u16 dport;
	__u32 shape;        /* the tuple's shape (ixdp_tuple.shape) */
	__u32 src[4];       /* masked, network byte order */
	__u32 dst[4];
};

enum ixdp_filter_flags {
	IXDP_F_INPASS    = 1 << 0, /* negotiate: accept inbound plaintext */
	IXDP_F_SOFT      = 1 << 1, /* negotiate: fall back to clear */
	IXDP_F_EXEMPTION = 1 << 2, /* a default exemption, not a policy rule */
	IXDP_F_UNCLASSIFIED = 1 << 3, /* the programs only: no structure could
				       * classify the packet (fail closed) */
};

struct ixdp_fval {
	__u32 slot;         /* the filter's slot (ixdp_info, ixdp_counters);
			       in a userspace tuplespace, its position */
	__u8  action;       /* enum ixdp_action */
	__u8  flags;        /* enum ixdp_filter_flags */
	__u16 pad;
};

/* ixdp_port_class[(bank * 2 + side) * 65536 + port], side 0 = source port,
 * 1 = destination port: the class (elementary interval) a port falls in,
 * used for the tuples whose port kind is IXDP_PORT_RANGE. */

/*
 * The decision tree (docs/classifier.md, "The decision tree"): per bank
 * and family, a tree of cuts over the packet's fields whose leaves list
 * the filters that can match a packet of their region, in enforcement
 * order.  A new flow walks one root-to-leaf path (one array read per
 * level) and checks the leaf's filters in order: the first that matches
 * and applies on the interface is the answer, as filter_table_match().
 *
 * ixdp_tnodes[bank * IXDP_TREE_NODES + i]; node 0 is the IPv4 root, node 1
 * the IPv6 root (a leaf of no filters when the family has none).  A cut
 * node sends a packet to child base + ixdp_tnode_child(): the next `bits`
 * bits of field `field` at `shift` (in host byte order, enum
 * ixdp_tree_field), followed, in a paired node (bits2 > 0), by `bits2`
 * bits of `field2` at `shift2`: two cuts in one level
 * (lib/compile/compile_treepair.c).  A leaf's filters are the slots
 * ixdp_tleaf[bank * IXDP_TREE_LEAF_REFS + base .. + n), in enforcement
 * order; the programs check each against its ixdp_tmatch entry.
 *
 * The tree of a bank is used only while ixdp_state[IXDP_STATE_TREE_GEN0 +
 * bank] equals the bank's generation: an apply writes the tuple space
 * first (a packet falls back to it), then the tree, then that entry.
 */
#define IXDP_TREE_NODES       (1 << 18) /* nodes per bank, both families */
#define IXDP_TREE_LEAF_REFS   (1 << 19) /* leaf entries per bank */
#define IXDP_TREE_DEPTH       32        /* cuts on a path, at most */
#define IXDP_TREE_LEAF_MAX    1024      /* filters of one leaf, at most */
#define IXDP_TREE_CUT_BITS    8         /* children of a cut: 2..256 */
#define IXDP_TREE_PAIR_BITS   12        /* bits + bits2 of a paired node */

enum ixdp_tree_field {
	IXDP_TF_SRC0 = 0,   /* source address, 32-bit word 0..3 */
	IXDP_TF_DST0 = 4,   /* destination address, word 0..3 */
	IXDP_TF_SPORT = 8,
	IXDP_TF_DPORT = 9,
	IXDP_TF_PROTO = 10,
	IXDP_TF__MAX,
};

struct ixdp_tnode {
	__u8  leaf;         /* 1: a leaf */
	__u8  field;        /* a cut: enum ixdp_tree_field */
	__u8  shift;        /* a cut: the lowest bit of the child index */
	__u8  bits;         /* a cut: 1..IXDP_TREE_CUT_BITS */
	__u32 base;         /* a cut: the first child (a node index of the
			       bank); a leaf: its first ixdp_tleaf entry */
	__u32 n;            /* a leaf: its number of filters */
	__u8  field2;       /* a paired cut: the second cut's field, */
	__u8  shift2;       /* lowest bit */
	__u8  bits2;        /* and bits (0: not paired) */
	__u8  pad;
};

/* The child of cut n a packet goes to, from base: f[] is the packet's
 * fields, indexed by enum ixdp_tree_field, in host byte order.  A cut
 * that is not paired has bits2 0, so its second term is 0. */
static inline __u32 ixdp_tnode_child(const struct ixdp_tnode *n, const __u32 *f)
{
	__u32 hi = (f[n->field & 15] >> (n->shift & 31)) & ((1u << (n->bits & 15)) - 1);
	__u32 lo = (f[n->field2 & 15] >> (n->shift2 & 31)) & ((1u << (n->bits2 & 15)) - 1);

	return hi << (n->bits2 & 15) | lo;
}

/* ixdp_tmatch[slot], shared by both banks and written with ixdp_info:
 * the filter in the form a leaf compares fastest (host byte order, `any`
 * as the full range).  64 bytes: an mmapable array's entries start on a
 * page, so an entry is one cache line, and a leaf's check reads one line
 * per filter. */
struct ixdp_tmatch {
	__u32 src[4];       /* host byte order, masked */
	__u32 dst[4];
	__u16 sport_lo, sport_hi; /* any: 0, 65535 */
	__u16 dport_lo, dport_hi;
	__u8  proto;
	__u8  proto_any;    /* 1: every protocol */
	__u8  ifgroup;
	__u8  frag_ok;      /* 1: both ports any, so a non-first fragment
			       (which has no ports) can match */
	__u8  action;
	__u8  flags;
	__u8  fam;
	__u8  sshift[4];    /* word j's mask: (__u32)(~0ULL << sshift[j]), */
	__u8  dshift[4];    /* 0..32 (the prefix length's part of word j) */
	__u8  pad[9];
};

/* ixdp_counters[slot]: one shared array for both banks, added to
 * atomically (not per CPU: 2 x 65536 slots would cost 4 MiB per CPU).
 * A filter keeps its slot, so its counter, while it is unchanged.
 *
 * ixdp_order[bank * IXDP_MAX_FILTERS + position] = slot: the bank's list
 * in enforcement order (userspace: show, match, the live list).
 * ixdp_slot_pos[bank * IXDP_MAX_SLOTS + slot] = position, for the slots
 * of the bank's list (the programs: two hits of one tuple in different
 * interface groups, and the drop and need-SA events' `filter`).
 * ixdp_cache_gen[slot], and [IXDP_CACHE_NO_MATCH]: the generation from
 * which the flow cache's entries of that slot are valid (shared by both
 * banks; see the flow cache below). */
struct ixdp_counter {
	__u64 packets[2];   /* [ixdp_dir] */
	__u64 bytes[2];
};

/*
 * Flow cache: the verdict of a recent 5-tuple, in a direct-mapped per-CPU
 * array: ixdp_flow_cache[ixdp_flow_slot(key)] holds one key and its
 * verdict.  A hit costs a cheap hash, an inlined array access and a key
 * compare (no hash-map helper, no LRU bookkeeping); a colliding flow
 * simply takes the slot.
 *
 * Validity (docs/classifier.md, "Flow cache"): an entry
 * carries the generation of the bank that computed it, and a packet
 * classifying with bank b takes it only if
 *     entry.generation >= b.cache_min_gen  and
 *     entry.generation >= ixdp_cache_gen[entry's slot, or
 *                                       IXDP_CACHE_NO_MATCH]
 * (and entry.generation != 0: a never-written entry).  An apply raises
 * ixdp_cache_gen[s] to its new generation for every slot whose flows may
 * now get another answer (deleted slots, fresh slots, the slots at or after
 * the first fresh or reordered one in the new order, and "no match" when a
 * filter is fresh), before it flips the bank; the entries of every other slot give
 * the same answer in the old and the new bank, and stay.  An apply that
 * cannot tell sets cache_min_gen: the whole cache is invalid.
 */
struct ixdp_flow_key {
	__u8  fam;
	__u8  proto;
	__u16 sport;
	__u16 dport;
	__u16 ifmask;       /* the groups of the packet's interface: the
			       same flow may meet other filters elsewhere */
	__u32 src[4];
	__u32 dst[4];
} __attribute__((aligned(8))); /* hashed and compared as 5 u64 words */

struct ixdp_flow_val {
	__u32 generation;   /* of the bank that computed it (see above) */
	__u32 slot;         /* IXDP_NO_FILTER: unmatched */
	__u8  action;
	__u8  flags;
	__u16 pad;
};

struct ixdp_flow_entry {
	struct ixdp_flow_key key;
	struct ixdp_flow_val val;
};

/* The slot of a flow: a multiplicative hash over the key's 64-bit words,
 * the same in BPF and in userspace (tests, benchmarks). */
static inline __attribute__((always_inline)) __u32
ixdp_flow_slot(const struct ixdp_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0;

#ifdef __clang__
#pragma clang loop unroll(full)
#endif
	for (int i = 0; i < (int)(sizeof(*k) / 8); i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (__u32)(h >> 32) & (IXDP_FLOW_CACHE_SIZE - 1);
}

/* ixdp_info[slot]: what each specific filter is, so that `show` reads the
 * list the dataplane really enforces.  Shared by both banks: a slot is
 * written only while no bank's list holds it. */
struct ixdp_filter_info {
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  proto_exact;
	__u8  proto;
	__u8  action;       /* enum ixdp_action */
	__u8  flags;        /* enum ixdp_filter_flags */
	__u8  src_plen;
	__u8  dst_plen;
	__u8  ifgroup;      /* interface group (ixdp_ifgroup); 0 = everywhere */
	__u32 src[4];       /* network byte order */
	__u32 dst[4];
	__u16 sport_lo, sport_hi; /* 0,0 = any */
	__u16 dport_lo, dport_hi;
	__u32 weight;
	__u32 rule;         /* index of the rule in the policy, or ~0 */
	char  name[32];     /* rule or exemption name, NUL-terminated */
	__u32 rule_id;      /* the key of the rule's SA bundles (below); 0 for
			       an exemption */
	__u32 rule_sig;     /* hash of the rule's name, action and filters */
};

/* The kind of interface a connection type selects. */
enum ixdp_conn_type {
	IXDP_CONN_ALL    = 0,
	IXDP_CONN_LAN    = 1, /* not point-to-point, with a link layer */
	IXDP_CONN_REMOTE = 2, /* point-to-point, PPP, or no link layer */
};

/* ixdp_ifgroup[bank * IXDP_MAX_IFGROUPS + g]: what group g of a bank
 * selects (userspace only: computing ixdp_ifmask for an interface that is
 * loaded or changes later).  An interface is in the group when its kind
 * fits `conn` and, if nnames > 0, its name is one of names. */
struct ixdp_ifgroup {
	__u8  used;         /* 1: the group exists in this bank */
	__u8  conn;         /* enum ixdp_conn_type */
	__u8  nnames;
	__u8  pad;
	char  names[IXDP_IFGROUP_NAMES][IXDP_IFNAMSIZ];
};

enum ixdp_if_flags {
	IXDP_IF_L3 = 1 << 0, /* no link-layer header: packets start with the
				IP header (tun, WireGuard, PPP, IP tunnels) */
};

/* ixdp_ifmask (hash, key: __u32 ifindex): bit g of groups[bank] says that
 * group g applies on the interface.  Bit 0 is implied; an interface
 * without an entry has only group 0 and Ethernet framing. */
struct ixdp_ifmask {
	__u16 groups[2];    /* [bank] */
	__u16 flags;        /* enum ixdp_if_flags */
	__u16 pad;
};

/* Boot configuration. */
enum ixdp_exempt_dir {
	IXDP_EXEMPT_IN  = 1,
	IXDP_EXEMPT_OUT = 2,
};

struct ixdp_boot_exempt {
	__u8  proto;        /* 0 = any protocol */
	__u8  dirs;         /* IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT */
	__u16 sport;        /* 0 = any */
	__u16 dport;        /* 0 = any */
	__u16 pad;
};

/* ixdp_boot[bank] */
struct ixdp_boot {
	__u32 mode;         /* enum ixdp_bootmode */
	__u32 nexempt;
	struct ixdp_boot_exempt exempt[IXDP_MAX_BOOT_EXEMPT];
};

/*
 * Stateful boot mode: the connections opened outbound, ixdp_conns (a plain
 * preallocated hash of IXDP_MAX_CONNS entries).  Key: the flow as seen on
 * egress, local side first; ICMP echo uses the echo id as both ports.
 *
 * An entry lives while its flow is active and no longer:
 *  - every packet of the flow, outbound or an admitted inbound reply, moves
 *    `expires` to now + the protocol's idle timeout (below);
 *  - inbound passes only while now < expires, so an idle entry admits
 *    nothing even before it is gone;
 *  - a sweeper deletes the idle entries every IXDP_CONN_SWEEP_NS: one
 *    bpf_timer (map ixdp_conn_sweep), started by the first outbound packet
 *    in stateful mode, re-arming itself, walking the table with
 *    bpf_for_each_map_elem().  No userspace process is involved: boot mode
 *    works with no daemon running.
 * Why not an LRU hash (as before): a flood of new outbound flows would push
 * out a quiet long-lived connection.  A plain hash removes only idle
 * entries; when it is full a new outbound flow still leaves (outbound always
 * passes in stateful mode) but is not remembered, counted in pkts
 * conn_table_full, and its replies are dropped until the sweeper frees
 * entries.
 * Why one sweeper and not a timer per entry: the kernel allocates every
 * bpf_timer when it is set up, since 6.18 with kmalloc_nolock(), and in a
 * flood of 65600 new flows on a 6.18 host that failed (-ENOMEM) for about
 * 40% of them; an entry without a timer would never leave.  The table's
 * memory is preallocated, so a flow is remembered exactly while there is
 * room, and the one timer is retried by the next packet if it cannot be
 * set up.  A sweep visits each bucket and entry once (65536 of each at
 * most), in the timer softirq of one CPU.
 */
#define IXDP_CONN_SWEEP_NS      (5ull * 1000000000ull)

struct ixdp_conn_key {
	__u8  fam;
	__u8  proto;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u32 laddr[4];
	__u32 raddr[4];
};

/* Idle timeouts (nanoseconds of CLOCK_MONOTONIC, bpf_ktime_get_ns()).
 * TCP: 2 h 4 min, the minimum RFC 5382 (REQ-5) allows a NAT for an
 * established connection, so a quiet ssh session or a long poll outlives it
 * as it would a NAT.  UDP and other protocols: 5 min, RFC 4787's
 * recommended minimum for a UDP mapping (REQ-5).  ICMP (echo, and the
 * errors a host sends): 30 s, long enough for any ping's reply. */
#define IXDP_CONN_IDLE_TCP_NS   (7440ull * 1000000000ull)
#define IXDP_CONN_IDLE_UDP_NS   (300ull * 1000000000ull)
#define IXDP_CONN_IDLE_ICMP_NS  (30ull * 1000000000ull)

static inline __u64 ixdp_conn_idle_ns(__u8 proto)
{
	switch (proto) {
	case 6:
		return IXDP_CONN_IDLE_TCP_NS;
	case 1:
	case 58:
		return IXDP_CONN_IDLE_ICMP_NS;
	default:
		return IXDP_CONN_IDLE_UDP_NS;
	}
}

/* Value of ixdp_conns. */
struct ixdp_conn {
	__u64 expires;      /* bpf_ktime_get_ns() from which it admits nothing */
};

/*
 * ---- Negotiate traffic and xfrm: SA bundles and events ---------------------
 *
 * The daemon (ipsec-xdpd) tells the dataplane, per protected peer, where a
 * negotiate flow's SA lives; the dataplane tells the daemon, through a ring
 * buffer, which negotiate traffic found none.  (Userspace: dp_bundle_*,
 * dp_events_* in lib/dataplane/dataplane.h.)
 *
 * Outbound (TC egress), a packet whose filter is negotiate looks up its
 * bundle by {rule id of the filter, peer = destination address}, and if
 * there is none by {rule id, peer = all zero} (a tunnel rule: one bundle,
 * one CHILD SA with the tunnel endpoint, for every host behind it).  Then:
 *   UP           redirect into the bundle's xfrm interface (ifindex); with
 *                IXDP_BUNDLE_F_XFRM_INFO (a collect-metadata, "external"
 *                interface) bpf_skb_set_xfrm_info() first sets the if_id.
 *                The interface runs xfrm_lookup_with_ifid(): the policy of
 *                that if_id picks the SA, and the ESP packet leaves through
 *                this same TC program (ESP passes).
 *   SOFT         the action's soft timeout ran out with no SA: pass in clear
 *                (both directions), counted IXDP_XS_SOFT_PASS.
 *   NEGOTIATING  or no bundle: dropped (drops negotiate_no_sa) and an
 *                IXDP_EV_NEED_SA event is sent, at most once per
 *                IXDP_EVENT_INTERVAL_NS per {rule, peer}.
 * Inbound (XDP), plaintext of a negotiate filter is dropped unless inpass
 * (then an event asks for the reply to be secured when no bundle is up) or
 * the bundle is SOFT.  ESP/AH pass to the kernel; after decryption the
 * kernel's inbound policy check (__xfrm_policy_check) makes the inner packet
 * match the SA that carried it: the SA's own selector (the filter) and the
 * "in" policy of the SA's if_id with a template naming the SA's reqid.
 *
 * TRANSPORT MODE needs a plain (not collect-metadata) xfrm interface: see
 * the comment "Why transport mode ..." in bpf/ipsec_xdp.bpf.c.
 *
 * RULE IDS.  Bundles are keyed by ixdp_filter_info.rule_id, not by the
 * rule's index, so that a policy re-applied with its rules in another order
 * keeps every live SA working with no bundle to move: dp_apply_table()
 * gives a rule the id it had in the live bank when its name and signature
 * (rule_sig: name, action, flags and, for a negotiate rule, every specific
 * filter) are unchanged,
 * and a fresh id (IXDP_STATE_NEXT_RULE_ID, never reused) otherwise.  After
 * the flip it deletes the bundles of ids no longer live: a deleted rule, or
 * one whose filters or action changed, loses its bundles (fail closed: its
 * traffic finds none and asks for a new SA).
 */
/*
 * DEFAULT RESPONSE.  The CHILD SAs this host made because a peer asked
 * (the policy's default response rule, docs/behaviour.md §6) belong to no
 * filter.  Their bundles are keyed {IXDP_RULE_ID_DEFAULT_RESPONSE, peer}
 * and consulted only by outbound packets that match no filter: the
 * heaviest filter still wins, and a reply that no filter covers leaves
 * through the SA the peer asked for instead of in clear.  Never a rule's
 * id (ids count up from 1), never deleted by an apply.
 */
#define IXDP_RULE_ID_DEFAULT_RESPONSE 0xffffffffu
#define IXDP_MAX_BUNDLES       16384
#define IXDP_EVENT_RING_BYTES  (256 * 1024)
#define IXDP_EVENT_INTERVAL_NS 100000000ull /* per {rule, peer}: 100 ms */

enum ixdp_bundle_state {
	IXDP_BUNDLE_NONE        = 0, /* (events only: no bundle found) */
	IXDP_BUNDLE_NEGOTIATING = 1, /* IKE is running: drop, keep reporting */
	IXDP_BUNDLE_UP          = 2, /* SA installed: outbound goes to xfrm */
	IXDP_BUNDLE_SOFT        = 3, /* soft fallback: the pair talks in clear */
};

enum ixdp_bundle_flags {
	/* ifindex is a collect-metadata xfrm interface: set if_id per packet
	 * (needs the xfrm_interface module loaded when the programs load). */
	IXDP_BUNDLE_F_XFRM_INFO = 1 << 0,
};

/* ixdp_bundles (hash): key. */
struct ixdp_bundle_key {
	__u32 rule;         /* ixdp_filter_info.rule_id of the negotiate filter */
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  pad[3];
	__u32 peer[4];      /* network byte order; all zero = every peer */
};

struct ixdp_bundle {
	__u32 state;        /* enum ixdp_bundle_state */
	__u32 flags;        /* enum ixdp_bundle_flags */
	__u32 if_id;        /* xfrm if_id of the bundle's policies and SAs */
	__u32 ifindex;      /* the xfrm interface packets are redirected into */
};

enum ixdp_event_type {
	IXDP_EV_NEED_SA = 1, /* negotiate traffic found no SA bundle up */
};

/* One record of the ixdp_events ring buffer. */
struct ixdp_event {
	__u64 ts_ns;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 type;         /* enum ixdp_event_type */
	__u32 rule;         /* ixdp_filter_info.rule_id (the bundle key's) */
	__u32 filter;       /* position of the specific filter in its bank */
	__u32 generation;   /* of that bank */
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  proto;
	__u8  dir;          /* enum ixdp_dir */
	__u8  bundle_state; /* enum ixdp_bundle_state: NONE or NEGOTIATING */
	__u8  passed;       /* 1: the packet passed (inpass), 0: dropped */
	__u8  flags;        /* the filter's enum ixdp_filter_flags */
	__u16 pad;
	__u16 sport, dport; /* host order */
	__u32 src[4];       /* network byte order */
	__u32 dst[4];
	__u32 pad2;
};

/* Per-CPU counters of the hand-off: index of ixdp_xfrm_stats. */
enum ixdp_xfrm_counter {
	IXDP_XS_REDIRECT = 0,   /* outbound negotiate packet sent into xfrm */
	IXDP_XS_SOFT_PASS,      /* negotiate packet passed in clear (soft SA) */
	IXDP_XS_NO_BUNDLE,      /* negotiate packet with no bundle */
	IXDP_XS_NEGOTIATING,    /* negotiate packet while IKE is running */
	IXDP_XS_PLAIN_REFUSED,  /* inbound plaintext while the bundle is up */
	IXDP_XS_XFRM_INFO_FAIL, /* no bpf_skb_set_xfrm_info (module not loaded
				 * at load time) or it failed: dropped */
	IXDP_XS_EVENTS,         /* events written */
	IXDP_XS_EVENTS_LIMITED, /* events held back by the rate limit */
	IXDP_XS_EVENTS_LOST,    /* ring buffer full */
	IXDP_XS_DEFAULT_RESPONSE, /* outbound packet of no filter sent into
				     xfrm: a default response's bundle */
	IXDP_XS__MAX,
};

/*
 * ---- Drop events, for `ipsec-xdp monitor` ----------------------------------
 *
 * Every dropped packet is counted (ixdp_drops); some are also described, one
 * struct ixdp_drop_event each, in the ring buffer ixdp_drop_events, which
 * `ipsec-xdp monitor` reads (its one reader: a ring buffer has one read
 * position).  So that a flood cannot flood userspace nor cost more than a
 * counter, each CPU may write at most IXDP_DROP_EV_BURST events at once and
 * one every IXDP_DROP_EV_INTERVAL_NS after that (a token bucket, kept as
 * the "theoretical arrival time" of GCRA in ixdp_drop_limit, per CPU: no
 * atomics), on the coarse monotonic clock (bpf_ktime_get_coarse_ns(): a
 * jiffy's resolution is plenty for 10 ms, and it costs a dropped packet
 * a few ns where the fine clock costs tens in a VM).  A drop over the
 * limit is only counted: in the limiter's `suppressed`, and in `pending`,
 * which the CPU's next event carries as its `suppressed` field.  With no
 * reader the ring fills and further events are counted as `lost`; a
 * reader skips those older than its start.
 */
#define IXDP_DROP_RING_BYTES      (256 * 1024)
#define IXDP_DROP_EV_BURST        32          /* events at once, per CPU */
#define IXDP_DROP_EV_INTERVAL_NS  10000000ull /* then one per 10 ms per CPU */

/* One record of ixdp_drop_events. */
struct ixdp_drop_event {
	__u64 ts_ns;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 reason;       /* enum ixdp_drop_reason */
	__u32 filter;       /* position of the specific filter in `bank`, or
			     * IXDP_NO_FILTER (boot mode, malformed...) */
	__u32 generation;   /* of that bank (0 with no filter) */
	__u32 suppressed;   /* drops on this CPU not described since its
			     * previous event (rate limit) */
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  proto;
	__u8  dir;          /* enum ixdp_dir */
	__u8  bank;
	__u16 sport, dport; /* host order; 0 when the protocol has none */
	__u32 src[4];       /* network byte order; IPv4 in word 0 */
	__u32 dst[4];
	__u32 cpu;
	__u32 slot;         /* the filter's slot (ixdp_info), or IXDP_NO_FILTER */
};

/* ixdp_drop_limit[0] (per-CPU): the rate limit of drop events. */
struct ixdp_drop_limiter {
	__u64 tat;          /* GCRA: when the bucket is full again (ns) */
	__u64 events;       /* events written */
	__u64 suppressed;   /* drops held back by the rate limit */
	__u64 lost;         /* events the full ring buffer refused */
	__u32 pending;      /* suppressed since this CPU's last event */
	__u32 pad;
};

/*
 * The sizes BPF and userspace agree on (both compile this header).  A
 * failure here means a shared layout changed: bump IXDP_ABI_VERSION, then
 * update the size.
 */
#define IXDP_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), \
		       "struct " #type " changed size: bump IXDP_ABI_VERSION")
IXDP_ASSERT_SIZE(ixdp_bank, 32);
IXDP_ASSERT_SIZE(ixdp_tuple, 48);
IXDP_ASSERT_SIZE(ixdp_fkey, 44);
IXDP_ASSERT_SIZE(ixdp_fval, 8);
IXDP_ASSERT_SIZE(ixdp_counter, 32);
IXDP_ASSERT_SIZE(ixdp_flow_key, 40);
IXDP_ASSERT_SIZE(ixdp_flow_val, 12);
IXDP_ASSERT_SIZE(ixdp_flow_entry, 56);
IXDP_ASSERT_SIZE(ixdp_filter_info, 96);
IXDP_ASSERT_SIZE(ixdp_boot_exempt, 8);
IXDP_ASSERT_SIZE(ixdp_boot, 8 + 8 * IXDP_MAX_BOOT_EXEMPT);
IXDP_ASSERT_SIZE(ixdp_conn_key, 40);
IXDP_ASSERT_SIZE(ixdp_conn, 8);
IXDP_ASSERT_SIZE(ixdp_bundle_key, 24);
IXDP_ASSERT_SIZE(ixdp_bundle, 16);
IXDP_ASSERT_SIZE(ixdp_event, 72);
IXDP_ASSERT_SIZE(ixdp_drop_event, 72);
IXDP_ASSERT_SIZE(ixdp_drop_limiter, 40);
IXDP_ASSERT_SIZE(ixdp_ifgroup, 4 + IXDP_IFGROUP_NAMES * IXDP_IFNAMSIZ);
IXDP_ASSERT_SIZE(ixdp_ifmask, 8);
IXDP_ASSERT_SIZE(ixdp_tnode, 16);
IXDP_ASSERT_SIZE(ixdp_tmatch, 64);
_Static_assert(IXDP_STATE__MAX == 12, "ixdp_state changed: bump IXDP_ABI_VERSION");

#endif /* IPSEC_XDP_H */
