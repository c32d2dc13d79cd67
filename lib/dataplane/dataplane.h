/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane.h - load, attach, pin, update and read the BPF dataplane.
 *
 * Everything lives under the pin root (default /sys/fs/bpf/ipsec-xdp, or
 * $IPSEC_XDP_BPFFS):  maps/<name>, progs/<name>, links/xdp-<ifname> and
 * links/tc-<ifname> (a tcx link; on kernels before 6.6 a clsact tc filter
 * instead).  The pin root must lie on a BPF file system the host's mount
 * namespace sees, or nothing is attached.  Once loaded, enforcement
 * outlives the process that loaded it; dp_unload removes it all.
 */
#ifndef IXDP_DATAPLANE_H
#define IXDP_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "ipsec_xdp.h"
#include "policy/policy_bootconf.h"
#include "compile/compiler.h"

enum dp_xdp_mode { DP_XDP_AUTO = 0, DP_XDP_NATIVE, DP_XDP_GENERIC };

/* What the last dp_apply_table() wrote, both banks together (the
 * inactive bank, then the old one brought up to date): map entries. */
struct dp_apply_stats {
	size_t keys_added, keys_deleted, keys_changed;  /* ixdp_filters */
	size_t slots_written;   /* ixdp_info and ixdp_counters, per slot */
	size_t order_written;   /* ixdp_order and ixdp_slot_pos */
	size_t tuples_written;  /* ixdp_tuples */
	size_t port_class_written; /* ixdp_port_class */
	bool mirrored;          /* the old bank was brought up to date */
	bool from_memo;         /* the live list and keys came from dp.memo */
	size_t cache_bumped;    /* ixdp_cache_gen entries raised: the slots
				   whose cached flows were invalidated */
	bool cache_emptied;     /* every cached flow was invalidated */
	bool tree_ready;        /* the live bank's decision tree was written
				   (else its tuple space answers new flows) */
	size_t tree_written;    /* ixdp_tnodes and ixdp_tleaf entries written
				   (both banks) */
	bool tree_relaid;       /* laid out over the bank's tree (only the
				   changed paths and leaves written) */
	bool tree_mirrored;     /* the old bank holds the same tree */
	size_t tree_nodes, tree_entries; /* the tree's size */
	unsigned tree_depth, tree_leaf_longest;
	size_t tree_cuts_chosen, tree_cuts_guided; /* compile_tree.h: the
				   nodes whose cut the build scored, and those
				   that took the guide's (dp_guide_tree()) */
	char tree_error[192];   /* why the tree was not written, if it was not */
};

/* File descriptors of the pinned maps. */
/*
 * What an apply leaves for the next one in the same process (ipsec-xdpd's
 * filter edits): the live list as it wrote it and the keys both banks
 * hold, so that the next apply does not read them back (dataplane.c,
 * "the memo").  It stands only for the maps it was made with and while
 * both banks carry its generation: an apply by anyone else changes that,
 * and the next apply reads them as always.
 */
struct dp_memo;
struct dp_memo *dp_memo_new(void);
void dp_memo_free(struct dp_memo *m);
struct dp;
/* dp.memo made from what the maps hold, when both banks hold the live
 * list (else emptied): for a process that finds the list it wants live
 * already, pushed by someone else.  0 or -errno (the memo then empty). */
int dp_memo_refresh(struct dp *dp);

struct dp {
	struct dp_memo *memo;	/* NULL, or the caller's (dp_open leaves NULL) */
	char root[256];
	int state_fd, banks_fd, tuples_fd, filters_fd, port_class_fd;
	int counters_fd, info_fd, boot_fd, conns_fd, flow_cache_fd;
	int drops_fd, pkts_fd, ifmask_fd, ifgroup_fd, order_fd, slot_pos_fd;
	int cache_gen_fd, tnodes_fd, tleaf_fd, tmatch_fd;
	struct dp_apply_stats stats;
};

/* $IPSEC_XDP_BPFFS or the default. */
const char *dp_pin_root(void);

/* Is the dataplane loaded (maps pinned; also when this process may not
 * tell: a pin out of its reach, EACCES)? */
bool dp_is_loaded(const char *root);

/* What one dp_load_iface() did. */
struct dp_load_info {
	bool created;      /* the maps were created (none pinned, or `replaced`) */
	bool replaced;     /* pinned maps of another ABI version were replaced */
	unsigned old_abi;  /* their IXDP_ABI_VERSION (0: from before versions) */
	bool tcx;          /* egress through a tcx link, else a tc filter */
	bool attached;     /* a program was newly attached to the interface */
	char searchable[256]; /* the pin root's ancestors dp_share made searchable */
	char unshared[320];   /* the first path dp_share could not share, and why */
};

/* Writes the configuration into maps a load creates, before they go live:
 * dp_open(root) opens them. */
typedef int (*dp_fill_fn)(const char *root, void *arg, char *errbuf, size_t errlen);

/*
 * Attach XDP and TC egress to ifname through pinned links, replacing the
 * programs of an earlier load in place.  Pins of the current
 * IXDP_ABI_VERSION are reused; otherwise new maps are created, filled by
 * fill(), and swapped in (links updated atomically, then the pins), so
 * that no packet meets empty maps.  Refuses (nothing attached) when the
 * pin root is on no BPF file system whose pins outlive the command.  On
 * failure nothing this call attached stays.
 */
int dp_load_iface(const char *root, const char *ifname, enum dp_xdp_mode mode,
		  dp_fill_fn fill, void *arg, struct dp_load_info *info,
		  char *errbuf, size_t errlen);

/*
 * ipsec-xdpd run with --user (ipsec-xdpd(8) SECURITY): when the group
 * IXDP_DAEMON_GROUP exists, the pin root and its maps/ and progs/ become
 * that group's, mode 0750, links/ 0770 (the daemon attaches interfaces and
 * tidies their link pins), every pin in them 0660; the pin root's
 * ancestors on the BPF file system the group cannot search get o+x (only
 * the search bit), named in info->searchable ("" if none); the first path
 * that could not be shared (no CAP_CHOWN), and why, in info->unshared.
 * Anything else stays root's.  dp_load_iface does it after every load.
 */
void dp_share(const char *root, struct dp_load_info *info);

/*
 * Attach the programs pinned under progs/ (maps of this ABI version
 * pinned) to ifname, as dp_load_iface does but with no BPF object loaded
 * and nothing else changed: ipsec-xdpd, for an interface that appeared
 * (dataplane_autoload.h).  On failure nothing this call attached stays.
 */
int dp_attach_pinned(const char *root, const char *ifname, enum dp_xdp_mode mode,
		     struct dp_load_info *info, char *errbuf, size_t errlen);

/* The link pins of interfaces that went (removed) or were renamed (moved
 * to the new name), so that a new interface of the old name attaches
 * afresh.  The count changed; what was done into note ("" if nothing). */
int dp_tidy_links(const char *root, char *note, size_t len);

/* Check, from the pins alone, that ifname runs the pinned programs through
 * the pinned links (or our tc filter), on maps of this ABI version, and
 * that the pins outlive this process. */
int dp_verify_iface(const char *root, const char *ifname, char *errbuf, size_t errlen);

/* The IXDP_ABI_VERSION of the pinned maps (0: from before versions):
 * 0, or -ENOENT when no maps are pinned. */
int dp_pinned_abi(const char *root, unsigned *abi);

/* Detach from one interface (ifname: its links, and a tc filter of ours
 * left by an earlier version) or, with NULL, from all and remove every
 * pin. */
int dp_unload(const char *root, const char *ifname, char *errbuf, size_t errlen);

/* Interfaces the dataplane is attached to (from links/), malloc'd names. */
int dp_list_ifaces(const char *root, char ***names, size_t *n);

int dp_open(struct dp *dp, const char *root, char *errbuf, size_t errlen);
void dp_close(struct dp *dp);

/* Write into the inactive bank what differs between it and the filter
 * table (unchanged filters keep their slots and counters), flip with one
 * write, wait for the old bank's readers and write the same difference
 * into it (both banks then hold the table).  dp->stats counts what was
 * written.  has_policy = false installs "no policy" (the boot mode rules). */
int dp_apply_table(struct dp *dp, const struct filter_table *t, bool has_policy,
		   char *errbuf, size_t errlen);

/* The decision tree in force guides the builds of the trees that follow
 * in this process (compile_tree.h, ctree_guide()) until the end of the
 * next dp_apply_table(): read it before compiling a list that will
 * replace it.  0 (also when there is no tree in force: then nothing
 * guides) or -errno. */
int dp_guide_tree(struct dp *dp);

/* Write boot mode + exemptions into the inactive boot bank and flip. */
int dp_apply_boot(struct dp *dp, enum ixdp_bootmode mode,
		  const struct ixdp_boot_exempt *ex, size_t nexempt,
		  char *errbuf, size_t errlen);

/* Live state. */
int dp_read_bank(struct dp *dp, uint32_t *bank, struct ixdp_bank *b);
int dp_read_boot(struct dp *dp, struct ixdp_boot *boot);

/* The live list (from ixdp_filter_info) with counters summed over CPUs;
 * out arrays malloc'd, n filters. */
int dp_read_filters(struct dp *dp, struct ixdp_filter_info **info,
		    struct ixdp_counter **ctr, size_t *n);

/* Is t, filter for filter in its order, the live list (the same selectors,
 * actions, weights, rules and names)?  *has_policy: a policy is in force
 * (not the boot mode).  0, or -errno when the maps cannot be read. */
int dp_table_is_live(struct dp *dp, const struct filter_table *t,
		     bool *has_policy, bool *same);

int dp_read_drops(struct dp *dp, uint64_t drops[IXDP_DROP__MAX]);
int dp_read_pkts(struct dp *dp, uint64_t pkts[IXDP_PKT__MAX]);

const char *drop_reason_name(enum ixdp_drop_reason r);
const char *pkt_counter_name(enum ixdp_pkt_counter c);

/* ---- negotiate traffic and xfrm: SA bundles, events (ipsec_xdp.h) ---------- */

struct ring_buffer;

/* Called for each event; a nonzero return stops dp_events_process(). */
typedef int (*dp_event_cb)(void *ctx, const struct ixdp_event *ev);

/* The pinned hand-off maps, opened by dp_handoff_open(). */
struct dp_handoff {
	int bundles_fd, events_fd, event_last_fd, xstats_fd;
	struct ring_buffer *rb;         /* after dp_events_subscribe() */
	dp_event_cb cb;
	void *ctx;
};

int dp_handoff_open(struct dp_handoff *h, const char *root, char *errbuf,
		    size_t errlen);
void dp_handoff_close(struct dp_handoff *h);

/* Key of {rule, peer}: af AF_INET or AF_INET6, peer 4 or 16 bytes in
 * network order, or NULL for the rule's bundle of every peer (tunnel). */
void dp_bundle_key_init(struct ixdp_bundle_key *k, uint32_t rule, int af,
			const void *peer);
/* Add or replace one bundle; takes effect for the next packet. */
int dp_bundle_set(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  const struct ixdp_bundle *b, char *errbuf, size_t errlen);
/* 0, or -ENOENT. */
int dp_bundle_get(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  struct ixdp_bundle *b);
/* Remove one bundle (absent is not an error) and its rate-limit entry. */
int dp_bundle_del(struct dp_handoff *h, const struct ixdp_bundle_key *k,
		  char *errbuf, size_t errlen);
/* Every bundle; arrays malloc'd (free both), n entries. */
int dp_bundle_list(struct dp_handoff *h, struct ixdp_bundle_key **keys,
		   struct ixdp_bundle **vals, size_t *n);
const char *bundle_state_name(uint32_t state);

/* Events: subscribe once, then poll dp_events_fd() for readability (it is
 * an epoll fd) and call dp_events_process(), which never blocks. */
int dp_events_subscribe(struct dp_handoff *h, dp_event_cb cb, void *ctx,
			char *errbuf, size_t errlen);
int dp_events_fd(struct dp_handoff *h);
/* Events handled (>= 0), or -errno. */
int dp_events_process(struct dp_handoff *h);

int dp_read_xfrm_stats(struct dp_handoff *h, uint64_t xs[IXDP_XS__MAX]);
const char *xfrm_stat_name(enum ixdp_xfrm_counter c);

/* The index of the rule named `name` in the live filter list
 * (ixdp_filter_info.rule): 0, or -ENOENT. */
int dp_rule_index(struct dp *dp, const char *name, uint32_t *rule);
/* The id of the live rule named `name` (ixdp_filter_info.rule_id, the key
 * of its bundles, stable while the rule is unchanged): 0, or -ENOENT. */
int dp_rule_id(struct dp *dp, const char *name, uint32_t *id);
/* The name of the live rule with this id: 0, or -ENOENT. */
int dp_rule_by_id(struct dp *dp, uint32_t id, char *name, size_t len);

/* What the maps cost at their maximum (dataplane_mem.c): bytes on every
 * CPU (per-CPU maps) and bytes once. */
struct dp_memory {
	uint64_t bytes_per_cpu, bytes_shared;
	unsigned maps;
};

/* Is a map of this type per CPU? */
bool dp_map_type_percpu(uint32_t type);

/* Add one map's cost, from its definition, to m. */
void dp_map_cost(uint32_t type, uint32_t key_size, uint32_t value_size,
		 uint32_t max_entries, struct dp_memory *m);

/* The cost of every map pinned under root/maps (bpf_map_info of the loaded
 * maps): 0 or -errno. */
int dp_memory(const char *root, struct dp_memory *m);

#endif /* IXDP_DATAPLANE_H */
