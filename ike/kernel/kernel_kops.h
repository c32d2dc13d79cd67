/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel_kops.h - the kernel operations the CHILD SA code needs (allocate
 * an SPI, add/update/delete SAs and policies, read an SA's counters), as
 * an interface: kernel_kops is the xfrm one (kernel.c over netlink, its
 * ctx a struct ikk), and the unit tests put a recording one in its place
 * (child_use_ops, tests/unit/ike_testbed.h).
 */
#ifndef IXDP_IKE_KERNEL_KOPS_H
#define IXDP_IKE_KERNEL_KOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"

/* The kernel calls, 0 or -errno (ctx is the kops_ctx given). */
struct child_kops {
	int (*spi_alloc)(void *ctx, const struct ikk_addr *src,
			 const struct ikk_addr *dst, uint8_t proto,
			 uint8_t mode, uint32_t reqid, uint32_t *spi);
	/* update: fill the larval SA of spi_alloc */
	int (*sa_add)(void *ctx, const struct ikk_sa *sa, bool update);
	int (*sa_delete)(void *ctx, const struct ikk_addr *dst, uint32_t spi,
			 uint8_t proto);
	/* update: add or replace */
	int (*policy_add)(void *ctx, struct ikk_policy *pol, bool update);
	int (*policy_delete)(void *ctx, const struct ikk_policy *pol);
	const char *(*error)(void *ctx);
	/* the SA's byte and packet counters (idle removal) */
	int (*counters)(void *ctx, const struct ikk_addr *dst, uint32_t spi,
			uint8_t proto, struct ikk_sa_counters *out);
};

/* xfrm over netlink; ctx: the struct ikk of ikk_open(). */
extern const struct child_kops kernel_kops;

#endif /* IXDP_IKE_KERNEL_KOPS_H */
