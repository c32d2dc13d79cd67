/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * child.h - CHILD SAs (RFC 7296 §1.2, §2.9, §2.17): the struct child_hooks
 * of daemon.h.  In IKE_AUTH the initiator offers ESP proposals made from
 * its rule's security methods and traffic selectors made from the rule's
 * filters; the responder picks the first acceptable proposal, narrows the
 * selectors to one of its own negotiate rules (else TS_UNACCEPTABLE), and
 * both derive the keys and install two xfrm SAs and their policies.
 *
 * The kernel is reached through struct child_kops, so that the unit tests
 * record the calls instead of making them; child_use() wires ike/kernel.c.
 */
#ifndef IXDP_IKE_CHILD_H
#define IXDP_IKE_CHILD_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "kernel.h"

struct json_object;

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
};

/* The daemon: open the xfrm netlink handle and set d->child.  -1 (and a
 * log line, the daemon stays childless) when netlink cannot be opened. */
int child_use(struct daemon *d);
/* The tests: the kernel calls through kops. */
int child_use_ops(struct daemon *d, const struct child_kops *kops,
		  void *kops_ctx);
/* Undo child_use (before daemon_fini; the IKE SAs must be closed). */
void child_release(struct daemon *d);

/* `show sa`: one object per CHILD SA of every IKE SA appended to arr
 * (a json-c array). */
void child_sas_json(struct daemon *d, struct json_object *arr);
/* CHILD SAs of one IKE SA. */
size_t child_count(const struct ikesa *sa);

/* What the tests look at. */
struct child_info {
	uint32_t spi_in, spi_out, reqid;
	uint8_t mode;			/* enum ikk_mode */
	uint16_t encr, key_bits, integ;	/* IKEv2 ids */
	size_t encr_key_len, integ_key_len;
	uint32_t lifetime_s;
	uint64_t lifetime_kb;
	char local_ts[128], remote_ts[128];
	char rule[PEER_NAME_MAX];
};
int child_get(const struct ikesa *sa, size_t i, struct child_info *out);

#endif /* IXDP_IKE_CHILD_H */
