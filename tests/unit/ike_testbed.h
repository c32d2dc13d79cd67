/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ike_testbed.h - two daemons in one test process, for the IKE unit tests:
 * a fake clock (timers fire only when a test calls advance()), and a wire
 * that queues what each side sends (A and B, optionally behind a NAT) so a
 * test can deliver, lose or inspect each message.  Include it once, after
 * cmocka.h and the daemon headers.  With IKE_TESTBED_KERNEL defined (and
 * child.h, secrets.h included) before it, also a kernel that records the
 * CHILD SA calls (struct child_kops) instead of making them, and the two
 * daemons' set-up around it (sides_setup, set_policy, sides_teardown).
 */
#ifndef IXDP_IKE_TESTBED_H
#define IXDP_IKE_TESTBED_H

static uint64_t now;
static struct ike_timer *armed;

static void unlink_timer(struct ike_timer *t)
{
	struct ike_timer **p;

	for (p = &armed; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

static void fake_arm(struct ike_timer *t, uint64_t ms)
{
	unlink_timer(t);
	t->deadline_ms = now + ms;
	t->next = armed;
	armed = t;
}

static void fake_stop(struct ike_timer *t) { unlink_timer(t); }
static void fake_release(struct ike_timer *t) { unlink_timer(t); }
static uint64_t fake_now(struct daemon *d) { return now; }

static const struct timer_ops fake_ops = {
	fake_arm, fake_stop, fake_release, fake_now, NULL, NULL,
};

/* Let ms pass, firing each timer that falls due, in order. */
static __attribute__((unused)) void advance(uint64_t ms)
{
	uint64_t target = now + ms;

	for (;;) {
		struct ike_timer *t, *first = NULL;

		for (t = armed; t; t = t->next)
			if (t->deadline_ms <= target &&
			    (!first || t->deadline_ms < first->deadline_ms))
				first = t;
		if (!first)
			break;
		now = first->deadline_ms;
		unlink_timer(first);
		timer_fire(first);
	}
	now = target;
}

/* ---- the wire ------------------------------------------------------------------ */

#define QMAX 128

struct pkt {
	uint8_t buf[4096];
	size_t len;
	struct ike_path path;
};

struct side {
	struct daemon d;
	struct pkt q[QMAX];
	size_t nq;
	const char *addr4, *addr6;
	int outcomes_ok, outcomes_failed;
	char last_outcome[256];
};

static struct side A, B;
static bool nat;	/* a NAT rewrites A's source ports */
/* with nat, also A's address as B sees it (NULL: ports only) */
static const char *nat_addr;

static struct side *side_of(struct daemon *d)
{
	return d == &A.d ? &A : &B;
}

static int capture(struct daemon *d, const struct ike_path *path,
		   const uint8_t *msg, size_t len)
{
	struct side *s = side_of(d);
	struct pkt *p;

	assert_true(s->nq < QMAX);
	assert_true(len <= sizeof(p->buf));
	p = &s->q[s->nq++];
	memcpy(p->buf, msg, len);
	p->len = len;
	p->path = *path;
	return 0;
}

static int fake_source(struct daemon *d, const struct sockaddr_storage *peer,
		       struct sockaddr_storage *local)
{
	struct side *s = side_of(d);

	return addr_parse(peer->ss_family == AF_INET ? s->addr4 : s->addr6,
			  0, local);
}

static void outcome(struct daemon *d, uint64_t serial, bool ok,
		    const char *text)
{
	struct side *s = side_of(d);

	if (ok)
		s->outcomes_ok++;
	else
		s->outcomes_failed++;
	snprintf(s->last_outcome, sizeof(s->last_outcome), "%s", text);
}

/* The NAT in front of A: port 500 <-> 40000, 4500 <-> 40001. */
static uint16_t nat_port(uint16_t port, bool out)
{
	if (out)
		return port == 500 ? 40000 : port == 4500 ? 40001 : port;
	return port == 40000 ? 500 : port == 40001 ? 4500 : port;
}

/* The address of ss becomes text's, its port stays. */
static void set_addr(struct sockaddr_storage *ss, const char *text)
{
	assert_int_equal(addr_parse(text, addr_port(ss), ss), 0);
}

static void deliver_pkt(struct side *from, struct side *to,
			const struct pkt *p)
{
	struct ike_dgram dg = { .buf = p->buf, .len = p->len };

	dg.path.local = p->path.peer;
	dg.path.peer = p->path.local;
	if (nat && from == &A)
		addr_set_port(&dg.path.peer, nat_port(addr_port(&dg.path.peer),
						      true));
	if (nat && to == &A)
		addr_set_port(&dg.path.local, nat_port(addr_port(&dg.path.local),
						       false));
	if (nat && nat_addr && from == &A && dg.path.peer.ss_family == AF_INET)
		set_addr(&dg.path.peer, nat_addr);
	if (nat && nat_addr && to == &A && dg.path.local.ss_family == AF_INET)
		set_addr(&dg.path.local, A.addr4);
	daemon_input(&to->d, &dg);
}

/* Take the oldest message from's queue holds; false when empty. */
static bool take(struct side *from, struct pkt *out)
{
	if (!from->nq)
		return false;
	*out = from->q[0];
	memmove(&from->q[0], &from->q[1], (from->nq - 1) * sizeof(from->q[0]));
	from->nq--;
	return true;
}

static struct pkt scratch;

/* Deliver from's oldest message to the other side. */
static bool deliver(struct side *from)
{
	if (!take(from, &scratch))
		return false;
	deliver_pkt(from, from == &A ? &B : &A, &scratch);
	return true;
}

/* Drop from's oldest message. */
static __attribute__((unused)) void lose(struct side *from)
{
	assert_true(take(from, &scratch));
}

/* Deliver everything until both sides are quiet. */
static void pump(void)
{
	int guard = 0;

	while ((deliver(&A) | deliver(&B)) && ++guard < 100)
		;
	assert_true(guard < 100);
}

/* s, blank, as a daemon on the fake clock and wire at a4 and a6, with
 * no liveness checks (the tests drive the exchanges). */
static __attribute__((unused)) void side_on_wire(struct side *s,
						 const char *a4,
						 const char *a6)
{
	memset(s, 0, sizeof(*s));
	daemon_init(&s->d);
	s->d.timers = &fake_ops;
	s->d.send = capture;
	s->d.source_addr = fake_source;
	s->d.sa_outcome = outcome;
	s->d.tun.liveness_s = 0;
	s->addr4 = a4;
	s->addr6 = a6;
}

#ifdef IKE_TESTBED_KERNEL
/* ---- the recording kernel --------------------------------------------------------- */

#define KMAX 64

struct kern {
	struct ikk_sa sa[KMAX];		/* installed (larval: encr 0) */
	bool used[KMAX];
	struct ikk_policy pol[KMAX];
	bool pused[KMAX];
	uint32_t next_spi;
	int fail_sa_add;		/* fail the next sa_add calls */
	unsigned spi_allocs, sa_adds, sa_dels, pol_adds, pol_dels;
	uint64_t bytes;			/* every SA's byte counter */
};

static struct kern KA, KB;

static int r_spi_alloc(void *ctx, const struct ikk_addr *src,
		       const struct ikk_addr *dst, uint8_t proto, uint8_t mode,
		       uint32_t reqid, uint32_t *spi)
{
	struct kern *k = ctx;
	size_t i;

	k->spi_allocs++;
	for (i = 0; i < KMAX; i++)
		if (!k->used[i]) {
			memset(&k->sa[i], 0, sizeof(k->sa[i]));
			k->sa[i].src = *src;
			k->sa[i].dst = *dst;
			k->sa[i].proto = proto;
			k->sa[i].spi = *spi = k->next_spi++;
			k->used[i] = true;
			return 0;
		}
	return -ENOSPC;
}

/* An SA is named by destination, SPI and protocol, as in the kernel. */
static int find_sa(struct kern *k, const struct ikk_addr *dst, uint32_t spi,
		   uint8_t proto)
{
	int i;

	for (i = 0; i < KMAX; i++)
		if (k->used[i] && k->sa[i].spi == spi &&
		    k->sa[i].proto == proto &&
		    !memcmp(&k->sa[i].dst, dst, sizeof(*dst)))
			return i;
	return -1;
}

static int r_sa_add(void *ctx, const struct ikk_sa *sa, bool update)
{
	struct kern *k = ctx;
	int i = find_sa(k, &sa->dst, sa->spi, sa->proto);

	k->sa_adds++;
	if (k->fail_sa_add) {
		k->fail_sa_add--;
		return -EPROTONOSUPPORT;
	}
	if (update ? i < 0 : i >= 0)
		return update ? -ESRCH : -EEXIST;
	if (i < 0)
		for (i = 0; i < KMAX && k->used[i]; i++)
			;
	assert_true(i < KMAX);
	k->sa[i] = *sa;
	k->used[i] = true;
	return 0;
}

static int r_sa_delete(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		       uint8_t proto)
{
	struct kern *k = ctx;
	int i = find_sa(k, dst, spi, proto);

	k->sa_dels++;
	if (i < 0)
		return -ESRCH;
	k->used[i] = false;
	return 0;
}

static int r_policy_add(void *ctx, struct ikk_policy *pol, bool update)
{
	struct kern *k = ctx;
	size_t i;

	k->pol_adds++;
	for (i = 0; i < KMAX; i++)
		if (k->pused[i] && k->pol[i].dir == pol->dir &&
		    !memcmp(&k->pol[i].sel, &pol->sel, sizeof(pol->sel))) {
			k->pol[i] = *pol;
			return 0;
		}
	for (i = 0; i < KMAX; i++)
		if (!k->pused[i]) {
			k->pol[i] = *pol;
			k->pused[i] = true;
			return 0;
		}
	return -ENOSPC;
}

static int r_policy_delete(void *ctx, const struct ikk_policy *pol)
{
	struct kern *k = ctx;
	size_t i;

	k->pol_dels++;
	for (i = 0; i < KMAX; i++)
		if (k->pused[i] && k->pol[i].dir == pol->dir &&
		    !memcmp(&k->pol[i].sel, &pol->sel, sizeof(pol->sel))) {
			k->pused[i] = false;
			return 0;
		}
	return -ENOENT;
}

static const char *r_error(void *ctx) { return "recorded failure"; }

static int r_counters(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		      uint8_t proto, struct ikk_sa_counters *out)
{
	struct kern *k = ctx;

	if (find_sa(k, dst, spi, proto) < 0)
		return -ESRCH;
	memset(out, 0, sizeof(*out));
	out->bytes = k->bytes;
	return 0;
}

static const struct child_kops rec_ops = {
	r_spi_alloc, r_sa_add, r_sa_delete, r_policy_add, r_policy_delete,
	r_error, r_counters,
};

static __attribute__((unused)) size_t n_sas(struct kern *k)
{
	size_t i, n = 0;

	for (i = 0; i < KMAX; i++)
		n += k->used[i];
	return n;
}

/* IPsec policies (not the IKE bypass ones) of a direction. */
static __attribute__((unused)) size_t n_pols(struct kern *k, uint8_t dir)
{
	size_t i, n = 0;

	for (i = 0; i < KMAX; i++)
		n += k->pused[i] && k->pol[i].dir == dir &&
		     k->pol[i].action == IKK_POL_IPSEC;
	return n;
}

static __attribute__((unused)) const struct ikk_sa *sa_by_spi(struct kern *k, uint32_t spi)
{
	size_t i;

	for (i = 0; i < KMAX; i++)
		if (k->used[i] && k->sa[i].spi == spi)
			return &k->sa[i];
	return NULL;
}

/* ---- two daemons with a PSK and the recording kernel --------------------------- */

/* s's assigned policy from YAML text (the test fails on a bad one). */
static __attribute__((unused)) void set_policy(struct side *s,
					       const char *text)
{
	char err[512];

	peer_policy_free(s->d.policy);
	if (peer_policy_from_buffer("test.yaml", text, strlen(text),
				    &s->d.policy, err, sizeof(err)))
		fail_msg("policy: %s", err);
}

/* The pre-shared key "lab" every test policy names. */
static void set_key(struct side *s)
{
	static const char text[] = "lab = \"correct horse battery staple\"\n";
	char err[256];

	if (secrets_parse("secrets", text, strlen(text), &s->d.secrets, err,
			  sizeof(err)))
		fail_msg("secrets: %s", err);
}

/* A daemon on the fake clock and wire, with the key and the recording
 * kernel k (SPIs from spi_base); no liveness checks, no idle removal. */
static void side_init(struct side *s, const char *a4, const char *a6,
		      struct kern *k, uint32_t spi_base)
{
	side_on_wire(s, a4, a6);
	memset(k, 0, sizeof(*k));
	k->next_spi = spi_base;
	s->d.tun.child_idle_s = 0;
	set_key(s);
	assert_int_equal(child_use_ops(&s->d, &rec_ops, k), 0);
}

/* A (a4, 2001:db8::1) and B (b4, 2001:db8::2), fresh, logging all. */
static __attribute__((unused)) void sides_setup(const char *a4,
						const char *b4)
{
	now = 1000000;
	armed = NULL;
	nat = false;
	log_open(true, false, getenv("VERBOSE") == NULL);
	side_init(&A, a4, "2001:db8::1", &KA, 0xa0000001);
	side_init(&B, b4, "2001:db8::2", &KB, 0xb0000001);
	A.d.ikelogging = B.d.ikelogging = 2;
}

/* Both daemons closed (their Deletes sent nowhere) and freed; no timer
 * may be left. */
static __attribute__((unused)) void sides_teardown(void)
{
	daemon_close_all(&A.d, "test over");
	daemon_close_all(&B.d, "test over");
	child_release(&A.d);
	child_release(&B.d);
	daemon_fini(&A.d);
	daemon_fini(&B.d);
	assert_null(armed);
}

#endif /* IKE_TESTBED_KERNEL */

#endif /* IXDP_IKE_TESTBED_H */
