// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_policy_tree.c - the node tree of the policy parser
 * (lib/policy/policy_yaml.c) where its memory is managed: an arena of
 * blocks kept for the next tree, kid arrays moved into it when their
 * collection ends, the duplicate-key check pairwise or sorted.
 *
 *  - a scalar bigger than a block (its own block) and thousands of items
 *    (the kid stack grows) read back whole, with their positions, in
 *    several parses one after the other (the blocks of the last tree
 *    reused) and with two trees alive at once;
 *  - a duplicate key is reported at the same place whether its mapping
 *    is small (compared pairwise) or large (sorted);
 *  - an error in the middle of a big file leaves nothing behind (ASan,
 *    valgrind) and the next parse is whole.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy/policy.h"
#include "policy/policy_internal.h"

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(w >= 0);
	if (t->len + (size_t)w + 1 > t->cap) {
		t->cap = (t->len + (size_t)w + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)w;
}

#define NFILTERS 3000
#define BIG 50000	/* bytes of the big description: more than a block */

/* A list of NFILTERS filters (filter i on line 5 + i), a description of
 * BIG 'x' on line 3. */
static void big_policy(struct text *t)
{
	*t = (struct text){ 0 };
	put(t, "filter-lists:\n  bulk:\n    description: ");
	for (int i = 0; i < BIG; i++)
		put(t, "x");
	put(t, "\n    filters:\n");
	for (int i = 0; i < NFILTERS; i++)
		put(t, "      - { src: 10.77.0.1, dst: 10.1.%d.%d }\n", i / 250,
		    i % 250 + 1);
	put(t, "policies:\n  p:\n    rules:\n"
	       "      - { name: bulk, filter-list: bulk, action: permit }\n");
}

static void check_big(const struct policy_file *pf)
{
	const struct filter_list *l = &pf->lists[0];

	assert_int_equal(pf->nlists, 1);
	assert_int_equal(l->nfilters, NFILTERS);
	assert_int_equal(strlen(l->description), BIG);
	assert_int_equal(strspn(l->description, "x"), BIG);
	for (size_t i = 0; i < l->nfilters; i++) {
		assert_int_equal(l->filters[i].pos.line, 5 + i);
		assert_int_equal(l->filters[i].pos.column, 9);
		assert_int_equal(l->filters[i].dst.addr.bytes[2], i / 250);
		assert_int_equal(l->filters[i].dst.addr.bytes[3], i % 250 + 1);
	}
}

static void test_big_file_parsed_again_and_again(void **state)
{
	struct policy_error err;
	struct text t;

	(void)state;
	big_policy(&t);
	for (int round = 0; round < 4; round++) {
		struct policy_file *pf = NULL;

		assert_int_equal(policy_parse_buffer("big.yaml", t.p, t.len, &pf, &err), 0);
		check_big(pf);
		policy_file_free(pf);
	}
	free(t.p);
}

static void test_two_trees_alive(void **state)
{
	struct policy_error err = { 0 };
	struct pctx c = { "big.yaml", &err };
	struct pnode *a = NULL, *b = NULL;
	struct text t;

	(void)state;
	big_policy(&t);
	assert_int_equal(pnode_load(&c, t.p, t.len, &a), 0);
	assert_int_equal(pnode_load(&c, t.p, t.len, &b), 0);
	assert_non_null(a);
	assert_non_null(b);
	/* filter-lists -> bulk -> filters: the same items, not shared */
	{
		const struct pnode *fa = pmap_get(pmap_get(pmap_get(a, "filter-lists", NULL),
							   "bulk", NULL), "filters", NULL);
		const struct pnode *fb = pmap_get(pmap_get(pmap_get(b, "filter-lists", NULL),
							   "bulk", NULL), "filters", NULL);

		assert_non_null(fa);
		assert_non_null(fb);
		assert_int_equal(fa->nkids, NFILTERS);
		assert_int_equal(fb->nkids, NFILTERS);
		assert_ptr_not_equal(fa->kids[0], fb->kids[0]);
		assert_string_equal(pmap_get(fa->kids[NFILTERS - 1], "dst", NULL)->text,
				    pmap_get(fb->kids[NFILTERS - 1], "dst", NULL)->text);
		assert_int_equal(fa->kids[NFILTERS - 1]->line, 5 + NFILTERS - 1);
	}
	pnode_free(a);
	pnode_free(b);
	free(t.p);
}

/* A mapping of `nkeys` keys k0..k(n-1), then k3 again: the error. */
static void check_duplicate_in(int nkeys)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	struct text t = { 0 };
	char want[128];

	put(&t, "policies:\n  p:\n");
	for (int i = 0; i < nkeys; i++)
		put(&t, "    k%d: 1\n", i);
	put(&t, "    k3: 2\n");
	assert_int_equal(policy_parse_buffer("dup.yaml", t.p, t.len, &pf, &err), -1);
	assert_null(pf);
	assert_int_equal(err.line, 3 + nkeys);
	assert_int_equal(err.column, 5);
	snprintf(want, sizeof(want), "duplicate key 'k3' (first at line 6, column 5); "
		 "each key may appear only once in a mapping");
	assert_string_equal(err.msg, want);
	free(t.p);
}

static void test_duplicate_key_small_and_large_maps(void **state)
{
	(void)state;
	check_duplicate_in(5);		/* pairwise */
	check_duplicate_in(16);		/* pairwise, the largest */
	check_duplicate_in(40);		/* sorted */
}

static void test_error_mid_file_then_whole(void **state)
{
	struct policy_file *pf = NULL;
	struct policy_error err;
	struct text t, bad;

	(void)state;
	big_policy(&t);
	/* the same file cut in the middle of a flow mapping */
	bad = (struct text){ malloc(t.len / 2 + 1), t.len / 2, 0 };
	assert_non_null(bad.p);
	memcpy(bad.p, t.p, bad.len);
	assert_int_equal(policy_parse_buffer("cut.yaml", bad.p, bad.len, &pf, &err), -1);
	assert_null(pf);
	assert_true(err.line > 5);
	assert_int_equal(policy_parse_buffer("big.yaml", t.p, t.len, &pf, &err), 0);
	check_big(pf);
	policy_file_free(pf);
	free(bad.p);
	free(t.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_file_parsed_again_and_again),
		cmocka_unit_test(test_two_trees_alive),
		cmocka_unit_test(test_duplicate_key_small_and_large_maps),
		cmocka_unit_test(test_error_mid_file_then_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
