/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_internal.h - shared by the files of the policy parser only
 * (policy_yaml.c, policy_value.c, policy_algo.c, policy_parse.c, and
 * policy_edit.c, which edits a file's text at the nodes' positions).
 *
 * The YAML text is first loaded into a small tree of nodes that remember
 * where they were written; the schema code then walks that tree and fills
 * struct policy_file, reporting the first problem through struct pctx.
 */
#ifndef IXDP_POLICY_INTERNAL_H
#define IXDP_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

#define POLICY_MAX_BYTES (4u * 1024 * 1024)
#define POLICY_NAME_MAX 63

enum pnode_type { PN_SCALAR, PN_SEQ, PN_MAP };

struct pnode {
	enum pnode_type type;
	unsigned line, col;       /* 1-based */
	unsigned end_line, end_col; /* just after it (libyaml's end mark):
				     * exact for scalars and flow collections */
	bool flow;                /* PN_SEQ, PN_MAP: written in [ ] or { } */
	bool is_null;             /* an empty plain scalar, `~` or `null` */
	char *text;               /* PN_SCALAR, NUL-terminated */
	struct pnode **kids;      /* PN_SEQ: items; PN_MAP: key, value, ... */
	size_t nkids;
	struct pnode_arena *arena; /* the root's: the memory of the whole tree */
};

/* The parse in progress: where errors go. */
struct pctx {
	const char *file;          /* the name used in messages */
	struct policy_error *err;
};

/* ---- errors (policy_yaml.c) ---- */
int perr_at(struct pctx *c, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int perr(struct pctx *c, const struct pnode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- the node tree (policy_yaml.c) ---- */

/*
 * Load buf into a tree.  Returns 0 and sets *root (NULL when the text holds
 * no document at all), or -1 with the error set.
 */
int pnode_load(struct pctx *c, const char *buf, size_t len, struct pnode **root);
/* policy_parse_buffer's second half (policy_parse.c): the tree of a file
 * (root NULL: an empty one) into *out, or -1 with err. */
int policy_parse_nodes(const char *name, const struct pnode *root,
		       struct policy_file **out, struct policy_error *err);
/* Frees a tree that pnode_load returned (root may be NULL): its nodes,
 * texts and kid arrays live in one arena that the root holds. */
void pnode_free(struct pnode *root);
const char *pnode_type_name(enum pnode_type t);

static inline size_t pmap_len(const struct pnode *m) { return m->nkids / 2; }
static inline struct pnode *pmap_key(const struct pnode *m, size_t i) { return m->kids[2 * i]; }
static inline struct pnode *pmap_val(const struct pnode *m, size_t i) { return m->kids[2 * i + 1]; }

/* The value of `key` in mapping m, or NULL; *keynode (optional) gets its key. */
struct pnode *pmap_get(const struct pnode *m, const char *key, struct pnode **keynode);

/* Error unless n has type t; `what` describes the expected content. */
int pexpect(struct pctx *c, const struct pnode *n, enum pnode_type t, const char *what);

/*
 * Error at the first key of m that is not in `valid` (NULL-terminated),
 * naming it and listing the valid keys; `where` says what m is.
 */
int pcheck_keys(struct pctx *c, const struct pnode *m, const char *const *valid,
		const char *where);

/*
 * pcheck_keys and pmap_get in one pass: the same error for the first
 * unknown key, else vals[i] is the value of valid[i] in m, or NULL (vals
 * has a slot for every name of valid).
 */
int pmap_pick(struct pctx *c, const struct pnode *m, const char *const *valid,
	      const char *where, const struct pnode **vals);

/*
 * Index of the first string of v[0..n) that repeats an earlier one (and
 * of that earlier one in *first), or (size_t)-1.  O(n log n).
 */
size_t find_duplicate(const char *const *v, size_t n, size_t *first);

/* ---- scalar values (policy_value.c) ---- */
int parse_name(struct pctx *c, const struct pnode *n, const char *what, char **out);
int parse_text(struct pctx *c, const struct pnode *n, const char *what, char **out);
int parse_bool(struct pctx *c, const struct pnode *n, const char *what, bool *out);
int parse_u32(struct pctx *c, const struct pnode *n, const char *what,
	      uint32_t min, uint32_t max, uint32_t *out);
int parse_ifname(struct pctx *c, const struct pnode *n, char **out);
int parse_path(struct pctx *c, const struct pnode *n, const char *what, char **out);
/* A single address (no prefix), e.g. a tunnel endpoint. */
int parse_ip(struct pctx *c, const struct pnode *n, const char *what, struct ip_addr *out);
int parse_addr_spec(struct pctx *c, const struct pnode *n, const char *what,
		    struct addr_spec *out);
int parse_protocol(struct pctx *c, const struct pnode *n, int *out);
int parse_port(struct pctx *c, const struct pnode *n, const char *what,
	       struct port_spec *out);
bool name_is_valid(const char *s);
/* "tcp", "icmp" ... or NULL for a number without a name. */
const char *protocol_name(int proto);
/* "10.0.0.0/8", "10.0.0.1-10.0.0.9", "me" ... (for messages) */
void format_addr_spec(const struct addr_spec *a, char *buf, size_t len);

/* ---- algorithms (policy_algo.c) ---- */
int parse_esp(struct pctx *c, const struct pnode *n, enum xform_encr *encr,
	      enum xform_integ *integ);
int parse_ah(struct pctx *c, const struct pnode *n, enum xform_integ *integ);
int parse_dh_group(struct pctx *c, const struct pnode *n, enum dh_group *out);
int parse_ike_proposal(struct pctx *c, const struct pnode *n, struct ike_proposal *out);

/* ---- the schema (policy_parse.c, policy_filter.c, policy_action.c,
 * policy_rule.c) ---- */

/* A name and its index in one of policy_file's arrays, sorted by name. */
struct name_ref {
	const char *name;
	size_t idx;
};

struct parse {
	struct pctx c;
	struct policy_file *pf;
	struct name_ref *list_index, *action_index;
	size_t nuser_actions;    /* pf->actions[nuser_actions..] are built-ins */
	long *first_mirrored;    /* per filter list: its first mirrored filter, or -1 */
};

struct srcpos pos_of(const struct parse *p, const struct pnode *n);
/* calloc that reports "out of memory" at `at`. */
void *alloc_array(struct parse *p, const struct pnode *at, size_t n, size_t size);
/* A sorted index over n names (name_at(base, i) gives the i-th); NULL on ENOMEM. */
struct name_ref *name_index_build(const void *base, size_t n,
				  const char *(*name_at)(const void *base, size_t i));
/* Index of name in the index, or -1. */
long name_index_find(const struct name_ref *idx, size_t n, const char *name);
/* "a, b, c, ..." of the names of an index, for messages. */
void name_index_join(const struct name_ref *idx, size_t n, char *buf, size_t len);

int parse_filter_lists(struct parse *p, const struct pnode *map);
/* One filter (a mapping of FILTER_KEYS) into f (zeroed by the caller). */
int parse_filter(struct parse *p, const struct pnode *n, struct filter_spec *f);
int parse_filter_actions(struct parse *p, const struct pnode *map);
int parse_policies(struct parse *p, const struct pnode *map);
/* The `methods:` list of a mapping into a->methods (body without one: the
 * negotiate action's default method). */
int parse_action_methods(struct parse *p, const struct pnode *key,
			 const struct pnode *body, struct filter_action *a);
/* The action a rule names: one of the file or the built-in permit/block. */
struct filter_action *resolve_action(struct parse *p, const struct pnode *ref);
struct filter_list *resolve_list(struct parse *p, const struct pnode *ref);

void filter_list_free_members(struct filter_list *l);
void filter_action_free_members(struct filter_action *a);
void policy_free_members(struct policy *pol);

#endif /* IXDP_POLICY_INTERNAL_H */
