/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_internal.h - what the map I/O files share (dataplane.c,
 * dataplane_read.c, dataplane_handoff.c, dataplane_dropev.c, dataplane_iface.c)
 * and no other.
 */
#ifndef IXDP_LIB_DATAPLANE_INTERNAL_H
#define IXDP_LIB_DATAPLANE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/dataplane.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524    /* the kernel's "operation not supported" */
#endif

#define CHUNK 4096      /* elements per batch syscall */

int dp_array_read(int fd, __u32 start, size_t n, void *vals, size_t esize);

__attribute__((format(printf, 3, 4)))
int dp_err(char *errbuf, size_t errlen, const char *fmt, ...);

size_t dp_percpu_size(size_t vsize);

int dp_read_bank_infos(struct dp *dp, __u32 bank, size_t n,
		       struct ixdp_filter_info **out);

/* A filter as ixdp_info holds it, but for its rule_id and rule_sig (0). */
void dp_info_from_filter(const struct specific_filter *f,
			 struct ixdp_filter_info *in);

/* The interface groups of t into bank `bank` (ixdp_ifgroup) and every
 * interface's groups of that bank (ixdp_ifmask): 0 or -errno. */
int dp_write_ifgroups(struct dp *dp, __u32 bank, const struct filter_table *t);

int dp_read_percpu_u64(int fd, size_t n, uint64_t *out);

int dp_read_u32(int fd, __u32 idx, __u32 *v);

#endif /* IXDP_LIB_DATAPLANE_INTERNAL_H */
