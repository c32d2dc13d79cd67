/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_internal.h - what the map I/O files share (dataplane.c,
 * dataplane_diff.c, dataplane_read.c, dataplane_handoff.c,
 * dataplane_dropev.c, dataplane_iface.c) and no other.
 */
#ifndef IXDP_LIB_DATAPLANE_INTERNAL_H
#define IXDP_LIB_DATAPLANE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/dataplane.h"
#include "compile/compile_tree.h"
#include "compile/compile_treelayout.h"
#include "compile/compile_tuplespace.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524    /* the kernel's "operation not supported" */
#endif

#define CHUNK 4096      /* elements per batch syscall */

int dp_array_read(int fd, __u32 start, size_t n, void *vals, size_t esize);

/* Array slots [start, start + n) = vals: 0 or -errno. */
int dp_array_write(int fd, __u32 start, size_t n, const void *vals, size_t esize);

/* n (key, value) pairs in one batch (or one by one where the map has no
 * batch operation); the _chunked one for any n of __u32 keys and values. */
int dp_update_pairs(int fd, const void *keys, const void *vals, size_t n,
		    size_t ksize, size_t vsize);
int dp_update_pairs_chunked(int fd, const __u32 *keys, const __u32 *vals, size_t n);

bool dp_batch_unsupported(int err);

/* The slot of each of the first n positions of a bank (ixdp_order). */
int dp_read_bank_slots(struct dp *dp, __u32 bank, size_t n, __u32 **slots);

/* out[i] = array entry slots[i] (esize bytes each, a shared array). */
int dp_read_slots(int fd, const __u32 *slots, size_t n, void *out, size_t esize);

/* ---- dataplane_diff.c: one bank brought to a list ------------------------- */

/* The keys a bank of ixdp_filters holds, sorted; val.slot is the slot. */
struct dp_bank_keys {
	struct ts_entry *v;
	size_t n, cap;
};

/* Every key of ixdp_filters, by bank ([0], [1]): 0 or -errno. */
int dp_read_all_keys(struct dp *dp, struct dp_bank_keys out[2]);

/* The keys both banks hold when both hold the live list (n filters as
 * ixdp_info holds them, by position, in the given slots), computed from
 * the list instead of read from the hash; tss_off: the live bank's tuple
 * space is empty.  0 or -errno (-EINVAL: the list does not compile, so
 * the caller reads the hash instead). */
int dp_keys_of_list(const struct ixdp_filter_info *info, const __u32 *slot,
		    size_t n, bool tss_off, struct dp_bank_keys out[2]);
void dp_bank_keys_free(struct dp_bank_keys k[2]);
/* The keys of a tuple space whose entries' val.slot are positions, in the
 * given slots (what a bank holds once written from it): 0 or -errno
 * (out then partly filled: dp_bank_keys_free). */
int dp_keys_of_tuplespace(const struct tuplespace *ts, const __u32 *slot,
			  size_t n, struct dp_bank_keys out[2]);

/* What a bank is to hold. */
struct dp_bank_image {
	const struct filter_table *table;
	const struct tuplespace *ts;    /* entries' val.slot: the position */
	const __u32 *slot;              /* the slot of each position */
	size_t n;                       /* filters */
	__u32 port_class_sig;           /* dp_port_class_sig(ts) */
};

/* A hash of the port classes when a tuple reads them, else 0. */
__u32 dp_port_class_sig(const struct tuplespace *ts);

/* Make the inactive bank `bank`, whose keys are *cur, hold img, writing
 * only what differs (counted in dp->stats).  Its ixdp_banks entry is zero
 * meanwhile; *nb gets the entry's ntuples, nfilters and port_class_sig for
 * the caller to complete and write.  0 or -errno, *what naming the map. */
int dp_sync_bank(struct dp *dp, __u32 bank, const struct dp_bank_image *img,
		 const struct dp_bank_keys *cur, struct ixdp_bank *nb,
		 const char **what);

__attribute__((format(printf, 3, 4)))
int dp_err(char *errbuf, size_t errlen, const char *fmt, ...);

size_t dp_percpu_size(size_t vsize);

int dp_read_bank_infos(struct dp *dp, __u32 bank, size_t n,
		       struct ixdp_filter_info **out);

/* A filter as ixdp_info holds it, but for its rule_id and rule_sig (0). */
void dp_info_from_filter(const struct specific_filter *f,
			 struct ixdp_filter_info *in);
void dp_filter_from_info(const struct ixdp_filter_info *in,
			 struct specific_filter *f);

/* The interface groups of t into bank `bank` (ixdp_ifgroup) and every
 * interface's groups of that bank (ixdp_ifmask): 0 or -errno. */
int dp_write_ifgroups(struct dp *dp, __u32 bank, const struct filter_table *t);

int dp_read_percpu_u64(int fd, size_t n, uint64_t *out);

int dp_read_u32(int fd, __u32 idx, __u32 *v);
int dp_write_u32(int fd, __u32 idx, __u32 v);

/* Write tr, the decision tree of the list bank `bank` will hold at
 * `generation` (slot_of_pos[i]: the slot of position i, npos of them),
 * into the bank, laid out over what the bank's arrays hold so that only
 * what changed is written (*laid gets that layout, for the mirror), and
 * mark it as that generation's.  0 or -errno (the bank's tree then
 * unmarked). */
int dp_write_tree(struct dp *dp, __u32 bank, __u32 generation,
		  const struct ctree *tr, const __u32 *slot_of_pos, size_t npos,
		  struct tree_image *laid);

/* The same tree, as *laid lays it out, into the other bank after the flip
 * (both banks then hold it, and the next apply writes the difference). */
int dp_mirror_tree(struct dp *dp, __u32 bank, __u32 generation,
		   const struct tree_image *laid);

/* A filter as a leaf of the tree compares it (ixdp_tmatch). */
void dp_tmatch_from_info(const struct ixdp_filter_info *in, struct ixdp_tmatch *m);

/* The bank's tree holds no generation's list (its tuple space answers). */
int dp_tree_unready(struct dp *dp, __u32 bank);

#endif /* IXDP_LIB_DATAPLANE_INTERNAL_H */
