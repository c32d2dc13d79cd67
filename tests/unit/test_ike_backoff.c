// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_backoff.c - what a failed negotiation leaves behind, with two
 * daemons in one process (ike_testbed.h): the initiator's backoff per
 * peer (backoff.c) against triggers from traffic (dplink_negotiate, the
 * kernel's ACQUIRE) while `sa initiate` (exch_init_start) is not held
 * back; the SPI reserved for the CHILD SA given back at once; the failure
 * counted on both sides under its reason; the initiator's log naming the
 * peer's reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/daemon_dplink.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "sa/sa_child.h"
#include "kernel/kernel.h"

#define IKE_TESTBED_KERNEL
#include "ike_testbed.h"

#define A4 "192.0.2.1"
#define B4 "192.0.2.2"

#define POLICY(NAME, DST) POLICY_F(NAME, "{ src: me, dst: " DST " }")
#define POLICY_F(NAME, FILTERS)                                                 \
	"filter-lists:\n"                                                       \
	"  l: { filters: [ " FILTERS " ] }\n"                                   \
	"filter-actions:\n"                                                     \
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n" \
	"policies:\n"                                                           \
	"  " NAME ":\n"                                                         \
	"    rules:\n"                                                          \
	"      - { name: r-" NAME ", filter-list: l, action: secure, "          \
	"authentication: [ { psk: lab } ] }\n"

/* ---- the log, as an administrator reads it --------------------------------------- */

static char logbuf[65536];
static size_t loglen;

static void tap(int prio, const char *line, void *arg)
{
	int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n",
			 line);

	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
}

static size_t log_count(const char *needle)
{
	const char *p = logbuf;
	size_t n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* ---- set-up ------------------------------------------------------------------ */

static void wrong_key(struct side *s)
{
	static const char text[] = "lab = \"not the key B has at all\"\n";
	char err[256];

	secrets_free(s->d.secrets);
	if (secrets_parse("secrets", text, strlen(text), &s->d.secrets, err,
			  sizeof(err)))
		fail_msg("secrets: %s", err);
}

static void right_key(struct side *s)
{
	secrets_free(s->d.secrets);
	s->d.secrets = NULL;
	set_key(s);
}

static int setup(void **state)
{
	sides_setup(A4, B4);
	loglen = 0;
	logbuf[0] = 0;
	log_tap(tap, NULL);
	set_policy(&A, POLICY("a", B4));
	set_policy(&B, POLICY("b", "192.0.2.0/24"));
	return 0;
}

static int teardown(void **state)
{
	log_tap(NULL, NULL);
	sides_teardown();
	return 0;
}

static struct sockaddr_storage peer_b(void)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_parse(B4, 500, &ss), 0);
	return ss;
}

#define HELD (-1)

/* A dataplane need-SA event for B: how it is met, or HELD. */
static int traffic(void)
{
	struct sockaddr_storage b = peer_b();
	enum dplink_how how = 0;
	uint64_t serial = 0;
	char err[256];
	int rc = dplink_negotiate(&A.d, &b, "r-a", NULL, &serial, &how, err,
				  sizeof(err));

	if (rc == 0)
		return (int)how;
	assert_int_equal(rc, DPLINK_HELD);
	assert_non_null(strstr(err, "held back after failed negotiations"));
	return HELD;
}

/* The kernel's ACQUIRE for a flow A -> B. */
static void acquire(void)
{
	struct ikk_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = IKK_EV_ACQUIRE;
	ikk_addr_parse(A4, &ev.src);
	ikk_addr_parse(B4, &ev.dst);
	ev.proto = IPPROTO_ESP;
	ev.sel.family = AF_INET;
	ev.sel.src = ev.src;
	ev.sel.dst = ev.dst;
	ev.sel.src_plen = ev.sel.dst_plen = 32;
	ev.seq = 77;
	exch_create_kernel_event(&A.d, &ev);
}

/* `ipsec-xdp sa initiate B`. */
static void initiate(void)
{
	struct sockaddr_storage b = peer_b();
	uint64_t serial;
	char err[256];

	if (exch_init_start(&A.d, &b, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
}

static struct ikesa *sa_of(struct side *s, const char *peer)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_parse(peer, 0, &ss), 0);
	return ikesa_find_peer(&s->d, &ss);
}

/* ---- the scenarios -------------------------------------------------------------- */

/* 1 s, 2 s, 4 s ... and no further than the cap. */
static void test_delays(void **state)
{
	assert_int_equal(backoff_delay_ms(0), 0);
	assert_int_equal(backoff_delay_ms(1), 1000);
	assert_int_equal(backoff_delay_ms(2), 2000);
	assert_int_equal(backoff_delay_ms(3), 4000);
	assert_int_equal(backoff_delay_ms(6), 32000);
	assert_int_equal(backoff_delay_ms(7), BACKOFF_MAX_MS);
	assert_int_equal(backoff_delay_ms(64), BACKOFF_MAX_MS);
	assert_true(BACKOFF_MAX_MS < 64000);
}

/* A pre-shared key that differs: one exchange fails; traffic in the next
 * second starts none (counted); after it, one retry; the second failure
 * doubles the wait. */
static void test_psk_mismatch_backs_off(void **state)
{
	int i;

	wrong_key(&A);
	assert_int_equal(traffic(), DPLINK_NEW_IKE);
	pump();
	assert_int_equal(A.outcomes_failed, 1);
	assert_int_equal(A.d.stats.v[ST_NEG_TOTAL], 1);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 1);
	assert_int_equal(log_count("1 failed negotiation in a row"), 1);
	assert_int_equal(log_count("wait 1.000 s"), 1);

	/* ten packets held back, from the dataplane and the kernel */
	for (i = 0; i < 5; i++) {
		assert_int_equal(traffic(), HELD);
		acquire();
	}
	advance(999);
	assert_int_equal(traffic(), HELD);
	assert_int_equal(A.nq, 0);		/* nothing sent */
	assert_null(sa_of(&A, B4));
	assert_int_equal(A.d.stats.v[ST_NEG_TOTAL], 1);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_HELD], 11);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 1);
	assert_int_equal(log_count("failed negotiation"), 1);	/* once a step */

	advance(1);				/* the second is over */
	assert_int_equal(traffic(), DPLINK_NEW_IKE);	/* one retry */
	assert_int_equal(A.nq, 1);
	assert_int_equal(traffic(), DPLINK_WAIT_IKE);	/* under way */
	assert_int_equal(A.nq, 1);
	pump();
	assert_int_equal(A.outcomes_failed, 2);
	assert_int_equal(A.d.stats.v[ST_NEG_TOTAL], 2);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 2);
	assert_int_equal(log_count("2 failed negotiations in a row"), 1);
	assert_int_equal(log_count("wait 2.000 s"), 1);
	advance(1999);
	acquire();
	assert_int_equal(A.nq, 0);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_HELD], 12);
	advance(1);
	acquire();				/* the kernel's turn */
	assert_int_equal(A.nq, 1);
	assert_int_equal(A.d.stats.v[ST_NEG_TOTAL], 3);
}

/* `sa initiate` is not held back; success clears the backoff. */
static void test_initiate_overrides_and_success_clears(void **state)
{
	wrong_key(&A);
	initiate();
	pump();
	assert_int_equal(A.outcomes_failed, 1);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 1);
	assert_int_equal(traffic(), HELD);
	initiate();				/* at once, all the same */
	assert_int_equal(A.nq, 1);
	pump();
	assert_int_equal(A.outcomes_failed, 2);
	assert_int_equal(traffic(), HELD);	/* now 2 s */

	right_key(&A);
	initiate();
	pump();
	assert_int_equal(A.outcomes_ok, 1);
	assert_int_equal(child_count(sa_of(&A, B4)), 1);
	assert_int_equal(log_count("negotiation succeeded after 2 "
				   "failures: no more backoff"), 1);
	/* the IKE SA goes; traffic starts a new one at once */
	daemon_close_all(&A.d, "gone");
	advance(A.d.tun.linger_ms);
	A.nq = B.nq = 0;
	assert_int_equal(traffic(), DPLINK_NEW_IKE);
	assert_int_equal(A.nq, 1);
}

/* A negotiation under way that the daemon closes (shutdown, the
 * administrator) counts as failed but steps no backoff. */
static void test_stopped_is_no_backoff(void **state)
{
	assert_int_equal(traffic(), DPLINK_NEW_IKE);
	daemon_close_all(&A.d, "shutting down");
	assert_int_equal(A.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_OTHER], 1);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 0);
	A.nq = 0;
	assert_int_equal(traffic(), DPLINK_NEW_IKE);
	assert_int_equal(A.nq, 1);
}

/* AUTHENTICATION_FAILED: counted on both sides under its reason; A's log
 * and the answer to `sa initiate` name the peer's notify. */
static void test_failure_counted_both_sides(void **state)
{
	wrong_key(&A);
	initiate();
	pump();
	assert_int_equal(A.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_AUTH], 1);
	assert_int_equal(A.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_int_equal(B.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(B.d.stats.v[ST_FAIL_AUTH], 1);
	assert_int_equal(B.d.stats.v[ST_AUTH_FAILURES], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_OTHER] +
			 B.d.stats.v[ST_FAIL_OTHER], 0);
	assert_non_null(strstr(A.last_outcome,
			       "peer answered AUTHENTICATION_FAILED"));
	assert_int_equal(log_count("failed reason=\"authentication failed: "
				   "peer answered AUTHENTICATION_FAILED"), 1);
	/* B's backoff is an initiator's: B started nothing */
	assert_int_equal(B.d.stats.v[ST_BACKOFF_STEPS], 0);
}

/* Every failure is counted under exactly one reason. */
static void test_reasons_add_up(void **state)
{
	enum ike_stat s;
	uint64_t sum;
	struct side *sides[2] = { &A, &B };
	int i;

	wrong_key(&A);
	initiate();
	pump();
	right_key(&A);
	/* B has a rule for A, but not for A's traffic: TS_UNACCEPTABLE */
	set_policy(&B, POLICY_F("b", "{ src: me, dst: 198.51.100.0/24 }, "
				"{ src: 192.0.2.0/24, dst: 198.51.100.7, "
				"mirrored: no }"));
	initiate();
	pump();
	assert_non_null(strstr(A.last_outcome, "is up, but without the "
			       "CHILD SA its rule wants: peer answered "
			       "TS_UNACCEPTABLE"));
	assert_int_equal(A.d.stats.v[ST_FAIL_TS_UNACCEPTABLE], 1);
	assert_int_equal(B.d.stats.v[ST_FAIL_TS_UNACCEPTABLE], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_AUTH], 1);
	assert_int_equal(B.d.stats.v[ST_FAIL_AUTH], 1);
	for (i = 0; i < 2; i++) {
		sum = 0;
		for (s = ST_FAIL_FIRST; s <= ST_FAIL_LAST; s++)
			sum += sides[i]->d.stats.v[s];
		assert_int_equal(sum, sides[i]->d.stats.v[ST_NEG_FAILED]);
		assert_int_equal(sides[i]->d.stats.v[ST_NEG_FAILED], 2);
	}
}

/* An IKE SA up without its CHILD SA (B refuses A's traffic): traffic
 * asks for the CHILD SA on it only after the delay, and each refusal of
 * CREATE_CHILD_SA doubles the delay too. */
static void test_childless_backs_off(void **state)
{
	set_policy(&B, POLICY_F("b", "{ src: me, dst: 198.51.100.0/24 }, "
				"{ src: 192.0.2.0/24, dst: 198.51.100.7, "
				"mirrored: no }"));
	assert_int_equal(traffic(), DPLINK_NEW_IKE);
	pump();
	assert_int_equal(sa_of(&A, B4)->state, IKESA_ESTABLISHED);
	assert_int_equal(child_count(sa_of(&A, B4)), 0);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 1);
	assert_int_equal(traffic(), HELD);
	assert_int_equal(A.nq, 0);
	advance(1000);
	assert_int_equal(traffic(), DPLINK_NEW_CHILD);
	assert_int_equal(A.nq, 1);		/* CREATE_CHILD_SA */
	pump();
	assert_int_equal(child_count(sa_of(&A, B4)), 0);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 2);
	assert_int_equal(log_count("a new CHILD SA: peer answered "
				   "TS_UNACCEPTABLE"), 1);
	advance(1999);
	assert_int_equal(traffic(), HELD);
	assert_int_equal(A.nq, 0);
	advance(1);
	assert_int_equal(traffic(), DPLINK_NEW_CHILD);
	assert_int_equal(A.nq, 1);
}

/* The SPI reserved for IKE_AUTH's CHILD SA goes back to the kernel as
 * soon as the negotiation fails, not when the larval SA times out. */
static void test_spi_released_on_auth_failure(void **state)
{
	wrong_key(&A);
	initiate();
	deliver(&A);			/* IKE_SA_INIT */
	deliver(&B);
	assert_int_equal(KA.spi_allocs, 1);	/* the IKE_AUTH request */
	assert_int_equal(n_sas(&KA), 1);	/* larval */
	assert_int_equal(KA.sa_dels, 0);
	pump();
	assert_int_equal(A.outcomes_failed, 1);
	assert_int_equal(KA.sa_dels, 1);
	assert_int_equal(n_sas(&KA), 0);
	assert_int_equal(n_sas(&KB), 0);
}

/* ... and when IKE_AUTH is never answered. */
static void test_spi_released_on_timeout(void **state)
{
	initiate();
	deliver(&A);
	deliver(&B);
	assert_int_equal(n_sas(&KA), 1);
	while (A.nq)			/* every IKE_AUTH request lost */
		lose(&A);
	assert_int_equal(A.outcomes_failed, 0);
	advance(120000);
	while (A.nq)
		lose(&A);
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "no answer to IKE_AUTH"));
	assert_int_equal(A.d.stats.v[ST_FAIL_TIMEOUT], 1);
	assert_int_equal(A.d.stats.v[ST_PEER_TIMEOUTS], 1);
	assert_int_equal(n_sas(&KA), 0);
	assert_int_equal(KA.sa_dels, 1);
	assert_int_equal(A.d.stats.v[ST_BACKOFF_STEPS], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays),
		cmocka_unit_test_setup_teardown(test_psk_mismatch_backs_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiate_overrides_and_success_clears,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_is_no_backoff,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_counted_both_sides,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reasons_add_up,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_childless_backs_off,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_spi_released_on_auth_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_spi_released_on_timeout,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
