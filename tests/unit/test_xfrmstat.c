// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_xfrmstat.c - lib/dataplane/dataplane_xfrmstat.c: /proc/net/xfrm_stat parsed (a sample
 * of the 6.12 kernel's text, odd spacing, bad lines, overflow, too many
 * counters, a missing file) and mapped onto the monitor's quick mode
 * counters: each kernel counter lands in the one monitor counter
 * xfrmstat.h documents, and nowhere else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dataplane/dataplane_xfrmstat.h"

/* As a 6.12 kernel writes it (name, spaces, a tab, the value), with
 * distinct values so that a counter read from the wrong line shows. */
static const char sample[] =
	"XfrmInError             \t1\n"
	"XfrmInBufferError       \t2\n"
	"XfrmInHdrError          \t3\n"
	"XfrmInNoStates          \t40\n"
	"XfrmInStateProtoError   \t500\n"
	"XfrmInStateModeError    \t6\n"
	"XfrmInStateSeqError     \t7000\n"
	"XfrmInStateExpired      \t8\n"
	"XfrmInStateMismatch     \t9\n"
	"XfrmInStateInvalid      \t10\n"
	"XfrmInTmplMismatch      \t11\n"
	"XfrmInNoPols            \t12\n"
	"XfrmInPolBlock          \t13\n"
	"XfrmInPolError          \t14\n"
	"XfrmOutError            \t100\n"
	"XfrmOutBundleGenError   \t200\n"
	"XfrmOutBundleCheckError \t0\n"
	"XfrmOutNoStates         \t300\n"
	"XfrmOutStateProtoError  \t0\n"
	"XfrmOutStateModeError   \t0\n"
	"XfrmOutStateSeqError    \t0\n"
	"XfrmOutStateExpired     \t0\n"
	"XfrmOutPolBlock         \t400\n"
	"XfrmOutPolDead          \t0\n"
	"XfrmOutPolError         \t0\n"
	"XfrmFwdHdrError         \t15\n"
	"XfrmOutStateInvalid     \t0\n"
	"XfrmAcquireError        \t16\n"
	"XfrmOutStateDirError    \t0\n"
	"XfrmInStateDirError     \t17\n"
	"XfrmInIptfsError        \t18\n"
	"XfrmOutNoQueueSpace     \t0\n";

static void test_parse_sample(void **state)
{
	struct xfrmstat s;
	char err[128] = "";

	assert_int_equal(xfrmstat_parse(sample, strlen(sample), &s, err,
					sizeof(err)), 0);
	assert_int_equal(s.n, 32);
	assert_string_equal(s.c[0].name, "XfrmInError");
	assert_int_equal(s.c[0].value, 1);
	assert_string_equal(s.c[31].name, "XfrmOutNoQueueSpace");
	assert_int_equal(xfrmstat_get(&s, "XfrmInNoStates"), 40);
	assert_int_equal(xfrmstat_get(&s, "XfrmInStateSeqError"), 7000);
	assert_int_equal(xfrmstat_get(&s, "XfrmNoSuchCounter"), 0);
}

/* Documented in xfrmstat.h: bad SPI <- XfrmInNoStates, not decrypted <-
 * XfrmInStateProtoError, replays <- XfrmInStateSeqError, the other
 * inbound errors summed apart, every XfrmOut* summed. */
static void test_monitor_mapping(void **state)
{
	struct xfrmstat s;
	struct xfrmstat_monitor m;
	char err[128];

	assert_int_equal(xfrmstat_parse(sample, strlen(sample), &s, err,
					sizeof(err)), 0);
	xfrmstat_monitor(&s, &m);
	assert_int_equal(m.bad_spi, 40);
	assert_int_equal(m.not_decrypted, 500);
	assert_int_equal(m.replays, 7000);
	/* InError 1 + Buffer 2 + Hdr 3 + Mode 6 + Expired 8 + Mismatch 9 +
	 * Invalid 10: not the policy or template counters (11..14) */
	assert_int_equal(m.other_in_errors, 39);
	assert_int_equal(m.out_errors, 100 + 200 + 300 + 400);
}

/* An older kernel lacks counters: they read as 0, the rest still map. */
static void test_older_kernel(void **state)
{
	static const char old[] = "XfrmInNoStates 5\nXfrmInStateSeqError\t\t2\n";
	struct xfrmstat s;
	struct xfrmstat_monitor m;
	char err[128];

	assert_int_equal(xfrmstat_parse(old, strlen(old), &s, err, sizeof(err)), 0);
	xfrmstat_monitor(&s, &m);
	assert_int_equal(m.bad_spi, 5);
	assert_int_equal(m.replays, 2);
	assert_int_equal(m.not_decrypted, 0);
	assert_int_equal(m.out_errors, 0);
}

static void expect_refused(const char *text, const char *why)
{
	struct xfrmstat s;
	char err[128] = "";

	assert_int_equal(xfrmstat_parse(text, strlen(text), &s, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("'%s': error '%s' does not say '%s'", text, err, why);
}

static void test_bad_lines(void **state)
{
	expect_refused("XfrmInNoStates\n", "line 1");
	expect_refused("XfrmInNoStates 1\nXfrmInError x\n", "line 2");
	expect_refused("XfrmInNoStates 1 2\n", "line 1");
	expect_refused("XfrmInNoStates -1\n", "line 1");
	expect_refused(" 5\n", "line 1");
	expect_refused("Xfrm/In 5\n", "line 1");
	/* 2^64 does not fit */
	expect_refused("XfrmInNoStates 18446744073709551616\n", "line 1");
	/* a name longer than any counter's */
	expect_refused("XfrmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1\n", "line 1");
}

static void test_limits(void **state)
{
	char text[XFRMSTAT_MAX * 24 + 64];
	size_t len = 0;
	struct xfrmstat s;
	char err[128] = "";

	/* the largest value, no final newline, blank lines */
	assert_int_equal(xfrmstat_parse("\nXfrmInNoStates 18446744073709551615",
					36, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.c[0].value == UINT64_MAX);
	for (int i = 0; i <= XFRMSTAT_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"XfrmCounter%d 1\n", i);
	assert_int_equal(xfrmstat_parse(text, len, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/test_xfrmstat.XXXXXX", err[256] = "";
	struct xfrmstat s;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, sample, strlen(sample)), (ssize_t)strlen(sample));
	close(fd);
	assert_int_equal(xfrmstat_read(path, &s, err, sizeof(err)), 0);
	assert_int_equal(xfrmstat_get(&s, "XfrmInStateProtoError"), 500);
	unlink(path);
	assert_int_equal(xfrmstat_read(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not available"));
	assert_non_null(strstr(err, path));
}

/* Whatever this host's kernel writes parses (when it has xfrm at all). */
static void test_read_proc(void **state)
{
	struct xfrmstat s;
	char err[256];

	if (access(XFRMSTAT_PATH, F_OK))
		skip();
	assert_int_equal(xfrmstat_read(XFRMSTAT_PATH, &s, err, sizeof(err)), 0);
	assert_true(s.n >= 28);		/* every kernel since 2.6.25 */
	assert_string_equal(s.c[0].name, "XfrmInError");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sample),
		cmocka_unit_test(test_monitor_mapping),
		cmocka_unit_test(test_older_kernel),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
