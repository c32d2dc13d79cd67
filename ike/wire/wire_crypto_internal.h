/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_crypto_internal.h - what the crypto files share (wire_crypto.c,
 * wire_crypto_dh.c, wire_crypto_sk.c) and no other.
 */
#ifndef IXDP_IKE_WIRE_CRYPTO_INTERNAL_H
#define IXDP_IKE_WIRE_CRYPTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire_crypto.h"

struct dh_group {
	uint16_t id;
	const char *keytype;	/* OpenSSL key type */
	const char *name;	/* OpenSSL group name */
	int nid;		/* for computing an EC public key */
	size_t public_len;	/* KE data */
	size_t secret_len;	/* g^ir */
};

#define RANDOM_POOL 1024
struct random_pool {
	uint8_t buf[RANDOM_POOL];
	size_t left;			/* at the end of buf */
	int (*fill)(unsigned char *buf, int num);
};
/* The private values' pool (D-H keys): never the public one. */
extern struct random_pool private_pool;

const struct dh_group *find_group(uint16_t id);

bool is_ecp(const struct dh_group *g);

bool is_modp(const struct dh_group *g);

bool is_x25519(const struct dh_group *g);

enum ike_crypto_err random_from(struct random_pool *p, void *buf,
				size_t len);

#endif /* IXDP_IKE_WIRE_CRYPTO_INTERNAL_H */
