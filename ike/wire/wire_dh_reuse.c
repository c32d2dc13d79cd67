// SPDX-License-Identifier: GPL-2.0-only
/*
 * wire_dh_reuse.c - the responder's IKE_SA_INIT key pair, shared until one of
 * its IKE SAs closes (see dh_reuse.h for why that keeps forward secrecy).
 */
#include <string.h>

#include "wire/wire_dh_reuse.h"

void dh_reuse_init(struct dh_reuse *r)
{
	memset(r, 0, sizeof(*r));
}

static void slot_clear(struct dh_reuse_slot *s)
{
	ike_dh_free(s->dh);	/* clears the private value */
	memset(s, 0, sizeof(*s));
}

static struct dh_reuse_slot *slot_of(struct dh_reuse *r, uint16_t group)
{
	struct dh_reuse_slot *empty = NULL;

	for (size_t i = 0; i < DH_REUSE_GROUPS; i++) {
		if (r->slot[i].group == group)
			return &r->slot[i];
		if (!r->slot[i].group && !empty)
			empty = &r->slot[i];
	}
	return empty;
}

static uint32_t next_gen(struct dh_reuse *r)
{
	if (++r->last_gen == 0)
		r->last_gen = 1;
	return r->last_gen;
}

static bool still_good(const struct dh_reuse_slot *s, uint64_t now_ms,
		       uint64_t max_age_ms)
{
	return s->dh && now_ms >= s->born_ms &&
	       now_ms - s->born_ms < max_age_ms;
}

enum ike_crypto_err dh_reuse_get(struct dh_reuse *r, uint16_t group,
				 uint64_t now_ms, uint64_t max_age_ms,
				 const struct ike_dh **dh, uint32_t *gen)
{
	struct dh_reuse_slot *s = slot_of(r, group);
	enum ike_crypto_err err;

	if (!s)	/* more groups than slots: cannot happen with ours */
		return IKE_CRYPTO_E_UNSUPPORTED;
	if (still_good(s, now_ms, max_age_ms)) {
		r->shared++;
	} else {
		slot_clear(s);
		err = ike_dh_new(group, &s->dh);
		if (err != IKE_CRYPTO_OK)
			return err;
		s->group = group;
		s->gen = next_gen(r);
		s->born_ms = now_ms;
		r->made++;
	}
	*dh = s->dh;
	*gen = s->gen;
	return IKE_CRYPTO_OK;
}

void dh_reuse_forget(struct dh_reuse *r, uint32_t gen)
{
	if (!gen)
		return;
	for (size_t i = 0; i < DH_REUSE_GROUPS; i++)
		if (r->slot[i].dh && r->slot[i].gen == gen)
			slot_clear(&r->slot[i]);
}

void dh_reuse_clear(struct dh_reuse *r)
{
	for (size_t i = 0; i < DH_REUSE_GROUPS; i++)
		slot_clear(&r->slot[i]);
}
