// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_yaml.c - YAML text -> a small tree of nodes that know their line
 * and column, plus the error helpers of the policy parser.
 *
 * libyaml's event parser is used rather than its document loader so that
 * aliases (which can make the tree a graph, or blow it up exponentially)
 * are refused, the nesting depth is bounded, and duplicate keys are caught
 * while the positions are at hand.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy/policy_internal.h"

/* The deepest a valid policy nests is about 9; this leaves room and keeps
 * the recursive free bounded. */
#define PNODE_MAX_DEPTH 32

/* Up to this many strings, comparing every pair is cheaper than sorting
 * (a mapping's keys: a filter has at most 7). */
#define DUP_PAIRWISE_MAX 16

static int perr_va(struct pctx *c, unsigned line, unsigned col,
		   const char *fmt, va_list ap)
{
	if (!c->err)
		return -1;
	snprintf(c->err->file, sizeof(c->err->file), "%s", c->file);
	c->err->line = line;
	c->err->column = col;
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	return -1;
}

int perr_at(struct pctx *c, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_va(c, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

int perr(struct pctx *c, const struct pnode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_va(c, n->line, n->col, fmt, ap);
	va_end(ap);
	return -1;
}

const char *pnode_type_name(enum pnode_type t)
{
	switch (t) {
	case PN_SCALAR:
		return "a single value";
	case PN_SEQ:
		return "a list";
	case PN_MAP:
		return "a mapping";
	}
	return "?";
}

/* ---- the tree's memory ------------------------------------------------------
 * A tree is built once and freed whole: its nodes, texts and kid arrays come
 * from a chain of 32 KiB blocks, not one malloc each (a request of more
 * than a quarter of a block gets a block of its own). */

#define ARENA_BLOCK (32u * 1024)
#define ARENA_SPARE_MAX (8u * 1024 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

struct pnode_arena {
	struct arena_block *head;	/* the block being filled, then the full ones */
};

/*
 * The blocks of freed trees wait here for the next trees, up to
 * ARENA_SPARE_MAX bytes (an edit holds two trees at once): malloc keeps
 * the small chunks of a freed tree for reuse too, but gives whole free
 * blocks back to the system, and the next parse would touch fresh pages
 * again (slower than the parse itself on a virtual machine).  Not under
 * AddressSanitizer, which must see every tree's memory freed.
 */
static struct {
	pthread_mutex_t lock;
	struct arena_block *blocks;
	size_t bytes;
} spare = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void blocks_free(struct arena_block *b)
{
	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
}

#if defined(__SANITIZE_ADDRESS__)
static struct arena_block *spare_take(void)
{
	return NULL;
}

static void spare_give(struct arena_block *chain)
{
	blocks_free(chain);
}
#else
/* One empty standard block, or NULL. */
static struct arena_block *spare_take(void)
{
	struct arena_block *b;

	pthread_mutex_lock(&spare.lock);
	b = spare.blocks;
	if (b) {
		spare.blocks = b->next;
		spare.bytes -= b->size;
	}
	pthread_mutex_unlock(&spare.lock);
	return b;
}

/* A chain of empty standard blocks: kept while there is room, the rest
 * freed. */
static void spare_give(struct arena_block *chain)
{
	struct arena_block *b;

	pthread_mutex_lock(&spare.lock);
	while (chain && spare.bytes + ARENA_BLOCK <= ARENA_SPARE_MAX) {
		b = chain;
		chain = b->next;
		b->next = spare.blocks;
		spare.blocks = b;
		spare.bytes += b->size;
	}
	pthread_mutex_unlock(&spare.lock);
	blocks_free(chain);
}
#endif

/* Every block of the arena: the standard ones kept for the next tree
 * (spare_give), the others freed. */
static void arena_free(struct pnode_arena *a)
{
	struct arena_block *keep = NULL, *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		if (b->size != ARENA_BLOCK) {
			free(b);
			continue;
		}
		b->used = 0;
		b->next = keep;
		keep = b;
	}
	spare_give(keep);
	free(a);
}

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = size == ARENA_BLOCK ? spare_take() : NULL;

	if (b)
		return b;
	b = malloc(sizeof(*b) + size);
	if (b) {
		b->used = 0;
		b->size = size;
	}
	return b;
}

/* A new block for `need` bytes: the one to fill next, or one of its own
 * behind the current one when the request is big, so that the rest of the
 * current one stays in use. */
static struct arena_block *arena_grow(struct pnode_arena *a, size_t need)
{
	bool big = need > ARENA_BLOCK / 4;
	struct arena_block *b = block_new(big ? need : ARENA_BLOCK);

	if (!b)
		return NULL;
	if (big && a->head) {
		b->next = a->head->next;
		a->head->next = b;
		return b;
	}
	b->next = a->head;
	a->head = b;
	return b;
}

/* size bytes aligned to `align` (a power of two): nodes and kid arrays to
 * a pointer's, texts to 1. */
static void *arena_alloc(struct pnode_arena *a, size_t size, size_t align)
{
	struct arena_block *b = a->head;
	size_t at;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (b) {
		at = (b->used + align - 1) & ~(align - 1);
		if (at <= b->size && b->size - at >= size) {
			b->used = at + size;
			return (char *)b->data + at;
		}
	}
	b = arena_grow(a, size);
	if (!b)
		return NULL;
	b->used += size;
	return (char *)b->data + b->used - size;
}

void pnode_free(struct pnode *root)
{
	if (root)
		arena_free(root->arena);
}

/* ---- loading ---------------------------------------------------------- */

struct loader {
	struct pctx *c;
	const char *buf;
	size_t len;
	struct pnode_arena *arena;
	struct pnode *root;
	struct pnode *stack[PNODE_MAX_DEPTH];
	size_t depth;
	unsigned ndocs;
	/* the kids of the open collections, innermost last; stack[i]'s start
	 * at base[i] and move into the arena when it ends */
	struct pnode **kids;
	size_t nkids, cap;
	size_t base[PNODE_MAX_DEPTH];
};

static void set_end(struct pnode *n, yaml_mark_t m)
{
	n->end_line = (unsigned)m.line + 1;
	n->end_col = (unsigned)m.column + 1;
}

static struct pnode *pnode_new(struct loader *l, enum pnode_type t, yaml_mark_t m)
{
	struct pnode *n = arena_alloc(l->arena, sizeof(*n), _Alignof(struct pnode));

	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->line = (unsigned)m.line + 1;
	n->col = (unsigned)m.column + 1;
	return n;
}

/* A kid of the innermost open collection. */
static int kids_push(struct loader *l, struct pnode *kid)
{
	if (l->nkids == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pnode **v = realloc(l->kids, cap * sizeof(*v));

		if (!v)
			return -1;
		l->kids = v;
		l->cap = cap;
	}
	l->kids[l->nkids++] = kid;
	return 0;
}

/* The open collection n (stack[l->depth], just popped) ends: its kids
 * into the arena. */
static int kids_close(struct loader *l, struct pnode *n)
{
	size_t base = l->base[l->depth], k = l->nkids - base;

	if (k) {
		n->kids = arena_alloc(l->arena, k * sizeof(*n->kids),
				      _Alignof(struct pnode *));
		if (!n->kids)
			return -1;
		memcpy(n->kids, l->kids + base, k * sizeof(*n->kids));
	}
	n->nkids = k;
	l->nkids = base;
	return 0;
}

static bool in_key_position(const struct loader *l)
{
	const struct pnode *p = l->depth ? l->stack[l->depth - 1] : NULL;

	return p && p->type == PN_MAP && (l->nkids - l->base[l->depth - 1]) % 2 == 0;
}

/* Hang a new node on the tree at once (its memory is the arena's). */
static int attach(struct loader *l, struct pnode *n)
{
	if (!l->depth) {
		l->root = n;
		return 0;
	}
	if (in_key_position(l) && n->type != PN_SCALAR)
		return perr(l->c, n, "a mapping key must be a plain name, not %s",
			    pnode_type_name(n->type));
	if (kids_push(l, n))
		return perr_at(l->c, 1, 1, "out of memory while reading the file");
	return 0;
}

static bool plain_null(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int on_scalar(struct loader *l, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct pnode *n;

	if (memchr(v, '\0', len))
		return perr_at(l->c, (unsigned)ev->start_mark.line + 1,
			       (unsigned)ev->start_mark.column + 1,
			       "a value contains a NUL character; expected text");
	n = pnode_new(l, PN_SCALAR, ev->start_mark);
	if (!n || !(n->text = arena_alloc(l->arena, len + 1, 1)))
		return perr_at(l->c, 1, 1, "out of memory while reading the file");
	memcpy(n->text, v, len + 1);
	n->is_null = plain_null(ev);
	set_end(n, ev->end_mark);
	return attach(l, n);
}

static int on_collection_start(struct loader *l, const yaml_event_t *ev,
			       enum pnode_type t)
{
	struct pnode *n;

	if (l->depth == PNODE_MAX_DEPTH)
		return perr_at(l->c, (unsigned)ev->start_mark.line + 1,
			       (unsigned)ev->start_mark.column + 1,
			       "lists and mappings nest deeper than %d levels; "
			       "a policy file never needs that", PNODE_MAX_DEPTH);
	n = pnode_new(l, t, ev->start_mark);
	if (!n)
		return perr_at(l->c, 1, 1, "out of memory while reading the file");
	n->flow = t == PN_MAP ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
			      : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	if (attach(l, n))
		return -1;
	l->base[l->depth] = l->nkids;
	l->stack[l->depth++] = n;
	return 0;
}

static int check_duplicate_keys(struct loader *l, const struct pnode *m)
{
	size_t n = pmap_len(m), first, dup;
	const char *few[DUP_PAIRWISE_MAX];
	const char **keys = n <= DUP_PAIRWISE_MAX ? few : malloc(n * sizeof(*keys));

	if (!keys)
		return perr_at(l->c, 1, 1, "out of memory while reading the file");
	for (size_t i = 0; i < n; i++)
		keys[i] = pmap_key(m, i)->text;
	dup = find_duplicate(keys, n, &first);
	if (keys != few)
		free(keys);
	if (dup == (size_t)-1)
		return 0;
	return perr(l->c, pmap_key(m, dup),
		    "duplicate key '%.100s' (first at line %u, column %u); "
		    "each key may appear only once in a mapping",
		    pmap_key(m, dup)->text, pmap_key(m, first)->line,
		    pmap_key(m, first)->col);
}

static int on_collection_end(struct loader *l, const yaml_event_t *ev)
{
	struct pnode *n;

	if (!l->depth)
		return 0; /* libyaml balances its events; never trust blindly */
	n = l->stack[--l->depth];
	set_end(n, ev->end_mark);
	if (kids_close(l, n))
		return perr_at(l->c, 1, 1, "out of memory while reading the file");

	return n->type == PN_MAP ? check_duplicate_keys(l, n) : 0;
}

static int on_event(struct loader *l, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned col = (unsigned)ev->start_mark.column + 1;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++l->ndocs > 1)
			return perr_at(l->c, line, col,
				       "a second YAML document; a policy file holds "
				       "exactly one (remove the '---')");
		return 0;
	case YAML_ALIAS_EVENT:
		return perr_at(l->c, line, col,
			       "aliases (*%.60s) are not supported; write the value out",
			       (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		return on_scalar(l, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection_start(l, ev, PN_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_collection_start(l, ev, PN_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_collection_end(l, ev);
	default:
		return 0;
	}
}

static bool utf8_continuation(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

/* libyaml reports a bad continuation byte at the byte itself: point at the
 * start of the broken character instead, where the reader sees it. */
static size_t broken_char_start(const char *buf, size_t off)
{
	for (size_t k = 1; k <= 3 && k <= off; k++)
		if (((unsigned char)buf[off - k] & 0xc0) == 0xc0)
			return off - k;
	return off;
}

/* A reader error has a byte offset but no line: count it out.  Columns
 * count characters, as libyaml's marks do. */
static void offset_to_position(const char *buf, size_t len, size_t off,
			       unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (!utf8_continuation((unsigned char)buf[i])) {
			(*col)++;
		}
	}
}

/* The byte at a 1-based line and character column, or NUL past the end. */
static char char_at(const char *buf, size_t len, unsigned line, unsigned col)
{
	size_t i = 0;

	for (unsigned ln = 1; ln < line && i < len; i++)
		if (buf[i] == '\n')
			ln++;
	for (unsigned c = 1; i < len && buf[i] != '\n'; i++) {
		if (utf8_continuation((unsigned char)buf[i]))
			continue;
		if (c++ == col)
			return buf[i];
	}
	return '\0';
}

/* In { } and [ ], YAML reads a leading ':' as syntax: the commonest case is
 * an IPv6 address such as ::1, so say so. */
static const char *syntax_hint(const struct loader *l, unsigned line, unsigned col)
{
	if (char_at(l->buf, l->len, line, col) == ':')
		return "; quote a value that starts with ':' (e.g. \"::1\") inside "
		       "{ } or [ ]";
	return "; check indentation, colons and quotes";
}

static int syntax_error(struct loader *l, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown problem";
	unsigned line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return perr_at(l->c, 1, 1, "out of memory while reading the file");
	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset;

		if (off < l->len && !strcmp(problem, "invalid trailing UTF-8 octet"))
			off = broken_char_start(l->buf, off);
		offset_to_position(l->buf, l->len, off, &line, &col);
		if (p->problem_value >= 0)
			return perr_at(l->c, line, col,
				       "not a text file: %s (byte 0x%02x); expected "
				       "UTF-8 text", problem, (unsigned)p->problem_value);
		return perr_at(l->c, line, col,
			       "not a text file: %s; expected UTF-8 text", problem);
	}
	line = (unsigned)p->problem_mark.line + 1;
	col = (unsigned)p->problem_mark.column + 1;
	if (p->context)
		return perr_at(l->c, line, col,
			       "YAML syntax error: %s (%s that starts at line %zu, "
			       "column %zu)%s", problem, p->context,
			       p->context_mark.line + 1, p->context_mark.column + 1,
			       syntax_hint(l, line, col));
	return perr_at(l->c, line, col, "YAML syntax error: %s%s", problem,
		       syntax_hint(l, line, col));
}

int pnode_load(struct pctx *c, const char *buf, size_t len, struct pnode **root)
{
	struct loader l = { .c = c, .buf = buf, .len = len };
	yaml_parser_t parser;
	bool done = false;
	int rc = 0;

	l.arena = calloc(1, sizeof(*l.arena));
	if (!l.arena)
		return perr_at(c, 1, 1, "out of memory while reading the file");
	if (!yaml_parser_initialize(&parser)) {
		arena_free(l.arena);
		return perr_at(c, 1, 1, "out of memory while reading the file");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !rc) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(&l, &parser);
			break;
		}
		rc = on_event(&l, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(l.kids);
	if (rc || !l.root) {
		arena_free(l.arena);
		*root = NULL;
		return rc ? -1 : 0;
	}
	l.root->arena = l.arena;
	*root = l.root;
	return 0;
}

/* ---- looking things up -------------------------------------------------- */

struct pnode *pmap_get(const struct pnode *m, const char *key, struct pnode **keynode)
{
	for (size_t i = 0; i < pmap_len(m); i++) {
		if (!strcmp(pmap_key(m, i)->text, key)) {
			if (keynode)
				*keynode = pmap_key(m, i);
			return pmap_val(m, i);
		}
	}
	return NULL;
}

int pexpect(struct pctx *c, const struct pnode *n, enum pnode_type t, const char *what)
{
	if (n->type == t && !(t == PN_SCALAR && n->is_null))
		return 0;
	if (n->type == PN_SCALAR && n->is_null)
		return perr(c, n, "%s has no value; expected %s", what,
			    pnode_type_name(t));
	return perr(c, n, "expected %s for %s, got %s", pnode_type_name(t), what,
		    pnode_type_name(n->type));
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void join_list(const char *const *list, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *list && used < len; list++) {
		int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *list);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int pcheck_keys(struct pctx *c, const struct pnode *m, const char *const *valid,
		const char *where)
{
	char names[300];

	for (size_t i = 0; i < pmap_len(m); i++) {
		const struct pnode *k = pmap_key(m, i);

		if (in_list(k->text, valid))
			continue;
		join_list(valid, names, sizeof(names));
		return perr(c, k, "unknown key '%.60s' in %s; expected one of: %s",
			    k->text, where, names);
	}
	return 0;
}

int pmap_pick(struct pctx *c, const struct pnode *m, const char *const *valid,
	      const char *where, const struct pnode **vals)
{
	size_t nvalid = 0;

	while (valid[nvalid])
		vals[nvalid++] = NULL;
	for (size_t i = 0; i < pmap_len(m); i++) {
		const char *k = pmap_key(m, i)->text;
		size_t j = 0;

		while (j < nvalid && strcmp(k, valid[j]))
			j++;
		if (j == nvalid) /* the first unknown key: pcheck_keys says so */
			return pcheck_keys(c, m, valid, where);
		if (!vals[j])
			vals[j] = pmap_val(m, i);
	}
	return 0;
}

/* ---- duplicates ---------------------------------------------------------- */

struct dup_item {
	const char *s;
	size_t idx;
};

static int cmp_dup_item(const void *pa, const void *pb)
{
	const struct dup_item *a = pa, *b = pb;
	int r = strcmp(a->s, b->s);

	if (r)
		return r;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The first string that repeats an earlier one is the second occurrence of
 * its string: the earlier one is unique. */
static size_t find_duplicate_pairwise(const char *const *v, size_t n, size_t *first)
{
	for (size_t j = 1; j < n; j++)
		for (size_t i = 0; i < j; i++)
			if (!strcmp(v[i], v[j])) {
				*first = i;
				return j;
			}
	return (size_t)-1;
}

size_t find_duplicate(const char *const *v, size_t n, size_t *first)
{
	struct dup_item *items;
	size_t best = (size_t)-1;

	if (n < 2)
		return best;
	if (n <= DUP_PAIRWISE_MAX)
		return find_duplicate_pairwise(v, n, first);
	items = malloc(n * sizeof(*items));
	if (!items) /* too little memory to sort */
		return find_duplicate_pairwise(v, n, first);
	for (size_t i = 0; i < n; i++)
		items[i] = (struct dup_item){ v[i], i };
	qsort(items, n, sizeof(*items), cmp_dup_item);
	/* After sorting, equal strings are adjacent and in file order: the
	 * repeat that comes first in the file is the one to report. */
	for (size_t i = 1; i < n; i++) {
		if (strcmp(items[i - 1].s, items[i].s))
			continue;
		if (items[i].idx < best) {
			best = items[i].idx;
			*first = items[i - 1].idx;
		}
	}
	free(items);
	return best;
}
