// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_rekey.c - the CHILD SA life cycle (exchange_create.c): two
 * daemons in one process (A initiated the IKE SA, B answered), a fake
 * clock, a wire and a recording kernel (ike_testbed.h).  A new CHILD SA
 * from a kernel ACQUIRE, CHILD SA rekeys with and without PFS (from the
 * kernel's soft EXPIRE), IKE SA rekeys (by lifetime and by hand),
 * simultaneous rekeys of both peers and their retries after
 * TEMPORARY_FAILURE, qmpermm and master-key PFS, AH CHILD SAs, a
 * retransmitted request
 * answered from the cache, malformed and out-of-order requests, hard
 * EXPIRE and idle removal.
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
#include "kernel/kernel.h"

#define IKE_TESTBED_KERNEL
#include "ike_testbed.h"

/* ---- set-up ------------------------------------------------------------------ */

#define METHODS "[ { esp: aes256gcm16 }, { esp: aes128-sha256 } ]"

/* One negotiate rule r-NAME; IKE: an "ike:" line or ""; MS: its security
 * methods; ACTION: more keys of the filter action (PFS). */
#define POLICY_MS(NAME, IKE, FILTERS, MS, ACTION)                               \
	"filter-lists:\n"                                                       \
	"  l: { filters: [ " FILTERS " ] }\n"                                   \
	"filter-actions:\n"                                                     \
	"  secure: { action: negotiate, methods: " MS ACTION " }\n"            \
	"policies:\n"                                                           \
	"  " NAME ":\n"                                                         \
	IKE                                                                     \
	"    rules:\n"                                                          \
	"      - { name: r-" NAME ", filter-list: l, action: secure, "          \
	"authentication: [ { psk: lab } ] }\n"

#define POLICY(NAME, IKE, FILTERS, ACTION) \
	POLICY_MS(NAME, IKE, FILTERS, METHODS, ACTION)

#define A_TO_B "{ src: me, dst: 192.0.2.2 }"
#define B_NET  "{ src: me, dst: 192.0.2.0/24 }"

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

static struct ikesa *sa_of(struct side *s, const char *peer)
{
	struct sockaddr_storage ss;

	addr_parse(peer, 0, &ss);
	return ikesa_find_peer(&s->d, &ss);
}

static struct ikesa *sa_a(void) { return sa_of(&A, "192.0.2.2"); }
static struct ikesa *sa_b(void) { return sa_of(&B, "192.0.2.1"); }

static void up(const char *pa, const char *pb)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	set_policy(&A, pa);
	set_policy(&B, pb);
	assert_int_equal(addr_parse("192.0.2.2", 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
	pump();
	assert_int_equal(A.outcomes_ok, 1);
	assert_int_equal(child_count(sa_a()), 1);
	assert_int_equal(child_count(sa_b()), 1);
}

static struct child_info child_of(struct ikesa *sa, size_t i)
{
	struct child_info ci;

	assert_int_equal(child_get(sa, i, &ci), 0);
	return ci;
}

/* Both sides hold the same pairs, crosswise, all in their kernels. */
static void assert_agree(size_t n)
{
	size_t i, j;

	assert_int_equal(child_count(sa_a()), n);
	assert_int_equal(child_count(sa_b()), n);
	assert_int_equal(n_sas(&KA), 2 * n);
	assert_int_equal(n_sas(&KB), 2 * n);
	for (i = 0; i < n; i++) {
		struct child_info a = child_of(sa_a(), i);
		bool found = false;

		assert_non_null(sa_by_spi(&KA, a.spi_in));
		assert_non_null(sa_by_spi(&KA, a.spi_out));
		for (j = 0; j < n; j++) {
			struct child_info b = child_of(sa_b(), j);

			if (b.spi_in != a.spi_out)
				continue;
			found = true;
			assert_int_equal(b.spi_out, a.spi_in);
			assert_int_equal(b.reqid == 0, false);
			assert_int_equal(a.pfs_group, b.pfs_group);
			assert_memory_equal(sa_by_spi(&KA, a.spi_out)->encr_key,
					    sa_by_spi(&KB, b.spi_in)->encr_key,
					    sa_by_spi(&KA, a.spi_out)->encr_key_len);
			assert_memory_equal(sa_by_spi(&KB, b.spi_out)->encr_key,
					    sa_by_spi(&KA, a.spi_in)->encr_key,
					    sa_by_spi(&KB, b.spi_out)->encr_key_len);
		}
		assert_true(found);
	}
}

/* The kernel's soft (or hard) EXPIRE of one of s's SAs. */
static void expire(struct side *s, uint32_t spi, bool hard)
{
	struct ikk_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = IKK_EV_EXPIRE;
	ev.proto = IPPROTO_ESP;
	ev.spi = spi;
	ev.hard = hard;
	exch_create_kernel_event(&s->d, &ev);
}

static uint64_t st(struct side *s, enum ike_stat i)
{
	return s->d.stats.v[i];
}

/* ---- a new CHILD SA ----------------------------------------------------------- */

/* A second rule for the same peer (TCP 22): the kernel's ACQUIRE for
 * such a flow makes its CHILD SA on the IKE SA that is up; its outbound
 * SA names the ACQUIRE (the kernel drops the larval state then). */
static void test_acquire_new_child(void **state)
{
	static const char pa[] =
		"filter-lists:\n"
		"  udp: { filters: [ { src: me, dst: 192.0.2.2, protocol: udp } ] }\n"
		"  ssh: { filters: [ { src: me, dst: 192.0.2.2, protocol: tcp, dst-port: 22 } ] }\n"
		"filter-actions:\n"
		"  secure: { action: negotiate, methods: " METHODS " }\n"
		"policies:\n"
		"  a:\n"
		"    rules:\n"
		"      - { name: r-udp, filter-list: udp, action: secure, authentication: [ { psk: lab } ] }\n"
		"      - { name: r-ssh, filter-list: ssh, action: secure, authentication: [ { psk: lab } ] }\n";
	struct ikk_event ev;
	struct child_info a0, a1;
	uint32_t reqid0;

	up(pa, POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	reqid0 = a0.reqid;
	assert_string_equal(a0.rule, "r-udp");
	memset(&ev, 0, sizeof(ev));
	ev.type = IKK_EV_ACQUIRE;
	ikk_addr_parse("192.0.2.1", &ev.src);
	ikk_addr_parse("192.0.2.2", &ev.dst);
	ev.proto = IPPROTO_ESP;
	ev.sel.family = AF_INET;
	ev.sel.proto = IPPROTO_TCP;
	ev.sel.src = ev.src;
	ev.sel.dst = ev.dst;
	ev.sel.src_plen = ev.sel.dst_plen = 32;
	ev.sel.dport = 22;
	ev.sel.dport_mask = 0xffff;
	ev.seq = 1234;
	exch_create_kernel_event(&A.d, &ev);
	exch_create_kernel_event(&A.d, &ev);	/* again: not twice */
	pump();
	assert_agree(2);
	a1 = child_of(sa_a(), 1);
	assert_string_equal(a1.rule, "r-ssh");
	assert_string_equal(a1.remote_ts, "192.0.2.2/32[6/22]");
	assert_true(a1.reqid != reqid0);
	assert_int_equal(sa_by_spi(&KA, a1.spi_out)->acquire_seq, 1234);
	assert_int_equal(sa_by_spi(&KA, a1.spi_in)->acquire_seq, 0);
	assert_int_equal(sa_by_spi(&KA, a0.spi_out)->acquire_seq, 0);
	assert_string_equal(child_of(sa_b(), 1).local_ts, "192.0.2.2/32[6/22]");
	assert_int_equal(st(&A, ST_KEY_ADDITIONS), 2);
	assert_int_equal(st(&B, ST_KEY_ADDITIONS), 2);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 0);
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 2);
	assert_int_equal(n_pols(&KB, IKK_DIR_IN), 2);
}

/* An ACQUIRE with no IKE SA up starts IKE; the CHILD SA of IKE_AUTH
 * answers that ACQUIRE (its outbound SA carries the sequence number). */
static void test_acquire_starts_ike(void **state)
{
	struct ikk_event ev;
	struct child_info a0;

	set_policy(&A, POLICY("a", "", A_TO_B, ""));
	set_policy(&B, POLICY("b", "", B_NET, ""));
	memset(&ev, 0, sizeof(ev));
	ev.type = IKK_EV_ACQUIRE;
	ikk_addr_parse("192.0.2.1", &ev.src);
	ikk_addr_parse("192.0.2.2", &ev.dst);
	ev.proto = IPPROTO_ESP;
	ev.seq = 99;
	exch_create_kernel_event(&A.d, &ev);
	pump();
	assert_int_equal(A.outcomes_ok, 1);
	assert_agree(1);
	a0 = child_of(sa_a(), 0);
	assert_int_equal(sa_by_spi(&KA, a0.spi_out)->acquire_seq, 99);
	assert_int_equal(sa_by_spi(&KA, a0.spi_in)->acquire_seq, 0);
}

/* ---- CHILD SA rekey ------------------------------------------------------------ */

struct rekey_case {
	const char *name;
	const char *action_a, *action_b;	/* PFS settings */
	bool ok;				/* rekeyed */
	uint16_t group;				/* of the new keys */
};

static const struct rekey_case rekey_cases[] = {
	{ "no PFS", "", "", true, 0 },
	{ "PFS both, the IKE SA's group", ", pfs: yes", ", pfs: yes", true,
	  IKEV2_DH_CURVE25519 },
	{ "PFS ecp256 asked, the peer follows", ", pfs: yes, pfs-group: ecp256",
	  "", true, IKEV2_DH_ECP_256 },
	{ "the peer insists on PFS, we offer none", "", ", pfs: yes", false, 0 },
};

/* A's soft EXPIRE: a new pair with the old reqid and policies, the old
 * pair gone from both kernels, counted on both sides. */
static void test_child_rekey(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rekey_cases) / sizeof(rekey_cases[0]); i++) {
		const struct rekey_case *t = &rekey_cases[i];
		struct child_info a0, a1, b1;
		char pa[1024], pb[1024];

		print_message("case: %s\n", t->name);
		if (i) {
			teardown(state);
			setup(state);
		}
		snprintf(pa, sizeof(pa), POLICY("a", "", A_TO_B, "%s"),
			 t->action_a);
		snprintf(pb, sizeof(pb), POLICY("b", "", B_NET, "%s"),
			 t->action_b);
		up(pa, pb);
		a0 = child_of(sa_a(), 0);
		expire(&A, a0.spi_in, false);
		expire(&A, a0.spi_out, false);	/* the other SA: once */
		pump();
		assert_agree(1);
		a1 = child_of(sa_a(), 0);
		b1 = child_of(sa_b(), 0);
		if (!t->ok) {
			assert_int_equal(a1.spi_in, a0.spi_in);
			assert_int_equal(st(&A, ST_CHILD_REKEYS), 0);
			assert_int_equal(st(&B, ST_NO_PROPOSAL_CHOSEN), 1);
			continue;
		}
		assert_true(a1.spi_in != a0.spi_in);
		assert_true(a1.spi_out != a0.spi_out);
		assert_null(sa_by_spi(&KA, a0.spi_in));
		assert_null(sa_by_spi(&KB, a0.spi_out));
		assert_int_equal(a1.reqid, a0.reqid);
		assert_int_equal(sa_by_spi(&KA, a1.spi_out)->reqid, a0.reqid);
		assert_int_equal(b1.reqid, sa_by_spi(&KB, b1.spi_out)->reqid);
		assert_int_equal(a1.pfs_group, t->group);
		assert_int_equal(b1.pfs_group, t->group);
		/* the policies stayed (they belong to the reqid) */
		assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 1);
		assert_int_equal(n_pols(&KA, IKK_DIR_IN), 1);
		assert_int_equal(n_pols(&KB, IKK_DIR_OUT), 1);
		assert_int_equal(n_pols(&KB, IKK_DIR_IN), 1);
		assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
		assert_int_equal(st(&B, ST_CHILD_REKEYS), 1);
		assert_int_equal(st(&A, ST_KEY_UPDATES), 1);
		assert_int_equal(st(&B, ST_KEY_UPDATES), 1);
		assert_int_equal(st(&A, ST_KEY_ADDITIONS), 2);
		assert_int_equal(st(&A, ST_KEY_DELETIONS), 1);
		assert_int_equal(st(&B, ST_KEY_DELETIONS), 1);
	}
}

/* B answers a rekey with its outbound SA held back until A deletes the
 * old pair: B never sends on an SA A does not have yet. */
static void test_responder_waits(void **state)
{
	struct child_info a0, b1;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	expire(&A, a0.spi_in, false);
	deliver(&A);			/* the request: B answers */
	assert_int_equal(child_count(sa_b()), 2);
	b1 = child_of(sa_b(), 1);
	assert_non_null(sa_by_spi(&KB, b1.spi_in));
	assert_null(sa_by_spi(&KB, b1.spi_out));
	assert_non_null(sa_by_spi(&KB, a0.spi_in));	/* the old out */
	deliver(&B);			/* the answer: A installs, deletes */
	deliver(&A);			/* the Delete: B switches */
	assert_non_null(sa_by_spi(&KB, b1.spi_out));
	assert_null(sa_by_spi(&KB, a0.spi_in));
	pump();
	assert_agree(1);
}

/* Both peers rekey the same CHILD SA at once: each answers the other,
 * the pair made with the lowest nonce goes, one pair is left and both
 * sides hold the same one. */
static void test_child_collision(void **state)
{
	struct child_info a0, b0;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	b0 = child_of(sa_b(), 0);
	expire(&A, a0.spi_in, false);
	expire(&B, b0.spi_in, false);
	assert_int_equal(A.nq, 1);
	assert_int_equal(B.nq, 1);
	pump();
	assert_agree(1);
	assert_true(child_of(sa_a(), 0).spi_in != a0.spi_in);
	assert_true(child_of(sa_b(), 0).spi_in != b0.spi_in);
	assert_null(sa_by_spi(&KA, a0.spi_in));
	assert_null(sa_by_spi(&KB, b0.spi_in));
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT), 1);
	/* each side made one new pair and answered one */
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 2);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 2);
	assert_int_equal(st(&A, ST_KEY_DELETIONS), 2);
	assert_int_equal(st(&B, ST_KEY_DELETIONS), 2);
}

/* The answer to a rekey is lost: A retransmits, B answers from its cache
 * and installs nothing twice. */
static void test_retransmit(void **state)
{
	struct child_info a0;
	size_t kb;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	expire(&A, a0.spi_in, false);
	deliver(&A);
	kb = n_sas(&KB);
	lose(&B);
	advance(A.d.tun.retransmit_base_ms);
	assert_int_equal(A.nq, 1);
	assert_int_equal(st(&A, ST_RETRANSMITS), 1);
	deliver(&A);
	assert_int_equal(st(&B, ST_RESPONSES_RESENT), 1);
	assert_int_equal(n_sas(&KB), kb);
	assert_int_equal(child_count(sa_b()), 2);
	pump();
	assert_agree(1);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 1);
}

/* ---- refusals --------------------------------------------------------------------- */

/* A request from A's IKE SA with the payload chain given. */
static void send_raw(const uint8_t *plain, size_t len, uint8_t first)
{
	assert_int_equal(ikesa_request(&A.d, sa_a(), IKEV2_EXCH_CREATE_CHILD_SA,
				       first, plain, len, true), 0);
}

/* Malformed requests are counted and answered INVALID_SYNTAX; a request
 * out of the message ID window is dropped; an unknown REKEY_SA SPI gets
 * CHILD_SA_NOT_FOUND.  The CHILD SA in force is untouched throughout. */
static void test_bad_requests(void **state)
{
	uint8_t buf[512], nonce[32];
	struct ike_nonce n = { nonce, sizeof(nonce) };
	struct ike_notify rk = { .protocol = IKEV2_PROTO_ESP, .spi_size = 4,
				 .spi = (const uint8_t *)"\x12\x34\x56\x78",
				 .type = IKEV2_N_REKEY_SA };
	struct child_offer o;
	struct ike_builder b;
	struct child_info b0;
	size_t len = 0;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	b0 = child_of(sa_b(), 0);
	memset(nonce, 7, sizeof(nonce));

	/* a Nonce without an SA payload */
	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_nonce(&b, &n);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	send_raw(buf, len, b.first);
	pump();
	assert_int_equal(st(&B, ST_DROP_MISSING_PAYLOAD), 1);

	/* a nonce of 4 bytes (§3.9: at least 16) */
	assert_int_equal(child_offer_make(&A.d, sa_a(), NULL, NULL, 0, &o), 0);
	ike_build_chain(&b, buf, sizeof(buf));
	child_offer_add(&o, 0, &b);
	ike_add_raw(&b, IKEV2_PL_NONCE, false, nonce, 4);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	send_raw(buf, len, b.first);
	pump();
	assert_int_equal(st(&B, ST_DROP_BAD_PAYLOAD), 1);

	/* REKEY_SA for an SPI B does not have */
	ike_build_chain(&b, buf, sizeof(buf));
	ike_add_notify(&b, &rk);
	child_offer_add(&o, 0, &b);
	ike_add_nonce(&b, &n);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	send_raw(buf, len, b.first);
	deliver(&A);
	assert_int_equal(B.nq, 1);
	pump();

	/* a message ID ahead of the window: dropped, not answered */
	sa_a()->req_next += 3;
	send_raw(buf, len, b.first);
	deliver(&A);
	assert_int_equal(st(&B, ST_DROP_MSGID_WINDOW), 1);
	assert_int_equal(B.nq, 0);
	child_offer_release(&A.d, &o);

	assert_int_equal(child_count(sa_b()), 1);
	assert_int_equal(child_of(sa_b(), 0).spi_in, b0.spi_in);
	assert_non_null(sa_by_spi(&KB, b0.spi_in));
	assert_non_null(sa_by_spi(&KB, b0.spi_out));
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 0);
	assert_int_equal(sa_b()->state, IKESA_ESTABLISHED);
}

/* ---- IKE SA rekey -------------------------------------------------------------------- */

/* A's IKE SA lifetime runs out: a new IKE SA with new SPIs carries the
 * CHILD SA on; the old one is deleted on both sides. */
static void test_ike_rekey_lifetime(void **state)
{
	struct child_info a0;
	uint64_t old_a, old_b, ispi, rspi;
	struct ikesa *na, *nb;
	unsigned t;

	up(POLICY("a", "    ike: { lifetime: 600 }\n", A_TO_B, ""),
	   POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	old_a = sa_a()->serial;
	old_b = sa_b()->serial;
	ispi = sa_a()->ispi;
	rspi = sa_a()->rspi;
	for (t = 0; t <= 600000 && !A.nq; t += 100)
		advance(100);
	assert_true(t > 540000);	/* between 90 % and 100 % of it */
	assert_int_equal(A.nq, 1);
	pump();
	na = sa_a();
	nb = sa_b();
	assert_true(na->serial != old_a);
	assert_true(nb->serial != old_b);
	assert_int_equal(na->rekeyed_from, old_a);
	assert_int_equal(na->ispi, nb->ispi);
	assert_int_equal(na->rspi, nb->rspi);
	assert_true(na->ispi != ispi && na->rspi != rspi);
	assert_int_equal(ikesa_find_serial(&A.d, old_a)->state, IKESA_CLOSED);
	assert_int_equal(ikesa_find_serial(&B.d, old_b)->state, IKESA_CLOSED);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&B, ST_IKE_REKEYS), 1);
	/* the CHILD SA lives on, untouched */
	assert_agree(1);
	assert_int_equal(child_of(na, 0).spi_in, a0.spi_in);
	assert_int_equal(st(&A, ST_KEY_DELETIONS), 0);
	/* and the new keys work: a CHILD SA rekey over the new IKE SA */
	expire(&B, child_of(nb, 0).spi_in, false);
	pump();
	assert_agree(1);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_true(child_of(sa_a(), 0).spi_in != a0.spi_in);
}

/* The peer now takes another D-H group: INVALID_KE_PAYLOAD names it, the
 * rekey goes again with that group and succeeds. */
static void test_ike_rekey_invalid_ke(void **state)
{
#define TWO_GROUPS "    ike: { proposals: [ aes256gcm16-prfsha256-curve25519, " \
		   "aes256gcm16-prfsha256-ecp256 ] }\n"
	struct peer_conf *bc;
	size_t i, n = 0;

	up(POLICY("a", TWO_GROUPS, A_TO_B, ""), POLICY("b", TWO_GROUPS, B_NET, ""));
	assert_int_equal(sa_a()->keys.suite.dh, IKEV2_DH_CURVE25519);
	bc = &sa_b()->conf;
	for (i = 0; i < bc->nprop; i++)
		if (bc->prop[i].dh == IKEV2_DH_ECP_256)
			bc->prop[n++] = bc->prop[i];
	bc->nprop = n;
	assert_int_equal(n, 1);
	exch_create_rekey_ike(&A.d, sa_a());
	pump();
	assert_int_equal(st(&B, ST_INVALID_KE_SENT), 1);
	assert_int_equal(st(&A, ST_INVALID_KE_RECEIVED), 1);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&B, ST_IKE_REKEYS), 1);
	assert_int_equal(sa_a()->keys.suite.dh, IKEV2_DH_ECP_256);
	assert_int_equal(sa_b()->keys.suite.dh, IKEV2_DH_ECP_256);
	assert_agree(1);
}

/* Both peers rekey the IKE SA at once: one new IKE SA survives, the
 * same on both sides, with the CHILD SA; everything else is closed. */
static void test_ike_collision(void **state)
{
	size_t n;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	exch_create_rekey_ike(&A.d, sa_a());
	exch_create_rekey_ike(&B.d, sa_b());
	pump();
	ikesa_count(&A.d, &n, &(size_t){ 0 });
	assert_int_equal(n, 1);
	ikesa_count(&B.d, &n, &(size_t){ 0 });
	assert_int_equal(n, 1);
	assert_int_equal(sa_a()->ispi, sa_b()->ispi);
	assert_int_equal(sa_a()->rspi, sa_b()->rspi);
	assert_true(sa_a()->rekeyed_from != 0);
	assert_agree(1);
	/* the survivor works */
	expire(&A, child_of(sa_a(), 0).spi_in, false);
	pump();
	assert_agree(1);
}

/* Time passes in steps of 100 ms, each followed by the wire's traffic. */
static void run_for(unsigned ms)
{
	unsigned t;

	for (t = 0; t < ms; t += 100) {
		advance(100);
		pump();
	}
}

/* A CHILD SA rekey meets an IKE SA rekey: each side answers the other
 * TEMPORARY_FAILURE (RFC 7296 §2.25).  They go again in a set order, so
 * they do not meet a second time: the CHILD SA rekey within a second
 * (its hard lifetime is running), the IKE SA rekey 3 to 6 s later. */
static void test_temporary_failure(void **state)
{
	struct child_info b0;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	b0 = child_of(sa_b(), 0);
	exch_create_rekey_ike(&A.d, sa_a());
	expire(&B, b0.spi_in, false);
	pump();
	assert_int_equal(st(&A, ST_IKE_REKEYS), 0);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 0);
	run_for(1000);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 1);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 0);
	assert_true(child_of(sa_b(), 0).spi_in != b0.spi_in);
	run_for(2000);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 0);	/* not before 3 s */
	run_for(3000);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&B, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_true(sa_a()->rekeyed_from != 0);
	assert_agree(1);
}

/* A refused IKE SA rekey waiting for its turn holds nothing else back:
 * a CHILD SA rekey A wants meanwhile goes at once. */
static void test_refused_waits_alone(void **state)
{
	struct child_info a0;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	a0 = child_of(sa_a(), 0);
	exch_create_rekey_ike(&A.d, sa_a());
	expire(&B, child_of(sa_b(), 0).spi_in, false);
	pump();				/* both refused */
	assert_int_equal(st(&A, ST_IKE_REKEYS), 0);
	expire(&A, child_of(sa_a(), 0).spi_out, false);
	pump();				/* no time passed */
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_true(child_of(sa_a(), 0).spi_in != a0.spi_in);
	run_for(7000);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	assert_true(sa_a()->rekeyed_from != 0);
	assert_agree(1);
}

/* ---- qmpermm and master-key PFS -------------------------------------------------- */

#define QMPERMM_2 "    ike: { qmpermm: 2 }\n"
#define MK_PFS    "    ike: { master-key-pfs: yes }\n"

/* qmpermm 2: the IKE SA keys the IKE_AUTH CHILD SA and one rekey; the
 * next rekey waits while the IKE SA is rekeyed, then goes on the new
 * one, whose count starts afresh. */
static void test_qmpermm(void **state)
{
	up(POLICY("a", QMPERMM_2, A_TO_B, ""), POLICY("b", "", B_NET, ""));
	assert_int_equal(sa_a()->children_keyed, 1);
	expire(&A, child_of(sa_a(), 0).spi_in, false);
	run_for(300);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 0);
	assert_int_equal(sa_a()->children_keyed, 2);
	expire(&A, child_of(sa_a(), 0).spi_in, false);
	run_for(300);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&B, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 2);
	assert_true(sa_a()->rekeyed_from != 0);
	assert_int_equal(sa_a()->children_keyed, 1);
	assert_agree(1);
}

/* master-key PFS: every CHILD SA after the first comes from a new IKE
 * SA (a new D-H exchange, a new SK_d). */
static void test_master_key_pfs(void **state)
{
	uint64_t i;

	up(POLICY("a", MK_PFS, A_TO_B, ""), POLICY("b", "", B_NET, ""));
	for (i = 1; i <= 3; i++) {
		uint64_t ike = sa_a()->serial;

		expire(&A, child_of(sa_a(), 0).spi_in, false);
		run_for(300);
		assert_int_equal(st(&A, ST_IKE_REKEYS), i);
		assert_int_equal(st(&A, ST_CHILD_REKEYS), i);
		assert_int_equal(sa_a()->rekeyed_from, ike);
		assert_int_equal(sa_a()->children_keyed, 1);
		assert_agree(1);
	}
}

/* The responder holds to it too: B (master-key PFS) answers A's CHILD SA
 * rekey TEMPORARY_FAILURE and rekeys the IKE SA; A's retry goes on the
 * new one. */
static void test_qmpermm_responder(void **state)
{
	struct child_info a0;

	up(POLICY("a", "", A_TO_B, ""), POLICY("b", MK_PFS, B_NET, ""));
	a0 = child_of(sa_a(), 0);
	expire(&A, a0.spi_in, false);
	pump();
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 0);
	assert_int_equal(st(&B, ST_IKE_REKEYS), 1);
	assert_int_equal(st(&A, ST_IKE_REKEYS), 1);
	run_for(1000);
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 1);
	assert_true(child_of(sa_a(), 0).spi_in != a0.spi_in);
	assert_int_equal(sa_b()->children_keyed, 1);
	assert_agree(1);
}

/* ---- AH --------------------------------------------------------------------------- */

#define AH_256 "[ { ah: sha256 } ]"

/* Every kernel SA of k is AH with HMAC-SHA-256 and no cipher, and every
 * outbound policy's template asks for AH. */
static void assert_all_ah(struct kern *k)
{
	size_t i;

	for (i = 0; i < KMAX; i++) {
		if (k->used[i]) {
			assert_int_equal(k->sa[i].proto, IPPROTO_AH);
			assert_int_equal(k->sa[i].encr, IKK_ENCR_NONE);
			assert_int_equal(k->sa[i].encr_key_len, 0);
			assert_int_equal(k->sa[i].integ, IKK_INTEG_HMAC_SHA256_128);
			assert_int_equal(k->sa[i].integ_key_len, 32);
		}
		if (k->pused[i] && k->pol[i].action == IKK_POL_IPSEC)
			assert_int_equal(k->pol[i].tmpl[0].proto, IPPROTO_AH);
	}
}

/* An AH method: the CHILD SA of IKE_AUTH is AH on both sides (same
 * integrity keys crosswise, nothing encrypted); its rekey (REKEY_SA names
 * an AH SPI) and the Delete of the old pair (an AH Delete payload) work. */
static void test_ah_child(void **state)
{
	struct child_info a0;

	up(POLICY_MS("a", "", A_TO_B, AH_256, ""),
	   POLICY_MS("b", "", B_NET, AH_256, ""));
	a0 = child_of(sa_a(), 0);
	assert_int_equal(a0.proto, IPPROTO_AH);
	assert_int_equal(a0.encr, IKEV2_ENCR_NULL);
	assert_int_equal(a0.integ, IKEV2_INTEG_HMAC_SHA2_256_128);
	assert_int_equal(child_of(sa_b(), 0).proto, IPPROTO_AH);
	assert_agree(1);
	assert_all_ah(&KA);
	assert_all_ah(&KB);
	assert_memory_equal(sa_by_spi(&KA, a0.spi_out)->integ_key,
			    sa_by_spi(&KB, a0.spi_out)->integ_key, 32);

	expire(&A, a0.spi_in, false);
	pump();
	assert_int_equal(st(&A, ST_CHILD_REKEYS), 1);
	assert_int_equal(st(&B, ST_CHILD_REKEYS), 1);
	assert_true(child_of(sa_a(), 0).spi_in != a0.spi_in);
	assert_null(sa_by_spi(&KA, a0.spi_in));
	assert_null(sa_by_spi(&KB, a0.spi_out));
	assert_agree(1);
	assert_all_ah(&KA);
	assert_all_ah(&KB);

	expire(&B, child_of(sa_b(), 0).spi_in, true);	/* hard: deleted */
	pump();
	assert_int_equal(child_count(sa_a()), 0);
	assert_int_equal(child_count(sa_b()), 0);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
}

/* AH+ESP cannot be one CHILD SA in IKEv2 (RFC 7296 §3.3): such a method
 * is not offered, the next one is; an offer holds the methods of one
 * protocol (the first usable method's), which the responder may pick
 * from among its own of either protocol. */
static void test_ah_esp_skipped(void **state)
{
	up(POLICY_MS("a", "", A_TO_B, "[ { ah-esp: { ah: sha256, esp: "
		     "aes128-sha256 } }, { ah: sha256 }, { esp: aes256gcm16 } ]",
		     ""),
	   POLICY_MS("b", "", B_NET, "[ { esp: aes256gcm16 }, { ah: sha256 } ]",
		     ""));
	assert_int_equal(child_of(sa_a(), 0).proto, IPPROTO_AH);
	assert_int_equal(child_of(sa_b(), 0).proto, IPPROTO_AH);
	assert_agree(1);
	assert_all_ah(&KA);
}

/* ESP offered, AH all the responder takes: no proposal chosen, counted;
 * the IKE SA stands (childless). */
static void test_ah_esp_mismatch(void **state)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	set_policy(&A, POLICY("a", "", A_TO_B, ""));
	set_policy(&B, POLICY_MS("b", "", B_NET, AH_256, ""));
	assert_int_equal(addr_parse("192.0.2.2", 500, &ss), 0);
	assert_int_equal(exch_init_start(&A.d, &ss, &serial, err,
					 sizeof(err)), 0);
	pump();
	assert_int_equal(child_count(sa_a()), 0);
	assert_int_equal(child_count(sa_b()), 0);
	assert_int_equal(st(&B, ST_NO_PROPOSAL_CHOSEN), 1);
	assert_int_equal(sa_a()->state, IKESA_ESTABLISHED);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
}

/* ---- deletion ------------------------------------------------------------------------ */

/* A hard EXPIRE: the pair goes, the peer is told. */
static void test_hard_expire(void **state)
{
	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	expire(&A, child_of(sa_a(), 0).spi_out, true);
	pump();
	assert_int_equal(child_count(sa_a()), 0);
	assert_int_equal(child_count(sa_b()), 0);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT) + n_pols(&KB, IKK_DIR_OUT), 0);
	assert_int_equal(st(&A, ST_KEY_DELETIONS), 1);
	assert_int_equal(st(&B, ST_KEY_DELETIONS), 1);
	assert_int_equal(sa_a()->state, IKESA_ESTABLISHED);
}

/* No bytes either way for the idle time: deleted; traffic keeps it. */
static void test_idle(void **state)
{
	up(POLICY("a", "", A_TO_B, ""), POLICY("b", "", B_NET, ""));
	A.d.tun.child_idle_s = 60;
	exch_create_idle_check(&A.d, NULL);	/* starts the periodic check */
	/* checked every 15 s: at 60 s it would go, but bytes moved */
	advance(45 * 1000);
	KA.bytes = 1000;
	advance(65 * 1000);
	assert_int_equal(child_count(sa_a()), 1);
	assert_int_equal(A.nq, 0);	/* 50 s since the check saw them */
	advance(10 * 1000);
	assert_int_equal(A.nq, 1);	/* 60 s: the Delete */
	pump();
	assert_int_equal(child_count(sa_a()), 0);
	assert_int_equal(child_count(sa_b()), 0);
	assert_int_equal(n_sas(&KA) + n_sas(&KB), 0);
	assert_int_equal(sa_a()->state, IKESA_ESTABLISHED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acquire_new_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acquire_starts_ike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_responder_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_rekey_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_rekey_invalid_ke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporary_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_waits_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmpermm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_pfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmpermm_responder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ah_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ah_esp_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ah_esp_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
