// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_edit.c - see policy_edit.h.
 *
 * Why a text edit and not libyaml's emitter: the stored policy is a file
 * an administrator wrote (and configuration management may diff); emitting
 * the whole model again would drop every comment, reorder and reformat the
 * file and spell values the parser's way.  The edit touches one item of
 * one `filters:` sequence, in that sequence's own style (a `- ` line of a
 * block sequence with the last item's indentation, or `, {...}` in a flow
 * sequence), and the new item is written from FILTER's parsed nodes.  The
 * parser's positions are exact for what is edited (scalars and flow
 * collections); whatever the file's form, the result is parsed again and
 * compared with the edited model (policy_edit_check()) before it is kept,
 * so a form the edit does not handle is refused, never written wrong.
 *
 * The stored text is read once: its model, with the one filter added or
 * deleted, is the edited policy.  Reading the edited text back is left to
 * policy_edit_check() when nothing but that reading could refuse the
 * edit: the caller may put the model in force first, and the reading is
 * then off the path to the new verdicts.  What the parser checks across
 * sections about a list's filters (a tunnel rule's filters are not
 * mirrored) and the size of the file are checked by reading the text at
 * once (checked_now()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_edit.h"
#include "policy/policy_internal.h"

/* ---- positions: libyaml's (line, character column) -> byte offsets -------- */

struct textmap {
	const char *buf;
	size_t len;
	size_t *start;		/* byte offset of each line */
	size_t nlines;
};

/* The length of the line break at i (YAML's: LF, CR, CR LF, NEL, LS, PS),
 * or 0. */
static size_t break_len(const char *b, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)b;

	if (u[i] == '\n')
		return 1;
	if (u[i] == '\r')
		return i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
	if (u[i] == 0xc2 && i + 1 < len && u[i + 1] == 0x85)
		return 2;
	if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
	    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
		return 3;
	return 0;
}

static int textmap_build(struct textmap *m, const char *buf, size_t len)
{
	size_t cap = 64, i = 0;

	m->buf = buf;
	m->len = len;
	m->nlines = 0;
	m->start = malloc(cap * sizeof(*m->start));
	if (!m->start)
		return -1;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		i = 3;		/* libyaml drops the BOM before counting */
	m->start[m->nlines++] = i;
	while (i < len) {
		size_t b = break_len(buf, len, i);

		if (!b) {
			i++;
			continue;
		}
		i += b;
		if (m->nlines == cap) {
			size_t *v = realloc(m->start, 2 * cap * sizeof(*v));

			if (!v)
				return -1;
			m->start = v;
			cap *= 2;
		}
		m->start[m->nlines++] = i;
	}
	return 0;
}

/* The byte at 1-based line and character column (at most the line's end). */
static size_t textmap_at(const struct textmap *m, unsigned line, unsigned col)
{
	size_t i;

	if (!line || line > m->nlines)
		return m->len;
	i = m->start[line - 1];
	for (unsigned c = 1; c < col && i < m->len && !break_len(m->buf, m->len, i); c++)
		for (i++; i < m->len && ((unsigned char)m->buf[i] & 0xc0) == 0x80; i++)
			;
	return i;
}

/* Where the line after `line` starts (the end of the text for the last). */
static size_t textmap_next_line(const struct textmap *m, unsigned line)
{
	return line < m->nlines ? m->start[line] : m->len;
}

/* Where the last character of a node ends: its end mark for a scalar or a
 * flow collection; a block collection ends with its last child. */
static const struct pnode *last_content(const struct pnode *n)
{
	while ((n->type == PN_MAP || n->type == PN_SEQ) && !n->flow && n->nkids)
		n = n->kids[n->nkids - 1];
	return n;
}

/* ---- FILTER as one flow mapping --------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *s, const char *t, size_t n)
{
	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		char *v;

		while (cap < s->len + n + 1)
			cap *= 2;
		v = realloc(s->p, cap);
		if (!v) {
			s->oom = true;
			return;
		}
		s->p = v;
		s->cap = cap;
	}
	memcpy(s->p + s->len, t, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void sb_str(struct sbuf *s, const char *t)
{
	sb_put(s, t, strlen(t));
}

/* Plain in a flow collection, and read back as the same text (not null). */
static bool plain_safe(const char *t)
{
	static const char *const nulls[] = { "null", "Null", "NULL", "~" };

	if (!*t || *t == '-')
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!strcmp(t, nulls[i]))
			return false;
	for (const char *c = t; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("./_-", *c)))
			return false;
	return true;
}

static void render_scalar(struct sbuf *s, const struct pnode *n)
{
	char esc[8];

	if (n->is_null) {
		sb_str(s, "null");
		return;
	}
	if (plain_safe(n->text)) {
		sb_str(s, n->text);
		return;
	}
	sb_str(s, "\"");
	for (const unsigned char *c = (const unsigned char *)n->text; *c; c++) {
		if (*c == '"' || *c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*c;
			sb_put(s, esc, 2);
		} else if (*c < 0x20 || *c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *c);
			sb_str(s, esc);
		} else {
			sb_put(s, (const char *)c, 1);
		}
	}
	sb_str(s, "\"");
}

static void render_node(struct sbuf *s, const struct pnode *n)
{
	if (n->type == PN_SCALAR) {
		render_scalar(s, n);
		return;
	}
	sb_str(s, n->type == PN_MAP ? "{ " : "[ ");
	for (size_t i = 0; i < n->nkids; i++) {
		if (n->type == PN_MAP && i % 2)
			sb_str(s, ": ");
		else if (i)
			sb_str(s, ", ");
		render_node(s, n->kids[i]);
	}
	sb_str(s, n->nkids ? (n->type == PN_MAP ? " }" : " ]")
		  : (n->type == PN_MAP ? "}" : "]"));
}

/* ---- the model ---------------------------------------------------------------- */

static bool addr_same(const struct addr_spec *a, const struct addr_spec *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == ADDR_PREFIX)
		return a->plen == b->plen && a->addr.family == b->addr.family &&
		       !memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	if (a->kind == ADDR_RANGE)
		return a->addr.family == b->addr.family &&
		       !memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes)) &&
		       !memcmp(a->hi.bytes, b->hi.bytes, sizeof(a->hi.bytes));
	return true;
}

bool filter_spec_same(const struct filter_spec *a, const struct filter_spec *b)
{
	return addr_same(&a->src, &b->src) && addr_same(&a->dst, &b->dst) &&
	       a->proto == b->proto && a->sport.lo == b->sport.lo &&
	       a->sport.hi == b->sport.hi && a->dport.lo == b->dport.lo &&
	       a->dport.hi == b->dport.hi && a->mirrored == b->mirrored;
}

static bool filter_identical(const struct filter_spec *a, const struct filter_spec *b)
{
	if (!filter_spec_same(a, b))
		return false;
	if (!a->description || !b->description)
		return !a->description && !b->description;
	return !strcmp(a->description, b->description);
}

static const struct filter_list *find_list(const struct policy_file *pf,
					   const char *name)
{
	for (size_t i = 0; i < pf->nlists; i++)
		if (!strcmp(pf->lists[i].name, name))
			return &pf->lists[i];
	return NULL;
}

/* The text read back is the edited model: every list and filter (their
 * positions aside), the policies' names and rule counts, the assigned
 * policy.  The rest of the text is the stored one, byte for byte. */
static bool model_same(const struct policy_file *want, const struct policy_file *now)
{
	if (want->nlists != now->nlists || want->npolicies != now->npolicies ||
	    want->nactions != now->nactions ||
	    strcmp(want->assigned->name, now->assigned->name))
		return false;
	for (size_t i = 0; i < want->npolicies; i++)
		if (want->policies[i].nrules != now->policies[i].nrules ||
		    strcmp(want->policies[i].name, now->policies[i].name))
			return false;
	for (size_t i = 0; i < want->nlists; i++) {
		const struct filter_list *a = &want->lists[i], *b = &now->lists[i];

		if (strcmp(a->name, b->name) || a->nfilters != b->nfilters)
			return false;
		for (size_t j = 0; j < a->nfilters; j++)
			if (!filter_identical(&a->filters[j], &b->filters[j]))
				return false;
	}
	return true;
}

/* FILTER's text into f and its node (*node, freed by the caller). */
static int parse_request(const char *filter, struct filter_spec *f,
			 struct pnode **node, char *err, size_t errlen)
{
	struct policy_error perr;
	struct policy_file dummy = { .path = (char *)"FILTER" };
	struct parse p = { .c = { "FILTER", &perr }, .pf = &dummy };
	int rc;

	memset(&perr, 0, sizeof(perr));
	memset(f, 0, sizeof(*f));
	*node = NULL;
	if (pnode_load(&p.c, filter, strlen(filter), node)) {
		policy_error_format(&perr, err, errlen);
		return -1;
	}
	if (!*node || (*node)->type != PN_MAP) {
		snprintf(err, errlen, "FILTER is not a mapping; expected a filter such "
			 "as '{src: me, dst: 10.1.2.3, protocol: tcp, dst-port: 5432}'");
		return -1;
	}
	rc = parse_filter(&p, *node, f);
	if (rc)
		policy_error_format(&perr, err, errlen);
	f->pos = (struct srcpos){ 0 };
	return rc;
}

/* ---- the text edit ---------------------------------------------------------- */

/* The `filters:` sequence of list `name` in the tree (the model has it). */
static const struct pnode *filters_node(const struct pnode *root, const char *name)
{
	const struct pnode *lists = root && root->type == PN_MAP
				    ? pmap_get(root, "filter-lists", NULL) : NULL;
	const struct pnode *body = lists && lists->type == PN_MAP
				   ? pmap_get(lists, name, NULL) : NULL;
	const struct pnode *seq = body && body->type == PN_MAP
				  ? pmap_get(body, "filters", NULL) : NULL;

	return seq && seq->type == PN_SEQ && seq->nkids ? seq : NULL;
}

/* The '-' of a block sequence's item, alone on its line but for blanks
 * before it, or (size_t)-1. */
static size_t item_dash(const struct textmap *m, const struct pnode *item)
{
	size_t at = textmap_at(m, item->line, item->col), ls = m->start[item->line - 1];

	while (at > ls && (m->buf[at - 1] == ' ' || m->buf[at - 1] == '\t'))
		at--;
	if (at == ls || m->buf[at - 1] != '-')
		return (size_t)-1;
	for (size_t i = ls; i + 1 < at; i++)
		if (m->buf[i] != ' ')
			return (size_t)-1;
	return at - 1;
}

/* The edit: replace [from, to) of the text with ins. */
struct splice {
	size_t from, to;
	struct sbuf ins;
};

static int plan_delete(const struct textmap *m, const struct pnode *seq,
		       size_t i, struct splice *sp)
{
	const struct pnode *it = seq->kids[i], *end = last_content(it);

	if (seq->flow) {
		if (i + 1 < seq->nkids) {
			sp->from = textmap_at(m, it->line, it->col);
			sp->to = textmap_at(m, seq->kids[i + 1]->line, seq->kids[i + 1]->col);
		} else {
			end = last_content(seq->kids[i - 1]);
			sp->from = textmap_at(m, end->end_line, end->end_col);
			end = last_content(it);
			sp->to = textmap_at(m, end->end_line, end->end_col);
		}
		return 0;
	}
	if (item_dash(m, it) == (size_t)-1)
		return -1;
	sp->from = m->start[it->line - 1];
	sp->to = textmap_next_line(m, end->end_line);
	if (i + 1 < seq->nkids) {
		const struct pnode *next = seq->kids[i + 1];
		size_t next_line = m->start[next->line - 1];

		if (item_dash(m, next) == (size_t)-1)
			return -1;
		if (sp->to > next_line)
			sp->to = next_line;
	}
	return sp->to > sp->from ? 0 : -1;
}

static int plan_add(const struct textmap *m, const struct pnode *seq,
		    const char *item, struct splice *sp)
{
	const struct pnode *last = seq->kids[seq->nkids - 1], *end = last_content(last);
	size_t dash, eol;

	if (seq->flow) {
		sp->from = sp->to = textmap_at(m, end->end_line, end->end_col);
		sb_str(&sp->ins, ", ");
		sb_str(&sp->ins, item);
		return 0;
	}
	if ((dash = item_dash(m, last)) == (size_t)-1)
		return -1;
	sp->from = sp->to = textmap_next_line(m, end->end_line);
	/* the line break the file uses after the last item (LF if none) */
	eol = sp->from;
	while (eol > m->start[end->end_line - 1] &&
	       (m->buf[eol - 1] == '\n' || m->buf[eol - 1] == '\r'))
		eol--;
	if (eol == sp->from)
		sb_str(&sp->ins, "\n");	/* the file ended on that line */
	sb_put(&sp->ins, m->buf + m->start[last->line - 1], dash - m->start[last->line - 1]);
	sb_str(&sp->ins, "- ");
	sb_str(&sp->ins, item);
	if (eol < sp->from && m->buf[eol] == '\r')
		sb_str(&sp->ins, "\r\n");
	else
		sb_str(&sp->ins, "\n");
	return 0;
}

static int apply_splice(const char *text, size_t len, struct splice *sp,
			struct policy_edit *out)
{
	size_t n = len - (sp->to - sp->from) + sp->ins.len;

	if (sp->ins.oom || !(out->text = malloc(n + 1)))
		return -1;
	memcpy(out->text, text, sp->from);
	if (sp->ins.len)
		memcpy(out->text + sp->from, sp->ins.p, sp->ins.len);
	memcpy(out->text + sp->from + sp->ins.len, text + sp->to, len - sp->to);
	out->len = n;
	out->text[n] = '\0';
	return 0;
}

/* ---- the entry point -------------------------------------------------------- */

struct edit {
	const char *name, *text, *list;
	size_t len;
	enum policy_edit_op op;
	struct policy_file *pf;		/* the text's model */
	const struct filter_list *l;	/* the edited list in it */
	struct filter_spec f;		/* FILTER */
	struct pnode *fnode;		/* FILTER's nodes */
	struct pnode *root;		/* the text's nodes */
	size_t at;			/* the filter's index in the list */
};

/* "a, b, c" of the file's list names, for messages. */
static void list_names(const struct policy_file *pf, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < pf->nlists && used + 6 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 pf->lists[i].name);

		if (w < 0 || (size_t)w >= len - used) {
			snprintf(buf + used, len - used, ", ...");
			break;
		}
		used += (size_t)w;
	}
}

static int check_request(struct edit *e, const char *shown, char *err, size_t errlen)
{
	char names[300];

	if (!(e->l = find_list(e->pf, e->list))) {
		list_names(e->pf, names, sizeof(names));
		snprintf(err, errlen, "%s defines no filter list '%.60s'; %s%s", e->name,
			 e->list, e->pf->nlists ? "its lists: " : "it has no "
			 "filter-lists section", names);
		return POLICY_EDIT_BAD;
	}
	for (e->at = 0; e->at < e->l->nfilters; e->at++)
		if (filter_spec_same(&e->l->filters[e->at], &e->f))
			break;
	if (e->op == POLICY_FILTER_ADD && e->at < e->l->nfilters) {
		snprintf(err, errlen, "filter list '%s' has %s already (%s, line %u)",
			 e->list, shown, e->name, e->l->filters[e->at].pos.line);
		return POLICY_EDIT_BAD;
	}
	if (e->op == POLICY_FILTER_ADD) {
		e->at = e->l->nfilters;
		return 0;
	}
	if (e->at == e->l->nfilters) {
		snprintf(err, errlen, "filter list '%s' has no filter %s: src, dst, "
			 "protocol, ports and mirrored must all be equal to a "
			 "filter's of the list (`ipsec-xdp show filters`)", e->list,
			 shown);
		return POLICY_EDIT_BAD;
	}
	if (e->l->nfilters == 1) {
		snprintf(err, errlen, "%s is the only filter of list '%s', and a "
			 "filter list needs at least one: add another first, or "
			 "remove the list and its rules from the policy file",
			 shown, e->list);
		return POLICY_EDIT_BAD;
	}
	return 0;
}

/* Write the change into the text: out->text. */
static int edit_text(struct edit *e, struct policy_edit *out, char *err, size_t errlen)
{
	struct splice sp = { 0 };
	struct textmap m = { 0 };
	const struct pnode *seq;
	int rc = POLICY_EDIT_FAIL;

	if (textmap_build(&m, e->text, e->len)) {
		snprintf(err, errlen, "out of memory while editing %s", e->name);
		goto out;
	}
	seq = filters_node(e->root, e->list);
	if (!seq || (e->op == POLICY_FILTER_ADD ? plan_add(&m, seq, out->filter, &sp)
		     : plan_delete(&m, seq, e->at, &sp))) {
		snprintf(err, errlen, "%s: the filters of list '%s' are written in a "
			 "form this edit does not handle (each item of a block "
			 "sequence on its own '- ' line, or a flow sequence [ ]); "
			 "edit the file and use `ipsec-xdp policy apply`", e->name,
			 e->list);
		goto out;
	}
	if (apply_splice(e->text, e->len, &sp, out)) {
		snprintf(err, errlen, "out of memory while editing %s", e->name);
		goto out;
	}
	rc = 0;
out:
	free(sp.ins.p);
	free(m.start);
	return rc;
}

static void model_delete(struct filter_list *l, size_t at,
			 struct policy_model_edit *undo)
{
	undo->removed = l->filters[at];
	memmove(&l->filters[at], &l->filters[at + 1],
		(l->nfilters - at - 1) * sizeof(*l->filters));
	l->nfilters--;
}

/* f's description becomes the model's. */
static int model_add(struct policy_file *pf, struct filter_list *l,
		     struct filter_spec *f)
{
	struct filter_spec *v = realloc(l->filters, (l->nfilters + 1) * sizeof(*v));

	if (!v)
		return -1;
	l->filters = v;
	v[l->nfilters] = *f;
	v[l->nfilters].pos = (struct srcpos){ .file = pf->path };
	f->description = NULL;
	l->nfilters++;
	return 0;
}

/* Make the change in the stored text's model, which becomes out->pf. */
static int edit_model(struct edit *e, struct policy_edit *out)
{
	struct filter_list *l = &e->pf->lists[e->l - e->pf->lists];
	struct policy_model_edit gone;

	out->index = e->at;
	if (e->op == POLICY_FILTER_ADD) {
		/* where the text has it is left unknown: see policy_edit.h */
		if (model_add(e->pf, l, &e->f))
			return -1;
	} else {
		model_delete(l, e->at, &gone);
		free(gone.removed.description);
	}
	out->nfilters = l->nfilters;
	out->pf = e->pf;
	e->pf = NULL;
	return 0;
}

/* Must the edited text be read back before the edit is returned?  When
 * the parser would judge it by more than the model shows: the filters of
 * a list a tunnel rule uses (none may be mirrored), and the file's size. */
static bool checked_now(const struct policy_file *pf, const struct filter_list *l,
			size_t len)
{
	if (len > POLICY_MAX_BYTES)
		return true;
	for (size_t i = 0; i < pf->npolicies; i++)
		for (size_t k = 0; k < pf->policies[i].nrules; k++)
			if (pf->policies[i].rules[k].has_tunnel &&
			    pf->policies[i].rules[k].filters == l)
				return true;
	return false;
}

int policy_edit_check(const char *name, struct policy_edit *e, char *err,
		      size_t errlen)
{
	struct policy_file *now = NULL;
	struct policy_error perr;
	char why[700];

	if (e->checked)
		return 0;
	memset(&perr, 0, sizeof(perr));
	if (policy_parse_buffer(name, e->text, e->len, &now, &perr)) {
		policy_error_format(&perr, why, sizeof(why));
		snprintf(err, errlen, "with this change the policy would not be "
			 "valid: %s", why);
		return POLICY_EDIT_BAD;
	}
	if (!model_same(e->pf, now)) {
		policy_file_free(now);
		snprintf(err, errlen, "%s: the edited file does not read back as "
			 "the policy with this one change (an unusual form of the "
			 "edited list); edit the file and use `ipsec-xdp policy "
			 "apply`", name);
		return POLICY_EDIT_FAIL;
	}
	policy_file_free(e->pf);
	e->pf = now;		/* the same policy, with the text's positions */
	e->checked = true;
	return 0;
}

/* FILTER read, rendered (out->filter), checked against the list, and the
 * edited text made (out->text): what both edits share, e->root and e->pf
 * being the stored text's. */
static int edit_prepare(struct edit *e, const char *filter, struct policy_edit *out,
			char *err, size_t errlen)
{
	struct sbuf s = { 0 };
	int rc;

	render_node(&s, e->fnode);
	if (s.oom) {
		free(s.p);
		snprintf(err, errlen, "out of memory while editing %s", e->name);
		return POLICY_EDIT_FAIL;
	}
	out->filter = s.p;
	if ((rc = check_request(e, out->filter, err, errlen)))
		return rc;
	return edit_text(e, out, err, errlen);
}

/* The stored text's nodes and model (as policy_parse_buffer() reads it),
 * or -1 and perr. */
static int read_stored(const char *name, const char *text, size_t len,
		       struct pnode **root, struct policy_file **pf,
		       struct policy_error *perr)
{
	struct pctx c = { name, perr };

	if (len > POLICY_MAX_BYTES)
		return perr_at(&c, 1, 1, "the file is %zu bytes; a policy file may "
			       "be at most 4 MiB (%u bytes)", len, POLICY_MAX_BYTES);
	if (pnode_load(&c, text, len, root))
		return -1;
	return policy_parse_nodes(name, *root, pf, perr);
}

static int stored_invalid(const struct policy_error *perr, char *err, size_t errlen)
{
	char why[700];

	policy_error_format(perr, why, sizeof(why));
	snprintf(err, errlen, "the stored policy is not valid, so it cannot "
		 "be edited: %s", why);
	return POLICY_EDIT_FAIL;
}

int policy_edit_filter(const char *name, const char *text, size_t len,
		       enum policy_edit_op op, const char *list,
		       const char *filter, struct policy_edit *out,
		       char *err, size_t errlen)
{
	struct edit e = { .name = name, .text = text, .len = len, .list = list,
			  .op = op };
	struct policy_error perr;
	int rc = POLICY_EDIT_BAD;

	memset(out, 0, sizeof(*out));
	memset(&perr, 0, sizeof(perr));
	if (parse_request(filter, &e.f, &e.fnode, err, errlen))
		goto out;
	/* one reading of the text for its model and for the positions */
	if (read_stored(name, text, len, &e.root, &e.pf, &perr)) {
		rc = stored_invalid(&perr, err, errlen);
		goto out;
	}
	if ((rc = edit_prepare(&e, filter, out, err, errlen)))
		goto out;
	if (edit_model(&e, out)) {
		snprintf(err, errlen, "out of memory while editing %s", name);
		rc = POLICY_EDIT_FAIL;
		goto out;
	}
	if (checked_now(out->pf, e.l, out->len))
		rc = policy_edit_check(name, out, err, errlen);
out:
	if (rc)
		policy_edit_free(out);
	free(e.f.description);
	pnode_free(e.fnode);
	pnode_free(e.root);
	policy_file_free(e.pf);
	return rc;
}

/* ---- a text kept read (the daemon's) ------------------------------------------- */

struct policy_text {
	char *name, *text;
	size_t len;
	struct pnode *root;
	struct policy_file *pf;
};

int policy_text_read(const char *name, const char *text, size_t len,
		     struct policy_text **out, struct policy_error *perr)
{
	struct policy_text *t = calloc(1, sizeof(*t));
	struct pctx c = { name, perr };

	*out = NULL;
	if (!t || !(t->name = strdup(name)) || !(t->text = malloc(len + 1))) {
		policy_text_free(t);
		return perr_at(&c, 0, 0, "out of memory");
	}
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->len = len;
	if (read_stored(t->name, t->text, len, &t->root, &t->pf, perr)) {
		policy_text_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

const struct policy_file *policy_text_model(const struct policy_text *t)
{
	return t->pf;
}

bool policy_text_is(const struct policy_text *t, const char *text, size_t len)
{
	return len == t->len && !memcmp(text, t->text, len);
}

void policy_text_free(struct policy_text *t)
{
	if (!t)
		return;
	pnode_free(t->root);
	policy_file_free(t->pf);
	free(t->text);
	free(t->name);
	free(t);
}

int policy_edit_kept(struct policy_text *t, enum policy_edit_op op,
		     const char *list, const char *filter, struct policy_edit *out,
		     struct policy_model_edit *undo, char *err, size_t errlen)
{
	struct edit e = { .name = t->name, .text = t->text, .len = t->len,
			  .list = list, .op = op, .root = t->root, .pf = t->pf };
	struct filter_list *l;
	int rc = POLICY_EDIT_BAD;

	memset(out, 0, sizeof(*out));
	memset(undo, 0, sizeof(*undo));
	if (parse_request(filter, &e.f, &e.fnode, err, errlen) ||
	    (rc = edit_prepare(&e, filter, out, err, errlen)))
		goto out;
	l = &t->pf->lists[e.l - t->pf->lists];
	if (checked_now(t->pf, e.l, out->len)) {
		snprintf(err, errlen, "only reading the edited text can tell "
			 "whether this edit is valid (a tunnel rule's list, or the "
			 "size of the file)");
		rc = POLICY_EDIT_TEXT;
	} else if (op == POLICY_FILTER_DELETE) {
		model_delete(l, e.at, undo);
	} else if (model_add(t->pf, l, &e.f)) {
		snprintf(err, errlen, "out of memory while editing %s", t->name);
		rc = POLICY_EDIT_FAIL;
	}
	if (!rc) {
		*undo = (struct policy_model_edit){ .list = l, .op = op, .index = e.at,
						    .removed = undo->removed };
		out->index = e.at;
		out->nfilters = l->nfilters;
	}
out:
	if (rc)
		policy_edit_free(out);
	free(e.f.description);
	pnode_free(e.fnode);
	return rc;
}

/* The list's array keeps its room after a delete (nothing shrinks it), so
 * the filter taken out goes back without an allocation. */
void policy_edit_undo(struct policy_model_edit *undo)
{
	struct filter_list *l = undo->list;

	if (!l)
		return;
	if (undo->op == POLICY_FILTER_ADD) {
		free(l->filters[--l->nfilters].description);
	} else {
		memmove(&l->filters[undo->index + 1], &l->filters[undo->index],
			(l->nfilters - undo->index) * sizeof(*l->filters));
		l->filters[undo->index] = undo->removed;
		l->nfilters++;
	}
	undo->list = NULL;
}

void policy_edit_free(struct policy_edit *e)
{
	free(e->text);
	free(e->filter);
	policy_file_free(e->pf);
	memset(e, 0, sizeof(*e));
}
