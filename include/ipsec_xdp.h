/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ipsec_xdp.h - the one header shared by the BPF programs and userspace.
 *
 * It fixes the layout of every pinned map and the enums both sides use.
 * BPF code includes it after vmlinux.h; userspace after <linux/types.h>.
 *
 * How the dataplane is organised (see bpf/ipsec_xdp.bpf.c):
 *
 *  - Two "banks" of classifier tables.  Userspace fills the inactive bank
 *    completely, then flips IXDP_STATE_POLICY_BANK with one 32-bit write.
 *    A packet reads the bank number once and uses only that bank, so it
 *    sees the old filter list or the new one, never a mix.
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

#define IXDP_PIN_ROOT_DEFAULT "/sys/fs/bpf/ipsec-xdp"

#define IXDP_MAX_TUPLES       128   /* distinct filter shapes per family */
#define IXDP_MAX_FILTERS      65536 /* specific filters per bank */
#define IXDP_MAX_KEYS         262144 /* hash entries, both banks (port ranges expand) */
#define IXDP_MAX_BOOT_EXEMPT  64
#define IXDP_MAX_CONNS        65536 /* stateful boot mode connection table */
#define IXDP_FLOW_CACHE_SIZE  65536 /* per CPU */
#define IXDP_PORT_CLASSES     65536 /* one entry per port value */

#define IXDP_NO_FILTER        0xffffffffu /* flow cache: "matched no filter" */

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
	IXDP_PKT__MAX,
};

/* ixdp_state: array of __u32, each written alone by userspace. */
enum ixdp_state_idx {
	IXDP_STATE_POLICY_BANK = 0, /* 0 or 1: which ixdp_bank is live */
	IXDP_STATE_BOOT_BANK   = 1, /* 0 or 1: which ixdp_boot is live */
	IXDP_STATE__MAX,
};

/* ixdp_banks[bank]: written before the flip, never while live. */
struct ixdp_bank {
	__u32 has_policy;  /* 0: the boot mode rules; 1: the filter list rules */
	__u32 generation;  /* unique per apply; flow cache entries carry it */
	__u32 ntuples[2];  /* [ixdp_family_idx] */
	__u32 nfilters;
	__u32 pad;
};

/* ixdp_tuples[(bank * 2 + fam) * IXDP_MAX_TUPLES + i], i in weight order. */
struct ixdp_tuple {
	__u32 src_mask[4];  /* network byte order; IPv4 uses word 0 */
	__u32 dst_mask[4];
	__u32 weight;
	__u8  proto_exact;  /* 1: key.proto is the packet's; 0: key.proto = 0 */
	__u8  sport_kind;   /* enum ixdp_port_kind */
	__u8  dport_kind;
	__u8  pad;
};

/* Key of ixdp_filters (hash): the packet's fields masked by one tuple. */
struct ixdp_fkey {
	__u8  bank;
	__u8  fam;          /* enum ixdp_family_idx */
	__u16 tuple;        /* index within the family's tuple list */
	__u8  proto;
	__u8  pad;
	__u16 sport;        /* host byte order: port, or class id for ranges */
	__u16 dport;
	__u16 pad2;
	__u32 src[4];       /* masked, network byte order */
	__u32 dst[4];
};

enum ixdp_filter_flags {
	IXDP_F_INPASS    = 1 << 0, /* negotiate: accept inbound plaintext */
	IXDP_F_SOFT      = 1 << 1, /* negotiate: fall back to clear */
	IXDP_F_EXEMPTION = 1 << 2, /* a default exemption, not a policy rule */
};

struct ixdp_fval {
	__u32 filter;       /* index of the specific filter in its bank */
	__u8  action;       /* enum ixdp_action */
	__u8  flags;        /* enum ixdp_filter_flags */
	__u16 pad;
};

/* ixdp_port_class[(bank * 2 + side) * 65536 + port], side 0 = source port,
 * 1 = destination port: the class (elementary interval) a port falls in,
 * used for the tuples whose port kind is IXDP_PORT_RANGE. */

/* ixdp_counters[bank * IXDP_MAX_FILTERS + filter] (per-CPU). */
struct ixdp_counter {
	__u64 packets[2];   /* [ixdp_dir] */
	__u64 bytes[2];
};

/* Flow cache (per-CPU LRU hash): the verdict of a recent 5-tuple. */
struct ixdp_flow_key {
	__u8  fam;
	__u8  proto;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u32 src[4];
	__u32 dst[4];
};

struct ixdp_flow_val {
	__u32 generation;   /* valid only while equal to the live bank's */
	__u32 filter;       /* IXDP_NO_FILTER: unmatched */
	__u8  action;
	__u8  flags;
	__u16 pad;
};

/* ixdp_filter_info[bank * IXDP_MAX_FILTERS + filter]: what each specific
 * filter is, so that `show` reads the list the dataplane really enforces. */
struct ixdp_filter_info {
	__u8  fam;          /* enum ixdp_family_idx */
	__u8  proto_exact;
	__u8  proto;
	__u8  action;       /* enum ixdp_action */
	__u8  flags;        /* enum ixdp_filter_flags */
	__u8  src_plen;
	__u8  dst_plen;
	__u8  pad;
	__u32 src[4];       /* network byte order */
	__u32 dst[4];
	__u16 sport_lo, sport_hi; /* 0,0 = any */
	__u16 dport_lo, dport_hi;
	__u32 weight;
	__u32 rule;         /* index of the rule in the policy, or ~0 */
	char  name[32];     /* rule or exemption name, NUL-terminated */
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

/* Stateful boot mode: connections opened outbound (LRU hash). Key is the
 * flow as seen on egress: local side first.  ICMP echo uses the echo id as
 * both ports. */
struct ixdp_conn_key {
	__u8  fam;
	__u8  proto;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u32 laddr[4];
	__u32 raddr[4];
};

#endif /* IPSEC_XDP_H */
