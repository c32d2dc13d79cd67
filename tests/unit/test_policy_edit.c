// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_policy_edit.c - `filter add|delete` on a policy file's text
 * (lib/policy/policy_edit.c):
 *
 *  - an added filter is the list's last, a deleted one is gone, and the
 *    rest of the file is byte for byte what it was (comments included), in
 *    block and flow sequences, with CRLF line breaks and without a final
 *    line break;
 *  - adding then deleting gives back the original text;
 *  - every refused request (unknown list, a filter that does not parse,
 *    a duplicate, not found, the last filter, a mirrored filter in a
 *    tunnel rule's list, an invalid stored file) says why and returns no
 *    text;
 *  - a 2000-filter list: the edit still lands at the right place;
 *  - every filter of every valid policy file of the tree deleted (named in
 *    other words than the file's), and one added to every list;
 *  - the same edits made in a text kept read (policy_edit_kept(), the
 *    daemon's): the same verdict and the same edited text, the kept model
 *    then reads as that text, and each undo gives the stored model back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "policy/policy_edit.h"

static const char BLOCK[] =
	"# office policy\n"
	"filter-lists:\n"
	"  lab:\n"
	"    description: the lab\n"
	"    filters:\n"
	"      # the lab net\n"
	"      - { src: me, dst: 10.1.0.0/16 }   # keep me\n"
	"      - src: me\n"
	"        dst: 10.2.0.0/16\n"
	"        protocol: tcp\n"
	"      - { src: me, dst: 10.3.0.1, protocol: udp, dst-port: 53 }\n"
	"  db: { filters: [ { src: me, dst: 10.1.2.3, protocol: tcp, dst-port: 5432 } ] }\n"
	"# actions\n"
	"policies:\n"
	"  office:\n"
	"    rules:\n"
	"      - { name: lab, filter-list: lab, action: block }\n"
	"      - { name: db, filter-list: db, action: permit }\n";

static int edit(const char *text, enum policy_edit_op op, const char *list,
		const char *filter, struct policy_edit *out, char *err, size_t errlen)
{
	err[0] = '\0';
	return policy_edit_filter("policy.yaml", text, strlen(text), op, list,
				  filter, out, err, errlen);
}

/* The parsed list's filters after an edit. */
static const struct filter_list *list_of(struct policy_file *pf, const char *name)
{
	for (size_t i = 0; i < pf->nlists; i++)
		if (!strcmp(pf->lists[i].name, name))
			return &pf->lists[i];
	fail_msg("no list %s", name);
	return NULL;
}

static struct policy_file *parse(const struct policy_edit *e)
{
	struct policy_error perr;
	struct policy_file *pf = NULL;
	char msg[800];

	if (policy_parse_buffer("edited", e->text, e->len, &pf, &perr)) {
		policy_error_format(&perr, msg, sizeof(msg));
		fail_msg("the edited text does not parse: %s\n%s", msg, e->text);
	}
	return pf;
}

/* The edited model is what the edited text reads as (policy_edit_check()
 * compares them), then frees the edit. */
static void check_reads_back(struct policy_edit *e)
{
	char err[800];
	int rc = policy_edit_check("edited", e, err, sizeof(err));

	if (rc)
		fail_msg("the edit does not read back: %s\n%s", err, e->text);
	assert_true(e->checked);
	policy_edit_free(e);
}

static void test_add_block(void **state)
{
	struct policy_edit e;
	struct policy_file *pf;
	const struct filter_list *l;
	char err[800];
	const char *tail = "      - { src: me, dst: 10.3.0.1, protocol: udp, dst-port: 53 }\n";
	const char *added = "      - { src: me, dst: \"2001:db8::1\", protocol: tcp, "
			    "dst-port: 22 }\n";
	const char *at;

	(void)state;
	assert_int_equal(edit(BLOCK, POLICY_FILTER_ADD, "lab",
			      "{src: me, dst: '2001:db8::1', protocol: tcp, dst-port: 22}",
			      &e, err, sizeof(err)), 0);
	assert_string_equal(e.filter, "{ src: me, dst: \"2001:db8::1\", protocol: tcp, "
			    "dst-port: 22 }");
	assert_int_equal(e.index, 3);
	assert_int_equal(e.nfilters, 4);
	/* the new line comes right after the last item, same indentation */
	at = strstr(e.text, tail);
	assert_non_null(at);
	at += strlen(tail);
	assert_memory_equal(at, added, strlen(added));
	/* and nothing else changed */
	assert_int_equal(e.len, strlen(BLOCK) + strlen(added));
	assert_memory_equal(e.text, BLOCK, (size_t)(at - e.text));
	assert_string_equal(at + strlen(added), BLOCK + (at - e.text));
	/* the model handed back is the edited text's */
	assert_non_null(e.pf);
	assert_int_equal(list_of(e.pf, "lab")->nfilters, 4);
	pf = parse(&e);
	l = list_of(pf, "lab");
	assert_int_equal(l->nfilters, 4);
	assert_int_equal(l->filters[3].proto, 6);
	assert_int_equal(l->filters[3].dport.lo, 22);
	assert_int_equal(l->filters[3].dst.addr.family, 10);
	policy_file_free(pf);
	policy_edit_free(&e);
}

static void test_delete_block(void **state)
{
	struct policy_edit e;
	char err[800];
	char want[sizeof(BLOCK)];
	const char *line = "      - src: me\n        dst: 10.2.0.0/16\n        protocol: tcp\n";
	const char *p = strstr(BLOCK, line);

	(void)state;
	/* named by its fields, in another spelling and order */
	assert_int_equal(edit(BLOCK, POLICY_FILTER_DELETE, "lab",
			      "{ protocol: 6, dst: 10.2.0.0/16, src: me, mirrored: yes }",
			      &e, err, sizeof(err)), 0);
	assert_int_equal(e.index, 1);
	assert_int_equal(e.nfilters, 2);
	snprintf(want, sizeof(want), "%.*s%s", (int)(p - BLOCK), BLOCK, p + strlen(line));
	assert_string_equal(e.text, want);
	policy_edit_free(&e);

	/* the first item: its comment line above stays, its own comment goes */
	assert_int_equal(edit(BLOCK, POLICY_FILTER_DELETE, "lab",
			      "{src: me, dst: 10.1.0.0/16}", &e, err, sizeof(err)), 0);
	assert_int_equal(e.index, 0);
	assert_non_null(strstr(e.text, "# the lab net\n      - src: me\n"));
	assert_null(strstr(e.text, "keep me"));
	policy_edit_free(&e);
}

static void test_flow(void **state)
{
	static const char FLOW[] =
		"filter-lists: { db: { filters: [ { src: me, dst: 10.1.2.3 }, "
		"{ src: me, dst: 10.1.2.4 } ] } }  # one line\n"
		"policies: { p: { rules: [ { name: db, filter-list: db, action: block } ] } }";
	struct policy_edit e, e2;
	char err[800];

	(void)state;
	assert_int_equal(edit(FLOW, POLICY_FILTER_ADD, "db", "{src: me, dst: 10.1.2.5}",
			      &e, err, sizeof(err)), 0);
	assert_non_null(strstr(e.text, "{ src: me, dst: 10.1.2.4 }, { src: me, dst: "
			       "10.1.2.5 } ] } }  # one line\n"));
	/* deleting it again gives the original back */
	assert_int_equal(edit(e.text, POLICY_FILTER_DELETE, "db", "{src: me, dst: 10.1.2.5}",
			      &e2, err, sizeof(err)), 0);
	assert_string_equal(e2.text, FLOW);
	policy_edit_free(&e2);
	policy_edit_free(&e);

	/* first and last items */
	assert_int_equal(edit(FLOW, POLICY_FILTER_DELETE, "db", "{src: me, dst: 10.1.2.3}",
			      &e, err, sizeof(err)), 0);
	assert_non_null(strstr(e.text, "filters: [ { src: me, dst: 10.1.2.4 } ] }"));
	policy_edit_free(&e);
	assert_int_equal(edit(FLOW, POLICY_FILTER_DELETE, "db", "{src: me, dst: 10.1.2.4}",
			      &e, err, sizeof(err)), 0);
	assert_non_null(strstr(e.text, "filters: [ { src: me, dst: 10.1.2.3 } ] }"));
	policy_edit_free(&e);
}

static void test_add_delete_round_trip(void **state)
{
	struct policy_edit e, e2;
	char err[800];

	(void)state;
	assert_int_equal(edit(BLOCK, POLICY_FILTER_ADD, "lab",
			      "{src: 10.9.0.0/24, dst: any, description: \"a \\\"quoted\\\" one\"}",
			      &e, err, sizeof(err)), 0);
	assert_int_equal(edit(e.text, POLICY_FILTER_DELETE, "lab",
			      "{src: 10.9.0.0/24, dst: any}", &e2, err, sizeof(err)), 0);
	assert_string_equal(e2.text, BLOCK);
	policy_edit_free(&e2);
	policy_edit_free(&e);
}

static void test_crlf_and_no_final_break(void **state)
{
	static const char CRLF[] =
		"filter-lists:\r\n  l:\r\n    filters:\r\n    - { src: me, dst: 10.0.0.1 }\r\n"
		"policies:\r\n  p:\r\n    rules:\r\n    - { name: r, filter-list: l, action: block }\r\n";
	static const char NOEOL[] =
		"policies:\n  p:\n    rules:\n    - { name: r, filter-list: l, action: block }\n"
		"filter-lists:\n  l:\n    filters:\n    - { src: me, dst: 10.0.0.1 }";
	struct policy_edit e;
	char err[800];

	(void)state;
	assert_int_equal(edit(CRLF, POLICY_FILTER_ADD, "l", "{src: me, dst: 10.0.0.2}",
			      &e, err, sizeof(err)), 0);
	assert_non_null(strstr(e.text, "10.0.0.1 }\r\n    - { src: me, dst: 10.0.0.2 }\r\n"
			       "policies:"));
	policy_edit_free(&e);
	assert_int_equal(edit(NOEOL, POLICY_FILTER_ADD, "l", "{src: me, dst: 10.0.0.2}",
			      &e, err, sizeof(err)), 0);
	assert_non_null(strstr(e.text, "10.0.0.1 }\n    - { src: me, dst: 10.0.0.2 }\n"));
	policy_edit_free(&e);
}

struct refusal {
	enum policy_edit_op op;
	const char *list, *filter;
	int rc;
	const char *msg;	/* a part of the message */
};

static void test_refusals(void **state)
{
	static const struct refusal cases[] = {
		{ POLICY_FILTER_ADD, "nope", "{src: me, dst: any}", POLICY_EDIT_BAD,
		  "defines no filter list 'nope'; its lists: lab, db" },
		{ POLICY_FILTER_ADD, "lab", "{src: me, dst: any, dport: 22}", POLICY_EDIT_BAD,
		  "FILTER:1:21: unknown key 'dport' in a filter" },
		{ POLICY_FILTER_ADD, "lab", "{src: me}", POLICY_EDIT_BAD,
		  "a filter needs 'dst'" },
		{ POLICY_FILTER_ADD, "lab", "{src: me, dst: 10.0.0.300}", POLICY_EDIT_BAD,
		  "'10.0.0.300' is not an address" },
		{ POLICY_FILTER_ADD, "lab", "{src: me, dst: any, dst-port: 22}", POLICY_EDIT_BAD,
		  "'dst-port' needs a protocol" },
		{ POLICY_FILTER_ADD, "lab", "[me, any]", POLICY_EDIT_BAD,
		  "FILTER is not a mapping" },
		{ POLICY_FILTER_ADD, "lab", "{src: me, dst: [", POLICY_EDIT_BAD,
		  "FILTER:" },
		{ POLICY_FILTER_ADD, "lab", "{src: me, dst: 10.3.0.1/32, protocol: 17, "
		  "dst-port: 53}", POLICY_EDIT_BAD, "has { src: me, dst: 10.3.0.1/32, protocol: 17, dst-port: 53 } already "
		  "(policy.yaml, line 11)" },
		{ POLICY_FILTER_DELETE, "lab", "{src: me, dst: 10.1.0.0/16, mirrored: no}",
		  POLICY_EDIT_BAD, "has no filter { src: me, dst: 10.1.0.0/16, mirrored: no }" },
		{ POLICY_FILTER_DELETE, "db", "{src: me, dst: 10.1.2.3, protocol: tcp, "
		  "dst-port: 5432}", POLICY_EDIT_BAD, "dst-port: 5432 } is the only filter of list 'db'" },
	};
	struct policy_edit e;
	char err[800];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct refusal *c = &cases[i];
		int rc = edit(BLOCK, c->op, c->list, c->filter, &e, err, sizeof(err));

		if (rc != c->rc || !strstr(err, c->msg))
			fail_msg("case %zu (%s): rc %d, message '%s'; expected %d, '%s'",
				 i, c->filter, rc, err, c->rc, c->msg);
		assert_null(e.text);
		assert_null(e.filter);
	}
}

static void test_tunnel_and_invalid_stored(void **state)
{
	static const char TUNNEL[] =
		"filter-lists:\n  t:\n    filters:\n"
		"      - { src: 10.0.0.0/24, dst: 10.1.0.0/24, mirrored: no }\n"
		"filter-actions:\n  require: { action: negotiate }\n"
		"policies:\n  p:\n    rules:\n"
		"      - { name: t, filter-list: t, action: require, tunnel: 192.0.2.1,\n"
		"          authentication: [ { psk: k } ] }\n";
	struct policy_edit e;
	char err[800];

	(void)state;
	assert_int_equal(edit(TUNNEL, POLICY_FILTER_ADD, "t",
			      "{src: 10.0.1.0/24, dst: 10.1.0.0/24}", &e, err, sizeof(err)),
			 POLICY_EDIT_BAD);
	assert_non_null(strstr(err, "would not be valid"));
	assert_non_null(strstr(err, "mirrored"));
	assert_int_equal(edit(TUNNEL, POLICY_FILTER_ADD, "t",
			      "{src: 10.0.1.0/24, dst: 10.1.0.0/24, mirrored: no}",
			      &e, err, sizeof(err)), 0);
	assert_true(e.checked);		/* a tunnel rule's list: read back at once */
	policy_edit_free(&e);
	assert_int_equal(edit("policies: [", POLICY_FILTER_ADD, "t",
			      "{src: me, dst: any}", &e, err, sizeof(err)), POLICY_EDIT_FAIL);
	assert_non_null(strstr(err, "the stored policy is not valid"));
	assert_null(e.text);
}

/* A plain list's edit is handed back unchecked: its model, the stored
 * one with the change, which the text must read back as before it is
 * kept.  A text that reads as another policy, or as none, is refused and
 * leaves the edit as it was. */
static void test_check_after(void **state)
{
	struct policy_edit e;
	char err[800], *at;

	(void)state;
	assert_int_equal(edit(BLOCK, POLICY_FILTER_ADD, "lab",
			      "{src: me, dst: 192.0.2.77, protocol: tcp}", &e, err,
			      sizeof(err)), 0);
	assert_false(e.checked);
	assert_int_equal(list_of(e.pf, "lab")->nfilters, 4);
	assert_int_equal(list_of(e.pf, "lab")->filters[3].proto, 6);
	assert_int_equal(list_of(e.pf, "lab")->filters[3].dst.addr.bytes[3], 77);
	/* a text edit gone wrong: another address */
	at = strstr(e.text, "192.0.2.77");
	assert_non_null(at);
	at[9] = '8';
	assert_int_equal(policy_edit_check("policy.yaml", &e, err, sizeof(err)),
			 POLICY_EDIT_FAIL);
	assert_non_null(strstr(err, "does not read back"));
	assert_false(e.checked);
	assert_int_equal(list_of(e.pf, "lab")->filters[3].dst.addr.bytes[3], 77);
	/* or a text that is no policy */
	at[0] = '[';
	assert_int_equal(policy_edit_check("policy.yaml", &e, err, sizeof(err)),
			 POLICY_EDIT_BAD);
	assert_non_null(strstr(err, "would not be valid"));
	assert_false(e.checked);
	at[0] = '1';
	at[9] = '7';
	assert_int_equal(policy_edit_check("policy.yaml", &e, err, sizeof(err)), 0);
	assert_true(e.checked);
	/* once checked, the model has the text's positions */
	assert_int_equal(list_of(e.pf, "lab")->filters[3].pos.line, 12);
	assert_int_equal(policy_edit_check("policy.yaml", &e, err, sizeof(err)), 0);
	policy_edit_free(&e);

	assert_int_equal(edit(BLOCK, POLICY_FILTER_DELETE, "lab",
			      "{src: me, dst: 10.2.0.0/16, protocol: tcp}", &e, err,
			      sizeof(err)), 0);
	assert_false(e.checked);
	assert_int_equal(list_of(e.pf, "lab")->nfilters, 2);
	assert_int_equal(list_of(e.pf, "lab")->filters[1].dport.lo, 53);
	check_reads_back(&e);
}

/* An edit that takes the file over the parser's size limit is refused at
 * once, as the parser refuses the file. */
static void test_size_limit(void **state)
{
	const size_t limit = 4u * 1024 * 1024;
	size_t head = strlen(BLOCK), n;
	struct policy_edit e;
	char err[800], *text = malloc(limit + 1);

	(void)state;
	assert_non_null(text);
	memcpy(text, BLOCK, head);
	/* comment lines up to 40 bytes short of the limit */
	for (n = head; n + 80 < limit - 40; n += 80) {
		memset(text + n, 'x', 79);
		text[n] = '#';
		text[n + 79] = '\n';
	}
	text[n] = '\0';
	assert_int_equal(edit(text, POLICY_FILTER_DELETE, "lab",
			      "{src: me, dst: 10.1.0.0/16}", &e, err, sizeof(err)), 0);
	assert_false(e.checked);
	policy_edit_free(&e);
	assert_int_equal(edit(text, POLICY_FILTER_ADD, "lab",
			      "{src: me, dst: 192.0.2.77, protocol: tcp, dst-port: 8080}",
			      &e, err, sizeof(err)), POLICY_EDIT_BAD);
	assert_non_null(strstr(err, "at most 4 MiB"));
	assert_null(e.text);
	free(text);
}

static void test_large_list(void **state)
{
	size_t cap = 200000, n = 0;
	char *text = malloc(cap);
	struct policy_edit e;
	struct policy_file *pf;
	char err[800];

	(void)state;
	assert_non_null(text);
	n += (size_t)snprintf(text + n, cap - n, "filter-lists:\n  bulk:\n    filters:\n");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(text + n, cap - n, "      - { src: me, dst: 10.%d.%d.1 }\n",
				      i / 250, i % 250);
	snprintf(text + n, cap - n, "policies:\n  p:\n    rules:\n"
		 "      - { name: b, filter-list: bulk, action: permit }\n");
	assert_int_equal(edit(text, POLICY_FILTER_DELETE, "bulk", "{src: me, dst: 10.4.0.1}",
			      &e, err, sizeof(err)), 0);
	assert_int_equal(e.index, 1000);
	pf = parse(&e);
	assert_int_equal(list_of(pf, "bulk")->nfilters, 1999);
	policy_file_free(pf);
	assert_null(strstr(e.text, "10.4.0.1 }"));
	policy_edit_free(&e);
	free(text);
}

static void addr_text(const struct addr_spec *a, char *buf, size_t len)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	int fam = a->addr.family;

	if (a->kind != ADDR_PREFIX && a->kind != ADDR_RANGE) {
		snprintf(buf, len, "%s", addr_kind_name(a->kind)); /* me, dns, ... */
		return;
	}
	inet_ntop(fam, a->addr.bytes, lo, sizeof(lo));
	if (a->kind == ADDR_PREFIX) {
		snprintf(buf, len, "\"%s/%u\"", lo, a->plen);
		return;
	}
	inet_ntop(fam, a->hi.bytes, hi, sizeof(hi));
	snprintf(buf, len, "\"%s-%s\"", lo, hi);
}

/* A parsed filter back as FILTER text, in other words than the file's. */
static void filter_text(const struct filter_spec *f, char *buf, size_t len)
{
	char src[120], dst[120];
	int n;

	addr_text(&f->src, src, sizeof(src));
	addr_text(&f->dst, dst, sizeof(dst));
	n = snprintf(buf, len, "{dst: %s, src: %s, mirrored: %s", dst, src,
		     f->mirrored ? "yes" : "no");
	if (f->proto != PROTO_ANY)
		n += snprintf(buf + n, len - (size_t)n, ", protocol: %d", f->proto);
	if (f->sport.lo || f->sport.hi)
		n += snprintf(buf + n, len - (size_t)n, ", src-port: %u-%u",
			      f->sport.lo, f->sport.hi);
	if (f->dport.lo || f->dport.hi)
		n += snprintf(buf + n, len - (size_t)n, ", dst-port: %u-%u",
			      f->dport.lo, f->dport.hi);
	snprintf(buf + n, len - (size_t)n, "}");
}

static void assert_filters_equal(const struct filter_list *a, const struct filter_list *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->nfilters, b->nfilters);
	for (size_t j = 0; j < a->nfilters; j++) {
		assert_true(filter_spec_same(&a->filters[j], &b->filters[j]));
		assert_true(!a->filters[j].description == !b->filters[j].description);
		if (a->filters[j].description)
			assert_string_equal(a->filters[j].description,
					    b->filters[j].description);
	}
}

/* Every list and filter of a and b alike (positions aside). */
static void assert_models_equal(const struct policy_file *a, const struct policy_file *b)
{
	assert_int_equal(a->nlists, b->nlists);
	for (size_t i = 0; i < a->nlists; i++)
		assert_filters_equal(&a->lists[i], &b->lists[i]);
}

/* The edit of policy_edit_filter() (rc, e: not freed) made in the kept
 * text: the same verdict, the same text, the kept model read as it, and
 * the stored model back after the undo.  A tunnel rule's list, which
 * policy_edit_filter() reads back at once (e->checked), is left to the
 * text: POLICY_EDIT_TEXT. */
static void check_kept_same(struct policy_text *kept, const struct policy_file *stored,
			    enum policy_edit_op op, const char *list,
			    const char *filter, int rc, const struct policy_edit *e)
{
	struct policy_model_edit undo;
	struct policy_edit k;
	struct policy_file *now;
	char err[800];
	int krc = policy_edit_kept(kept, op, list, filter, &k, &undo, err, sizeof(err));

	if (!rc && e->checked) {
		assert_int_equal(krc, POLICY_EDIT_TEXT);
		assert_null(k.text);
	} else {
		assert_int_equal(krc, rc);
	}
	if (krc) {
		assert_models_equal(policy_text_model(kept), stored);
		return;
	}
	assert_int_equal(k.len, e->len);
	assert_memory_equal(k.text, e->text, e->len);
	assert_int_equal(k.index, e->index);
	assert_int_equal(k.nfilters, e->nfilters);
	now = parse(&k);
	assert_models_equal(policy_text_model(kept), now);
	assert_false(policy_text_is(kept, k.text, k.len));
	policy_file_free(now);
	policy_edit_undo(&undo);
	assert_null(undo.list);
	assert_models_equal(policy_text_model(kept), stored);
	policy_edit_free(&k);
}

/* Every filter of every valid file of the tree deleted, and one added to
 * every list: each edit lands (the form is handled) or is refused for
 * what it asks (the list's only filter), never for the file's form. */
static void test_every_file_every_filter(void **state)
{
	static const char *const files[] = {
		"tests/data/policies/classic.yaml", "tests/data/policies/full.yaml",
		"examples/policy.yaml", "examples/predefined/client-respond-only.yaml",
		"examples/predefined/secure-server-require-security.yaml",
		"examples/predefined/server-request-security.yaml",
	};
	const char *dir = getenv("IXDP_SRCDIR");
	size_t edits = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		struct policy_error perr;
		struct policy_file *pf = NULL;
		struct policy_text *kept = NULL;
		char path[512], err[800], *text;
		struct policy_edit e;
		long n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", files[k]);
		f = fopen(path, "rb");
		if (!f)
			fail_msg("cannot open %s (run from the top of the tree or set "
				 "IXDP_SRCDIR)", path);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		n = ftell(f);
		rewind(f);
		text = calloc(1, (size_t)n + 1);
		assert_non_null(text);
		assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		assert_int_equal(policy_parse_buffer(path, text, (size_t)n, &pf, &perr), 0);
		assert_int_equal(policy_text_read(path, text, (size_t)n, &kept, &perr), 0);
		assert_true(policy_text_is(kept, text, (size_t)n));
		assert_false(policy_text_is(kept, text, (size_t)n - 1));
		for (size_t i = 0; i < pf->nlists; i++) {
			const struct filter_list *l = &pf->lists[i];
			/* a filter no file has, not mirrored (tunnel rules' lists) */
			int rc = edit(text, POLICY_FILTER_ADD, l->name,
				      "{src: 192.0.2.77, dst: 198.51.100.0/24, mirrored: no}",
				      &e, err, sizeof(err));

			if (rc)
				fail_msg("%s: add to %s: %s", files[k], l->name, err);
			assert_int_equal(e.nfilters, l->nfilters + 1);
			check_kept_same(kept, pf, POLICY_FILTER_ADD, l->name,
					"{src: 192.0.2.77, dst: 198.51.100.0/24, mirrored: no}",
					rc, &e);
			check_reads_back(&e);
			edits++;
			for (size_t j = 0; j < l->nfilters; j++) {
				char spec[400];

				filter_text(&l->filters[j], spec, sizeof(spec));
				rc = edit(text, POLICY_FILTER_DELETE, l->name, spec, &e,
					  err, sizeof(err));
				check_kept_same(kept, pf, POLICY_FILTER_DELETE, l->name,
						spec, rc, &e);
				if (l->nfilters == 1 && rc == POLICY_EDIT_BAD &&
				    strstr(err, "is the only filter"))
					continue;
				if (rc)
					fail_msg("%s: delete %s from %s: %s", files[k], spec,
						 l->name, err);
				assert_int_equal(e.index, j);
				check_reads_back(&e);
				edits++;
			}
		}
		policy_text_free(kept);
		policy_file_free(pf);
		free(text);
	}
	printf("# %zu edits\n", edits);
	assert_true(edits > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_block),
		cmocka_unit_test(test_delete_block),
		cmocka_unit_test(test_flow),
		cmocka_unit_test(test_add_delete_round_trip),
		cmocka_unit_test(test_crlf_and_no_final_break),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tunnel_and_invalid_stored),
		cmocka_unit_test(test_check_after),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_large_list),
		cmocka_unit_test(test_every_file_every_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
