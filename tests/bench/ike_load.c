// SPDX-License-Identifier: GPL-2.0-only
/*
 * ike_load.c - an IKEv2 initiator load generator for the ike_setup
 * benchmark (tests/bench/README.md) and its check (tests/ns/test_ike_load.sh).
 *
 *   ike_load -t TARGET -k PSK [-p PORT] [-s FIRST_SRC] [-a NADDR]
 *            [-S SOCKS_PER_ADDR] [-c SLOTS_PER_SOCK] [-d SECS] [-w WARMUP]
 *            [-n TOTAL] [-r RETX_MS] [--child] [--cpu N]
 *
 * Each slot runs one negotiation after the other, all slots at once from
 * one event loop: IKE_SA_INIT (ENCR_AES_GCM_16 256, PRF_HMAC_SHA2_256,
 * Curve25519, N(CHILDLESS_IKEV2_SUPPORTED)), IKE_AUTH with a pre-shared
 * key and the source address as IDi, then an INFORMATIONAL Delete of the
 * IKE SA so that the responder's state does not grow; once the Delete is
 * answered the slot starts again.  A setup counts as completed only when
 * the responder's IDr and AUTH verified (prf over its IKE_SA_INIT message,
 * our nonce and its ID, with the same key).  With --child, IKE_AUTH also
 * asks for an ESP transport CHILD SA (AES-GCM-16 256, no ESN) between the
 * two addresses, and a setup counts only when the answer carries it.
 *
 * Sockets: NADDR source addresses starting at FIRST_SRC (consecutive IPv4
 * addresses that must be configured on the host), SOCKS_PER_ADDR sockets
 * on each (ephemeral ports), SLOTS_PER_SOCK slots on each.  Keep the slots
 * per address under the responder's half-open limits (ipsec-xdpd: 35 per
 * address, 5 per address and port once an IKE SA with the address exists).
 * Our SPI is random but for its top 20 bits, which name the slot, so a
 * response finds its slot without a table (the random part keeps the
 * responder's SPI hashing as it is with real peers); anything else (old
 * SPI, wrong state) is counted as stray and dropped.  A COOKIE answer is
 * followed as RFC 7296 §2.6 says.
 *
 * One Curve25519 key pair is used for every negotiation (§2.12 allows an
 * initiator to reuse its DH value), and the shared secret with each of the
 * responder's last few KE values is remembered (§2.12 again: a responder
 * that reuses its value, as ipsec-xdpd does under load, then costs us no
 * derivation): the generator pays at most one X25519 operation per setup,
 * the responder at least one, so the generator is not the bottleneck of a
 * single-core responder.
 *
 * Timing: -d SECS of measurement after -w WARMUP seconds (then no new
 * negotiation starts, those under way finish and their Deletes are waited
 * for, 2 s at most); or -n TOTAL setups started, and the run ends when all
 * have ended (completed, failed, or abandoned after 4 transmissions, the
 * first RETX_MS after sending, doubling).  --cpu pins the generator to a
 * CPU.  The key is given on the command line: a benchmark's, not a secret.
 * One JSON line on stdout, e.g.
 *   {"completed":1000,"setups_per_s":4321.0,"failed":0,...}
 * Exit 0 when the run ended, 1 on a setup error (bad options, sockets).
 *
 * Uses the project's own codec and crypto (ike/wire/wire_message.c, ike/wire/wire_crypto.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire/wire_crypto.h"
#include "wire/wire_message.h"

#define NONCE_LEN	32
#define MSG_MAX		1500
#define SLOT_BITS	20
#define MAX_SLOTS	(1u << SLOT_BITS)
#define SPI_RANDOM_BITS	(64 - SLOT_BITS)
#define SPI_RANDOM_MASK	((1ull << SPI_RANDOM_BITS) - 1)
#define MAX_SOCKS	65536
#define MAX_TRIES	4
#define DRAIN_MS	2000
#define CHILD_SPI_BASE	0x10000000u

enum slot_state {
	SLOT_IDLE,
	SLOT_INIT_SENT,
	SLOT_AUTH_SENT,
	SLOT_DELETE_SENT,
};

struct slot {
	enum slot_state state;
	int sock;			/* index in gen.socks */
	uint64_t ispi, rspi;
	uint8_t ni[NONCE_LEN];
	uint8_t nr[IKEV2_NONCE_MAX];
	size_t nr_len;
	uint8_t init_i[MSG_MAX], init_r[MSG_MAX];
	size_t init_i_len, init_r_len;
	uint8_t cookie[IKEV2_COOKIE_MAX];
	size_t cookie_len;
	struct ike_sa_keys keys;
	uint8_t tx[MSG_MAX];		/* the request out, for retransmission */
	size_t tx_len;
	uint64_t tx_ms;
	unsigned tries;
};

struct gen_sock {
	int fd;
	struct sockaddr_in local;
};

struct stats {
	uint64_t started, completed, failed, auth_failed, no_proposal;
	uint64_t bad_answer, cookies, retransmits, timeouts;
	uint64_t deleted, delete_timeouts, stray;
	uint64_t measured;		/* completed inside the interval */
};

static struct {
	struct sockaddr_in target;
	const char *psk;
	size_t psk_len;
	struct in_addr first_src;
	unsigned naddr, socks_per_addr, slots_per_sock;
	double secs, warmup;
	uint64_t total;			/* 0: timed run */
	unsigned retx_ms;
	bool child;
	int cpu;
} opt = {
	.naddr = 1, .socks_per_addr = 1, .slots_per_sock = 4,
	.secs = 5, .warmup = 1, .retx_ms = 1000, .cpu = -1,
};

static struct gen_sock *socks;
static unsigned nsocks;
static struct slot *slots;
static unsigned nslots;
static struct stats st;
static struct ike_dh *dh;
static uint8_t ke_pub[IKE_DH_MAX_LEN];
static size_t ke_pub_len;

/* g^ir with the responder's last KE values (a responder that shares its
 * D-H value sends the same one many times) */
#define GIR_CACHE 4
static struct gir_entry {
	uint8_t ke[32];			/* Curve25519 */
	uint8_t gir[32];
	bool used;
} gir_cache[GIR_CACHE];
static unsigned gir_next;
static uint32_t child_spi_counter = CHILD_SPI_BASE;
static bool starting = true;		/* false: let the slots run dry */
static bool in_interval;
static volatile sig_atomic_t stop;

static const struct ike_suite suite = {
	.encr = IKEV2_ENCR_AES_GCM_16, .encr_key_bits = 256,
	.integ = IKEV2_INTEG_NONE, .prf = IKEV2_PRF_HMAC_SHA2_256,
	.dh = IKEV2_DH_CURVE25519,
};

static void die(const char *what)
{
	fprintf(stderr, "ike_load: %s\n", what);
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- what we send ----------------------------------------------------------- */

static void header(struct ike_header *h, const struct slot *s, uint8_t exch,
		   uint32_t msgid)
{
	memset(h, 0, sizeof(*h));
	h->ispi = s->ispi;
	h->rspi = s->rspi;
	h->version = IKEV2_VERSION;
	h->exchange = exch;
	h->flags = IKEV2_FLAG_INITIATOR;
	h->msgid = msgid;
}

static void add_transform(struct ike_proposal *p, uint8_t type, uint16_t id,
			  uint16_t key_bits)
{
	struct ike_transform *t = &p->xf[p->ntransforms++];

	t->type = type;
	t->id = id;
	t->key_bits = key_bits;
}

/* Our one IKE proposal; or, for the CHILD SA, one ESP proposal. */
static void offer(struct ike_sa *sa, bool esp, uint32_t esp_spi)
{
	struct ike_proposal *p = &sa->prop[0];

	memset(sa, 0, sizeof(*sa));
	sa->nproposals = 1;
	p->num = 1;
	add_transform(p, IKEV2_XFORM_ENCR, suite.encr, suite.encr_key_bits);
	if (esp) {
		p->protocol = IKEV2_PROTO_ESP;
		p->spi_size = 4;
		p->spi[0] = esp_spi >> 24;
		p->spi[1] = esp_spi >> 16;
		p->spi[2] = esp_spi >> 8;
		p->spi[3] = esp_spi;
		add_transform(p, IKEV2_XFORM_ESN, IKEV2_ESN_NO, 0);
		return;
	}
	p->protocol = IKEV2_PROTO_IKE;
	add_transform(p, IKEV2_XFORM_PRF, suite.prf, 0);
	add_transform(p, IKEV2_XFORM_DH, suite.dh, 0);
}

static void add_status(struct ike_builder *b, uint16_t type,
		       const uint8_t *data, size_t len)
{
	struct ike_notify n = { .type = type, .data = data, .len = len };

	ike_add_notify(b, &n);
}

static int transmit(struct slot *s)
{
	const struct gen_sock *g = &socks[s->sock];

	s->tx_ms = now_ms();
	if (sendto(g->fd, s->tx, s->tx_len, 0, (const struct sockaddr *)&opt.target,
		   sizeof(opt.target)) < 0 && errno != EAGAIN && errno != ENOBUFS)
		return -1;
	return 0;
}

static int send_init(struct slot *s)
{
	struct ike_header h;
	struct ike_builder b;
	struct ike_sa sa;
	struct ike_ke ke = { suite.dh, ke_pub, ke_pub_len };
	struct ike_nonce ni = { s->ni, sizeof(s->ni) };

	header(&h, s, IKEV2_EXCH_IKE_SA_INIT, 0);
	h.rspi = 0;
	offer(&sa, false, 0);
	ike_build_message(&b, s->tx, sizeof(s->tx), &h);
	if (s->cookie_len)
		add_status(&b, IKEV2_N_COOKIE, s->cookie, s->cookie_len);
	ike_add_sa(&b, &sa);
	ike_add_ke(&b, &ke);
	ike_add_nonce(&b, &ni);
	add_status(&b, IKEV2_N_CHILDLESS_IKEV2_SUPPORTED, NULL, 0);
	if (ike_build_finish(&b, &s->tx_len) != IKE_MSG_OK)
		return -1;
	memcpy(s->init_i, s->tx, s->tx_len);
	s->init_i_len = s->tx_len;
	s->state = SLOT_INIT_SENT;
	s->tries = 1;
	return transmit(s);
}

/* A new negotiation in slot s: fresh SPI and nonce. */
static void slot_start(struct slot *s)
{
	uint64_t idx = (uint64_t)(s - slots);

	s->state = SLOT_IDLE;
	if (!starting || (opt.total && st.started >= opt.total))
		return;
	if (ike_random(&s->ispi, sizeof(s->ispi)) != IKE_CRYPTO_OK)
		die("no random bytes");
	s->ispi = (s->ispi & SPI_RANDOM_MASK) | idx << SPI_RANDOM_BITS;
	if (s->ispi == 0)
		s->ispi = 1;	/* slot 0 only: 0 is no SPI */
	s->rspi = 0;
	s->cookie_len = 0;
	ike_sa_keys_wipe(&s->keys);
	if (ike_random(s->ni, sizeof(s->ni)) != IKE_CRYPTO_OK)
		die("no random bytes");
	st.started++;
	if (send_init(s))
		die("cannot send IKE_SA_INIT");
}

static void slot_fail(struct slot *s, uint64_t *counter)
{
	(*counter)++;
	st.failed++;
	slot_start(s);
}

static void our_id(const struct slot *s, struct ike_id *id)
{
	id->type = IKEV2_ID_IPV4_ADDR;
	id->data = (const uint8_t *)&socks[s->sock].local.sin_addr;
	id->len = 4;
}

static void ts_host(struct ike_ts_set *set, const struct in_addr *a)
{
	struct ike_ts *t = &set->ts[0];

	memset(set, 0, sizeof(*set));
	set->nts = 1;
	t->type = IKEV2_TS_IPV4_ADDR_RANGE;
	t->end_port = 65535;
	memcpy(t->start, a, 4);
	memcpy(t->end, a, 4);
}

/* SAi2, TSi, TSr: an ESP transport CHILD SA between the two addresses. */
static void add_child_request(struct ike_builder *b, const struct slot *s)
{
	struct ike_sa sa;
	struct ike_ts_set ts;

	add_status(b, IKEV2_N_USE_TRANSPORT_MODE, NULL, 0);
	offer(&sa, true, child_spi_counter++);
	ike_add_sa(b, &sa);
	ts_host(&ts, &socks[s->sock].local.sin_addr);
	ike_add_ts(b, IKEV2_PL_TSI, &ts);
	ts_host(&ts, &opt.target.sin_addr);
	ike_add_ts(b, IKEV2_PL_TSR, &ts);
}

/* Seal a payload chain built in plain into s->tx and send it. */
static int send_sealed(struct slot *s, uint8_t exch, uint32_t msgid,
		       struct ike_builder *b)
{
	struct ike_header h;
	size_t n;

	if (ike_build_finish(b, &n) != IKE_MSG_OK)
		return -1;
	header(&h, s, exch, msgid);
	if (ike_sk_seal(&s->keys, true, &h, b->first, b->buf, n, s->tx,
			sizeof(s->tx), &s->tx_len) != IKE_CRYPTO_OK)
		return -1;
	s->tries = 1;
	return transmit(s);
}

static int send_auth(struct slot *s)
{
	uint8_t plain[MSG_MAX], auth_data[IKE_PRF_MAX_LEN];
	struct ike_auth_input in;
	struct ike_builder b;
	struct ike_auth auth = { .method = IKEV2_AUTH_PSK };
	struct ike_id id;
	int rc;

	our_id(s, &id);
	in = (struct ike_auth_input){
		.initiator = true, .message = s->init_i,
		.message_len = s->init_i_len, .peer_nonce = s->nr,
		.peer_nonce_len = s->nr_len, .id = &id,
	};
	if (ike_psk_auth(&s->keys, (const uint8_t *)opt.psk, opt.psk_len, &in,
			 auth_data, &auth.len) != IKE_CRYPTO_OK)
		return -1;
	auth.data = auth_data;
	ike_build_chain(&b, plain, sizeof(plain));
	ike_add_id(&b, IKEV2_PL_IDI, &id);
	ike_add_auth(&b, &auth);
	if (opt.child)
		add_child_request(&b, s);
	rc = send_sealed(s, IKEV2_EXCH_IKE_AUTH, 1, &b);
	ike_wipe(auth_data, sizeof(auth_data));
	s->state = SLOT_AUTH_SENT;
	return rc;
}

static int send_delete(struct slot *s)
{
	uint8_t plain[64];
	struct ike_builder b;
	struct ike_delete del = { .protocol = IKEV2_PROTO_IKE };

	ike_build_chain(&b, plain, sizeof(plain));
	ike_add_delete(&b, &del);
	s->state = SLOT_DELETE_SENT;
	return send_sealed(s, IKEV2_EXCH_INFORMATIONAL, 2, &b);
}

/* ---- what we receive ---------------------------------------------------------- */

/* The first error notify of a message (plain or decrypted), 0 for none. */
static uint16_t error_notify(const struct ike_msg *msg)
{
	const struct ike_payload *pl = NULL;
	struct ike_notify n;

	while ((pl = ike_msg_find(msg, IKEV2_PL_NOTIFY, pl)) != NULL)
		if (ike_decode_notify(pl, &n) == IKE_MSG_OK &&
		    n.type <= IKEV2_N_ERROR_MAX)
			return n.type;
	return 0;
}

static void count_error(struct slot *s, uint16_t type)
{
	if (type == IKEV2_N_AUTHENTICATION_FAILED)
		slot_fail(s, &st.auth_failed);
	else if (type == IKEV2_N_NO_PROPOSAL_CHOSEN ||
		 type == IKEV2_N_INVALID_KE_PAYLOAD)
		slot_fail(s, &st.no_proposal);
	else
		slot_fail(s, &st.bad_answer);
}

/* The responder chose exactly our proposal. */
static bool chose_ours(const struct ike_msg *msg, uint8_t protocol)
{
	const struct ike_payload *pl = ike_msg_find(msg, IKEV2_PL_SA, NULL);
	struct ike_sa sa, ours;
	size_t i;

	if (!pl || ike_decode_sa(pl, &sa) != IKE_MSG_OK || sa.nproposals != 1 ||
	    sa.prop[0].protocol != protocol)
		return false;
	offer(&ours, protocol == IKEV2_PROTO_ESP, 0);
	if (sa.prop[0].ntransforms != ours.prop[0].ntransforms)
		return false;
	for (i = 0; i < ours.prop[0].ntransforms; i++) {
		const struct ike_transform *a = &sa.prop[0].xf[i];
		const struct ike_transform *b = &ours.prop[0].xf[i];

		if (a->type != b->type || a->id != b->id ||
		    a->key_bits != b->key_bits)
			return false;
	}
	return true;
}

static void follow_cookie(struct slot *s, const struct ike_notify *n)
{
	st.cookies++;
	if (n->len == 0 || n->len > sizeof(s->cookie) || s->cookie_len) {
		slot_fail(s, &st.bad_answer);
		return;
	}
	memcpy(s->cookie, n->data, n->len);
	s->cookie_len = n->len;
	if (send_init(s))
		die("cannot send IKE_SA_INIT");
}

/* g^ir with the responder's KE data: remembered, or derived and kept. */
static enum ike_crypto_err shared_secret(const struct ike_ke *ke,
					 uint8_t gir[32])
{
	struct gir_entry *e;
	enum ike_crypto_err err;
	size_t len = 0;
	unsigned i;

	if (ke->len != sizeof(e->ke))
		return IKE_CRYPTO_E_BAD_PUBLIC;
	for (i = 0; i < GIR_CACHE; i++)
		if (gir_cache[i].used && !memcmp(gir_cache[i].ke, ke->data, 32)) {
			memcpy(gir, gir_cache[i].gir, 32);
			return IKE_CRYPTO_OK;
		}
	err = ike_dh_shared(dh, ke->data, ke->len, gir, 32, &len);
	if (err != IKE_CRYPTO_OK || len != 32)
		return err != IKE_CRYPTO_OK ? err : IKE_CRYPTO_E_BAD_PUBLIC;
	e = &gir_cache[gir_next++ % GIR_CACHE];
	memcpy(e->ke, ke->data, 32);
	memcpy(e->gir, gir, 32);
	e->used = true;
	return IKE_CRYPTO_OK;
}

/* The IKE SA's keys from the responder's KE and nonce (§2.14). */
static enum ike_crypto_err keys_from_ke(struct slot *s,
					const struct ike_ke *ke)
{
	uint8_t gir[32], skeyseed[IKE_PRF_MAX_LEN];
	enum ike_crypto_err err = shared_secret(ke, gir);

	if (err == IKE_CRYPTO_OK)
		err = ike_skeyseed(suite.prf, s->ni, sizeof(s->ni), s->nr,
				   s->nr_len, gir, sizeof(gir), skeyseed);
	if (err == IKE_CRYPTO_OK)
		err = ike_sa_keys_derive(&s->keys, &suite, skeyseed, s->ni,
					 sizeof(s->ni), s->nr, s->nr_len,
					 s->ispi, s->rspi);
	ike_wipe(gir, sizeof(gir));
	ike_wipe(skeyseed, sizeof(skeyseed));
	return err;
}

static void init_response(struct slot *s, const struct ike_msg *msg)
{
	const struct ike_payload *pke, *pn;
	struct ike_notify cookie;
	struct ike_ke ke;
	struct ike_nonce nr;
	uint16_t err;

	if (ike_msg_find_notify(msg, IKEV2_N_COOKIE, &cookie) == IKE_MSG_OK) {
		follow_cookie(s, &cookie);
		return;
	}
	err = error_notify(msg);
	if (err) {
		count_error(s, err);
		return;
	}
	pke = ike_msg_find(msg, IKEV2_PL_KE, NULL);
	pn = ike_msg_find(msg, IKEV2_PL_NONCE, NULL);
	if (!pke || !pn || msg->hdr.rspi == 0 ||
	    !chose_ours(msg, IKEV2_PROTO_IKE) ||
	    ike_decode_ke(pke, &ke) != IKE_MSG_OK || ke.group != suite.dh ||
	    ike_decode_nonce(pn, &nr) != IKE_MSG_OK ||
	    msg->raw_len > sizeof(s->init_r)) {
		slot_fail(s, &st.bad_answer);
		return;
	}
	s->rspi = msg->hdr.rspi;
	memcpy(s->nr, nr.data, nr.len);
	s->nr_len = nr.len;
	memcpy(s->init_r, msg->raw, msg->raw_len);
	s->init_r_len = msg->raw_len;
	if (keys_from_ke(s, &ke) != IKE_CRYPTO_OK) {
		slot_fail(s, &st.bad_answer);
		return;
	}
	if (send_auth(s))
		die("cannot send IKE_AUTH");
}

/* The responder's AUTH: prf over its IKE_SA_INIT, our nonce, its IDr. */
static bool responder_auth_ok(const struct slot *s, const struct ike_msg *msg)
{
	const struct ike_payload *pid = ike_msg_find(msg, IKEV2_PL_IDR, NULL);
	const struct ike_payload *pa = ike_msg_find(msg, IKEV2_PL_AUTH, NULL);
	struct ike_auth_input in;
	struct ike_auth auth;
	struct ike_id id;

	if (!pid || !pa || ike_decode_id(pid, &id) != IKE_MSG_OK ||
	    ike_decode_auth(pa, &auth) != IKE_MSG_OK ||
	    auth.method != IKEV2_AUTH_PSK)
		return false;
	in = (struct ike_auth_input){
		.initiator = false, .message = s->init_r,
		.message_len = s->init_r_len, .peer_nonce = s->ni,
		.peer_nonce_len = sizeof(s->ni), .id = &id,
	};
	return ike_psk_auth_verify(&s->keys, (const uint8_t *)opt.psk,
				   opt.psk_len, &in, auth.data,
				   auth.len) == IKE_CRYPTO_OK;
}

/* --child: the answer carries our ESP proposal and both selectors. */
static bool child_ok(const struct ike_msg *msg)
{
	const struct ike_payload *pi = ike_msg_find(msg, IKEV2_PL_TSI, NULL);
	const struct ike_payload *pr = ike_msg_find(msg, IKEV2_PL_TSR, NULL);
	struct ike_ts_set ts;

	return chose_ours(msg, IKEV2_PROTO_ESP) && pi && pr &&
	       ike_decode_ts(pi, &ts) == IKE_MSG_OK && ts.nts > 0 &&
	       ike_decode_ts(pr, &ts) == IKE_MSG_OK && ts.nts > 0;
}

static void auth_response(struct slot *s, const struct ike_msg *msg)
{
	uint16_t err = error_notify(msg);

	if (err && !(err == IKEV2_N_NO_PROPOSAL_CHOSEN && !opt.child)) {
		count_error(s, err);
		return;
	}
	if (!responder_auth_ok(s, msg)) {
		slot_fail(s, &st.auth_failed);
		return;
	}
	if (opt.child && !child_ok(msg)) {
		slot_fail(s, &st.bad_answer);
		return;
	}
	st.completed++;
	if (in_interval)
		st.measured++;
	if (send_delete(s))
		die("cannot send the Delete");
}

static void sealed_response(struct slot *s, struct ike_msg *msg)
{
	uint8_t plain[MSG_MAX];
	size_t n;

	if (ike_sk_open(&s->keys, false, msg, plain, sizeof(plain), &n) !=
	    IKE_CRYPTO_OK || ike_msg_add_decrypted(msg, plain, n) != IKE_MSG_OK) {
		st.stray++;	/* forged or corrupt: wait for the real one */
		return;
	}
	if (s->state == SLOT_AUTH_SENT) {
		auth_response(s, msg);
		return;
	}
	st.deleted++;
	slot_start(s);
}

/* The slot a response belongs to, or NULL. */
static struct slot *slot_of(const struct ike_msg *msg)
{
	static const uint32_t msgid_of[] = {
		[SLOT_INIT_SENT] = 0, [SLOT_AUTH_SENT] = 1,
		[SLOT_DELETE_SENT] = 2,
	};
	static const uint8_t exch_of[] = {
		[SLOT_INIT_SENT] = IKEV2_EXCH_IKE_SA_INIT,
		[SLOT_AUTH_SENT] = IKEV2_EXCH_IKE_AUTH,
		[SLOT_DELETE_SENT] = IKEV2_EXCH_INFORMATIONAL,
	};
	uint64_t idx = msg->hdr.ispi >> SPI_RANDOM_BITS;
	struct slot *s;

	if (idx >= nslots || !(msg->hdr.flags & IKEV2_FLAG_RESPONSE))
		return NULL;
	s = &slots[idx];
	if (s->state == SLOT_IDLE || s->ispi != msg->hdr.ispi ||
	    msg->hdr.msgid != msgid_of[s->state] ||
	    msg->hdr.exchange != exch_of[s->state])
		return NULL;
	if (s->state != SLOT_INIT_SENT && msg->hdr.rspi != s->rspi)
		return NULL;
	return s;
}

static void receive(const uint8_t *buf, size_t len)
{
	static struct ike_msg msg;
	struct slot *s;

	if (ike_msg_parse(buf, len, &msg) != IKE_MSG_OK) {
		st.stray++;
		return;
	}
	s = slot_of(&msg);
	if (!s) {
		st.stray++;
		return;
	}
	if (s->state == SLOT_INIT_SENT)
		init_response(s, &msg);
	else
		sealed_response(s, &msg);
}

static void drain_socket(int fd)
{
	uint8_t buf[MSG_MAX + 1];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		if ((size_t)n <= MSG_MAX)
			receive(buf, (size_t)n);
}

/* ---- timers ---------------------------------------------------------------- */

static void slot_timeout(struct slot *s)
{
	if (s->state == SLOT_DELETE_SENT) {
		st.delete_timeouts++;
		slot_start(s);
		return;
	}
	slot_fail(s, &st.timeouts);
}

static void check_timers(void)
{
	uint64_t now = now_ms();
	unsigned i;

	for (i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		if (s->state == SLOT_IDLE ||
		    now - s->tx_ms < (uint64_t)opt.retx_ms << (s->tries - 1))
			continue;
		if (s->tries >= MAX_TRIES) {
			slot_timeout(s);
			continue;
		}
		s->tries++;
		st.retransmits++;
		if (transmit(s))
			die("cannot retransmit");
	}
}

/* ---- setup ------------------------------------------------------------------ */

static void open_sockets(int ep)
{
	unsigned a, k;

	if ((uint64_t)opt.naddr * opt.socks_per_addr > MAX_SOCKS)
		die("too many sockets (-a times -S)");
	nsocks = opt.naddr * opt.socks_per_addr;
	socks = calloc(nsocks, sizeof(*socks));
	if (!socks)
		die("out of memory");
	for (a = 0; a < opt.naddr; a++) {
		for (k = 0; k < opt.socks_per_addr; k++) {
			struct gen_sock *g = &socks[a * opt.socks_per_addr + k];
			struct epoll_event ev = { .events = EPOLLIN };
			int buf = 4 << 20;

			g->local.sin_family = AF_INET;
			g->local.sin_addr.s_addr =
				htonl(ntohl(opt.first_src.s_addr) + a);
			g->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
			if (g->fd < 0)
				die("socket() failed");
			setsockopt(g->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
			if (bind(g->fd, (struct sockaddr *)&g->local,
				 sizeof(g->local)))
				die("bind() failed: is the source address configured?");
			ev.data.u32 = a * opt.socks_per_addr + k;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, g->fd, &ev))
				die("epoll_ctl() failed");
		}
	}
}

static void make_slots(void)
{
	unsigned i;

	if ((uint64_t)nsocks * opt.slots_per_sock > MAX_SLOTS)
		die("too many negotiations in flight (-a times -S times -c)");
	nslots = nsocks * opt.slots_per_sock;
	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		die("out of memory");
	for (i = 0; i < nslots; i++)
		slots[i].sock = (int)(i / opt.slots_per_sock);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ike_load -t TARGET -k PSK [-p PORT] [-s FIRST_SRC] [-a NADDR]\n"
		"       [-S SOCKS_PER_ADDR] [-c SLOTS_PER_SOCK] [-d SECS] [-w WARMUP]\n"
		"       [-n TOTAL] [-r RETX_MS] [--child] [--cpu N]\n");
	exit(1);
}

/* A whole number in [min, max], or a usage error naming the option. */
static unsigned long number(const char *arg, char opt_name,
			    unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "ike_load: -%c: a number from %lu to %lu\n",
			opt_name, min, max);
		exit(1);
	}
	return v;
}

static double seconds(const char *arg, char opt_name)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v >= 0 && v < 1e6)) {
		fprintf(stderr, "ike_load: -%c: seconds, e.g. 2.5\n", opt_name);
		exit(1);
	}
	return v;
}

static void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "child", no_argument, NULL, 'C' },
		{ "cpu", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt.target.sin_family = AF_INET;
	opt.target.sin_port = htons(IKEV2_UDP_PORT);
	inet_pton(AF_INET, "127.0.0.1", &opt.first_src);
	while ((c = getopt_long(argc, argv, "t:k:p:s:a:S:c:d:w:n:r:", lo,
				NULL)) != -1) {
		switch (c) {
		case 't':
			if (inet_pton(AF_INET, optarg, &opt.target.sin_addr) != 1)
				usage();
			break;
		case 'k': opt.psk = optarg; break;
		case 'p':
			opt.target.sin_port = htons((uint16_t)number(optarg, 'p',
								     1, 65535));
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &opt.first_src) != 1)
				usage();
			break;
		case 'a': opt.naddr = number(optarg, 'a', 1, 65536); break;
		case 'S': opt.socks_per_addr = number(optarg, 'S', 1, 1024); break;
		case 'c': opt.slots_per_sock = number(optarg, 'c', 1, 1024); break;
		case 'd': opt.secs = seconds(optarg, 'd'); break;
		case 'w': opt.warmup = seconds(optarg, 'w'); break;
		case 'n': opt.total = number(optarg, 'n', 1, 1ul << 40); break;
		case 'r': opt.retx_ms = number(optarg, 'r', 1, 600000); break;
		case 'C': opt.child = true; break;
		case 'P': opt.cpu = (int)number(optarg, 'P', 0, CPU_SETSIZE - 1); break;
		default: usage();
		}
	}
	if (!opt.psk || !opt.target.sin_addr.s_addr || opt.secs <= 0)
		usage();
	opt.psk_len = strlen(opt.psk);
}

static void pin_cpu(void)
{
	cpu_set_t set;

	if (opt.cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(opt.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("cannot pin to that CPU");
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- the run ------------------------------------------------------------------ */

static unsigned slots_busy(void)
{
	unsigned i, n = 0;

	for (i = 0; i < nslots; i++)
		n += slots[i].state != SLOT_IDLE;
	return n;
}

static void poll_once(int ep)
{
	struct epoll_event ev[64];
	int n, i;

	n = epoll_wait(ep, ev, 64, 10);
	for (i = 0; i < n; i++)
		drain_socket(socks[ev[i].data.u32].fd);
	check_timers();
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void report(double secs, double cpu)
{
	double rate = secs > 0 ? (double)st.measured / secs : 0;

	printf("{\"slots\":%u,\"sources\":%u,\"sockets\":%u,\"child\":%s,"
	       "\"started\":%" PRIu64 ",\"completed\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"auth_failed\":%" PRIu64
	       ",\"no_proposal\":%" PRIu64 ",\"bad_answer\":%" PRIu64
	       ",\"timeouts\":%" PRIu64 ",\"retransmits\":%" PRIu64
	       ",\"cookies\":%" PRIu64 ",\"deleted\":%" PRIu64
	       ",\"delete_timeouts\":%" PRIu64 ",\"stray\":%" PRIu64
	       ",\"measured\":%" PRIu64 ",\"secs\":%.3f,\"setups_per_s\":%.1f"
	       ",\"gen_cpu_busy\":%.3f}\n",
	       nslots, opt.naddr, nsocks, opt.child ? "true" : "false",
	       st.started, st.completed, st.failed, st.auth_failed,
	       st.no_proposal, st.bad_answer, st.timeouts, st.retransmits,
	       st.cookies, st.deleted, st.delete_timeouts, st.stray,
	       st.measured, secs, rate, secs > 0 ? cpu / secs : 0);
	fflush(stdout);
}

/* Timed: warm up, then count the setups completed inside the interval
 * (steady state: as many start as end in it). */
static void run_timed(int ep)
{
	double t0 = now_s(), t_on, t_off, cpu0 = 0;

	while (!stop && now_s() - t0 < opt.warmup)
		poll_once(ep);
	in_interval = true;
	t_on = now_s();
	cpu0 = cpu_seconds();
	while (!stop && now_s() - t_on < opt.secs)
		poll_once(ep);
	in_interval = false;
	t_off = now_s();
	report(t_off - t_on, cpu_seconds() - cpu0);
}

/* Counted: every completion counts, the interval is the whole run. */
static void run_counted(int ep)
{
	double t0 = now_s(), cpu0 = cpu_seconds();

	in_interval = true;
	while (!stop && (st.started < opt.total || slots_busy()))
		poll_once(ep);
	in_interval = false;
	report(now_s() - t0, cpu_seconds() - cpu0);
}

static void drain_deletes(int ep)
{
	uint64_t t0 = now_ms();

	starting = false;
	while (slots_busy() && now_ms() - t0 < DRAIN_MS)
		poll_once(ep);
}

int main(int argc, char **argv)
{
	unsigned i;
	int ep;

	parse_options(argc, argv);
	pin_cpu();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (ike_dh_new(suite.dh, &dh) != IKE_CRYPTO_OK ||
	    ike_dh_public(dh, ke_pub, sizeof(ke_pub), &ke_pub_len) != IKE_CRYPTO_OK)
		die("no Curve25519 key pair");
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1() failed");
	open_sockets(ep);
	make_slots();
	for (i = 0; i < nslots; i++)
		slot_start(&slots[i]);
	if (opt.total) {
		run_counted(ep);
	} else {
		run_timed(ep);
		drain_deletes(ep);
	}
	fprintf(stderr, "ike_load: %" PRIu64 " deletes answered, %" PRIu64
		" unanswered, %u slots still busy\n", st.deleted,
		st.delete_timeouts, slots_busy());
	for (i = 0; i < nslots; i++)
		ike_sa_keys_wipe(&slots[i].keys);
	ike_wipe(gir_cache, sizeof(gir_cache));
	ike_dh_free(dh);
	return 0;
}
