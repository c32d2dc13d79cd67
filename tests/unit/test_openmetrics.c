// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_openmetrics.c - lib/util/util_openmetrics.c: the exact text of a
 * family and its samples, label values and HELP escaped as the
 * OpenMetrics format asks (backslash, double quote, newline), bytes that
 * are not UTF-8 (invalid, cut, overlong, surrogates) written as '?' while
 * valid characters stay, text longer than the small formatting buffer,
 * and the closing "# EOF".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/util_openmetrics.h"

static void test_family_and_samples(void **state)
{
	const char *l[] = { "reason", "block_filter", "direction", "in", NULL };
	struct om_buf b;

	(void)state;
	om_init(&b);
	om_family(&b, "x_dropped_packets", "counter", "packets", "Dropped.");
	om_sample(&b, "x_dropped_packets_total", l, 18446744073709551615ULL);
	om_family(&b, "x_up", "gauge", NULL, "Up.");
	om_sample(&b, "x_up", NULL, 1);
	om_eof(&b);
	assert_false(om_failed(&b));
	assert_string_equal(b.text,
		"# TYPE x_dropped_packets counter\n"
		"# UNIT x_dropped_packets packets\n"
		"# HELP x_dropped_packets Dropped.\n"
		"x_dropped_packets_total{reason=\"block_filter\",direction=\"in\"} 18446744073709551615\n"
		"# TYPE x_up gauge\n"
		"# HELP x_up Up.\n"
		"x_up 1\n"
		"# EOF\n");
	assert_int_equal(b.len, strlen(b.text));
	om_free(&b);
}

static void test_escaped(void **state)
{
	const char *l[] = { "rule", "a\"b\\c\nd", NULL };
	struct om_buf b;

	(void)state;
	om_init(&b);
	om_family(&b, "x", "gauge", NULL, "say \"hi\"\\\nbye");
	om_sample(&b, "x", l, 0);
	assert_string_equal(b.text,
		"# TYPE x gauge\n"
		"# HELP x say \\\"hi\\\"\\\\\\nbye\n"
		"x{rule=\"a\\\"b\\\\c\\nd\"} 0\n");
	om_free(&b);
}

static void test_not_utf8(void **state)
{
	/* é (valid), 0xff, a cut 2-byte character, an overlong '/', a
	 * surrogate, a control character, € (valid, 3 bytes), 0xc3 at the
	 * end (its continuation missing) */
	const char *l[] = { "peer", "\xc3\xa9|\xff|\xc3z|\xc0\xaf|\xed\xa0\x80|\x01|\xe2\x82\xac|\xc3",
			    NULL };
	struct om_buf b;

	(void)state;
	om_init(&b);
	om_sample(&b, "x", l, 7);
	assert_string_equal(b.text,
		"x{peer=\"\xc3\xa9|?|?z|??|???|?|\xe2\x82\xac|?\"} 7\n");
	om_free(&b);
}

static void test_long_text(void **state)
{
	char name[300], line[400], *want = calloc(100, sizeof(line));
	const char *l[] = { name, "v", NULL };
	struct om_buf b;

	(void)state;
	assert_non_null(want);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	om_init(&b);
	for (int i = 0; i < 100; i++) {	/* past the first 4096 bytes */
		om_sample(&b, "x", l, (uint64_t)i);
		snprintf(line, sizeof(line), "x{%s=\"v\"} %d\n", name, i);
		strcat(want, line);
	}
	assert_false(om_failed(&b));
	assert_int_equal(b.len, strlen(want));
	assert_string_equal(b.text, want);
	free(want);
	om_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_long_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
