// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_algo.c - algorithm names of a policy file: ESP and AH transforms
 * of security methods, IKE proposals and Diffie-Hellman groups.
 *
 * Only what docs/behaviour.md §6 negotiates is accepted.  The legacy algorithms an
 * administrator of the modelled system knows (DES, 3DES, MD5, SHA-1, the
 * small MODP groups) are recognised so that the error can say why they are
 * refused and which RFC says so, instead of just "unknown".
 */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

#define RFC_ESP "RFC 8221"
#define RFC_IKE "RFC 8247"

struct algo {
	const char *name;
	int value;
};

static const struct algo encr_algos[] = {
	{ "aes128gcm16", ENCR_AES_GCM_16_128 }, { "aes256gcm16", ENCR_AES_GCM_16_256 },
	{ "aes128", ENCR_AES_CBC_128 }, { "aes256", ENCR_AES_CBC_256 },
	{ NULL, 0 }
};
static const struct algo integ_algos[] = {
	{ "sha256", INTEG_HMAC_SHA2_256_128 }, { "sha384", INTEG_HMAC_SHA2_384_192 },
	{ "sha512", INTEG_HMAC_SHA2_512_256 }, { NULL, 0 }
};
static const struct algo prf_algos[] = {
	{ "prfsha256", PRF_HMAC_SHA2_256 }, { "prfsha384", PRF_HMAC_SHA2_384 },
	{ "prfsha512", PRF_HMAC_SHA2_512 }, { NULL, 0 }
};
static const struct algo dh_algos[] = {
	{ "modp2048", DH_MODP_2048 }, { "ecp256", DH_ECP_256 }, { "ecp384", DH_ECP_384 },
	{ "curve25519", DH_CURVE25519 }, { "x25519", DH_CURVE25519 }, { NULL, 0 }
};

/* Recognised only to be refused with a reason. */
static const char *const legacy_algos[] = {
	"des", "3des", "des3", "tripledes", "cast", "cast128", "blowfish", "null",
	"md5", "sha1", "prfmd5", "prfsha1", "modp768", "modp1024", "modp1536", NULL
};

#define ESP_FORMS "aes128gcm16, aes256gcm16, or aes128/aes256 with -sha256, " \
	"-sha384 or -sha512 (e.g. aes256-sha384)"
#define DH_FORMS "modp2048 (14), ecp256 (19), ecp384 (20), curve25519 or x25519 (31)"

static const struct algo *find_algo(const struct algo *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static bool is_legacy(const char *name)
{
	for (const char *const *p = legacy_algos; *p; p++)
		if (!strcmp(*p, name))
			return true;
	return false;
}

static bool is_aead(enum xform_encr e)
{
	return e == ENCR_AES_GCM_16_128 || e == ENCR_AES_GCM_16_256;
}

static int refuse_legacy(struct pctx *c, const struct pnode *n, const char *tok,
			 const char *rfc, const char *expected)
{
	if (!strcmp(tok, "null"))
		return perr(c, n, "null encryption is refused (%s); use 'ah: sha256' "
			    "for integrity without encryption", rfc);
	return perr(c, n, "'%s' is a legacy algorithm and is refused (%s); "
		    "expected %s", tok, rfc, expected);
}

/* Split "a-b-c" into at most max tokens in place; -1 if there are more. */
static int split_dashes(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		if (n == max)
			return -1;
		tok[n++] = s;
		s = strchr(s, '-');
		if (!s)
			return n;
		*s++ = '\0';
	}
}

static int copy_token_text(struct pctx *c, const struct pnode *n, const char *what,
			   char *buf, size_t len)
{
	if (pexpect(c, n, PN_SCALAR, what))
		return -1;
	if (strlen(n->text) >= len)
		return perr(c, n, "'%.40s...' is too long for %s", n->text, what);
	memcpy(buf, n->text, strlen(n->text) + 1);
	return 0;
}

int parse_esp(struct pctx *c, const struct pnode *n, enum xform_encr *encr,
	      enum xform_integ *integ)
{
	const struct algo *e, *i = NULL;
	char buf[64], *tok[2];
	int ntok;

	if (copy_token_text(c, n, "an ESP transform", buf, sizeof(buf)))
		return -1;
	ntok = split_dashes(buf, tok, 2);
	for (int k = 0; k < ntok; k++)
		if (is_legacy(tok[k]))
			return refuse_legacy(c, n, tok[k], RFC_ESP, ESP_FORMS);
	e = ntok > 0 ? find_algo(encr_algos, tok[0]) : NULL;
	if (ntok == 2)
		i = find_algo(integ_algos, tok[1]);
	if (!e || (ntok == 2 && !i) || ntok < 0)
		return perr(c, n, "'%.60s' is not an ESP transform; expected "
			    ESP_FORMS, n->text);
	if (is_aead(e->value) && i)
		return perr(c, n, "%s is an AEAD cipher and takes no integrity "
			    "algorithm; expected just %s", e->name, e->name);
	if (!is_aead(e->value) && !i)
		return perr(c, n, "%s (CBC) needs an integrity algorithm; expected "
			    "e.g. %s-sha256", e->name, e->name);
	*encr = (enum xform_encr)e->value;
	*integ = i ? (enum xform_integ)i->value : INTEG_NONE;
	return 0;
}

int parse_ah(struct pctx *c, const struct pnode *n, enum xform_integ *integ)
{
	const struct algo *a;

	if (pexpect(c, n, PN_SCALAR, "an AH algorithm"))
		return -1;
	if (is_legacy(n->text))
		return refuse_legacy(c, n, n->text, RFC_ESP, "sha256, sha384 or sha512");
	a = find_algo(integ_algos, n->text);
	if (!a)
		return perr(c, n, "'%.60s' is not an AH algorithm; expected sha256, "
			    "sha384 or sha512", n->text);
	*integ = (enum xform_integ)a->value;
	return 0;
}

static int dh_by_number(struct pctx *c, const struct pnode *n, uint32_t num,
			enum dh_group *out)
{
	for (const struct algo *a = dh_algos; a->name; a++) {
		if ((uint32_t)a->value == num) {
			*out = (enum dh_group)num;
			return 0;
		}
	}
	if (num == 1 || num == 2 || num == 5)
		return perr(c, n, "DH group %u is too weak and is refused (" RFC_IKE
			    "); expected " DH_FORMS, num);
	return perr(c, n, "DH group %u is not supported; expected " DH_FORMS, num);
}

int parse_dh_group(struct pctx *c, const struct pnode *n, enum dh_group *out)
{
	const struct algo *a;
	uint32_t num = 0;
	bool digits;

	if (pexpect(c, n, PN_SCALAR, "'pfs-group'"))
		return -1;
	digits = n->text[0] && strspn(n->text, "0123456789") == strlen(n->text);
	if (digits && strlen(n->text) <= 3) {
		sscanf(n->text, "%u", &num);
		return dh_by_number(c, n, num, out);
	}
	if (is_legacy(n->text))
		return refuse_legacy(c, n, n->text, RFC_IKE, DH_FORMS);
	a = find_algo(dh_algos, n->text);
	if (!a)
		return perr(c, n, "'%.60s' is not a DH group; expected " DH_FORMS,
			    n->text);
	*out = (enum dh_group)a->value;
	return 0;
}

/* ---- IKE proposals: ENCR[-INTEG][-PRF]-DH --------------------------------- */

#define IKE_FORMS "ENCR[-INTEG][-PRF]-DH, e.g. aes256gcm16-prfsha256-curve25519 " \
	"or aes128-sha256-prfsha256-modp2048"

/* Without an explicit PRF, a CBC proposal uses its integrity hash as PRF
 * (as IKEv2 implementations commonly do), an AEAD one PRF-HMAC-SHA2-256. */
static enum xform_prf default_prf(enum xform_integ integ)
{
	switch (integ) {
	case INTEG_HMAC_SHA2_384_192:
		return PRF_HMAC_SHA2_384;
	case INTEG_HMAC_SHA2_512_256:
		return PRF_HMAC_SHA2_512;
	default:
		return PRF_HMAC_SHA2_256;
	}
}

/* Sort one token into its slot; each slot may be filled once. */
static int ike_token(struct pctx *c, const struct pnode *n, const char *tok,
		     struct ike_proposal *p)
{
	const struct algo *a;

	if (is_legacy(tok))
		return refuse_legacy(c, n, tok, RFC_IKE, IKE_FORMS);
	if ((a = find_algo(integ_algos, tok)) && !p->integ) {
		p->integ = (enum xform_integ)a->value;
		return 0;
	}
	if ((a = find_algo(prf_algos, tok)) && !p->prf) {
		p->prf = (enum xform_prf)a->value;
		return 0;
	}
	if ((a = find_algo(dh_algos, tok)) && !p->dh) {
		p->dh = (enum dh_group)a->value;
		return 0;
	}
	if (find_algo(integ_algos, tok) || find_algo(prf_algos, tok) ||
	    find_algo(dh_algos, tok) || find_algo(encr_algos, tok))
		return perr(c, n, "IKE proposal '%.60s' names '%s' twice or in the "
			    "wrong place; expected " IKE_FORMS, n->text, tok);
	return perr(c, n, "'%s' in IKE proposal '%.60s' is not a known algorithm; "
		    "expected " IKE_FORMS, tok, n->text);
}

static int check_ike_proposal(struct pctx *c, const struct pnode *n,
			      struct ike_proposal *p)
{
	if (is_aead(p->encr) && p->integ)
		return perr(c, n, "IKE proposal '%.60s': an AEAD cipher takes no "
			    "integrity algorithm; expected " IKE_FORMS, n->text);
	if (!is_aead(p->encr) && !p->integ)
		return perr(c, n, "IKE proposal '%.60s': a CBC cipher needs an "
			    "integrity algorithm; expected " IKE_FORMS, n->text);
	if (!p->dh)
		return perr(c, n, "IKE proposal '%.60s' has no DH group; expected "
			    "one of " DH_FORMS " at the end", n->text);
	if (!p->prf)
		p->prf = default_prf(p->integ);
	return 0;
}

int parse_ike_proposal(struct pctx *c, const struct pnode *n, struct ike_proposal *out)
{
	struct ike_proposal p = { 0 };
	const struct algo *e;
	char buf[128], *tok[4];
	int ntok;

	if (copy_token_text(c, n, "an IKE proposal", buf, sizeof(buf)))
		return -1;
	ntok = split_dashes(buf, tok, 4);
	if (ntok < 0)
		return perr(c, n, "IKE proposal '%.60s' has too many parts; expected "
			    IKE_FORMS, n->text);
	if (is_legacy(tok[0]))
		return refuse_legacy(c, n, tok[0], RFC_IKE, IKE_FORMS);
	e = find_algo(encr_algos, tok[0]);
	if (!e)
		return perr(c, n, "IKE proposal '%.60s' does not start with a cipher; "
			    "expected " IKE_FORMS, n->text);
	p.encr = (enum xform_encr)e->value;
	for (int k = 1; k < ntok; k++)
		if (ike_token(c, n, tok[k], &p))
			return -1;
	if (check_ike_proposal(c, n, &p))
		return -1;
	p.pos = out->pos;
	*out = p;
	return 0;
}
