// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_parse.c - reading a policy file (ipsec-xdp.policy(5)): the entry
 * points, the top level of the file, the choice of the assigned policy,
 * and freeing.
 *
 * The work is split by concept: policy_yaml.c (YAML -> node tree),
 * policy_value.c (single values), policy_algo.c (algorithm names),
 * policy_filter.c, policy_action.c and policy_rule.c (the sections).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy_internal.h"

static const char *const ROOT_KEYS[] = {
	"assign", "filter-lists", "filter-actions", "policies", NULL
};

/* ---- helpers shared by the section parsers -------------------------------- */

struct srcpos pos_of(const struct parse *p, const struct pnode *n)
{
	return (struct srcpos){ p->pf->path, n->line, n->col };
}

void *alloc_array(struct parse *p, const struct pnode *at, size_t n, size_t size)
{
	void *v = calloc(n ? n : 1, size);

	if (!v)
		perr(&p->c, at, "out of memory");
	return v;
}

static int cmp_name_ref(const void *a, const void *b)
{
	return strcmp(((const struct name_ref *)a)->name,
		      ((const struct name_ref *)b)->name);
}

struct name_ref *name_index_build(const void *base, size_t n,
				  const char *(*name_at)(const void *base, size_t i))
{
	struct name_ref *idx = calloc(n ? n : 1, sizeof(*idx));

	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = (struct name_ref){ name_at(base, i), i };
	qsort(idx, n, sizeof(*idx), cmp_name_ref);
	return idx;
}

long name_index_find(const struct name_ref *idx, size_t n, const char *name)
{
	struct name_ref key = { name, 0 };
	const struct name_ref *r;

	if (!idx || !n)
		return -1;
	r = bsearch(&key, idx, n, sizeof(*idx), cmp_name_ref);
	return r ? (long)r->idx : -1;
}

void name_index_join(const struct name_ref *idx, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "none");
	for (size_t i = 0; i < n && used + 4 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 idx[i].name);

		if (w < 0 || (size_t)w >= len - used) {
			snprintf(buf + used, len - used, ", ...");
			break;
		}
		used += (size_t)w;
	}
}

/* ---- the top level ------------------------------------------------------ */

static const char *policy_name_at(const void *base, size_t i)
{
	return ((const struct policy *)base)[i].name;
}

static int assign_named(struct parse *p, const struct pnode *ref)
{
	struct policy_file *pf = p->pf;
	struct name_ref *idx;
	char names[200];
	long i;

	if (pexpect(&p->c, ref, PN_SCALAR, "'assign' (the name of a policy)"))
		return -1;
	idx = name_index_build(pf->policies, pf->npolicies, policy_name_at);
	if (!idx)
		return perr(&p->c, ref, "out of memory");
	i = name_index_find(idx, pf->npolicies, ref->text);
	name_index_join(idx, pf->npolicies, names, sizeof(names));
	free(idx);
	if (i < 0)
		return perr(&p->c, ref, "'assign' names policy '%.60s', which is not "
			    "defined; expected one of: %s", ref->text, names);
	pf->assigned = &pf->policies[i];
	return 0;
}

static int choose_assigned(struct parse *p, const struct pnode *root,
			   const struct pnode *policies_key)
{
	const struct pnode *assign = pmap_get(root, "assign", NULL);

	if (assign)
		return assign_named(p, assign);
	if (p->pf->npolicies > 1)
		return perr(&p->c, policies_key, "%zu policies and no 'assign'; "
			    "expected 'assign: NAME' naming the policy to apply",
			    p->pf->npolicies);
	p->pf->assigned = &p->pf->policies[0];
	return 0;
}

static int parse_policies_section(struct parse *p, const struct pnode *root)
{
	struct pnode *key = NULL, *map = pmap_get(root, "policies", &key);

	if (!map)
		return perr(&p->c, root, "no policies; expected a 'policies:' "
			    "mapping with at least one policy");
	if (map->type == PN_SCALAR && map->is_null)
		return perr(&p->c, map, "'policies' is empty; expected at least "
			    "one policy");
	if (pexpect(&p->c, map, PN_MAP, "'policies' (policy names and their settings)"))
		return -1;
	if (!pmap_len(map))
		return perr(&p->c, map, "'policies' is empty; expected at least "
			    "one policy");
	if (parse_policies(p, map))
		return -1;
	return choose_assigned(p, root, key);
}

/* An absent or empty section is fine: rules may use only built-in actions. */
static int parse_optional_section(struct parse *p, const struct pnode *root,
				  const char *key, const char *what,
				  int (*fn)(struct parse *, const struct pnode *))
{
	const struct pnode *map = pmap_get(root, key, NULL);

	if (!map || (map->type == PN_SCALAR && map->is_null))
		return 0;
	if (pexpect(&p->c, map, PN_MAP, what))
		return -1;
	return fn(p, map);
}

static int parse_root(struct parse *p, const struct pnode *root)
{
	if (root->type != PN_MAP)
		return perr(&p->c, root, "expected a mapping at the top of the file "
			    "(assign, filter-lists, filter-actions, policies), got %s",
			    pnode_type_name(root->type));
	if (pcheck_keys(&p->c, root, ROOT_KEYS, "the top level of the file"))
		return -1;
	if (parse_optional_section(p, root, "filter-lists",
				   "'filter-lists' (names and their filters)",
				   parse_filter_lists))
		return -1;
	if (parse_optional_section(p, root, "filter-actions",
				   "'filter-actions' (names and their settings)",
				   parse_filter_actions))
		return -1;
	return parse_policies_section(p, root);
}

static bool tree_is_empty(const struct pnode *root)
{
	return !root || (root->type == PN_SCALAR && root->is_null);
}

static int parse_tree(struct parse *p, const char *name, const struct pnode *root)
{
	if (tree_is_empty(root))
		return perr_at(&p->c, 1, 1, "the file is empty; expected a policy "
			       "file with at least a 'policies:' mapping");
	p->pf = calloc(1, sizeof(*p->pf));
	if (!p->pf || !(p->pf->path = strdup(name)))
		return perr_at(&p->c, 1, 1, "out of memory");
	return parse_root(p, root);
}

int policy_parse_buffer(const char *name, const char *buf, size_t len,
			struct policy_file **out, struct policy_error *err)
{
	struct parse p = { .c = { name ? name : "<buffer>", err } };
	struct pnode *root = NULL;
	int rc;

	if (!out)
		return perr_at(&p.c, 0, 0, "nowhere to put the parsed policy");
	if (len > POLICY_MAX_BYTES)
		return perr_at(&p.c, 1, 1, "the file is %zu bytes; a policy file may "
			       "be at most 4 MiB (%u bytes)", len, POLICY_MAX_BYTES);
	if (!buf && len)
		return perr_at(&p.c, 1, 1, "no text given");
	if (pnode_load(&p.c, buf ? buf : "", len, &root))
		return -1;
	rc = policy_parse_nodes(p.c.file, root, out, err);
	pnode_free(root);
	return rc;
}

int policy_parse_nodes(const char *name, const struct pnode *root,
		       struct policy_file **out, struct policy_error *err)
{
	struct parse p = { .c = { name ? name : "<buffer>", err } };
	int rc = parse_tree(&p, p.c.file, root);

	free(p.list_index);
	free(p.action_index);
	free(p.first_mirrored);
	if (rc) {
		policy_file_free(p.pf);
		return -1;
	}
	*out = p.pf;
	return 0;
}

/* Read at most POLICY_MAX_BYTES + 1, so an oversized file is noticed
 * without reading it all (it may be a pipe or a device). */
static int read_limited(int fd, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);

	if (!b)
		return ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > POLICY_MAX_BYTES)
				break;
			cap *= 2;
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return ENOMEM;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(b);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

int policy_parse_file(const char *path, struct policy_file **out,
		      struct policy_error *err)
{
	struct pctx c = { path ? path : "(no file)", err };
	char *buf = NULL;
	size_t len = 0;
	int fd, e, rc;

	if (!path || !out)
		return perr_at(&c, 0, 0, "no policy file given, or nowhere to put it");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perr_at(&c, 0, 0, "cannot open the policy file: %s",
			       strerror(errno));
	e = read_limited(fd, &buf, &len);
	close(fd);
	if (e)
		return perr_at(&c, 0, 0, "cannot read the policy file: %s",
			       strerror(e));
	if (len > POLICY_MAX_BYTES)
		rc = perr_at(&c, 1, 1, "the file is larger than 4 MiB (%u bytes), "
			     "the limit for a policy file", POLICY_MAX_BYTES);
	else
		rc = policy_parse_buffer(path, buf, len, out, err);
	free(buf);
	return rc;
}

/* ---- freeing ------------------------------------------------------------ */

void filter_list_free_members(struct filter_list *l)
{
	for (size_t i = 0; i < l->nfilters; i++)
		free(l->filters[i].description);
	free(l->filters);
	free(l->name);
	free(l->description);
}

void filter_action_free_members(struct filter_action *a)
{
	free(a->name);
	free(a->description);
	free(a->methods);
}

static void rule_free_members(struct rule *r)
{
	for (size_t i = 0; i < r->nauth; i++) {
		free(r->auth[i].psk_id);
		free(r->auth[i].ca_file);
	}
	free(r->auth);
	for (size_t i = 0; i < r->ninterfaces; i++)
		free(r->interfaces[i]);
	free(r->interfaces);
	free(r->name);
}

void policy_free_members(struct policy *pol)
{
	for (size_t i = 0; i < pol->nrules; i++)
		rule_free_members(&pol->rules[i]);
	free(pol->rules);
	for (size_t i = 0; i < pol->nresponse_auth; i++) {
		free(pol->response_auth[i].psk_id);
		free(pol->response_auth[i].ca_file);
	}
	free(pol->response_auth);
	free(pol->response_methods);
	free(pol->ike.proposals);
	free(pol->name);
	free(pol->description);
}

void policy_file_free(struct policy_file *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; i < pf->nlists; i++)
		filter_list_free_members(&pf->lists[i]);
	free(pf->lists);
	for (size_t i = 0; i < pf->nactions; i++)
		filter_action_free_members(&pf->actions[i]);
	free(pf->actions);
	for (size_t i = 0; i < pf->npolicies; i++)
		policy_free_members(&pf->policies[i]);
	free(pf->policies);
	free(pf->path);
	free(pf);
}

/* ---- names and messages -------------------------------------------------- */

const char *addr_kind_name(enum addr_kind k)
{
	switch (k) {
	case ADDR_ANY:
		return "any";
	case ADDR_PREFIX:
		return "prefix";
	case ADDR_RANGE:
		return "range";
	case ADDR_ME:
		return "me";
	case ADDR_DNS:
		return "dns";
	case ADDR_DHCP:
		return "dhcp";
	case ADDR_GATEWAY:
		return "gateway";
	case ADDR_WINS:
		return "wins";
	}
	return "unknown";
}

const char *filter_action_kind_name(enum filter_action_kind k)
{
	switch (k) {
	case FA_PERMIT:
		return "permit";
	case FA_NEGOTIATE:
		return "negotiate";
	case FA_BLOCK:
		return "block";
	}
	return "unknown";
}

void policy_error_format(const struct policy_error *e, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	if (!e) {
		snprintf(buf, len, "unknown error");
		return;
	}
	/* Line 0: the file could not be read at all, there is no position. */
	if (e->line == 0)
		snprintf(buf, len, "%s: %s", e->file, e->msg);
	else
		snprintf(buf, len, "%s:%u:%u: %s", e->file, e->line, e->column, e->msg);
}
