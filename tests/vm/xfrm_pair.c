// SPDX-License-Identifier: GPL-2.0-only
/*
 * xfrm_pair.c - the VM test's hands (vmtest/guest_xfrm.sh): installs SAs and
 * policies with fixed test keys through ike/kernel/kernel.c, makes xfrm
 * interfaces, sets the dataplane's SA bundles and reads its events, and
 * reads xfrm events and SA counters.  Not a tool for real keys.
 *
 *   xfrm_pair install LOCAL REMOTE MODE ALG [if_id=N] [inner=LNET,RNET]
 *                     [bypass=tcp:PORT] [reqid=N] [soft_bytes=N]
 *       MODE transport|tunnel; ALG gcm128|gcm256|cbc-sha256|cbc-sha512.
 *       SAs both ways (spi 0x1001 from the lower address, 0x1011 back), SA
 *       selectors and in/out policies for LOCAL<->REMOTE (transport) or
 *       LNET<->RNET (tunnel); with if_id, all carry it; bypass adds clear
 *       policies (both directions) for that TCP port, tried first.
 *   xfrm_pair xfrmi NAME external|IF_ID     create; prints the ifindex
 *   xfrm_pair ruleid RULE        the rule's id (the key of its bundles)
 *   xfrm_pair bundle RULE PEER|any STATE [IFNAME IF_ID [md]]
 *       STATE up|soft|negotiating; the dataplane pinned at $IPSEC_XDP_BPFFS
 *   xfrm_pair events N MS        wait up to MS for N dataplane events
 *   xfrm_pair xevents N MS       wait up to MS for N ACQUIRE/EXPIRE events
 *   xfrm_pair counters LOCAL REMOTE   the two SAs' counters
 *   xfrm_pair dump               every SA, as `show sa` would list it
 *   xfrm_pair dpstats            the dataplane's hand-off counters
 * Exit 0 on success, 1 with a message on stderr otherwise.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "kernel/kernel.h"
#include "dataplane/dataplane.h"

#define SPI_BASE 0x1001u

__attribute__((format(printf, 1, 2)))
static int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xfrm_pair: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int parse_net(const char *s, struct ikk_addr *a, uint8_t *plen)
{
	char buf[64];
	const char *slash = strchr(s, '/');

	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (ikk_addr_parse(buf, a))
		return -1;
	*plen = slash ? (uint8_t)atoi(slash + 1) : (a->family == AF_INET ? 32 : 128);
	return 0;
}

/* Which of the pair's two SAs src->dst is, the same on both sides: 0 for
 * the one from the lower address.  It picks the SPI and the keys. */
static int sa_index(const struct ikk_addr *src, const struct ikk_addr *dst)
{
	return memcmp(src->u.b, dst->u.b, sizeof(src->u.b)) < 0 ? 0 : 1;
}

static uint32_t sa_spi(const struct ikk_addr *src, const struct ikk_addr *dst)
{
	return SPI_BASE + 0x10u * (uint32_t)sa_index(src, dst);
}

/* The fixed test keys: different per direction, never secret. */
static void test_keys(struct ikk_sa *sa, const char *alg, int dir)
{
	for (int i = 0; i < IKK_KEY_MAX; i++) {
		sa->encr_key[i] = (uint8_t)(0x11 * (dir + 1) + i);
		sa->integ_key[i] = (uint8_t)(0x80 + 0x07 * (dir + 1) + i);
	}
	sa->proto = IPPROTO_ESP;
	if (!strncmp(alg, "gcm", 3)) {
		sa->encr = IKK_ENCR_AES_GCM16;
		sa->encr_key_bits = !strcmp(alg, "gcm256") ? 256 : 128;
		sa->encr_key_len = sa->encr_key_bits / 8 + 4;
	} else {
		sa->encr = IKK_ENCR_AES_CBC;
		sa->encr_key_bits = 128;
		sa->encr_key_len = 16;
		sa->integ = !strcmp(alg, "cbc-sha512") ? IKK_INTEG_HMAC_SHA512_256
						       : IKK_INTEG_HMAC_SHA256_128;
		sa->integ_key_len = sa->integ == IKK_INTEG_HMAC_SHA512_256 ? 64 : 32;
	}
}

static const char *opt(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static int cmd_install(struct ikk *k, int argc, char **argv)
{
	struct ikk_addr local, remote, lnet, rnet;
	uint8_t lplen, rplen;
	const char *alg = argv[3], *v;
	int mode = !strcmp(argv[2], "tunnel") ? IKK_MODE_TUNNEL : IKK_MODE_TRANSPORT;
	uint32_t if_id = (v = opt(argc, argv, "if_id")) ? (uint32_t)strtoul(v, NULL, 0) : 0;
	uint32_t reqid = (v = opt(argc, argv, "reqid")) ? (uint32_t)strtoul(v, NULL, 0) : 1;
	uint64_t soft_bytes = (v = opt(argc, argv, "soft_bytes")) ? strtoull(v, NULL, 0) : 0;

	if (ikk_addr_parse(argv[0], &local) || ikk_addr_parse(argv[1], &remote))
		return die("bad address %s", argv[0]);
	lnet = local;
	rnet = remote;
	lplen = rplen = local.family == AF_INET ? 32 : 128;
	if ((v = opt(argc, argv, "inner"))) {
		char l[64], *comma;

		snprintf(l, sizeof(l), "%s", v);
		comma = strchr(l, ',');
		if (!comma)
			return die("inner=LNET,RNET: %s", v);
		*comma = 0;
		if (parse_net(l, &lnet, &lplen) || parse_net(comma + 1, &rnet, &rplen))
			return die("inner=LNET,RNET: %s", v);
	}
	for (int dir = 0; dir < 2; dir++) {     /* 0: local -> remote */
		struct ikk_sa sa;
		struct ikk_policy pol;

		memset(&sa, 0, sizeof(sa));
		sa.src = dir ? remote : local;
		sa.dst = dir ? local : remote;
		sa.spi = sa_spi(&sa.src, &sa.dst);
		sa.mode = (uint8_t)mode;
		sa.reqid = reqid;
		sa.replay_window = dir ? 64 : 0;
		sa.if_id = if_id;
		sa.life.soft_bytes = soft_bytes;
		test_keys(&sa, alg, sa_index(&sa.src, &sa.dst));
		sa.has_sel = true;
		sa.sel.family = lnet.family;
		sa.sel.src = dir ? rnet : lnet;
		sa.sel.src_plen = dir ? rplen : lplen;
		sa.sel.dst = dir ? lnet : rnet;
		sa.sel.dst_plen = dir ? lplen : rplen;
		if (ikk_sa_add(k, &sa)) {
			ikk_sa_wipe(&sa);
			return die("%s", ikk_error(k));
		}
		ikk_sa_wipe(&sa);

		memset(&pol, 0, sizeof(pol));
		pol.sel.family = lnet.family;
		pol.sel.src = dir ? rnet : lnet;
		pol.sel.src_plen = dir ? rplen : lplen;
		pol.sel.dst = dir ? lnet : rnet;
		pol.sel.dst_plen = dir ? lplen : rplen;
		pol.dir = dir ? IKK_DIR_IN : IKK_DIR_OUT;
		pol.priority = 1000;
		pol.if_id = if_id;
		pol.ntmpl = 1;
		pol.tmpl[0].proto = IPPROTO_ESP;
		pol.tmpl[0].mode = (uint8_t)mode;
		pol.tmpl[0].reqid = reqid;
		if (mode == IKK_MODE_TUNNEL) {
			pol.tmpl[0].src = dir ? remote : local;
			pol.tmpl[0].dst = dir ? local : remote;
		}
		if (ikk_policy_add(k, &pol))
			return die("%s", ikk_error(k));
	}
	if ((v = opt(argc, argv, "bypass")) && !strncmp(v, "tcp:", 4)) {
		uint16_t port = (uint16_t)atoi(v + 4);

		for (int i = 0; i < 4; i++) {   /* out/in x port as dst/src */
			struct ikk_policy pol;
			bool in = i & 1, as_src = i & 2;

			memset(&pol, 0, sizeof(pol));
			pol.sel.family = local.family;
			pol.sel.proto = IPPROTO_TCP;
			pol.sel.src = in ? remote : local;
			pol.sel.dst = in ? local : remote;
			pol.sel.src_plen = pol.sel.dst_plen = local.family == AF_INET ? 32 : 128;
			if (as_src) {
				pol.sel.sport = port;
				pol.sel.sport_mask = 0xffff;
			} else {
				pol.sel.dport = port;
				pol.sel.dport_mask = 0xffff;
			}
			pol.dir = in ? IKK_DIR_IN : IKK_DIR_OUT;
			pol.action = IKK_POL_BYPASS;
			pol.priority = 100;
			if (ikk_policy_add(k, &pol))
				return die("%s", ikk_error(k));
		}
	}
	return 0;
}

static int cmd_xfrmi(struct ikk *k, char **argv)
{
	bool ext = !strcmp(argv[1], "external");
	int idx;

	if (ikk_xfrmi_add(k, argv[0], ext ? 0 : (uint32_t)strtoul(argv[1], NULL, 0), ext, &idx))
		return die("%s", ikk_error(k));
	printf("%d\n", idx);
	return 0;
}

static int cmd_bundle(int argc, char **argv)
{
	char err[512];
	const char *root = dp_pin_root();
	struct ixdp_bundle_key key;
	struct ixdp_bundle b = {0};
	struct ikk_addr peer = {0};
	struct dp_handoff h;
	struct dp dp;
	uint32_t rule;
	int rc = 1;

	if (strcmp(argv[1], "any") && ikk_addr_parse(argv[1], &peer))
		return die("bad peer %s", argv[1]);
	b.state = !strcmp(argv[2], "up") ? IXDP_BUNDLE_UP : !strcmp(argv[2], "soft") ?
		  IXDP_BUNDLE_SOFT : IXDP_BUNDLE_NEGOTIATING;
	if (argc >= 5) {
		b.ifindex = if_nametoindex(argv[3]);
		if (!b.ifindex)
			return die("no interface %s", argv[3]);
		b.if_id = (uint32_t)strtoul(argv[4], NULL, 0);
		if (argc >= 6 && !strcmp(argv[5], "md"))
			b.flags = IXDP_BUNDLE_F_XFRM_INFO;
	}
	if (dp_open(&dp, root, err, sizeof(err)))
		return die("%s", err);
	if (dp_rule_id(&dp, argv[0], &rule)) {
		dp_close(&dp);
		return die("no rule %s in the live filter list", argv[0]);
	}
	dp_close(&dp);
	if (dp_handoff_open(&h, root, err, sizeof(err)))
		return die("%s", err);
	dp_bundle_key_init(&key, rule, peer.family ? peer.family : AF_INET,
			   peer.family ? peer.u.b : NULL);
	if (dp_bundle_set(&h, &key, &b, err, sizeof(err)))
		die("%s", err);
	else
		rc = 0;
	dp_handoff_close(&h);
	return rc;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int print_dp_event(void *ctx, const struct ixdp_event *ev)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = ev->fam == IXDP_FAM_V6 ? AF_INET6 : AF_INET;

	printf("dp-event need_sa rule=%u dir=%s proto=%u %s:%u -> %s:%u bundle=%s %s\n",
	       ev->rule, ev->dir == IXDP_DIR_OUT ? "out" : "in", ev->proto,
	       inet_ntop(af, ev->src, s, sizeof(s)), ev->sport,
	       inet_ntop(af, ev->dst, d, sizeof(d)), ev->dport,
	       bundle_state_name(ev->bundle_state), ev->passed ? "passed" : "dropped");
	fflush(stdout);
	(*(int *)ctx)++;
	return 0;
}

static int cmd_events(char **argv)
{
	int want = atoi(argv[0]), got = 0;
	long deadline = now_ms() + atol(argv[1]);
	char err[512];
	struct dp_handoff h;

	if (dp_handoff_open(&h, dp_pin_root(), err, sizeof(err)) ||
	    dp_events_subscribe(&h, print_dp_event, &got, err, sizeof(err)))
		return die("%s", err);
	printf("listening\n");
	fflush(stdout);
	while (got < want && now_ms() < deadline) {
		struct pollfd p = { .fd = dp_events_fd(&h), .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			dp_events_process(&h);
	}
	dp_handoff_close(&h);
	return got >= want ? 0 : die("%s", "too few dataplane events");
}

static void print_xevent(void *ctx, const struct ikk_event *ev)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	if (ev->type == IKK_EV_ACQUIRE)
		printf("acquire %s %s->%s reqid=%u policy=%u if_id=%u\n", ikk_proto_name(ev->proto),
		       ikk_addr_str(&ev->src, s, sizeof(s)), ikk_addr_str(&ev->dst, d, sizeof(d)),
		       ev->reqid, ev->policy_index, ev->if_id);
	else if (ev->type == IKK_EV_EXPIRE)
		printf("expire %s spi=0x%08x %s->%s %s if_id=%u\n", ikk_proto_name(ev->proto),
		       ev->spi, ikk_addr_str(&ev->src, s, sizeof(s)),
		       ikk_addr_str(&ev->dst, d, sizeof(d)), ev->hard ? "hard" : "soft", ev->if_id);
	else
		printf("overrun\n");
	fflush(stdout);
	(*(int *)ctx)++;
}

static int cmd_xevents(struct ikk *k, char **argv)
{
	int want = atoi(argv[0]), got = 0;
	long deadline = now_ms() + atol(argv[1]);

	if (ikk_events_open(k, print_xevent, &got))
		return die("%s", ikk_error(k));
	printf("listening\n");
	fflush(stdout);
	while (got < want && now_ms() < deadline) {
		struct pollfd p = { .fd = ikk_events_fd(k), .events = POLLIN };

		if (poll(&p, 1, 50) > 0 && ikk_events_process(k) < 0)
			return die("%s", ikk_error(k));
	}
	return got >= want ? 0 : die("%s", "too few xfrm events");
}

static int cmd_counters(struct ikk *k, char **argv)
{
	struct ikk_addr local, remote;

	if (ikk_addr_parse(argv[0], &local) || ikk_addr_parse(argv[1], &remote))
		return die("bad address %s", argv[0]);
	for (int dir = 0; dir < 2; dir++) {
		struct ikk_sa_counters c;

		if (ikk_sa_counters(k, dir ? &local : &remote,
				    dir ? sa_spi(&remote, &local) : sa_spi(&local, &remote),
				    IPPROTO_ESP, 0, 0, &c))
			return die("%s", ikk_error(k));
		printf("%s packets=%llu bytes=%llu replay=%u integrity_failed=%u\n",
		       dir ? "in" : "out", (unsigned long long)c.packets,
		       (unsigned long long)c.bytes, c.replay, c.integrity_failed);
	}
	return 0;
}

static int print_sa(void *ctx, const struct ikk_sa_info *sa)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	printf("sa %s 0x%08x %s->%s %s reqid=%u if_id=%u %s/%u %s/%u window=%u "
	       "packets=%llu bytes=%llu\n", ikk_proto_name(sa->proto), sa->spi,
	       ikk_addr_str(&sa->src, s, sizeof(s)), ikk_addr_str(&sa->dst, d, sizeof(d)),
	       ikk_mode_name(sa->mode), sa->reqid, sa->if_id, sa->encr, sa->encr_key_bits,
	       sa->integ[0] ? sa->integ : "-", sa->integ_icv_bits, sa->replay_window_size,
	       (unsigned long long)sa->ctr.packets, (unsigned long long)sa->ctr.bytes);
	(*(int *)ctx)++;
	return 0;
}

static int cmd_dpstats(void)
{
	char err[512];
	uint64_t xs[IXDP_XS__MAX];
	struct dp_handoff h;

	if (dp_handoff_open(&h, dp_pin_root(), err, sizeof(err)))
		return die("%s", err);
	if (dp_read_xfrm_stats(&h, xs)) {
		dp_handoff_close(&h);
		return die("%s", "cannot read ixdp_xfrm_stats");
	}
	for (int i = 0; i < IXDP_XS__MAX; i++)
		printf("%s %llu\n", xfrm_stat_name(i), (unsigned long long)xs[i]);
	dp_handoff_close(&h);
	return 0;
}

static int cmd_ruleid(const char *rule)
{
	char err[512];
	uint32_t id;
	struct dp dp;
	int rc;

	if (dp_open(&dp, dp_pin_root(), err, sizeof(err)))
		return die("%s", err);
	rc = dp_rule_id(&dp, rule, &id);
	dp_close(&dp);
	if (rc)
		return die("no rule %s in the live filter list", rule);
	printf("%u\n", id);
	return 0;
}

int main(int argc, char **argv)
{
	struct ikk *k = NULL;
	char err[512];
	int rc, n = 0;

	if (argc < 2)
		return die("%s", "usage: see tests/vm/xfrm_pair.c");
	if (!strcmp(argv[1], "ruleid"))
		return argc >= 3 ? cmd_ruleid(argv[2]) : die("%s", "ruleid RULE");
	if (!strcmp(argv[1], "bundle"))
		return argc >= 5 ? cmd_bundle(argc - 2, argv + 2) : die("%s", "bundle: args");
	if (!strcmp(argv[1], "events"))
		return argc >= 4 ? cmd_events(argv + 2) : die("%s", "events N MS");
	if (!strcmp(argv[1], "dpstats"))
		return cmd_dpstats();
	if (ikk_open(&k, err, sizeof(err)))
		return die("%s", err);
	if (!strcmp(argv[1], "install") && argc >= 6)
		rc = cmd_install(k, argc - 2, argv + 2);
	else if (!strcmp(argv[1], "xfrmi") && argc >= 4)
		rc = cmd_xfrmi(k, argv + 2);
	else if (!strcmp(argv[1], "xevents") && argc >= 4)
		rc = cmd_xevents(k, argv + 2);
	else if (!strcmp(argv[1], "counters") && argc >= 4)
		rc = cmd_counters(k, argv + 2);
	else if (!strcmp(argv[1], "dump"))
		rc = ikk_sa_dump(k, print_sa, &n) ? die("%s", ikk_error(k)) : 0;
	else
		rc = die("unknown or incomplete command %s", argv[1]);
	ikk_close(k);
	return rc;
}
