// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_log.c - the daemon's log under systemd (sa_log.h log_journal):
 * each line becomes one journal entry with its PRIORITY, a MESSAGE without
 * the program name, and the fields the line names (PEER, RULE, SPI,
 * REASON); a fake sd_journal_sendv receives what the real one would.  And
 * log_field, which the monitor's event stream also uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "sa/sa_log.h"

/* What the fake journal received: the last entry, "NAME=value" each. */
static char got[LOG_JOURNAL_FIELDS][600];
static int ngot, nentries;

static int fake_sendv(const struct iovec *iov, int n)
{
	ngot = n;
	nentries++;
	for (int i = 0; i < n && i < LOG_JOURNAL_FIELDS; i++)
		snprintf(got[i], sizeof(got[i]), "%.*s", (int)iov[i].iov_len,
			 (const char *)iov[i].iov_base);
	return 0;
}

static const char *field(const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < ngot; i++)
		if (!strncmp(got[i], name, len) && got[i][len] == '=')
			return got[i] + len + 1;
	return NULL;
}

static void test_fields_of_a_failure(void **state)
{
	log_open(true, false, false);
	log_journal(fake_sendv);
	log_msg(LOG_ERR, "ike[7] failed reason=\"authentication failed: "
		"the peer's AUTH does not match\" peer=10.0.0.2:500 "
		"spi=1a2b3c4d5e6f7081:0102030405060708 role=initiator");
	log_journal(NULL);
	assert_int_equal(nentries, 1);
	assert_string_equal(field("PRIORITY"), "3");
	assert_string_equal(field("MESSAGE"), "ike[7] failed reason=\"authentication "
			    "failed: the peer's AUTH does not match\" peer=10.0.0.2:500 "
			    "spi=1a2b3c4d5e6f7081:0102030405060708 role=initiator");
	assert_string_equal(field("PEER"), "10.0.0.2:500");
	assert_string_equal(field("SPI"), "1a2b3c4d5e6f7081:0102030405060708");
	assert_string_equal(field("REASON"),
			    "authentication failed: the peer's AUTH does not match");
	assert_null(field("RULE"));
}

static void test_rule_and_priority(void **state)
{
	char buf[LOG_JOURNAL_BUF];
	struct iovec iov[LOG_JOURNAL_FIELDS];
	int n = log_journal_fields(LOG_INFO, "ike[8] CHILD SA established "
				   "rule=to-peer mode=transport spi-in=0a0b0c0d "
				   "spi-out=01020304 peer=fd77::2:500", buf, iov);

	ngot = 0;
	for (int i = 0; i < n; i++)
		snprintf(got[ngot++], sizeof(got[0]), "%.*s", (int)iov[i].iov_len,
			 (const char *)iov[i].iov_base);
	assert_string_equal(field("PRIORITY"), "6");
	assert_string_equal(field("RULE"), "to-peer");
	assert_string_equal(field("PEER"), "fd77::2:500");
	/* spi-in= is not spi= */
	assert_null(field("SPI"));
	/* no program name: the journal has SYSLOG_IDENTIFIER itself */
	assert_null(strstr(field("MESSAGE"), "ipsec-xdpd"));
}

static void test_log_field(void **state)
{
	char v[8];

	assert_true(log_field("a=1 xrule=2 rule=three", "rule", v, sizeof(v)));
	assert_string_equal(v, "three");
	assert_false(log_field("rules are rules", "rule", v, sizeof(v)));
	/* bounded: a long value is cut, never overflows */
	assert_true(log_field("reason=\"a very long reason\"", "reason", v, sizeof(v)));
	assert_string_equal(v, "a very ");
	/* an unterminated quote runs to the end */
	assert_true(log_field("reason=\"cut", "reason", v, sizeof(v)));
	assert_string_equal(v, "cut");
}

static int refusing_sendv(const struct iovec *iov, int n)
{
	nentries++;
	return -1;
}

/* A journal that refuses the entry: the line goes to stderr, not lost. */
static void test_journal_refusing_keeps_the_line(void **state)
{
	char out[256] = "";
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	nentries = 0;
	log_open(true, false, false);
	log_journal(refusing_sendv);
	log_msg(LOG_WARNING, "control: kept");
	log_journal(NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_int_equal(nentries, 1);
	assert_true(n > 0);
	assert_string_equal(out, "ipsec-xdpd: control: kept\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_of_a_failure),
		cmocka_unit_test(test_rule_and_priority),
		cmocka_unit_test(test_log_field),
		cmocka_unit_test(test_journal_refusing_keeps_the_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
