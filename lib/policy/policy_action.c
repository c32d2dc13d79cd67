// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_action.c - the `filter-actions:` section: permit, block, or
 * negotiate with security methods, plus the built-in `permit` and `block`
 * actions rules may name without defining them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

#define METHOD_LIFETIME_DEFAULT    3600
#define METHOD_LIFETIME_KB_DEFAULT 100000
#define SOFT_TIMEOUT_DEFAULT       3

static const char *const ACTION_KEYS[] = {
	"description", "action", "methods", "inpass", "soft", "soft-timeout",
	"pfs", "pfs-group", NULL
};
/* Settings of the negotiation: meaningless for permit and block. */
static const char *const NEGOTIATE_ONLY_KEYS[] = {
	"methods", "inpass", "soft", "soft-timeout", "pfs", "pfs-group", NULL
};
static const char *const METHOD_KEYS[] = {
	"esp", "ah", "ah-esp", "lifetime", "lifetime-kb", NULL
};
static const char *const AH_ESP_KEYS[] = { "ah", "esp", NULL };

static int parse_action_kind(struct parse *p, const struct pnode *n,
			     enum filter_action_kind *out)
{
	if (pexpect(&p->c, n, PN_SCALAR, "'action'"))
		return -1;
	if (!strcmp(n->text, "permit"))
		*out = FA_PERMIT;
	else if (!strcmp(n->text, "block"))
		*out = FA_BLOCK;
	else if (!strcmp(n->text, "negotiate"))
		*out = FA_NEGOTIATE;
	else
		return perr(&p->c, n, "'%.60s' is not a kind of filter action; "
			    "expected permit, block or negotiate", n->text);
	return 0;
}

static int parse_ah_esp(struct parse *p, const struct pnode *n,
			struct security_method *m)
{
	const struct pnode *ah, *esp;

	if (pexpect(&p->c, n, PN_MAP, "'ah-esp' ({ ah: ALG, esp: TRANSFORM })") ||
	    pcheck_keys(&p->c, n, AH_ESP_KEYS, "'ah-esp'"))
		return -1;
	ah = pmap_get(n, "ah", NULL);
	esp = pmap_get(n, "esp", NULL);
	if (!ah || !esp)
		return perr(&p->c, n, "'ah-esp' needs both 'ah' and 'esp'; expected "
			    "e.g. { ah: sha256, esp: aes128gcm16 }");
	m->kind = SM_AH_ESP;
	return parse_ah(&p->c, ah, &m->ah) ||
	       parse_esp(&p->c, esp, &m->encr, &m->integ) ? -1 : 0;
}

static int parse_method_transform(struct parse *p, const struct pnode *n,
				  struct security_method *m)
{
	struct pnode *esp = pmap_get(n, "esp", NULL), *ah = pmap_get(n, "ah", NULL);
	struct pnode *both = pmap_get(n, "ah-esp", NULL);
	int count = !!esp + !!ah + !!both;

	if (count == 0)
		return perr(&p->c, n, "a security method needs one of 'esp', 'ah' "
			    "or 'ah-esp'");
	if (count > 1)
		return perr(&p->c, n, "a security method has exactly one of 'esp', "
			    "'ah' or 'ah-esp'; for AH and ESP together expected "
			    "ah-esp: { ah: ALG, esp: TRANSFORM }");
	if (both)
		return parse_ah_esp(p, both, m);
	if (ah) {
		m->kind = SM_AH;
		return parse_ah(&p->c, ah, &m->ah);
	}
	m->kind = SM_ESP;
	return parse_esp(&p->c, esp, &m->encr, &m->integ);
}

static int parse_method(struct parse *p, const struct pnode *n,
			struct security_method *m)
{
	const struct pnode *v;
	uint32_t kb = METHOD_LIFETIME_KB_DEFAULT;

	if (pexpect(&p->c, n, PN_MAP, "a security method (esp, ah or ah-esp)") ||
	    pcheck_keys(&p->c, n, METHOD_KEYS, "a security method"))
		return -1;
	m->pos = pos_of(p, n);
	m->lifetime_s = METHOD_LIFETIME_DEFAULT;
	if (parse_method_transform(p, n, m))
		return -1;
	if ((v = pmap_get(n, "lifetime", NULL)) &&
	    parse_u32(&p->c, v, "'lifetime' (seconds)", 10, 172800, &m->lifetime_s))
		return -1;
	if ((v = pmap_get(n, "lifetime-kb", NULL)) &&
	    parse_u32(&p->c, v, "'lifetime-kb' (kilobytes)", 1024, 2147483647u, &kb))
		return -1;
	m->lifetime_kb = kb;
	return 0;
}

/* Without `methods:` a negotiate action offers one ESP AES-256-GCM method. */
static int default_methods(struct parse *p, const struct pnode *at,
			   struct filter_action *a)
{
	a->methods = alloc_array(p, at, 1, sizeof(*a->methods));
	if (!a->methods)
		return -1;
	a->nmethods = 1;
	a->methods[0] = (struct security_method){
		.kind = SM_ESP, .encr = ENCR_AES_GCM_16_256,
		.lifetime_s = METHOD_LIFETIME_DEFAULT,
		.lifetime_kb = METHOD_LIFETIME_KB_DEFAULT, .pos = a->pos,
	};
	return 0;
}

int parse_action_methods(struct parse *p, const struct pnode *key,
			 const struct pnode *body, struct filter_action *a)
{
	const struct pnode *seq = pmap_get(body, "methods", NULL);

	if (!seq)
		return default_methods(p, key, a);
	if (pexpect(&p->c, seq, PN_SEQ, "'methods' (a list of security methods)"))
		return -1;
	if (!seq->nkids)
		return perr(&p->c, seq, "'methods' is empty; expected at least one "
			    "security method, or leave 'methods' out for the default");
	a->methods = alloc_array(p, seq, seq->nkids, sizeof(*a->methods));
	if (!a->methods)
		return -1;
	a->nmethods = seq->nkids;
	for (size_t i = 0; i < seq->nkids; i++)
		if (parse_method(p, seq->kids[i], &a->methods[i]))
			return -1;
	return 0;
}

static int reject_negotiate_settings(struct parse *p, const struct pnode *body,
				     const struct filter_action *a)
{
	for (const char *const *k = NEGOTIATE_ONLY_KEYS; *k; k++) {
		struct pnode *key = NULL;

		if (pmap_get(body, *k, &key))
			return perr(&p->c, key, "'%s' applies only to negotiate "
				    "actions; '%s' is a %s action", *k, a->name,
				    filter_action_kind_name(a->kind));
	}
	return 0;
}

/* soft-timeout and pfs-group refine soft and pfs: alone they mean nothing. */
static int parse_dependent_settings(struct parse *p, const struct pnode *body,
				    struct filter_action *a)
{
	struct pnode *key = NULL, *v;

	if ((v = pmap_get(body, "soft-timeout", &key))) {
		if (!a->soft)
			return perr(&p->c, key, "'soft-timeout' needs 'soft: yes' "
				    "(fall back to clear text) in action '%s'", a->name);
		if (parse_u32(&p->c, v, "'soft-timeout' (seconds)", 1, 300,
			      &a->soft_timeout_s))
			return -1;
	}
	if ((v = pmap_get(body, "pfs-group", &key))) {
		if (!a->pfs)
			return perr(&p->c, key, "'pfs-group' needs 'pfs: yes' in "
				    "action '%s'", a->name);
		if (parse_dh_group(&p->c, v, &a->pfs_group))
			return -1;
	}
	return 0;
}

static int parse_negotiate_settings(struct parse *p, const struct pnode *key,
				    const struct pnode *body, struct filter_action *a)
{
	const struct pnode *v;

	a->soft_timeout_s = SOFT_TIMEOUT_DEFAULT;
	if (parse_action_methods(p, key, body, a))
		return -1;
	if ((v = pmap_get(body, "inpass", NULL)) &&
	    parse_bool(&p->c, v, "'inpass'", &a->inpass))
		return -1;
	if ((v = pmap_get(body, "soft", NULL)) &&
	    parse_bool(&p->c, v, "'soft'", &a->soft))
		return -1;
	if ((v = pmap_get(body, "pfs", NULL)) &&
	    parse_bool(&p->c, v, "'pfs'", &a->pfs))
		return -1;
	return parse_dependent_settings(p, body, a);
}

static bool is_builtin_action_name(const char *s)
{
	return !strcmp(s, "permit") || !strcmp(s, "block");
}

static int parse_action(struct parse *p, const struct pnode *key,
			const struct pnode *body, struct filter_action *a)
{
	const struct pnode *v;

	if (parse_name(&p->c, key, "filter action name", &a->name))
		return -1;
	a->pos = pos_of(p, key);
	if (is_builtin_action_name(a->name))
		return perr(&p->c, key, "'%s' is a built-in filter action; expected "
			    "another name", a->name);
	if (pexpect(&p->c, body, PN_MAP, "a filter action (action, methods, ...)") ||
	    pcheck_keys(&p->c, body, ACTION_KEYS, "a filter action"))
		return -1;
	if ((v = pmap_get(body, "description", NULL)) &&
	    parse_text(&p->c, v, "'description'", &a->description))
		return -1;
	v = pmap_get(body, "action", NULL);
	if (!v)
		return perr(&p->c, key, "filter action '%s' has no 'action'; expected "
			    "action: permit, block or negotiate", a->name);
	if (parse_action_kind(p, v, &a->kind))
		return -1;
	if (a->kind != FA_NEGOTIATE)
		return reject_negotiate_settings(p, body, a);
	return parse_negotiate_settings(p, key, body, a);
}

static const char *action_name_at(const void *base, size_t i)
{
	return ((const struct filter_action *)base)[i].name;
}

/* Room for the two built-ins is kept at the end, so that rules can point
 * into the array while it is being completed. */
static int alloc_actions(struct parse *p, const struct pnode *at, size_t nuser)
{
	p->pf->actions = alloc_array(p, at, nuser + 2, sizeof(*p->pf->actions));
	return p->pf->actions ? 0 : -1;
}

int parse_filter_actions(struct parse *p, const struct pnode *map)
{
	struct policy_file *pf = p->pf;
	size_t n = pmap_len(map);

	if (alloc_actions(p, map, n))
		return -1;
	pf->nactions = n;
	for (size_t i = 0; i < n; i++)
		if (parse_action(p, pmap_key(map, i), pmap_val(map, i), &pf->actions[i]))
			return -1;
	p->nuser_actions = n;
	p->action_index = name_index_build(pf->actions, n, action_name_at);
	if (!p->action_index)
		return perr(&p->c, map, "out of memory");
	return 0;
}

static struct filter_action *builtin_action(struct parse *p, const struct pnode *ref)
{
	struct policy_file *pf = p->pf;
	struct filter_action *a;

	if (!pf->actions && alloc_actions(p, ref, 0))
		return NULL;
	for (size_t i = p->nuser_actions; i < pf->nactions; i++)
		if (!strcmp(pf->actions[i].name, ref->text))
			return &pf->actions[i];
	a = &pf->actions[pf->nactions];
	a->name = strdup(ref->text);
	if (!a->name) {
		perr(&p->c, ref, "out of memory");
		return NULL;
	}
	pf->nactions++;
	a->kind = !strcmp(ref->text, "block") ? FA_BLOCK : FA_PERMIT;
	a->pos = pos_of(p, ref);
	return a;
}

struct filter_action *resolve_action(struct parse *p, const struct pnode *ref)
{
	struct policy_file *pf = p->pf;
	char names[200];
	long i;

	if (pexpect(&p->c, ref, PN_SCALAR, "'action' (the name of a filter action)"))
		return NULL;
	i = name_index_find(p->action_index, p->nuser_actions, ref->text);
	if (i >= 0)
		return &pf->actions[i];
	if (is_builtin_action_name(ref->text))
		return builtin_action(p, ref);
	if (!p->nuser_actions) {
		perr(&p->c, ref, "unknown filter action '%.60s'; expected permit, "
		     "block or an action defined under filter-actions: (there are "
		     "none)", ref->text);
		return NULL;
	}
	name_index_join(p->action_index, p->nuser_actions, names, sizeof(names));
	perr(&p->c, ref, "unknown filter action '%.60s'; expected permit, block or "
	     "one defined under filter-actions: %s", ref->text, names);
	return NULL;
}
