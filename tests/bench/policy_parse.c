// SPDX-License-Identifier: GPL-2.0-only
/*
 * tests/bench/policy_parse.c - how long the policy parser takes, in
 * process, no file system and no dataplane (run by tests/bench/run.sh,
 * alone with BENCH_ONLY=parse).  JSON lines on stdout:
 *
 *   {"bench":"policy_parse","stage":STAGE,"filters":N,"yaml_filters":M,
 *    "bytes":B,"ms_median":X,"ms_min":Y,"ms_max":Z,"runs":R}
 *
 * The policy is the one of tests/bench/policy_update.sh's filter_add op
 * (bulk()): M = N / 2 mirrored host filters `{ src: 10.77.0.1, dst:
 * 10.1.x.y }` in one list (N specific filters once compiled), plus the
 * lists wall, opener, closer and one policy.  STAGE:
 *   libyaml_events   libyaml's event parser alone over the text, every
 *                    event fetched and dropped: the floor
 *   tree             pnode_load(): the text into the node tree
 *   parse            policy_parse_buffer(): text -> struct policy_file
 *   edit_filter_add  policy_edit_filter() of `filter add opener '{src:
 *                    10.77.0.1, dst: 10.77.0.2}'` (the bench's filter_add):
 *                    the stored text parsed, edited and parsed again
 *   parse_cold, edit_filter_add_cold
 *                    the same, each run the first of a new process (this
 *                    program again, --once STAGE N): what a command pays,
 *                    its memory mapped as it goes
 * for N = 1000 and 10000 (the edit: 10000 only).  Each figure is the median
 * of R runs (BENCH_PARSE_RUNS, 15); the warm ones after one warm-up run in
 * the same process (what a daemon pays).
 *
 * Usage: policy_parse [N...]   (default: 1000 10000)
 *        policy_parse --once parse_cold|edit_filter_add_cold N
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "policy/policy.h"
#include "policy/policy_edit.h"
#include "policy/policy_internal.h"

#define MAX_RUNS 1000

static void die(const char *msg)
{
	fprintf(stderr, "policy_parse: %s\n", msg);
	exit(1);
}

/* ---- the policy text (tests/bench/policy_update.sh, bulk() + filter_add) ---- */

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int w;

	for (;;) {
		va_start(ap, fmt);
		w = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (w < 0)
			die("vsnprintf failed");
		if ((size_t)w < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)w + 1;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			die("out of memory");
	}
	t->len += (size_t)w;
}

static void policy_text(size_t hosts, struct text *t)
{
	*t = (struct text){ .buf = malloc(4096), .cap = 4096 };
	if (!t->buf)
		die("out of memory");
	t->buf[0] = '\0';
	put(t, "filter-lists:\n  bulk:\n    filters:\n");
	for (size_t i = 0; i < hosts; i++)
		put(t, "      - { src: 10.77.0.1, dst: 10.1.%zu.%zu }\n", i / 250,
		    i % 250 + 1);
	put(t, "  wall: { filters: [ { src: 10.77.0.1, dst: 10.77.0.0/24 } ] }\n");
	put(t, "  opener:\n    filters:\n      - { src: 10.77.0.1, dst: 10.77.0.250 }\n");
	put(t, "  closer:\n    filters:\n      - { src: 10.77.0.1, dst: 10.77.0.250 }\n");
	put(t, "      - { src: 10.77.0.1, dst: 10.77.0.2 }\n");
	put(t, "policies:\n  p:\n    rules:\n");
	put(t, "      - { name: bulk, filter-list: bulk, action: permit }\n");
	put(t, "      - { name: wall, filter-list: wall, action: block }\n");
	put(t, "      - { name: opener, filter-list: opener, action: permit }\n");
}

/* ---- the stages ---------------------------------------------------------- */

static void stage_events(const struct text *t)
{
	yaml_parser_t parser;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		die("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)t->buf, t->len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev))
			die("libyaml refused the generated policy");
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
}

static void stage_tree(const struct text *t)
{
	struct policy_error err = { 0 };
	struct pctx c = { "bench.yaml", &err };
	struct pnode *root = NULL;

	if (pnode_load(&c, t->buf, t->len, &root) || !root)
		die(err.msg[0] ? err.msg : "pnode_load failed");
	pnode_free(root);
}

static void stage_parse(const struct text *t)
{
	struct policy_error err = { 0 };
	struct policy_file *pf = NULL;

	if (policy_parse_buffer("bench.yaml", t->buf, t->len, &pf, &err))
		die(err.msg);
	policy_file_free(pf);
}

static void stage_edit(const struct text *t)
{
	struct policy_edit e = { 0 };
	char err[512];

	if (policy_edit_filter("bench.yaml", t->buf, t->len, POLICY_FILTER_ADD,
			       "opener", "{src: 10.77.0.1, dst: 10.77.0.2}", &e,
			       err, sizeof(err)))
		die(err);
	if (e.nfilters != 2)
		die("the edit did not add the filter");
	policy_edit_free(&e);
}

/* ---- timing -------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

static void report(const char *stage, double *ms, const struct text *t,
		   size_t filters, size_t hosts, int runs)
{
	qsort(ms, (size_t)runs, sizeof(ms[0]), cmp_double);
	printf("{\"bench\":\"policy_parse\",\"stage\":\"%s\",\"filters\":%zu,"
	       "\"yaml_filters\":%zu,\"bytes\":%zu,\"ms_median\":%.3f,"
	       "\"ms_min\":%.3f,\"ms_max\":%.3f,\"runs\":%d}\n",
	       stage, filters, hosts, t->len,
	       runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2,
	       ms[0], ms[runs - 1], runs);
	fflush(stdout);
}

/* Warm: runs in this process after a warm-up run, its memory already
 * mapped (a daemon's parse). */
static void measure(const char *stage, void (*fn)(const struct text *),
		    const struct text *t, size_t filters, size_t hosts, int runs)
{
	double ms[MAX_RUNS];

	fn(t); /* warm-up: page faults of the first allocations */
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();

		fn(t);
		ms[i] = now_ms() - t0;
	}
	report(stage, ms, t, filters, hosts, runs);
}

/* Cold: each run the first of a new process (this program run again with
 * --once STAGE N, which prints its one time): what a command pays, its
 * memory mapped as it goes. */
static void measure_cold(const char *stage, const struct text *t, size_t filters,
			 size_t hosts, int runs)
{
	double ms[MAX_RUNS];
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "/proc/%d/exe --once %s %zu", (int)getpid(),
		 stage, filters);
	for (int i = 0; i < runs; i++) {
		FILE *f = popen(cmd, "r");

		if (!f)
			die("popen failed");
		if (fscanf(f, "%lf", &ms[i]) != 1) {
			pclose(f);
			die("a cold run failed");
		}
		if (pclose(f))
			die("a cold run failed");
	}
	report(stage, ms, t, filters, hosts, runs);
}

static const struct {
	const char *name;
	void (*fn)(const struct text *);
} stages[] = {
	{ "parse_cold", stage_parse },
	{ "edit_filter_add_cold", stage_edit },
};

/* --once STAGE N: one run, its time (ms) on stdout. */
static int run_once(const char *stage, size_t n)
{
	struct text t;
	double t0;

	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		if (strcmp(stage, stages[i].name))
			continue;
		policy_text(n / 2, &t);
		t0 = now_ms();
		stages[i].fn(&t);
		printf("%.6f\n", now_ms() - t0);
		free(t.buf);
		return 0;
	}
	die("--once: unknown stage");
	return 1;
}

static long arg_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max) {
		fprintf(stderr, "policy_parse: %s: expected a number from %ld to "
			"%ld, got '%s'\n", what, min, max, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *env = getenv("BENCH_PARSE_RUNS");
	static const char *const defaults[] = { "1000", "10000" };
	const char *const *sizes = argc > 1 ? (const char *const *)argv + 1 : defaults;
	size_t nsizes = argc > 1 ? (size_t)argc - 1 : 2;
	int runs = env && *env ? (int)arg_num(env, 1, MAX_RUNS, "BENCH_PARSE_RUNS") : 15;

	if (argc == 4 && !strcmp(argv[1], "--once"))
		return run_once(argv[2], (size_t)arg_num(argv[3], 2, 200000, "filters"));

	for (size_t i = 0; i < nsizes; i++) {
		size_t n = (size_t)arg_num(sizes[i], 2, 200000, "filters (even)");
		struct text t;

		if (n % 2)
			die("filters: an even number (mirrored host filters, 2 each)");
		policy_text(n / 2, &t);
		measure("libyaml_events", stage_events, &t, n, n / 2, runs);
		measure("tree", stage_tree, &t, n, n / 2, runs);
		measure("parse", stage_parse, &t, n, n / 2, runs);
		measure_cold("parse_cold", &t, n, n / 2, runs);
		if (n == 10000 || argc > 1) {
			measure("edit_filter_add", stage_edit, &t, n, n / 2, runs);
			measure_cold("edit_filter_add_cold", &t, n, n / 2, runs);
		}
		free(t.buf);
	}
	return 0;
}
