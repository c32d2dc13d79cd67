// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_child.c - CHILD SAs in IKE_AUTH (child.c): two daemons in one
 * process (A initiates, B responds), a fake clock, and the kernel calls
 * recorded instead of made (struct child_kops): proposal selection, TS
 * narrowing and refusal, key lengths and both sides' keys agreeing, the
 * SA/TS/USE_TRANSPORT_MODE payloads, ESP Delete and IKE SA deletion.
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
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "sa/sa_child.h"
#include "sa/sa_child_policy.h"
#include "kernel/kernel.h"

/* ---- two daemons, a fake clock, a wire and a recording kernel
 * (ike_testbed.h) ------------------------------------------------------- */

#define IKE_TESTBED_KERNEL
#include "ike_testbed.h"

/* ---- set-up ------------------------------------------------------------------ */

#define POLICY(NAME, FILTERS, METHODS, EXTRA)                                   \
	"filter-lists:\n"                                                       \
	"  l: { filters: [ " FILTERS " ] }\n"                                   \
	"filter-actions:\n"                                                     \
	"  secure: { action: negotiate, methods: [ " METHODS " ] }\n"          \
	"policies:\n"                                                           \
	"  " NAME ":\n"                                                         \
	"    rules:\n"                                                          \
	"      - { name: r-" NAME ", filter-list: l, action: secure, "          \
	"authentication: [ { psk: lab } ]" EXTRA " }\n"

static int setup(void **state)
{
	sides_setup("192.0.2.1", "192.0.2.2");
	return 0;
}

static int teardown(void **state)
{
	sides_teardown();
	return 0;
}

static void initiate(const char *peer)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	assert_int_equal(addr_parse(peer, 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
}

static struct ikesa *sa_of(struct side *s, const char *peer)
{
	struct sockaddr_storage ss;

	addr_parse(peer, 0, &ss);
	return ikesa_find_peer(&s->d, &ss);
}

static void up(void)
{
	initiate("192.0.2.2");
	pump();
	assert_int_equal(A.outcomes_ok, 1);
}

/* The IKE SA comes up without the CHILD SA A's rule wants: a failed
 * negotiation for `sa initiate` (its answer says why), counted on both
 * sides under a reason (a_why, b_why), the IKE SAs stay. */
static void up_childless(const char *why, enum ike_stat a_why,
			 enum ike_stat b_why)
{
	initiate("192.0.2.2");
	pump();
	assert_int_equal(A.outcomes_ok, 0);
	assert_int_equal(A.outcomes_failed, 1);
	if (!strstr(A.last_outcome, "is up, but without the CHILD SA its "
		    "rule wants") || !strstr(A.last_outcome, why))
		fail_msg("outcome: %s", A.last_outcome);
	assert_int_equal(sa_of(&A, "192.0.2.2")->state, IKESA_ESTABLISHED);
	assert_int_equal(sa_of(&B, "192.0.2.1")->state, IKESA_ESTABLISHED);
	assert_int_equal(A.d.stats.v[ST_IKE_SA_ESTABLISHED], 1);
	assert_int_equal(A.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(B.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(A.d.stats.v[a_why], 1);
	assert_int_equal(B.d.stats.v[b_why], 1);
}

#define A_TO_B "{ src: me, dst: 192.0.2.2 }, { src: me, dst: 2001:db8::2 }"
#define B_NET  "{ src: me, dst: 192.0.2.0/24 }, { src: me, dst: 2001:db8::/64 }"

/* ---- the scenarios -------------------------------------------------------------- */

/* Transport mode, AES-GCM-16/256: both sides install two SAs whose keys
 * agree crosswise, out and in policies, and TS narrowed to the hosts. */
static void test_transport_gcm(void **state)
{
	struct child_info ia, ib;
	const struct ikk_sa *ao, *bi, *bo, *ai;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16, lifetime: 1000, lifetime-kb: 2000 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	up();
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 1);
	assert_int_equal(child_count(sa_of(&B, "192.0.2.1")), 1);
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_int_equal(ia.mode, IKK_MODE_TRANSPORT);
	assert_int_equal(ib.mode, IKK_MODE_TRANSPORT);
	assert_int_equal(ia.spi_out, ib.spi_in);
	assert_int_equal(ia.spi_in, ib.spi_out);
	assert_int_equal(ia.encr, IKEV2_ENCR_AES_GCM_16);
	assert_int_equal(ia.key_bits, 256);
	assert_int_equal(ia.encr_key_len, 36);	/* key + 4-byte salt */
	assert_int_equal(ia.integ_key_len, 0);
	assert_string_equal(ia.local_ts, "192.0.2.1/32[0]");
	assert_string_equal(ia.remote_ts, "192.0.2.2/32[0]");
	assert_string_equal(ib.local_ts, "192.0.2.2/32[0]");
	assert_string_equal(ib.remote_ts, "192.0.2.1/32[0]");
	assert_string_equal(ib.rule, "r-b");
	assert_int_equal(ia.lifetime_s, 1000);	/* A's method */
	assert_int_equal(ib.lifetime_s, 3600);	/* B's default */
	assert_int_equal(n_sas(&KA), 2);
	assert_int_equal(n_sas(&KB), 2);
	ao = sa_by_spi(&KA, ia.spi_out);
	bi = sa_by_spi(&KB, ib.spi_in);
	ai = sa_by_spi(&KA, ia.spi_in);
	bo = sa_by_spi(&KB, ib.spi_out);
	assert_non_null(ao); assert_non_null(bi);
	assert_non_null(ai); assert_non_null(bo);
	assert_int_equal(ao->encr_key_len, 36);
	assert_memory_equal(ao->encr_key, bi->encr_key, 36);
	assert_memory_equal(bo->encr_key, ai->encr_key, 36);
	assert_memory_not_equal(ao->encr_key, ai->encr_key, 36);
	assert_int_equal(ao->encr, IKK_ENCR_AES_GCM16);
	assert_int_equal(ao->mode, IKK_MODE_TRANSPORT);
	assert_int_equal(ao->reqid, ai->reqid);
	assert_int_equal(ai->replay_window, 32);
	assert_false(ao->encap);
	assert_int_equal(ao->life.hard_secs, 1000);
	/* the soft limit a little before 90 %, at random: the two peers
	 * rarely rekey together */
	assert_true(ao->life.soft_secs <= 900 && ao->life.soft_secs >= 850);
	assert_int_equal(ai->life.soft_secs, ao->life.soft_secs);
	assert_int_equal(ao->life.hard_bytes, 2000 * 1024);
	assert_true(ao->life.soft_bytes < ao->life.hard_bytes);
	assert_true(ao->has_sel);
	assert_int_equal(ao->sel.src_plen, 32);
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KA, IKK_DIR_IN), 1);
	assert_int_equal(n_pols(&KA, IKK_DIR_FWD), 0);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_IN), 1);

	/* the IKE SA goes: every SA and IPsec policy with it, both sides */
	ikesa_want(&A.d, sa_of(&A, "192.0.2.2"), true, false);
	pump();
	assert_int_equal(n_sas(&KA), 0);
	assert_int_equal(n_sas(&KB), 0);
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT) + n_pols(&KA, IKK_DIR_IN), 0);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT) + n_pols(&KB, IKK_DIR_IN), 0);
}

/* The next payload of the message in p, and whether every one of the
 * n datagrams is an Encrypted Fragment no longer than max bytes. */
static bool all_fragments(const struct pkt *p, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].len > max || p[i].len < IKEV2_HEADER_LEN ||
		    p[i].buf[16] != IKEV2_PL_SKF)
			return false;
	return n >= 2;
}

/* RFC 7383: IKE_AUTH larger than the fragment size goes in fragments both
 * ways (on the wire: only SKF datagrams, none above the size), taken in
 * any order, a repeated one dropped, a forged one (its count changed)
 * failing its check and changing nothing; a fragment of the answer lost, A's
 * retransmission (all its fragments) is answered once, and the CHILD SA
 * comes up as without fragments. */
static void test_fragmentation(void **state)
{
	struct pkt req[16], resp[16], forged;
	size_t nreq = 0, nresp = 0, i;
	const size_t room = 200 - 20 - 8;	/* IPv4, UDP */

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }, "
			      "{ esp: aes128-sha256 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	A.d.tun.fragment_size = B.d.tun.fragment_size = 200;
	initiate("192.0.2.2");
	assert_true(deliver(&A));		/* IKE_SA_INIT */
	assert_true(deliver(&B));
	while (nreq < 16 && take(&A, &req[nreq]))
		nreq++;
	assert_true(all_fragments(req, nreq, room));
	deliver_pkt(&A, &B, &req[nreq - 1]);	/* last first */
	deliver_pkt(&A, &B, &req[nreq - 1]);	/* again: dropped */
	assert_int_equal(B.d.stats.v[ST_DROP_FRAGMENT], 1);
	forged = req[0];			/* "one more fragment": */
	forged.buf[IKEV2_HEADER_LEN + 7]++;	/* fails its ICV, and */
	deliver_pkt(&A, &B, &forged);		/* changes nothing */
	assert_int_equal(B.d.stats.v[ST_DROP_INTEGRITY], 1);
	assert_int_equal(B.nq, 0);
	for (i = nreq - 1; i-- > 0;)
		deliver_pkt(&A, &B, &req[i]);
	while (nresp < 16 && take(&B, &resp[nresp]))
		nresp++;
	assert_true(all_fragments(resp, nresp, room));
	for (i = 1; i < nresp; i++)		/* fragment 1 lost */
		deliver_pkt(&B, &A, &resp[i]);
	assert_int_equal(A.outcomes_ok, 0);
	advance(A.d.tun.retransmit_base_ms);	/* A sends all again */
	assert_int_equal(A.nq, nreq);
	pump();					/* answered once */
	assert_int_equal(B.d.stats.v[ST_RESPONSES_RESENT], 1);
	/* fragment 1 completed the answer: the rest came too late */
	assert_int_equal(A.d.stats.v[ST_DROP_UNEXPECTED_RESPONSE], nresp - 1);
	assert_int_equal(A.outcomes_ok, 1);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 1);
	assert_int_equal(child_count(sa_of(&B, "192.0.2.1")), 1);
	assert_int_equal(n_sas(&KA), 2);
	assert_int_equal(n_sas(&KB), 2);
	/* small messages are sent whole: the Delete */
	ikesa_want(&A.d, sa_of(&A, "192.0.2.2"), true, false);
	assert_int_equal(A.nq, 1);
	assert_int_equal(A.q[0].buf[16], IKEV2_PL_SK);
	pump();
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
}

/* AES-CBC + HMAC-SHA2-384: B takes the first of A's proposals it knows. */
static void test_proposal_choice(void **state)
{
	struct child_info ia, ib;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }, { esp: aes128-sha384 }, { esp: aes256-sha512 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256-sha512 }, { esp: aes128-sha384 }", ""));
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_int_equal(ia.encr, IKEV2_ENCR_AES_CBC);
	assert_int_equal(ia.key_bits, 128);
	assert_int_equal(ia.integ, IKEV2_INTEG_HMAC_SHA2_384_192);
	assert_int_equal(ib.integ, IKEV2_INTEG_HMAC_SHA2_384_192);
	assert_int_equal(ia.encr_key_len, 16);
	assert_int_equal(ia.integ_key_len, 48);
}

/* No method in common: NO_PROPOSAL_CHOSEN, the IKE SA still comes up,
 * A's larval SA is released. */
static void test_no_proposal(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes128gcm16 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256-sha256 }", ""));
	up_childless("peer answered NO_PROPOSAL_CHOSEN", ST_FAIL_NO_PROPOSAL,
		     ST_FAIL_NO_PROPOSAL);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 0);
	assert_int_equal(child_count(sa_of(&B, "192.0.2.1")), 0);
	assert_int_equal(n_sas(&KA), 0);
	assert_int_equal(n_sas(&KB), 0);
	assert_int_equal(KB.spi_allocs, 0);
}

/* B's rule covers only TCP 22: A's TS (all protocols) narrowed to it. */
static void test_ts_narrowed(void **state)
{
	struct child_info ia, ib;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", "{ src: me, src-port: 22, dst: 192.0.2.0/24, protocol: tcp }", "{ esp: aes256gcm16 }", ""));
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_string_equal(ib.local_ts, "192.0.2.2/32[6/22]");
	assert_string_equal(ib.remote_ts, "192.0.2.1/32[6]");
	assert_string_equal(ia.remote_ts, "192.0.2.2/32[6/22]");
	assert_string_equal(ia.local_ts, "192.0.2.1/32[6]");
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_IN), 1);
}

/* B has no rule covering A's selectors: TS_UNACCEPTABLE, nothing kept. */
static void test_ts_refused(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", "{ src: me, dst: 198.51.100.0/24 }, { src: 192.0.2.0/24, dst: 198.51.100.7, mirrored: no }", "{ esp: aes256gcm16 }", ""));
	up_childless("peer answered TS_UNACCEPTABLE", ST_FAIL_TS_UNACCEPTABLE,
		     ST_FAIL_TS_UNACCEPTABLE);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 0);
	assert_int_equal(child_count(sa_of(&B, "192.0.2.1")), 0);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT) + n_pols(&KB, IKK_DIR_OUT), 0);
}

/* ---- the default response (no rule of B names A) ------------------------------ */

/* B only answers: its policy has no rule, its default response lists its
 * own methods and authenticates with the key 'lab' (its own methods, not
 * the peer's address key). */
#define RESPOND_ONLY(METHODS)                                                   \
	"policies:\n"                                                           \
	"  respond-only:\n"                                                     \
	"    default-response: { methods: [ " METHODS " ],\n"                     \
	"                        authentication: [ { psk: lab } ] }\n"

/* B's default response accepts A's selectors, narrowed to the two hosts,
 * and chooses with its own methods: A's first offer (AES-256-GCM) is not
 * among them, its second is. */
static void test_default_response_accepts(void **state)
{
	struct child_info ia, ib;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }, { esp: aes128gcm16 }, { esp: aes128-sha256 }", ""));
	set_policy(&B, RESPOND_ONLY("{ esp: aes128-sha256 }, { esp: aes128gcm16 }"));
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_string_equal(ib.rule, CHP_RESPONSE_NAME);
	assert_int_equal(ib.mode, IKK_MODE_TRANSPORT);
	assert_int_equal(ib.encr, IKEV2_ENCR_AES_GCM_16);
	assert_int_equal(ib.key_bits, 128);
	assert_int_equal(ia.key_bits, 128);
	assert_string_equal(ib.local_ts, "192.0.2.2/32[0]");
	assert_string_equal(ib.remote_ts, "192.0.2.1/32[0]");
	/* installed through the kernel path, both directions */
	assert_int_equal(n_sas(&KB), 2);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_IN), 1);
}

/* A asks for TCP to port 5432 only: B takes exactly that. */
static void test_default_response_keeps_narrow_offer(void **state)
{
	struct child_info ib;

	set_policy(&A, POLICY("a", "{ src: me, dst: 192.0.2.2, protocol: tcp, dst-port: 5432 }", "{ esp: aes256gcm16 }", ""));
	set_policy(&B, "policies:\n  p:\n    default-response: { authentication: [ { psk: lab } ] }\n");
	up();
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_string_equal(ib.rule, CHP_RESPONSE_NAME);
	assert_string_equal(ib.local_ts, "192.0.2.2/32[6/5432]");
	assert_string_equal(ib.remote_ts, "192.0.2.1/32[6]");
}

/* The methods are the default response's only: an offer of none of them
 * (its defaults have no AES-CBC with SHA-512) is NO_PROPOSAL_CHOSEN, the
 * IKE SA stays. */
static void test_default_response_methods_only(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256-sha512 }", ""));
	set_policy(&B, "policies:\n  p:\n    default-response: { authentication: [ { psk: lab } ] }\n");
	up_childless("peer answered NO_PROPOSAL_CHOSEN", ST_FAIL_NO_PROPOSAL,
		     ST_FAIL_NO_PROPOSAL);
	assert_int_equal(n_sas(&KB), 0);
}

/* Traffic that does not involve B's own address (a tunnel to the network
 * behind it) is refused: the default response answers for this host
 * only, in transport mode.  Nothing is installed. */
static void test_default_response_refuses_other_traffic(void **state)
{
	set_policy(&A, POLICY("a", "{ src: me, dst: 198.51.100.0/24, mirrored: no }", "{ esp: aes256gcm16 }", ", tunnel: 192.0.2.2"));
	set_policy(&B, "policies:\n  p:\n    default-response: { authentication: [ { psk: lab } ] }\n");
	up_childless("peer answered TS_UNACCEPTABLE", ST_FAIL_TS_UNACCEPTABLE,
		     ST_FAIL_TS_UNACCEPTABLE);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
}

/* With default-response: no, the same request is refused. */
static void test_default_response_off(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, "policies:\n  p:\n    default-response: no\n");
	initiate("192.0.2.2");
	pump();
	assert_int_equal(A.outcomes_ok, 0);
	assert_int_equal(n_sas(&KB), 0);
}

/* B's kernel cannot take ESP (no ESP in it): both sides stay childless;
 * B counts its kernel, A the NO_PROPOSAL_CHOSEN B answers. */
static void test_kernel_refuses(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	KB.fail_sa_add = 1;
	up_childless("peer answered NO_PROPOSAL_CHOSEN", ST_FAIL_NO_PROPOSAL,
		     ST_FAIL_KERNEL);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 0);
	assert_int_equal(child_count(sa_of(&B, "192.0.2.1")), 0);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
	assert_null(sa_of(&A, "192.0.2.2")->child);
}

/* A's own kernel refuses the ESP SA: `sa initiate` is told so. */
static void test_own_kernel_refuses(void **state)
{
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	KA.fail_sa_add = 1;
	initiate("192.0.2.2");
	pump();
	assert_int_equal(A.outcomes_failed, 1);
	assert_non_null(strstr(A.last_outcome, "the kernel refused the ESP "
			       "SA: inbound SA: recorded failure"));
	assert_int_equal(A.d.stats.v[ST_NEG_FAILED], 1);
	assert_int_equal(A.d.stats.v[ST_FAIL_KERNEL], 1);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 0);
	assert_int_equal(n_sas(&KA), 0);	/* the larval SA too */
}

/* Tunnel mode between two subnets: USE_TRANSPORT_MODE absent, fwd
 * policies, templates with the tunnel endpoints. */
static void test_tunnel(void **state)
{
	struct child_info ia, ib;
	size_t i;

	set_policy(&A, POLICY("a", "{ src: 10.1.0.0/16, dst: 10.2.0.0/16, mirrored: no }", "{ esp: aes128gcm16 }", ", tunnel: 192.0.2.2"));
	set_policy(&B, POLICY("b", "{ src: 10.2.0.0/16, dst: 10.1.0.0/16, mirrored: no }", "{ esp: aes128gcm16 }", ", tunnel: 192.0.2.1"));
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_int_equal(ia.mode, IKK_MODE_TUNNEL);
	assert_int_equal(ib.mode, IKK_MODE_TUNNEL);
	assert_string_equal(ia.local_ts, "10.1.0.0/16[0]");
	assert_string_equal(ib.local_ts, "10.2.0.0/16[0]");
	assert_int_equal(n_pols(&KA, IKK_DIR_FWD), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_FWD), 1);
	for (i = 0; i < KMAX; i++)
		if (KA.pused[i] && KA.pol[i].dir == IKK_DIR_OUT &&
		    KA.pol[i].action == IKK_POL_IPSEC) {
			char s[64];

			assert_string_equal(ikk_addr_str(&KA.pol[i].tmpl[0].dst, s, sizeof(s)), "192.0.2.2");
			assert_int_equal(KA.pol[i].tmpl[0].mode, IKK_MODE_TUNNEL);
		}
	assert_int_equal(sa_by_spi(&KA, ia.spi_out)->mode, IKK_MODE_TUNNEL);
}

/* The CHILD SA part of the IKE_AUTH request: SA (ESP, 4-byte SPI, ESN
 * off), TSi, TSr, USE_TRANSPORT_MODE. */
static void test_request_layout(void **state)
{
	struct ike_builder b;
	struct ike_msg msg;
	struct ike_header h = { .ispi = 1, .exchange = IKEV2_EXCH_IKE_AUTH,
				.version = 0x20 };
	struct ike_sa offer;
	struct ike_ts_set ts;
	struct ike_notify n;
	struct ikesa *sa;
	uint8_t buf[2048];
	size_t len = 0, i;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }, { esp: aes256-sha256 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	up();
	sa = sa_of(&A, "192.0.2.2");
	/* a second request from the hooks, as IKE_AUTH would build it */
	sa->state = IKESA_AUTH_SENT;
	ike_build_message(&b, buf, sizeof(buf), &h);
	assert_true(A.d.child->auth_request(&A.d, sa, &b));
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	sa->state = IKESA_ESTABLISHED;
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.npl, 4);
	assert_int_equal(msg.pl[0].type, IKEV2_PL_NOTIFY);
	assert_int_equal(ike_decode_notify(&msg.pl[0], &n), IKE_MSG_OK);
	assert_int_equal(n.type, IKEV2_N_USE_TRANSPORT_MODE);
	assert_int_equal(msg.pl[1].type, IKEV2_PL_SA);
	assert_int_equal(ike_decode_sa(&msg.pl[1], &offer), IKE_MSG_OK);
	assert_int_equal(offer.nproposals, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(offer.prop[i].num, i + 1);
		assert_int_equal(offer.prop[i].protocol, IKEV2_PROTO_ESP);
		assert_int_equal(offer.prop[i].spi_size, 4);
	}
	assert_int_equal(offer.prop[0].ntransforms, 2);	/* ENCR, ESN */
	assert_int_equal(offer.prop[0].xf[0].id, IKEV2_ENCR_AES_GCM_16);
	assert_int_equal(offer.prop[0].xf[0].key_bits, 256);
	assert_int_equal(offer.prop[0].xf[1].type, IKEV2_XFORM_ESN);
	assert_int_equal(offer.prop[0].xf[1].id, IKEV2_ESN_NO);
	assert_int_equal(offer.prop[1].ntransforms, 3);	/* ENCR, INTEG, ESN */
	assert_int_equal(offer.prop[1].xf[1].id, IKEV2_INTEG_HMAC_SHA2_256_128);
	assert_int_equal(msg.pl[2].type, IKEV2_PL_TSI);
	assert_int_equal(ike_decode_ts(&msg.pl[2], &ts), IKE_MSG_OK);
	assert_int_equal(ts.nts, 1);
	assert_int_equal(ts.ts[0].type, IKEV2_TS_IPV4_ADDR_RANGE);
	assert_int_equal(ts.ts[0].end_port, 65535);
	assert_memory_equal(ts.ts[0].start, "\xc0\x00\x02\x01", 4);
	assert_int_equal(msg.pl[3].type, IKEV2_PL_TSR);
}

/* The peer deletes its ESP SA: we remove ours and answer with our SPI. */
static void test_esp_delete(void **state)
{
	struct child_info ib;
	struct ikesa *sa;
	struct ike_builder b;
	struct ike_msg msg;
	struct ike_delete del, got;
	struct ike_header h = { .ispi = 1, .exchange = IKEV2_EXCH_INFORMATIONAL,
				.version = 0x20 };
	uint8_t spi[4], buf[256];
	size_t len = 0;

	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	up();
	sa = sa_of(&B, "192.0.2.1");
	assert_int_equal(child_get(sa, 0, &ib), 0);
	spi[0] = (uint8_t)(ib.spi_out >> 24); spi[1] = (uint8_t)(ib.spi_out >> 16);
	spi[2] = (uint8_t)(ib.spi_out >> 8); spi[3] = (uint8_t)ib.spi_out;
	del = (struct ike_delete){ .protocol = IKEV2_PROTO_ESP, .spi_size = 4,
				   .nspi = 1, .spis = spi };
	ike_build_message(&b, buf, sizeof(buf), &h);
	B.d.child->delete_request(&B.d, sa, &del, &b);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.npl, 1);
	assert_int_equal(ike_decode_delete(&msg.pl[0], &got), IKE_MSG_OK);
	assert_int_equal(got.nspi, 1);
	assert_int_equal(ike_delete_spi(&got, 0), ib.spi_in);
	assert_int_equal(child_count(sa), 0);
	assert_int_equal(n_sas(&KB), 0);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT) + n_pols(&KB, IKK_DIR_IN), 0);
	assert_int_equal(child_count(sa_of(&A, "192.0.2.2")), 1);
}

/* NAT-T in use: both SAs UDP-encapsulated on the IKE ports. */
static void test_natt(void **state)
{
	struct child_info ia;
	const struct ikk_sa *ao, *ai;

	nat = true;
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", B_NET, "{ esp: aes256gcm16 }", ""));
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	ao = sa_by_spi(&KA, ia.spi_out);
	ai = sa_by_spi(&KA, ia.spi_in);
	assert_true(ao->encap && ai->encap);
	assert_int_equal(ao->encap_sport, 4500);
	assert_int_equal(ao->encap_dport, 4500);
	assert_int_equal(ai->encap_dport, 4500);
}

/* Transport mode with A's address rewritten by the NAT (RFC 7296
 * §2.23.1), as between ipsec-xdpd and strongSwan in the VM: B takes A at
 * the NAT's address (its TSi replaced, its SAs and policies to that
 * address); A puts its own address back into the TSi B answers. */
static void test_natt_transport_address(void **state)
{
	struct child_info ia, ib;

	nat = true;
	nat_addr = "198.51.100.7";
	set_policy(&A, POLICY("a", A_TO_B, "{ esp: aes256gcm16 }", ""));
	set_policy(&B, POLICY("b", "{ src: me, dst: 198.51.100.0/24 }",
			      "{ esp: aes256gcm16 }", ""));
	up();
	assert_true(sa_of(&A, "192.0.2.2")->nat_local);
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "198.51.100.7"), 0, &ib), 0);
	assert_int_equal(ia.mode, IKK_MODE_TRANSPORT);
	assert_string_equal(ia.local_ts, "192.0.2.1/32[0]");
	assert_string_equal(ib.remote_ts, "198.51.100.7/32[0]");
	assert_int_equal(ia.spi_out, ib.spi_in);
	assert_true(sa_by_spi(&KB, ib.spi_out)->encap);
	nat_addr = NULL;
}

/* ---- no silent limits: as many rules and filters as the policy has ---------- */

/* A policy of `rules` negotiate rules r0..rN-1 with `filters` filters each
 * (filter-lists l0..), all towards 10.x.y.0/24, but for the last filter of
 * the last rule, towards `peer`.  Returned text is malloc'd. */
static char *big_policy(const char *name, size_t rules, size_t filters,
			const char *peer)
{
	size_t cap = 200 + rules * (120 + filters * 48), len = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	len += (size_t)snprintf(t + len, cap - len, "filter-lists:\n");
	for (size_t r = 0; r < rules; r++) {
		len += (size_t)snprintf(t + len, cap - len, "  l%zu: { filters: [", r);
		for (size_t f = 0; f < filters; f++) {
			bool last = r == rules - 1 && f == filters - 1;

			if (last)
				len += (size_t)snprintf(t + len, cap - len,
							"%s { src: me, dst: %s }",
							f ? "," : "", peer);
			else
				len += (size_t)snprintf(t + len, cap - len,
							"%s { src: me, dst: 10.%zu.%zu.0/24 }",
							f ? "," : "", r, f);
		}
		len += (size_t)snprintf(t + len, cap - len, " ] }\n");
	}
	len += (size_t)snprintf(t + len, cap - len,
				"filter-actions:\n"
				"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
				"policies:\n  %s:\n    rules:\n", name);
	for (size_t r = 0; r < rules; r++)
		len += (size_t)snprintf(t + len, cap - len,
					"      - { name: r%zu, filter-list: l%zu, action: secure, "
					"authentication: [ { psk: lab } ] }\n", r, r);
	assert_true(len < cap);
	return t;
}

/* 100 negotiate rules of 50 filters each (the daemon once kept 32 of each,
 * silently): both daemons load the policy, and the only filter covering
 * the peers, the 50th of the 100th rule, is the one negotiated. */
static void test_many_rules_and_filters(void **state)
{
	char *pa = big_policy("a", 100, 50, "192.0.2.2");
	char *pb = big_policy("b", 100, 50, "192.0.2.1");
	struct child_info ia, ib;

	struct chp_rules rs;
	struct chp_rule one;

	set_policy(&A, pa);
	set_policy(&B, pb);
	free(pa);
	free(pb);
	/* every rule and every filter, as the dataplane link finds them */
	assert_int_equal(chp_rules_load(B.d.policy, &rs), 0);
	assert_int_equal(rs.n, 101);	/* and the default response, last */
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(rs.v[i].nf, 50);
	assert_true(rs.v[100].response);
	assert_string_equal(rs.v[100].name, CHP_RESPONSE_NAME);
	chp_rules_free(&rs);
	assert_int_equal(chp_rule_find(B.d.policy, "r99", &one), 0);
	assert_string_equal(one.name, "r99");
	assert_int_equal(one.nf, 50);
	assert_int_equal(one.f[49].dst.kind, CHP_ADDR_RANGE);
	assert_memory_equal(one.f[49].dst.lo, "\xc0\x00\x02\x01", 4);
	chp_rule_clear(&one);
	assert_int_equal(chp_rule_find(B.d.policy, "r100", &one), 1);
	up();
	assert_int_equal(child_get(sa_of(&A, "192.0.2.2"), 0, &ia), 0);
	assert_int_equal(child_get(sa_of(&B, "192.0.2.1"), 0, &ib), 0);
	assert_string_equal(ia.rule, "r99");
	assert_string_equal(ib.rule, "r99");
	assert_string_equal(ia.remote_ts, "192.0.2.2/32[0]");
	assert_string_equal(ib.remote_ts, "192.0.2.1/32[0]");
	assert_int_equal(ia.spi_out, ib.spi_in);
}

/* More security methods than an SA payload carries: the daemon refuses the
 * policy, naming the limit, instead of offering the first few. */
static void test_too_many_methods_refused(void **state)
{
	char text[4096], err[1024];
	struct peer_policy *pp = NULL;
	size_t len;

	len = (size_t)snprintf(text, sizeof(text), "filter-lists:\n"
			       "  l: { filters: [ " A_TO_B " ] }\n"
			       "filter-actions:\n  many: { action: negotiate, methods: [");
	for (int i = 0; i < 17; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s { esp: %s }",
					i ? "," : "", i % 2 ? "aes128gcm16" : "aes256gcm16");
	len += (size_t)snprintf(text + len, sizeof(text) - len, " ] }\n"
			       "policies:\n  p:\n    rules:\n"
			       "      - { name: r, filter-list: l, action: many, "
			       "authentication: [ { psk: lab } ] }\n");
	assert_true(len < sizeof(text));
	assert_int_equal(peer_policy_from_buffer("m.yaml", text, len, &pp, err,
						 sizeof(err)), -1);
	assert_null(pp);
	assert_non_null(strstr(err, "security methods per filter action"));
	assert_non_null(strstr(err, "'many' has 17; the limit is 16"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transport_gcm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragmentation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proposal_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_proposal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_narrowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_response_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_response_keeps_narrow_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_response_methods_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_response_refuses_other_traffic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_response_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ts_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_kernel_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tunnel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esp_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_natt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rules_and_filters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_methods_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_natt_transport_address,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
