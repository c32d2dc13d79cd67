// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel_kops.c - struct child_kops over xfrm netlink (kernel.c).
 */
#include "kernel/kernel_kops.h"

static int k_spi_alloc(void *ctx, const struct ikk_addr *src,
		       const struct ikk_addr *dst, uint8_t proto, uint8_t mode,
		       uint32_t reqid, uint32_t *spi)
{
	return ikk_spi_alloc(ctx, src, dst, proto, mode, reqid, 0, 0, 0, spi);
}

static int k_sa_add(void *ctx, const struct ikk_sa *sa, bool update)
{
	return update ? ikk_sa_update(ctx, sa) : ikk_sa_add(ctx, sa);
}

static int k_sa_delete(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		       uint8_t proto)
{
	return ikk_sa_delete(ctx, dst, spi, proto, 0, 0);
}

static int k_policy_add(void *ctx, struct ikk_policy *pol, bool update)
{
	return update ? ikk_policy_update(ctx, pol) : ikk_policy_add(ctx, pol);
}

static int k_policy_delete(void *ctx, const struct ikk_policy *pol)
{
	return ikk_policy_delete(ctx, pol);
}

static const char *k_error(void *ctx)
{
	return ikk_error(ctx);
}

static int k_counters(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		      uint8_t proto, struct ikk_sa_counters *out)
{
	return ikk_sa_counters(ctx, dst, spi, proto, 0, 0, out);
}

const struct child_kops kernel_kops = {
	k_spi_alloc, k_sa_add, k_sa_delete, k_policy_add, k_policy_delete,
	k_error, k_counters,
};
