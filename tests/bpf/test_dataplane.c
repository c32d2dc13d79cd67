// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_dataplane.c - the BPF dataplane under bpf_prog_test_run_opts():
 * crafted frames through the XDP (ingress) and TC (egress) programs, with
 * the maps filled by dataplane.c, against the verdicts of docs/behaviour.md §4 and §5
 * and, for random filter tables, against filter_table_match().
 *
 * Needs root (bpffs mount, BPF programs); exits 77 (skipped) otherwise.
 * IXDP_SEED=N replays the random (oracle) test with another seed.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "compile/compiler.h"
#include "compile/compile_tuplespace.h"
#include "dataplane/dataplane_iface.h"
#include "dataplane/dataplane_internal.h"
#include "dp_env.h"

#define IN  IXDP_DIR_IN
#define OUT IXDP_DIR_OUT
#define V4  IXDP_FAM_V4
#define V6  IXDP_FAM_V6

static struct dp_env E;
static char errbuf[512];

/* ---- building filter tables ------------------------------------------------ */

static void parse_ports(const char *s, struct port_spec *p)
{
	unsigned lo = 0, hi = 0;

	p->lo = p->hi = 0;
	if (!s || !*s || !strcmp(s, "any"))
		return;
	if (sscanf(s, "%u-%u", &lo, &hi) == 2) {
		p->lo = (uint16_t)lo;
		p->hi = (uint16_t)hi;
	} else {
		assert_int_equal(sscanf(s, "%u", &lo), 1);
		p->lo = p->hi = (uint16_t)lo;
	}
}

static void parse_prefix(const char *s, uint8_t fam, uint8_t *addr, uint8_t *plen)
{
	char a[64];
	const char *slash = strchr(s, '/');

	snprintf(a, sizeof(a), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	memset(addr, 0, 16);
	assert_int_equal(inet_pton(fam == V4 ? AF_INET : AF_INET6, a, addr), 1);
	*plen = slash ? (uint8_t)atoi(slash + 1) : (fam == V4 ? 32 : 128);
}

/* flt("10.0.0.0/8", "0.0.0.0/0", IPPROTO_TCP, "any", "1000-2000", BLOCK, 0,
 * "name"): proto -1 = any. */
static struct specific_filter flt(const char *src, const char *dst, int proto,
				  const char *sport, const char *dport,
				  uint8_t action, uint8_t flags, const char *name)
{
	struct specific_filter f;

	memset(&f, 0, sizeof(f));
	f.fam = strchr(src, ':') ? V6 : V4;
	parse_prefix(src, f.fam, f.src, &f.src_plen);
	parse_prefix(dst, f.fam, f.dst, &f.dst_plen);
	f.proto_exact = proto >= 0;
	f.proto = proto >= 0 ? (uint8_t)proto : 0;
	parse_ports(sport, &f.sport);
	parse_ports(dport, &f.dport);
	f.action = action;
	f.flags = flags;
	f.rule = 0;
	f.name = name;
	return f;
}

static void make_table(struct filter_table *t, const struct specific_filter *fs,
		       size_t n)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(filter_table_push(t, &fs[i]), 0);
	assert_int_equal(filter_table_sort(t), 0);
}

static void apply_table(const struct filter_table *t)
{
	if (dp_apply_table(&E.dp, t, true, errbuf, sizeof(errbuf)))
		fail_msg("dp_apply_table: %s", errbuf);
	if (!E.dp.stats.tree_ready)
		fail_msg("the decision tree was not written: %s",
			 E.dp.stats.tree_error);
}

/* Whether the live bank's new flows go to its decision tree (else to its
 * tuple space, which the tests then check on their own). */
static void tree_enable(bool on)
{
	struct ixdp_bank b;
	uint32_t live;

	assert_int_equal(dp_read_bank(&E.dp, &live, &b), 0);
	assert_int_equal(dp_write_u32(E.dp.state_fd, IXDP_STATE_TREE_GEN0 + live,
				      on ? b.generation : 0), 0);
}

static void apply(const struct specific_filter *fs, size_t n)
{
	struct filter_table t;

	make_table(&t, fs, n);
	apply_table(&t);
	filter_table_free(&t);
}

static void apply_no_policy(void)
{
	if (dp_apply_table(&E.dp, NULL, false, errbuf, sizeof(errbuf)))
		fail_msg("dp_apply_table: %s", errbuf);
}

static void set_boot(enum ixdp_bootmode mode, const struct ixdp_boot_exempt *ex,
		     size_t n)
{
	if (dp_apply_boot(&E.dp, mode, ex, n, errbuf, sizeof(errbuf)))
		fail_msg("dp_apply_boot: %s", errbuf);
}

/* ---- reading counters -------------------------------------------------------- */

static uint64_t drops(enum ixdp_drop_reason r)
{
	uint64_t v[IXDP_DROP__MAX];

	assert_int_equal(dp_read_drops(&E.dp, v), 0);
	return v[r];
}

static uint64_t pkts(enum ixdp_pkt_counter c)
{
	uint64_t v[IXDP_PKT__MAX];

	assert_int_equal(dp_read_pkts(&E.dp, v), 0);
	return v[c];
}

/* Live counters of the filter called name (it must be in the live list). */
static struct ixdp_counter counter_of(const char *name)
{
	struct ixdp_filter_info *info;
	struct ixdp_counter *ctr, c;
	size_t n, i;

	assert_int_equal(dp_read_filters(&E.dp, &info, &ctr, &n), 0);
	for (i = 0; i < n && strcmp(info[i].name, name); i++)
		;
	if (i == n)
		fail_msg("no live filter named %s", name);
	c = ctr[i];
	free(info);
	free(ctr);
	return c;
}

static char send_pkt(int dir, const struct pkt_spec *s)
{
	return dp_env_send(&E, dir, s);
}

static struct pkt_spec tcp4(const char *src, const char *dst, uint16_t sp, uint16_t dp)
{
	return pkt_spec_of(V4, src, dst, IPPROTO_TCP, sp, dp);
}

static struct pkt_spec udp4(const char *src, const char *dst, uint16_t sp, uint16_t dp)
{
	return pkt_spec_of(V4, src, dst, IPPROTO_UDP, sp, dp);
}

static struct pkt_spec icmp4(const char *src, const char *dst, uint8_t type,
			     uint16_t id)
{
	struct pkt_spec s = pkt_spec_of(V4, src, dst, IPPROTO_ICMP, 0, 0);

	s.icmp_type = type;
	s.echo_id = id;
	return s;
}

static struct pkt_spec icmp6(const char *src, const char *dst, uint8_t type)
{
	struct pkt_spec s = pkt_spec_of(V6, src, dst, IPPROTO_ICMPV6, 0, 0);

	s.icmp_type = type;
	s.echo_id = 9;
	return s;
}

/* Every key first, then the deletes: restarting the walk after each delete
 * would rescan the emptied buckets (quadratic for a full table). */
static void clear_conns(void)
{
	struct ixdp_conn_key *keys = calloc(IXDP_MAX_CONNS, sizeof(*keys)), last;
	size_t n = 0;

	assert_non_null(keys);
	while (n < IXDP_MAX_CONNS &&
	       !bpf_map_get_next_key(E.dp.conns_fd, n ? &keys[n - 1] : NULL,
				     &keys[n]))
		n++;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bpf_map_delete_elem(E.dp.conns_fd, &keys[i]), 0);
	free(keys);
	assert_int_equal(bpf_map_get_next_key(E.dp.conns_fd, NULL, &last), -ENOENT);
}

/* Every test starts from: no policy, boot mode permit, no connections. */
static int reset(void **state)
{
	apply_no_policy();
	set_boot(IXDP_BOOT_PERMIT, NULL, 0);
	clear_conns();
	return 0;
}

/* ---- non-IP, boot modes -------------------------------------------------- */

static void test_non_ip_always_passes(void **state)
{
	struct specific_filter block_all = flt("0.0.0.0/0", "0.0.0.0/0", -1, 0, 0,
					       IXDP_ACT_BLOCK, 0, "all");
	uint8_t arp[64];
	size_t len = pkt_build_arp(arp);
	uint64_t before = pkts(IXDP_PKT_NON_IP);

	set_boot(IXDP_BOOT_BLOCK, NULL, 0);
	assert_int_equal(dp_env_verdict(&E, IN, arp, len), 'P');
	assert_int_equal(dp_env_verdict(&E, OUT, arp, len), 'P');
	apply(&block_all, 1);
	assert_int_equal(dp_env_verdict(&E, IN, arp, len), 'P');
	assert_int_equal(pkts(IXDP_PKT_NON_IP), before + 3);
}

static void test_boot_permit(void **state)
{
	struct pkt_spec s = tcp4("192.0.2.1", "192.0.2.2", 40000, 22);
	uint64_t before = pkts(IXDP_PKT_BOOT_PASS);

	assert_int_equal(send_pkt(IN, &s), 'P');
	assert_int_equal(send_pkt(OUT, &s), 'P');
	assert_int_equal(pkts(IXDP_PKT_BOOT_PASS), before + 2);
}

static void test_boot_block(void **state)
{
	struct ixdp_boot_exempt ex[] = {
		{ .proto = IPPROTO_TCP, .dport = 3389, .dirs = IXDP_EXEMPT_IN },
		{ .proto = IPPROTO_ICMP, .dirs = IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT },
	};
	struct pkt_spec rdp = tcp4("192.0.2.9", "192.0.2.2", 50000, 3389);
	struct pkt_spec ssh = tcp4("192.0.2.9", "192.0.2.2", 50000, 22);
	struct pkt_spec dhcp_req = udp4("0.0.0.0", "255.255.255.255", 68, 67);
	struct pkt_spec dhcp_ack = udp4("192.0.2.1", "255.255.255.255", 67, 68);
	struct pkt_spec dhcp6 = pkt_spec_of(V6, "fe80::1", "ff02::1:2",
					    IPPROTO_UDP, 546, 547);
	struct pkt_spec ping = icmp4("192.0.2.9", "192.0.2.2", 8, 1);
	struct pkt_spec frag = rdp;
	uint64_t before = drops(IXDP_DROP_BOOT_BLOCK);
	struct ixdp_boot live;

	set_boot(IXDP_BOOT_BLOCK, ex, 2);
	assert_int_equal(dp_read_boot(&E.dp, &live), 0);
	assert_int_equal(live.mode, IXDP_BOOT_BLOCK);
	assert_int_equal(live.nexempt, 2);
	assert_int_equal(send_pkt(IN, &ssh), 'D');
	assert_int_equal(send_pkt(OUT, &ssh), 'D');
	assert_int_equal(drops(IXDP_DROP_BOOT_BLOCK), before + 2);
	/* DHCP in every mode, both ways. */
	dhcp_req.l2_bcast = dhcp_ack.l2_bcast = true;
	assert_int_equal(send_pkt(OUT, &dhcp_req), 'P');
	assert_int_equal(send_pkt(IN, &dhcp_ack), 'P');
	assert_int_equal(send_pkt(OUT, &dhcp6), 'P');
	/* Exemptions: protocol, port and direction all count. */
	assert_int_equal(send_pkt(IN, &rdp), 'P');
	assert_int_equal(send_pkt(OUT, &rdp), 'D');
	assert_int_equal(send_pkt(IN, &ping), 'P');
	assert_int_equal(send_pkt(OUT, &ping), 'P');
	/* A non-first fragment has no ports: the TCP:0:3389 exemption cannot
	 * vouch for it. */
	frag.frag_off = 100;
	assert_int_equal(send_pkt(IN, &frag), 'D');
}

static void test_boot_exemption_any_protocol_fragments(void **state)
{
	struct ixdp_boot_exempt ex[] = {
		{ .proto = 0, .dirs = IXDP_EXEMPT_OUT },                /* any:0:0:out */
		{ .proto = IPPROTO_UDP, .sport = 53, .dirs = IXDP_EXEMPT_IN },
	};
	struct pkt_spec frag = udp4("192.0.2.9", "192.0.2.2", 0, 0);
	struct pkt_spec dns = udp4("192.0.2.53", "192.0.2.2", 53, 33000);

	set_boot(IXDP_BOOT_BLOCK, ex, 2);
	frag.frag_off = 10;
	assert_int_equal(send_pkt(OUT, &frag), 'P');   /* any:0:0 covers it */
	assert_int_equal(send_pkt(IN, &frag), 'D');
	assert_int_equal(send_pkt(IN, &dns), 'P');
	dns.sport = 54;
	assert_int_equal(send_pkt(IN, &dns), 'D');
}

static void test_boot_stateful(void **state)
{
	struct ixdp_boot_exempt ex[] = {
		{ .proto = IPPROTO_TCP, .dport = 22, .dirs = IXDP_EXEMPT_IN },
	};
	struct pkt_spec out = tcp4("192.0.2.2", "198.51.100.7", 40000, 443);
	struct pkt_spec reply = tcp4("198.51.100.7", "192.0.2.2", 443, 40000);
	struct pkt_spec other = tcp4("198.51.100.7", "192.0.2.2", 443, 40001);
	struct pkt_spec ssh_in = tcp4("203.0.113.5", "192.0.2.2", 50000, 22);
	struct pkt_spec dhcp = udp4("192.0.2.1", "192.0.2.2", 67, 68);
	uint64_t st = drops(IXDP_DROP_BOOT_STATEFUL);

	set_boot(IXDP_BOOT_STATEFUL, ex, 1);
	assert_int_equal(send_pkt(IN, &reply), 'D');   /* unsolicited */
	assert_int_equal(drops(IXDP_DROP_BOOT_STATEFUL), st + 1);
	assert_int_equal(send_pkt(OUT, &out), 'P');
	assert_int_equal(send_pkt(IN, &reply), 'P');
	assert_int_equal(send_pkt(IN, &other), 'D');
	assert_int_equal(send_pkt(IN, &ssh_in), 'P');  /* exemption */
	assert_int_equal(send_pkt(IN, &dhcp), 'P');
	/* A remembered flow arriving as an L2 broadcast is still refused. */
	reply.l2_bcast = true;
	assert_int_equal(send_pkt(IN, &reply), 'D');
	assert_int_equal(drops(IXDP_DROP_BOOT_STATEFUL), st + 3);
}

static void test_boot_stateful_icmp_ipv6_fragments(void **state)
{
	struct pkt_spec req = icmp4("192.0.2.2", "198.51.100.7", 8, 77);
	struct pkt_spec rep = icmp4("198.51.100.7", "192.0.2.2", 0, 77);
	struct pkt_spec rep_other = icmp4("198.51.100.7", "192.0.2.2", 0, 78);
	struct pkt_spec u6 = pkt_spec_of(V6, "2001:db8::2", "2001:db8:1::7",
					 IPPROTO_UDP, 5000, 53);
	struct pkt_spec u6r = pkt_spec_of(V6, "2001:db8:1::7", "2001:db8::2",
					  IPPROTO_UDP, 53, 5000);
	struct pkt_spec mcast = udp4("198.51.100.7", "224.0.0.251", 5353, 5353);
	struct pkt_spec frag = u6r;
	uint64_t fr = drops(IXDP_DROP_FRAGMENT);

	set_boot(IXDP_BOOT_STATEFUL, NULL, 0);
	assert_int_equal(send_pkt(OUT, &req), 'P');
	assert_int_equal(send_pkt(IN, &rep), 'P');
	assert_int_equal(send_pkt(IN, &rep_other), 'D');
	assert_int_equal(send_pkt(IN, &u6r), 'D');
	assert_int_equal(send_pkt(OUT, &u6), 'P');
	assert_int_equal(send_pkt(IN, &u6r), 'P');
	assert_int_equal(send_pkt(IN, &mcast), 'D');
	/* A non-first fragment of the answered flow: no ports, no state. */
	frag.v6_frag = true;
	frag.frag_off = 185;
	assert_int_equal(send_pkt(IN, &frag), 'D');
	assert_int_equal(drops(IXDP_DROP_FRAGMENT), fr + 1);
	assert_int_equal(send_pkt(OUT, &frag), 'P');
}

/* ---- stateful boot mode: idle timeouts, a full table -------------------------- */

/* bpf_ktime_get_ns() as userspace reads it. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

/* The connection table's key of an outbound packet (local side first; an
 * ICMP echo uses its id as both ports). */
static struct ixdp_conn_key conn_key_of(const struct pkt_spec *out)
{
	struct ixdp_conn_key k;
	bool icmp = out->proto == IPPROTO_ICMP || out->proto == IPPROTO_ICMPV6;

	memset(&k, 0, sizeof(k));
	k.fam = out->fam;
	k.proto = out->proto;
	k.lport = icmp ? out->echo_id : out->sport;
	k.rport = icmp ? out->echo_id : out->dport;
	memcpy(k.laddr, out->src, 16);
	memcpy(k.raddr, out->dst, 16);
	return k;
}

/* The entry's deadline, or 0 when the flow has no entry. */
static uint64_t conn_expires(const struct pkt_spec *out)
{
	struct ixdp_conn_key k = conn_key_of(out);
	struct ixdp_conn c;

	if (bpf_map_lookup_elem(E.dp.conns_fd, &k, &c))
		return 0;
	return c.expires;
}

/* Move an entry's deadline, as time passing would. */
static void conn_set_expires(const struct pkt_spec *out, uint64_t expires)
{
	struct ixdp_conn_key k = conn_key_of(out);
	struct ixdp_conn c;

	assert_int_equal(bpf_map_lookup_elem(E.dp.conns_fd, &k, &c), 0);
	c.expires = expires;
	assert_int_equal(bpf_map_update_elem(E.dp.conns_fd, &k, &c, BPF_EXIST), 0);
}

/* Send one outbound packet; its deadline must be the send time plus idle. */
static void send_out_check_deadline(const struct pkt_spec *out, uint64_t idle)
{
	uint64_t before = mono_ns(), after, exp;

	assert_int_equal(send_pkt(OUT, out), 'P');
	after = mono_ns();
	exp = conn_expires(out);
	assert_in_range(exp, before + idle, after + idle);
}

static void test_boot_stateful_idle_timeout(void **state)
{
	struct pkt_spec tcp = tcp4("192.0.2.2", "198.51.100.7", 40001, 443);
	struct pkt_spec tcp_r = tcp4("198.51.100.7", "192.0.2.2", 443, 40001);
	struct pkt_spec udp = udp4("192.0.2.2", "198.51.100.8", 40002, 53);
	struct pkt_spec udp_r = udp4("198.51.100.8", "192.0.2.2", 53, 40002);
	struct pkt_spec ping = icmp4("192.0.2.2", "198.51.100.9", 8, 300);
	struct pkt_spec pong = icmp4("198.51.100.9", "192.0.2.2", 0, 300);
	uint64_t st = drops(IXDP_DROP_BOOT_STATEFUL), before;

	set_boot(IXDP_BOOT_STATEFUL, NULL, 0);
	/* Each protocol gets its own idle timeout, TCP the longest. */
	send_out_check_deadline(&tcp, IXDP_CONN_IDLE_TCP_NS);
	send_out_check_deadline(&udp, IXDP_CONN_IDLE_UDP_NS);
	send_out_check_deadline(&ping, IXDP_CONN_IDLE_ICMP_NS);
	assert_true(IXDP_CONN_IDLE_TCP_NS > IXDP_CONN_IDLE_UDP_NS);
	assert_true(IXDP_CONN_IDLE_UDP_NS > IXDP_CONN_IDLE_ICMP_NS);
	assert_int_equal(send_pkt(IN, &tcp_r), 'P');
	assert_int_equal(send_pkt(IN, &udp_r), 'P');
	assert_int_equal(send_pkt(IN, &pong), 'P');

	/* Idle past the timeout: the entries admit no reply. */
	conn_set_expires(&tcp, mono_ns() - 1);
	conn_set_expires(&udp, mono_ns() - 1);
	conn_set_expires(&ping, mono_ns() - 1);
	assert_int_equal(send_pkt(IN, &tcp_r), 'D');
	assert_int_equal(send_pkt(IN, &udp_r), 'D');
	assert_int_equal(send_pkt(IN, &pong), 'D');
	assert_int_equal(drops(IXDP_DROP_BOOT_STATEFUL), st + 3);
	/* A refused reply does not revive it; new outbound traffic does. */
	assert_in_range(conn_expires(&tcp), 1, mono_ns());
	send_out_check_deadline(&tcp, IXDP_CONN_IDLE_TCP_NS);
	assert_int_equal(send_pkt(IN, &tcp_r), 'P');

	/* An admitted reply keeps the flow alive as outbound traffic does. */
	conn_set_expires(&udp, mono_ns() + 1000000000ull);
	before = mono_ns();
	assert_int_equal(send_pkt(IN, &udp_r), 'P');
	assert_in_range(conn_expires(&udp), before + IXDP_CONN_IDLE_UDP_NS,
			mono_ns() + IXDP_CONN_IDLE_UDP_NS);
}

static size_t count_conns(void)
{
	struct ixdp_conn_key k[2];
	size_t n = 0;

	while (!bpf_map_get_next_key(E.dp.conns_fd, n ? &k[(n - 1) & 1] : NULL,
				     &k[n & 1]))
		n++;
	return n;
}

/* Wait (up to ms) until the table holds at most n entries. */
static void wait_conns_at_most(size_t n, long ms)
{
	uint64_t limit = mono_ns() + (uint64_t)ms * 1000000ull;
	size_t have;

	while ((have = count_conns()) > n && mono_ns() < limit)
		sleep_ms(250);
	if (have > n)
		fail_msg("%zu entries left after %ld ms, expected at most %zu",
			 have, ms, n);
}

/* The destination of flood flow i: 10.0.0.0/8 numbered from 0. */
static struct pkt_spec flood_flow(uint32_t i, bool reply)
{
	struct pkt_spec s = udp4("192.0.2.2", "10.0.0.0", 40000, 53);

	s.dst[1] = (uint8_t)(i >> 16);
	s.dst[2] = (uint8_t)(i >> 8);
	s.dst[3] = (uint8_t)i;
	if (reply) {
		uint8_t a[16];

		memcpy(a, s.src, 16);
		memcpy(s.src, s.dst, 16);
		memcpy(s.dst, a, 16);
		s.sport = 53;
		s.dport = 40000;
	}
	return s;
}

/*
 * More new outbound flows than the table holds: every one leaves, the
 * established connection keeps its entry (its reply passes), the flows
 * beyond the capacity are counted and their replies refused, until an
 * entry leaves.
 */
static void test_boot_stateful_flood_keeps_live_connections(void **state)
{
	struct pkt_spec ssh = tcp4("192.0.2.2", "198.51.100.22", 41000, 22);
	struct pkt_spec ssh_r = tcp4("198.51.100.22", "192.0.2.2", 22, 41000);
	const uint32_t nflood = IXDP_MAX_CONNS + 64;
	uint64_t full0 = pkts(IXDP_PKT_CONN_FULL), full;
	struct pkt_spec f, fr;

	set_boot(IXDP_BOOT_STATEFUL, NULL, 0);
	assert_int_equal(send_pkt(OUT, &ssh), 'P');
	assert_int_equal(send_pkt(IN, &ssh_r), 'P');
	for (uint32_t i = 0; i < nflood; i++) {
		f = flood_flow(i, false);
		if (send_pkt(OUT, &f) != 'P')
			fail_msg("outbound flood flow %u was not sent", i);
	}
	/* The table holds the ssh entry and IXDP_MAX_CONNS - 1 flood flows. */
	full = pkts(IXDP_PKT_CONN_FULL) - full0;
	assert_int_equal(full, nflood - (IXDP_MAX_CONNS - 1));
	assert_int_equal(send_pkt(IN, &ssh_r), 'P');
	fr = flood_flow(0, true);
	assert_int_equal(send_pkt(IN, &fr), 'P');
	fr = flood_flow(nflood - 1, true);
	assert_int_equal(send_pkt(IN, &fr), 'D');
	/* A known flow still refreshes its entry on a full table. */
	assert_int_equal(send_pkt(OUT, &ssh), 'P');
	assert_int_equal(pkts(IXDP_PKT_CONN_FULL) - full0, full);

	/* The flood goes idle: the sweeper (no userspace) frees its entries and
	 * keeps the live one; new flows are remembered again. */
	for (uint32_t i = 0; i < nflood; i++) {
		f = flood_flow(i, false);
		if (conn_expires(&f))
			conn_set_expires(&f, 1);
	}
	wait_conns_at_most(1, 20000);
	assert_true(conn_expires(&ssh) > mono_ns());
	assert_int_equal(send_pkt(IN, &ssh_r), 'P');
	f = flood_flow(nflood - 1, false);
	assert_int_equal(send_pkt(OUT, &f), 'P');
	assert_int_equal(send_pkt(IN, &fr), 'P');
	assert_int_equal(pkts(IXDP_PKT_CONN_FULL) - full0, full);
}

/*
 * The sweeper deletes an idle entry, and only an idle one: an ICMP echo flow
 * (the shortest timeout) answered 10 s in lives until 30 s after that
 * answer, past its first deadline.  Real time: about 45 s.
 */
static void test_boot_stateful_sweeper_deletes_idle_entry(void **state)
{
	struct pkt_spec ping = icmp4("192.0.2.2", "198.51.100.33", 8, 4242);
	struct pkt_spec pong = icmp4("198.51.100.33", "192.0.2.2", 0, 4242);
	uint64_t first, exp, limit, now;

	set_boot(IXDP_BOOT_STATEFUL, NULL, 0);
	assert_int_equal(send_pkt(OUT, &ping), 'P');
	first = conn_expires(&ping);
	assert_true(first > 0);
	sleep_ms(10000);
	assert_int_equal(send_pkt(IN, &pong), 'P');
	exp = conn_expires(&ping);
	assert_true(exp >= first + 10000000000ull);
	limit = exp + 20000000000ull;   /* generous: a loaded machine */
	while ((now = mono_ns()) < limit) {
		uint64_t e = conn_expires(&ping);

		if (!e)
			break;
		exp = e;
		sleep_ms(250);
	}
	if (conn_expires(&ping))
		fail_msg("an entry idle for 20 s past its timeout is still there");
	/* Never before its deadline. */
	assert_true(mono_ns() >= exp);
	assert_int_equal(send_pkt(IN, &pong), 'D');
}

/* ---- policy: actions --------------------------------------------------------- */

static void action_filters(struct specific_filter f[4])
{
	f[0] = flt("10.1.0.0/16", "0.0.0.0/0", IPPROTO_TCP, "any", "80",
		   IXDP_ACT_PERMIT, 0, "web");
	f[1] = flt("10.2.0.0/16", "0.0.0.0/0", -1, "any", "any",
		   IXDP_ACT_BLOCK, 0, "blk");
	f[2] = flt("10.3.0.0/16", "0.0.0.0/0", -1, "any", "any",
		   IXDP_ACT_NEGOTIATE, 0, "neg");
	f[3] = flt("10.4.0.0/16", "0.0.0.0/0", -1, "any", "any",
		   IXDP_ACT_NEGOTIATE, IXDP_F_INPASS, "inpass");
}

static void test_policy_actions(void **state)
{
	struct specific_filter f[4];
	struct pkt_spec web = tcp4("10.1.0.5", "192.0.2.2", 40000, 80);
	struct pkt_spec web_other = tcp4("10.1.0.5", "192.0.2.2", 40000, 81);
	struct pkt_spec blk = udp4("10.2.3.4", "192.0.2.2", 1, 2);
	struct pkt_spec neg = tcp4("10.3.0.1", "192.0.2.2", 1000, 2000);
	struct pkt_spec inpass = tcp4("10.4.0.1", "192.0.2.2", 1000, 2000);
	uint64_t d_blk = drops(IXDP_DROP_BLOCK_FILTER);
	uint64_t d_neg = drops(IXDP_DROP_NEGOTIATE);
	uint64_t unmatched = pkts(IXDP_PKT_UNMATCHED);

	action_filters(f);
	apply(f, 4);
	assert_int_equal(send_pkt(IN, &web), 'P');
	assert_int_equal(send_pkt(OUT, &web), 'P');
	assert_int_equal(send_pkt(IN, &web_other), 'P');       /* unmatched */
	assert_int_equal(pkts(IXDP_PKT_UNMATCHED), unmatched + 1);
	assert_int_equal(send_pkt(IN, &blk), 'D');
	assert_int_equal(send_pkt(OUT, &blk), 'D');
	assert_int_equal(drops(IXDP_DROP_BLOCK_FILTER), d_blk + 2);
	assert_int_equal(send_pkt(IN, &neg), 'D');
	assert_int_equal(send_pkt(OUT, &neg), 'D');
	/* inpass: plaintext accepted inbound, never sent in the clear. */
	assert_int_equal(send_pkt(IN, &inpass), 'P');
	assert_int_equal(send_pkt(OUT, &inpass), 'D');
	assert_int_equal(drops(IXDP_DROP_NEGOTIATE), d_neg + 3);
	assert_int_equal(counter_of("inpass").packets[IN], 1);
	assert_int_equal(counter_of("inpass").packets[OUT], 1);
}

/*
 * A broken tree (a cut whose child is out of the nodes, a leaf whose
 * entries are out of the leaf array) must not decide: the programs fall
 * back to the bank's tuple space, which holds the same list.
 */
static void corrupt_root(uint32_t bank, uint8_t fam, const struct ixdp_tnode *n)
{
	__u32 idx = bank * IXDP_TREE_NODES + fam;

	assert_int_equal(bpf_map_update_elem(E.dp.tnodes_fd, &idx, n, BPF_ANY), 0);
}

static void test_broken_tree_falls_back_to_tuples(void **state)
{
	struct specific_filter f[4];
	struct pkt_spec blk = udp4("10.2.3.4", "192.0.2.2", 1, 2);
	struct pkt_spec web = tcp4("10.1.0.5", "192.0.2.2", 40000, 80);
	struct ixdp_tnode bad_cut = { .leaf = 0, .field = IXDP_TF_SRC0,
				      .shift = 24, .bits = 8,
				      .base = IXDP_TREE_NODES - 1 };
	struct ixdp_tnode bad_leaf = { .leaf = 1, .base = IXDP_TREE_LEAF_REFS,
				       .n = 3 };
	uint64_t tuple0;
	uint32_t live;

	action_filters(f);
	apply(f, 4);
	assert_int_equal(dp_read_bank(&E.dp, &live, NULL), 0);
	corrupt_root(live, V4, &bad_cut);
	tuple0 = pkts(IXDP_PKT_TUPLE_SEARCH);
	assert_int_equal(send_pkt(IN, &blk), 'D');
	assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0 + 1);
	corrupt_root(live, V4, &bad_leaf);
	assert_int_equal(send_pkt(IN, &web), 'P');
	assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0 + 2);
	assert_int_equal(counter_of("web").packets[IN], 1);
	/* a leaf whose entries run past the bank's, and one whose entry
	 * names no slot: not "no match" (which would pass), the tuple space */
	bad_leaf.base = IXDP_TREE_LEAF_REFS - 1;
	corrupt_root(live, V4, &bad_leaf);
	blk.sport = 5;
	assert_int_equal(send_pkt(IN, &blk), 'D');
	assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0 + 3);
	{
		__u32 idx = live * IXDP_TREE_LEAF_REFS, bad = IXDP_NO_FILTER;

		bad_leaf.base = 0;
		bad_leaf.n = 1;
		corrupt_root(live, V4, &bad_leaf);
		assert_int_equal(bpf_map_update_elem(E.dp.tleaf_fd, &idx, &bad,
						     BPF_ANY), 0);
		blk.sport = 6;
		assert_int_equal(send_pkt(IN, &blk), 'D');
		assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0 + 4);
	}
	/* The next apply writes the tree whole again: the tree answers. */
	apply(f, 3);
	tuple0 = pkts(IXDP_PKT_TUPLE_SEARCH);
	blk.sport = 3;
	assert_int_equal(send_pkt(IN, &blk), 'D');
	assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0);
}

/*
 * Interface groups: the programs run on lo.  A filter of a group lo is in
 * applies; one of another group is as if absent (the next filter decides),
 * with the flow cache keyed by the interface's groups.  On an interface
 * without a link layer (IXDP_IF_L3) packets start with the IP header.
 */
static void set_lo_entry(__u16 groups, __u16 flags)
{
	struct ixdp_ifmask m = { .groups = { groups, groups }, .flags = flags };
	__u32 lo = 1;

	assert_int_equal(bpf_map_update_elem(E.dp.ifmask_fd, &lo, &m, BPF_ANY), 0);
}

static void test_interface_groups(void **state)
{
	struct specific_filter f[3];
	struct filter_table t;
	struct pkt_spec on_lo = tcp4("10.9.1.1", "192.0.2.2", 40000, 80);
	struct pkt_spec remote = tcp4("10.8.1.1", "192.0.2.2", 40000, 80);
	uint8_t buf[PKT_MAX];
	size_t len;
	__u32 lo = 1;
	struct ixdp_ifmask m;

	f[0] = flt("10.9.0.0/16", "0.0.0.0/0", -1, "any", "any", IXDP_ACT_BLOCK, 0, "blk-lo");
	f[0].ifgroup = 1;
	f[1] = flt("10.9.0.0/16", "0.0.0.0/0", -1, "any", "any", IXDP_ACT_PERMIT, 0, "perm-all");
	f[2] = flt("10.8.0.0/16", "0.0.0.0/0", -1, "any", "any", IXDP_ACT_BLOCK, 0, "blk-remote");
	f[2].ifgroup = 2;
	make_table(&t, f, 3);
	t.ngroups = 3;
	t.groups[1].nnames = 1;
	snprintf(t.groups[1].names[0], IXDP_IFNAMSIZ, "lo");
	t.groups[2].conn = IXDP_CONN_REMOTE;
	apply_table(&t);
	/* the apply gave lo its groups: named (1), not remote (2) */
	assert_int_equal(bpf_map_lookup_elem(E.dp.ifmask_fd, &lo, &m), 0);
	assert_int_equal(m.groups[0] | m.groups[1], 0x3);
	assert_int_equal(m.flags, 0);
	assert_int_equal(send_pkt(IN, &on_lo), 'D');
	assert_int_equal(send_pkt(OUT, &on_lo), 'D');
	assert_int_equal(counter_of("blk-lo").packets[IN], 1);
	assert_int_equal(send_pkt(IN, &remote), 'P');
	assert_int_equal(counter_of("blk-remote").packets[IN], 0);
	/* lo in no group: the same flow (cached a moment ago) meets the
	 * permit of every interface */
	set_lo_entry(1, 0);
	assert_int_equal(send_pkt(IN, &on_lo), 'P');
	assert_int_equal(counter_of("perm-all").packets[IN], 1);
	/* lo as remote: the remote block holds */
	set_lo_entry(1 | 4, 0);
	assert_int_equal(send_pkt(OUT, &remote), 'D');
	/* no link layer: the IP header first */
	set_lo_entry(1 | 2, IXDP_IF_L3);
	len = pkt_build(&on_lo, buf);
	assert_int_equal(dp_env_verdict(&E, IN, buf + 14, len - 14), 'D');
	assert_int_equal(dp_env_verdict(&E, OUT, buf + 14, len - 14), 'D');
	/* the same bytes read as Ethernet are no IP packet: passed */
	set_lo_entry(1 | 2, 0);
	assert_int_equal(dp_env_verdict(&E, IN, buf + 14, len - 14), 'P');
	assert_int_equal(bpf_map_delete_elem(E.dp.ifmask_fd, &lo), 0);
	filter_table_free(&t);
}

static void test_negotiate_broadcast_multicast_dropped(void **state)
{
	struct specific_filter f[4];
	struct pkt_spec bc = udp4("10.4.0.1", "255.255.255.255", 137, 137);
	struct pkt_spec mc = udp4("10.4.0.1", "239.1.2.3", 5000, 5000);
	struct pkt_spec l2 = udp4("10.4.0.1", "10.4.255.255", 137, 137);
	struct pkt_spec mc6 = pkt_spec_of(V6, "2001:db8::1", "ff02::fb",
					  IPPROTO_UDP, 5353, 5353);
	struct specific_filter n6 = flt("2001:db8::/32", "::/0", -1, 0, 0,
					IXDP_ACT_NEGOTIATE, IXDP_F_INPASS, "n6");
	struct filter_table t;
	uint64_t before = drops(IXDP_DROP_BCAST_NEGOTIATE);

	action_filters(f);
	make_table(&t, f, 4);
	assert_int_equal(filter_table_push(&t, &n6), 0);
	assert_int_equal(filter_table_sort(&t), 0);
	apply_table(&t);
	filter_table_free(&t);
	l2.l2_bcast = true;
	/* Matched a negotiate+inpass filter, but cannot be secured. */
	assert_int_equal(send_pkt(IN, &bc), 'D');
	assert_int_equal(send_pkt(IN, &mc), 'D');
	assert_int_equal(send_pkt(IN, &l2), 'D');
	assert_int_equal(send_pkt(IN, &mc6), 'D');
	assert_int_equal(drops(IXDP_DROP_BCAST_NEGOTIATE), before + 4);
}

static void test_esp_ah_pass(void **state)
{
	struct specific_filter all = flt("0.0.0.0/0", "0.0.0.0/0", -1, 0, 0,
					 IXDP_ACT_BLOCK, 0, "all");
	struct specific_filter all6 = flt("::/0", "::/0", -1, 0, 0,
					  IXDP_ACT_BLOCK, 0, "all6");
	struct specific_filter both[2] = { all, all6 };
	struct pkt_spec esp = pkt_spec_of(V4, "10.2.0.1", "192.0.2.2", IPPROTO_ESP, 0, 0);
	struct pkt_spec ah = pkt_spec_of(V4, "10.2.0.1", "192.0.2.2", IPPROTO_AH, 0, 0);
	struct pkt_spec ah6 = pkt_spec_of(V6, "2001:db8::1", "2001:db8::2",
					  IPPROTO_AH, 0, 0);
	struct pkt_spec tcp = tcp4("10.2.0.1", "192.0.2.2", 1, 2);
	uint64_t before = pkts(IXDP_PKT_IPSEC);

	apply(both, 2);
	esp.payload = ah.payload = ah6.payload = 24;
	assert_int_equal(send_pkt(IN, &esp), 'P');
	assert_int_equal(send_pkt(OUT, &esp), 'P');
	assert_int_equal(send_pkt(IN, &ah), 'P');
	/* AH behind IPv6 extension headers ends the walk as the protocol. */
	ah6.next = 1;
	ah6.ext[0] = 0;
	assert_int_equal(send_pkt(IN, &ah6), 'P');
	assert_int_equal(pkts(IXDP_PKT_IPSEC), before + 4);
	assert_int_equal(send_pkt(IN, &tcp), 'D');
}

static void test_ike_exemption(void **state)
{
	struct specific_filter all = flt("0.0.0.0/0", "0.0.0.0/0", -1, 0, 0,
					 IXDP_ACT_BLOCK, 0, "all");
	struct specific_filter neg6 = flt("::/0", "::/0", -1, 0, 0,
					  IXDP_ACT_NEGOTIATE, 0, "neg6");
	struct pkt_spec ike = udp4("198.51.100.7", "192.0.2.2", 500, 500);
	struct pkt_spec natt = udp4("198.51.100.7", "192.0.2.2", 34567, 4500);
	struct pkt_spec other = udp4("198.51.100.7", "192.0.2.2", 500, 501);
	struct pkt_spec ike6 = pkt_spec_of(V6, "2001:db8::7", "2001:db8::2",
					   IPPROTO_UDP, 4500, 4500);
	struct pkt_spec tcp500 = tcp4("198.51.100.7", "192.0.2.2", 1, 500);
	struct pkt_spec out_other = udp4("192.0.2.2", "198.51.100.7", 40000, 500);
	struct host_prefix me[2] = {
		{ .addr = { AF_INET, { 192, 0, 2, 2 } }, .plen = 24 },
		{ .addr = { AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } }, .plen = 64 },
	};
	struct host_info host = { .me = me, .nme = 2 };
	struct filter_table t = {0};

	assert_int_equal(compile_exemptions(3, &host, &t), 0);
	assert_int_equal(filter_table_push(&t, &all), 0);
	assert_int_equal(filter_table_push(&t, &neg6), 0);
	assert_int_equal(filter_table_sort(&t), 0);
	apply_table(&t);
	filter_table_free(&t);
	assert_int_equal(send_pkt(IN, &ike), 'P');
	assert_int_equal(send_pkt(OUT, &ike), 'P');
	assert_int_equal(send_pkt(IN, &natt), 'P');
	assert_int_equal(send_pkt(OUT, &ike6), 'P');
	/* From a remote port 500 or 4500 to another local port is no IKE (it
	 * was a bypass of the policy); nor is TCP 500, nor leaving from
	 * another local port to a remote port 500. */
	assert_int_equal(send_pkt(IN, &other), 'D');
	other.sport = 4500;
	assert_int_equal(send_pkt(IN, &other), 'D');
	assert_int_equal(send_pkt(IN, &tcp500), 'D');
	assert_int_equal(send_pkt(OUT, &out_other), 'D');
	out_other.sport = 4500;
	assert_int_equal(send_pkt(OUT, &out_other), 'P');
}

/* ---- IPv6, ports, options, fragments ------------------------------------------ */

static void test_ipv6_extension_headers(void **state)
{
	struct specific_filter f[2] = {
		flt("2001:db8:1::/48", "::/0", IPPROTO_TCP, 0, "22",
		    IXDP_ACT_BLOCK, 0, "ssh6"),
		flt("2001:db8:2::/48", "::/0", -1, 0, 0, IXDP_ACT_BLOCK, 0, "net2"),
	};
	struct pkt_spec ssh = pkt_spec_of(V6, "2001:db8:1::5", "2001:db8::2",
					  IPPROTO_TCP, 40000, 22);
	struct pkt_spec s;
	static const uint8_t chain[] = { 0, 60, 43, 60, 60, 60, 60, 60 };

	apply(f, 2);
	assert_int_equal(send_pkt(IN, &ssh), 'D');
	ssh.dport = 23;
	assert_int_equal(send_pkt(IN, &ssh), 'P');
	ssh.dport = 22;
	/* Hop-by-hop, destination options, routing, then TCP. */
	s = ssh;
	s.next = 3;
	memcpy(s.ext, chain, 3);
	assert_int_equal(send_pkt(IN, &s), 'D');
	assert_int_equal(send_pkt(OUT, &s), 'D');
	/* Eight extension headers plus a fragment header would be nine. */
	s.next = 8;
	memcpy(s.ext, chain, 8);
	assert_int_equal(send_pkt(IN, &s), 'D');
	s.dport = 23;
	assert_int_equal(send_pkt(IN, &s), 'P');      /* 8 are walked */
	s.v6_frag = true;                              /* 9: malformed */
	uint64_t mal = drops(IXDP_DROP_MALFORMED);
	assert_int_equal(send_pkt(IN, &s), 'D');
	assert_int_equal(drops(IXDP_DROP_MALFORMED), mal + 1);
	/* A first fragment (offset 0) has its ports. */
	s = ssh;
	s.v6_frag = true;
	s.more_frags = true;
	assert_int_equal(send_pkt(IN, &s), 'D');
	/* A later fragment has none: only port-less filters can match. */
	s.frag_off = 100;
	assert_int_equal(send_pkt(IN, &s), 'P');
	pkt_addr(&s, s.src, "2001:db8:2::9");
	assert_int_equal(send_pkt(IN, &s), 'D');
}

static void test_ipv6_neighbour_discovery_always_passes(void **state)
{
	struct specific_filter all = flt("::/0", "::/0", -1, 0, 0,
					 IXDP_ACT_BLOCK, 0, "all6");
	uint64_t before = pkts(IXDP_PKT_ND);

	apply(&all, 1);
	for (uint8_t type = 133; type <= 137; type++) {
		struct pkt_spec nd = icmp6("fe80::1", "ff02::1:ff00:2", type);

		assert_int_equal(send_pkt(IN, &nd), 'P');
		assert_int_equal(send_pkt(OUT, &nd), 'P');
	}
	assert_int_equal(pkts(IXDP_PKT_ND), before + 10);
	struct pkt_spec ping = icmp6("2001:db8::1", "2001:db8::2", 128);
	assert_int_equal(send_pkt(IN, &ping), 'D');
	struct pkt_spec redirect = icmp6("fe80::1", "fe80::2", 138);
	assert_int_equal(send_pkt(IN, &redirect), 'D');
	/* ND also passes in boot mode block. */
	apply_no_policy();
	set_boot(IXDP_BOOT_BLOCK, NULL, 0);
	struct pkt_spec ns = icmp6("fe80::1", "ff02::1:ff00:2", 135);
	assert_int_equal(send_pkt(IN, &ns), 'P');
	assert_int_equal(send_pkt(IN, &ping), 'D');
}

static void test_port_ranges(void **state)
{
	struct specific_filter f[] = {
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_TCP, 0, "1000-1999",
		    IXDP_ACT_BLOCK, 0, "r1"),
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_TCP, "5000-6000", "1500-1600",
		    IXDP_ACT_NEGOTIATE, 0, "r2"),
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_UDP, 0, "1000-1999",
		    IXDP_ACT_PERMIT, 0, "r3"),
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_TCP, 0, "1200",
		    IXDP_ACT_PERMIT, 0, "r4"),
		/* Same shape as r1, overlapping it: r1 (block) is first. */
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_TCP, 0, "1800-2500",
		    IXDP_ACT_PERMIT, 0, "r5"),
		flt("::/0", "::/0", IPPROTO_TCP, 0, "0-1023",
		    IXDP_ACT_BLOCK, 0, "low6"),
	};
	static const struct { uint16_t sport, dport; char v; } cases[] = {
		{ 1, 999, 'P' }, { 1, 1000, 'D' }, { 1, 1999, 'D' }, { 1, 2000, 'P' },
		{ 1, 1200, 'P' }, { 5500, 1550, 'D' }, { 4999, 1550, 'D' },
		{ 1, 1900, 'D' }, { 1, 2100, 'P' }, { 1, 2500, 'P' }, { 1, 2501, 'P' },
		{ 6000, 1600, 'D' }, { 6001, 1601, 'D' }, { 6001, 2600, 'P' },
	};
	uint64_t neg = drops(IXDP_DROP_NEGOTIATE);

	apply(f, sizeof(f) / sizeof(f[0]));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = tcp4("10.0.0.1", "10.0.0.2", cases[i].sport,
					 cases[i].dport);

		if (send_pkt(IN, &s) != cases[i].v)
			fail_msg("TCP %u -> %u: expected %c", cases[i].sport,
				 cases[i].dport, cases[i].v);
	}
	assert_int_equal(drops(IXDP_DROP_NEGOTIATE), neg + 2);   /* r2 twice */
	assert_int_equal(counter_of("r4").packets[IN], 1);
	assert_int_equal(counter_of("r5").packets[IN], 3);   /* 2000, 2100, 2500 */
	struct pkt_spec u = udp4("10.0.0.1", "10.0.0.2", 1, 1500);
	assert_int_equal(send_pkt(IN, &u), 'P');
	assert_int_equal(counter_of("r3").packets[IN], 1);
	struct pkt_spec t6 = pkt_spec_of(V6, "2001:db8::1", "2001:db8::2",
					 IPPROTO_TCP, 40000, 1023);
	assert_int_equal(send_pkt(IN, &t6), 'D');
	t6.dport = 1024;
	assert_int_equal(send_pkt(IN, &t6), 'P');
}

static void test_ip_options_and_vlan(void **state)
{
	struct specific_filter f = flt("10.0.0.0/8", "0.0.0.0/0", IPPROTO_TCP, 0,
				       "80", IXDP_ACT_BLOCK, 0, "http");
	struct pkt_spec s = tcp4("10.0.0.1", "192.0.2.2", 40000, 80);

	apply(&f, 1);
	for (uint8_t opts = 0; opts <= 40; opts += 4) {
		s.ip_opts = opts;
		s.dport = 80;
		assert_int_equal(send_pkt(IN, &s), 'D');
		assert_int_equal(send_pkt(OUT, &s), 'D');
		s.dport = 81;
		assert_int_equal(send_pkt(IN, &s), 'P');
	}
	s.ip_opts = 0;
	s.dport = 80;
	s.vlan_tpid = 0x8100;
	assert_int_equal(send_pkt(IN, &s), 'D');
	s.vlan_tpid = 0x88a8;
	assert_int_equal(send_pkt(OUT, &s), 'D');
}

static void test_ipv4_fragments(void **state)
{
	struct specific_filter f[2] = {
		flt("10.0.0.0/8", "0.0.0.0/0", IPPROTO_TCP, 0, "80",
		    IXDP_ACT_BLOCK, 0, "http"),
		flt("10.5.0.0/16", "0.0.0.0/0", IPPROTO_TCP, 0, 0,
		    IXDP_ACT_BLOCK, 0, "net5"),
	};
	struct pkt_spec first = tcp4("10.0.0.1", "192.0.2.2", 40000, 80);
	struct pkt_spec later;
	uint64_t hits;

	apply(f, 2);
	first.more_frags = true;
	assert_int_equal(send_pkt(IN, &first), 'D');
	later = first;
	later.frag_off = 185;
	later.payload = 100;
	assert_int_equal(send_pkt(IN, &later), 'P');    /* ports unknown */
	pkt_addr(&later, later.src, "10.5.0.1");
	assert_int_equal(send_pkt(IN, &later), 'D');
	/* Fragments bypass the flow cache. */
	hits = pkts(IXDP_PKT_CACHE_HIT);
	assert_int_equal(send_pkt(IN, &later), 'D');
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits);
	/* A tiny non-first fragment is not malformed: it has no L4 header. */
	later.payload = 0;
	assert_int_equal(send_pkt(OUT, &later), 'D');
}

/* ---- malformed frames ------------------------------------------------------------ */

/* Build s, let edit() damage it, expect a malformed drop on ingress and,
 * with tc, on egress too. */
static void expect_malformed_dirs(const struct pkt_spec *s, const char *what,
				  size_t (*edit)(uint8_t *buf, size_t len, size_t l3),
				  bool tc)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	uint64_t before = drops(IXDP_DROP_MALFORMED);
	char in, out = 'D';

	len = edit(buf, len, pkt_l3_off(s));
	in = dp_env_verdict(&E, IN, buf, len);
	if (tc)
		out = dp_env_verdict(&E, OUT, buf, len);
	if (in != 'D' || out != 'D')
		fail_msg("%s: not dropped (in %c, out %c)", what, in, out);
	if (drops(IXDP_DROP_MALFORMED) != before + 1 + tc)
		fail_msg("%s: not counted as malformed", what);
}

static void expect_malformed(const struct pkt_spec *s, const char *what,
			     size_t (*edit)(uint8_t *buf, size_t len, size_t l3))
{
	expect_malformed_dirs(s, what, edit, true);
}

static size_t ihl_4(uint8_t *b, size_t len, size_t l3)
{
	b[l3] = 0x44;
	return len;
}

static size_t totlen_below_ihl(uint8_t *b, size_t len, size_t l3)
{
	put16(b + l3 + 2, 19);
	return len;
}

static size_t totlen_beyond_frame(uint8_t *b, size_t len, size_t l3)
{
	put16(b + l3 + 2, (uint16_t)(len - l3 + 1));
	return len;
}

static size_t cut_ip_header(uint8_t *b, size_t len, size_t l3)
{
	return l3 + 12;
}

static size_t cut_options(uint8_t *b, size_t len, size_t l3)
{
	return l3 + 30;         /* IHL says 60 */
}

/* The IP header says the TCP header is cut; the frame is padded. */
static size_t short_tcp_padded(uint8_t *b, size_t len, size_t l3)
{
	put16(b + l3 + 2, 20 + 10);
	return len;
}

static size_t cut_l4(uint8_t *b, size_t len, size_t l3)
{
	size_t cut = len - 4;

	if (b[l3] >> 4 == 4)
		put16(b + l3 + 2, (uint16_t)(cut - l3));
	else
		put16(b + l3 + 4, (uint16_t)(cut - l3 - 40));
	return cut;
}

static size_t version_6_in_ipv4(uint8_t *b, size_t len, size_t l3)
{
	b[l3] = 0x65;
	return len;
}

static size_t second_vlan_tag(uint8_t *b, size_t len, size_t l3)
{
	memmove(b + 18, b + 14, len - 14);
	put16(b + 12, 0x88a8);
	put16(b + 14, 7);
	put16(b + 16, 0x8100);
	return len + 4;
}

static size_t cut_ipv6_header(uint8_t *b, size_t len, size_t l3)
{
	return l3 + 39;
}

static size_t payload_beyond_frame(uint8_t *b, size_t len, size_t l3)
{
	put16(b + l3 + 4, (uint16_t)(len - l3 - 40 + 1));
	return len;
}

/* The extension header claims 16 bytes, 8 are there. */
static size_t cut_exthdr(uint8_t *b, size_t len, size_t l3)
{
	b[l3 + 40 + 1] = 1;
	put16(b + l3 + 4, 8);
	return l3 + 48;
}

static void test_malformed(void **state)
{
	struct pkt_spec t = tcp4("10.0.0.1", "192.0.2.2", 1, 80);
	struct pkt_spec opts = t;
	struct pkt_spec u6 = pkt_spec_of(V6, "2001:db8::1", "2001:db8::2",
					 IPPROTO_UDP, 1, 53);
	struct pkt_spec e6 = u6;
	struct pkt_spec ping = icmp4("10.0.0.1", "192.0.2.2", 8, 1);
	struct pkt_spec sctp = pkt_spec_of(V4, "10.0.0.1", "192.0.2.2",
					   IPPROTO_SCTP, 1, 2);

	/* Boot permit: only parsing can drop. */
	opts.ip_opts = 40;
	e6.next = 1;
	e6.payload = 16;
	t.payload = 30;
	expect_malformed(&t, "IHL 4", ihl_4);
	expect_malformed(&t, "total length < IHL*4", totlen_below_ihl);
	expect_malformed(&t, "total length > frame", totlen_beyond_frame);
	/* bpf_prog_test_run() refuses an skb shorter than its IP header. */
	expect_malformed_dirs(&t, "truncated IPv4 header", cut_ip_header, false);
	expect_malformed(&opts, "truncated IPv4 options", cut_options);
	expect_malformed(&t, "TCP header beyond total length", short_tcp_padded);
	expect_malformed(&t, "IPv4 version 6", version_6_in_ipv4);
	expect_malformed(&t, "two VLAN tags", second_vlan_tag);
	expect_malformed_dirs(&u6, "truncated IPv6 header", cut_ipv6_header, false);
	expect_malformed(&u6, "IPv6 payload > frame", payload_beyond_frame);
	expect_malformed(&e6, "truncated extension header", cut_exthdr);
	u6.payload = 0;
	expect_malformed(&u6, "truncated UDP", cut_l4);
	expect_malformed(&ping, "truncated ICMP", cut_l4);
	expect_malformed(&sctp, "truncated SCTP", cut_l4);
	/* And the same frames undamaged pass. */
	uint8_t buf[PKT_MAX];
	const struct pkt_spec *ok[] = { &t, &opts, &u6, &e6, &ping, &sctp };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t len = pkt_build(ok[i], buf);

		assert_int_equal(dp_env_verdict(&E, IN, buf, len), 'P');
		assert_int_equal(dp_env_verdict(&E, OUT, buf, len), 'P');
	}
}

/* ---- counters, the swap, the flow cache -------------------------------------- */

static void test_counters(void **state)
{
	struct specific_filter f[4];
	struct pkt_spec in = udp4("10.2.0.1", "192.0.2.2", 1, 2);
	struct pkt_spec out = udp4("10.2.0.1", "192.0.2.2", 3, 4);
	uint8_t buf[PKT_MAX];
	size_t in_len, out_len;
	uint64_t d = drops(IXDP_DROP_BLOCK_FILTER);
	uint64_t pin = pkts(IXDP_PKT_IN), pout = pkts(IXDP_PKT_OUT);
	struct ixdp_counter c;

	action_filters(f);
	apply(f, 2);
	in.payload = 100;
	in_len = pkt_build(&in, buf);
	out_len = pkt_build(&out, buf);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_pkt(IN, &in), 'D');
	for (int i = 0; i < 2; i++)
		assert_int_equal(send_pkt(OUT, &out), 'D');
	c = counter_of("blk");
	assert_int_equal(c.packets[IN], 3);
	assert_int_equal(c.bytes[IN], 3 * in_len);
	assert_int_equal(c.packets[OUT], 2);
	assert_int_equal(c.bytes[OUT], 2 * out_len);    /* skb->len */
	assert_int_equal(counter_of("web").packets[IN], 0);
	assert_int_equal(drops(IXDP_DROP_BLOCK_FILTER), d + 5);
	assert_int_equal(pkts(IXDP_PKT_IN), pin + 3);
	assert_int_equal(pkts(IXDP_PKT_OUT), pout + 2);
}

/* Every key of ixdp_filters belongs to the live bank. */
static size_t count_keys(uint8_t *bank_seen)
{
	struct ixdp_fkey k, next;
	const struct ixdp_fkey *prev = NULL;
	size_t n = 0;

	*bank_seen = 0;
	while (!bpf_map_get_next_key(E.dp.filters_fd, prev, &next)) {
		*bank_seen |= (uint8_t)(1u << next.bank);
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void test_atomic_swap(void **state)
{
	struct specific_filter a[3] = {
		flt("10.1.0.0/16", "0.0.0.0/0", -1, 0, 0, IXDP_ACT_BLOCK, 0, "f1"),
		flt("10.2.0.0/16", "0.0.0.0/0", IPPROTO_TCP, 0, "80",
		    IXDP_ACT_PERMIT, 0, "f2"),
		flt("10.3.0.0/16", "0.0.0.0/0", -1, 0, 0, IXDP_ACT_NEGOTIATE, 0, "f3"),
	};
	struct specific_filter b[4] = {
		a[0],
		flt("10.2.0.0/16", "0.0.0.0/0", IPPROTO_TCP, 0, "80",
		    IXDP_ACT_BLOCK, 0, "f2"),
		flt("10.4.0.0/16", "0.0.0.0/0", -1, 0, 0, IXDP_ACT_BLOCK, 0, "f4"),
		flt("10.5.0.0/16", "0.0.0.0/0", IPPROTO_UDP, 0, "100-200",
		    IXDP_ACT_BLOCK, 0, "f5"),
	};
	struct pkt_spec p1 = udp4("10.1.0.1", "192.0.2.2", 1, 2);
	struct pkt_spec p2 = tcp4("10.2.0.1", "192.0.2.2", 1, 80);
	struct pkt_spec p3 = tcp4("10.3.0.1", "192.0.2.2", 1, 80);
	struct pkt_spec p4 = tcp4("10.4.0.1", "192.0.2.2", 1, 80);
	struct ixdp_bank ba, bb, old;
	uint32_t live_a, live_b;
	uint8_t seen;

	apply(a, 3);
	assert_int_equal(dp_read_bank(&E.dp, &live_a, &ba), 0);
	assert_int_equal(ba.has_policy, 1);
	assert_int_equal(ba.nfilters, 3);
	assert_int_equal(send_pkt(IN, &p1), 'D');
	assert_int_equal(send_pkt(OUT, &p1), 'D');
	assert_int_equal(send_pkt(IN, &p2), 'P');
	assert_int_equal(send_pkt(IN, &p3), 'D');
	assert_int_equal(send_pkt(IN, &p4), 'P');
	assert_int_equal(count_keys(&seen), 2 * 3);     /* both banks */
	assert_int_equal(seen, 3);

	apply(b, 4);
	assert_int_equal(dp_read_bank(&E.dp, &live_b, &bb), 0);
	assert_int_equal(live_b, live_a ^ 1);
	assert_true(bb.generation > ba.generation);
	assert_int_equal(bb.nfilters, 4);
	assert_int_equal(send_pkt(IN, &p2), 'D');
	assert_int_equal(send_pkt(IN, &p3), 'P');
	assert_int_equal(send_pkt(IN, &p4), 'D');
	assert_int_equal(send_pkt(IN, &p1), 'D');
	/* The old bank was brought up to date: both hold the new list. */
	assert_true(E.dp.stats.mirrored);
	assert_int_equal(count_keys(&seen), 2 * 4);
	assert_int_equal(seen, 3);
	assert_int_equal(bpf_map_lookup_elem(E.dp.banks_fd, &live_a, &old), 0);
	assert_int_equal(old.has_policy, 1);
	assert_int_equal(old.nfilters, 4);
	assert_int_equal(old.generation, bb.generation);
	/* f1 unchanged: its counters came along; f2 changed action: new. */
	assert_int_equal(counter_of("f1").packets[IN], 2);
	assert_int_equal(counter_of("f1").packets[OUT], 1);
	assert_int_equal(counter_of("f2").packets[IN], 1);
	assert_int_equal(counter_of("f4").packets[IN], 1);
	/* And back to "no policy": boot mode rules, no keys left. */
	apply_no_policy();
	assert_int_equal(count_keys(&seen), 0);
	assert_int_equal(send_pkt(IN, &p1), 'P');
}

/* The flow cache is per CPU: keep this process on one, so that a packet
 * sent twice meets its own entry. */
static void stay_on_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	assert_true(cpu >= 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void test_flow_cache_invalidated_by_apply(void **state)
{
	struct specific_filter permit = flt("10.7.0.0/16", "0.0.0.0/0", IPPROTO_TCP,
					    0, "80", IXDP_ACT_PERMIT, 0, "p");
	struct specific_filter block = flt("10.7.0.0/16", "0.0.0.0/0", IPPROTO_TCP,
					   0, "80", IXDP_ACT_BLOCK, 0, "b");
	struct pkt_spec s = tcp4("10.7.0.1", "192.0.2.2", 40000, 80);
	uint64_t hits;

	stay_on_this_cpu();
	apply(&permit, 1);
	hits = pkts(IXDP_PKT_CACHE_HIT);
	assert_int_equal(send_pkt(IN, &s), 'P');
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits);       /* miss */
	assert_int_equal(send_pkt(IN, &s), 'P');
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits + 1);   /* hit */
	assert_int_equal(counter_of("p").packets[IN], 2);
	apply(&block, 1);
	assert_int_equal(send_pkt(IN, &s), 'D');                /* stale */
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits + 1);
	assert_int_equal(send_pkt(IN, &s), 'D');
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits + 2);
	assert_int_equal(counter_of("b").packets[IN], 2);
	/* Unmatched verdicts are cached too, and invalidated the same way. */
	apply(NULL, 0);
	assert_int_equal(send_pkt(IN, &s), 'P');
	assert_int_equal(send_pkt(IN, &s), 'P');
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits + 3);
}

/* Sends s, expects verdict want and the flow cache hit (or miss). */
static void send_expect(const struct pkt_spec *s, char want, bool hit)
{
	uint64_t hits = pkts(IXDP_PKT_CACHE_HIT);

	assert_int_equal(send_pkt(IN, s), want);
	assert_int_equal(pkts(IXDP_PKT_CACHE_HIT), hits + (hit ? 1 : 0));
}

/* An incremental apply keeps the cached flows of the filters it cannot
 * move (heavier than every added one, in the same order), and invalidates
 * the others': lighter filters, "no match", deleted and changed filters.
 * Weights: h (48 bits of prefix) > a (32) > l (16). */
static void test_flow_cache_kept_across_incremental_apply(void **state)
{
	struct specific_filter h = flt("10.7.1.0/24", "192.0.2.0/24", IPPROTO_TCP,
				       0, "80", IXDP_ACT_PERMIT, 0, "h");
	struct specific_filter l = flt("10.7.0.0/16", "0.0.0.0/0", IPPROTO_TCP,
				       0, 0, IXDP_ACT_PERMIT, 0, "l");
	struct specific_filter a = flt("10.0.0.0/8", "192.0.2.0/24", IPPROTO_TCP,
				       0, 0, IXDP_ACT_BLOCK, 0, "a");
	struct specific_filter f[3] = { h, l, a };
	struct pkt_spec fh = tcp4("10.7.1.5", "192.0.2.2", 40000, 80);
	struct pkt_spec fl = tcp4("10.7.2.5", "192.0.2.2", 40000, 22);
	struct pkt_spec fn = tcp4("10.9.0.1", "192.0.2.2", 40000, 22);

	stay_on_this_cpu();
	apply(f, 2);
	assert_true(E.dp.stats.cache_emptied || E.dp.stats.cache_bumped > 0);
	send_expect(&fh, 'P', false);
	send_expect(&fh, 'P', true);
	send_expect(&fl, 'P', false);
	send_expect(&fl, 'P', true);
	send_expect(&fn, 'P', false);
	send_expect(&fn, 'P', true);

	apply(f, 3);            /* a added: lighter than h, heavier than l */
	assert_false(E.dp.stats.cache_emptied);
	send_expect(&fh, 'P', true);    /* h unchanged and heavier: kept */
	assert_int_equal(counter_of("h").packets[IN], 3);
	send_expect(&fl, 'D', false);   /* l's flow taken by a */
	send_expect(&fn, 'D', false);   /* "no match" taken by a */
	send_expect(&fl, 'D', true);
	assert_int_equal(counter_of("a").packets[IN], 3);

	apply(f + 1, 2);        /* h deleted: only its flows move */
	assert_false(E.dp.stats.cache_emptied);
	send_expect(&fl, 'D', true);
	send_expect(&fh, 'D', false);
	send_expect(&fh, 'D', true);

	f[2].action = IXDP_ACT_PERMIT;  /* a changed */
	apply(f + 1, 2);
	send_expect(&fl, 'P', false);
	send_expect(&fh, 'P', false);
	send_expect(&fn, 'P', false);
	send_expect(&fn, 'P', true);
}

static void test_apply_rejects_and_keeps_live(void **state)
{
	struct filter_table t = {0};
	struct specific_filter blk = flt("10.2.0.0/16", "0.0.0.0/0", -1, 0, 0,
					 IXDP_ACT_BLOCK, 0, "blk");
	struct pkt_spec s = udp4("10.2.0.1", "192.0.2.2", 1, 2);
	struct ixdp_boot_exempt ex[IXDP_MAX_BOOT_EXEMPT + 1];
	uint32_t live_before, live_after;

	apply(&blk, 1);
	assert_int_equal(dp_read_bank(&E.dp, &live_before, NULL), 0);
	/* A list neither form holds: 1100 nested port ranges [0, k] over the
	 * same addresses all hold the packets of port 0 (and fragments), so
	 * no cut separates them and none decides them all (a leaf of more
	 * than IXDP_TREE_LEAF_MAX); their port classes need about 600000
	 * keys (more than the tuple space's 131072). */
	for (int k = 1; k <= 1100; k++) {
		struct specific_filter f = blk;

		f.proto_exact = true;
		f.proto = IPPROTO_UDP;
		f.dport.lo = 0;
		f.dport.hi = (uint16_t)k;
		assert_int_equal(filter_table_push(&t, &f), 0);
	}
	assert_int_equal(filter_table_sort(&t), 0);
	assert_int_equal(dp_apply_table(&E.dp, &t, true, errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "fits neither the decision tree"));
	assert_non_null(strstr(errbuf, "nor the tuple space"));
	filter_table_free(&t);
	assert_int_equal(dp_read_bank(&E.dp, &live_after, NULL), 0);
	assert_int_equal(live_after, live_before);
	assert_int_equal(send_pkt(IN, &s), 'D');
	memset(ex, 0, sizeof(ex));
	assert_int_equal(dp_apply_boot(&E.dp, IXDP_BOOT_BLOCK, ex,
				       IXDP_MAX_BOOT_EXEMPT + 1, errbuf,
				       sizeof(errbuf)), -1);
}

/* dp_table_is_live: the question ipsec-xdpd asks before it re-expands a
 * policy (agent_reexpand): only a different list is pushed. */
static void test_table_is_live(void **state)
{
	struct specific_filter a[2] = {
		flt("10.8.0.1/32", "0.0.0.0/0", IPPROTO_TCP, 0, "9000",
		    IXDP_ACT_PERMIT, 0, "me-9000"),
		flt("0.0.0.0/0", "0.0.0.0/0", IPPROTO_TCP, 0, "9000",
		    IXDP_ACT_BLOCK, 0, "block-9000"),
	};
	struct specific_filter b[3] = {
		a[0], a[1],
		flt("10.8.0.2/32", "0.0.0.0/0", IPPROTO_TCP, 0, "9000",
		    IXDP_ACT_PERMIT, 0, "me-9000"),
	};
	struct filter_table ta, tb, tc;
	bool has_policy, same;

	make_table(&ta, a, 2);
	make_table(&tb, b, 3);
	apply_no_policy();
	assert_int_equal(dp_table_is_live(&E.dp, &ta, &has_policy, &same), 0);
	assert_false(has_policy);
	assert_false(same);
	apply_table(&ta);
	assert_int_equal(dp_table_is_live(&E.dp, &ta, &has_policy, &same), 0);
	assert_true(has_policy);
	assert_true(same);
	/* one more address: another list */
	assert_int_equal(dp_table_is_live(&E.dp, &tb, &has_policy, &same), 0);
	assert_false(same);
	/* the same selectors under another rule name, or another action */
	make_table(&tc, a, 2);
	tc.v[0].name = "other";
	assert_int_equal(dp_table_is_live(&E.dp, &tc, &has_policy, &same), 0);
	assert_false(same);
	tc.v[0].name = ta.v[0].name;
	tc.v[1].action = IXDP_ACT_PERMIT;
	assert_int_equal(dp_table_is_live(&E.dp, &tc, &has_policy, &same), 0);
	assert_false(same);
	apply_table(&tb);
	assert_int_equal(dp_table_is_live(&E.dp, &tb, &has_policy, &same), 0);
	assert_true(same);
	filter_table_free(&ta);
	filter_table_free(&tb);
	filter_table_free(&tc);
}

static void test_counter_names(void **state)
{
	for (int r = 0; r < IXDP_DROP__MAX; r++) {
		assert_string_not_equal(drop_reason_name(r), "unknown");
		for (int q = 0; q < r; q++)
			assert_string_not_equal(drop_reason_name(r), drop_reason_name(q));
	}
	for (int c = 0; c < IXDP_PKT__MAX; c++) {
		assert_string_not_equal(pkt_counter_name(c), "unknown");
		for (int q = 0; q < c; q++)
			assert_string_not_equal(pkt_counter_name(c), pkt_counter_name(q));
	}
	assert_string_equal(drop_reason_name(IXDP_DROP_NEGOTIATE), "negotiate_no_sa");
	assert_string_equal(drop_reason_name(IXDP_DROP__MAX), "unknown");
}

/* Long reads and writes of an mmapable array (a copy through the mapped
 * map, whose entries lie 8-byte aligned: 16 bytes apart for a tree node,
 * 8 for a 2-byte port class) agree with the kernel's own lookups, and
 * short ones (syscalls) with them. */
static void test_array_mapped_io(void **state)
{
	/* across the banks (the port classes: across the sides) */
	enum { N = 1000, START = IXDP_TREE_NODES - 3, CLASS_START = IXDP_PORT_CLASSES - 3 };
	struct ixdp_tnode *w = calloc(N, sizeof(*w)), *r = calloc(N, sizeof(*r));
	__u16 cw[N], cr[N];
	__u32 lw[N], lr[N];

	assert_non_null(w);
	assert_non_null(r);
	for (unsigned i = 0; i < N; i++) {
		w[i] = (struct ixdp_tnode){ .leaf = i & 1, .field = (__u8)(i % 11),
					    .shift = (__u8)(i % 32), .bits = (__u8)(1 + i % 8),
					    .base = 7 * i + 1, .n = 0xabcd0000u | i,
					    .field2 = (__u8)(i % 7), .shift2 = (__u8)(i % 29),
					    .bits2 = (__u8)(i % 5) };
		lw[i] = 0x5a5a0000u | i;
		cw[i] = (__u16)(0x8000u | i);
	}
	assert_int_equal(dp_array_write(E.dp.tnodes_fd, START, N, w, sizeof(*w)), 0);
	assert_int_equal(dp_array_write(E.dp.tleaf_fd, START, N, lw, sizeof(*lw)), 0);
	assert_int_equal(dp_array_write(E.dp.port_class_fd, CLASS_START, N, cw, sizeof(*cw)), 0);
	for (unsigned i = 0; i < N; i++) {     /* what the programs see */
		__u32 k = START + i, c = CLASS_START + i;

		assert_int_equal(bpf_map_lookup_elem(E.dp.tnodes_fd, &k, &r[i]), 0);
		assert_int_equal(bpf_map_lookup_elem(E.dp.tleaf_fd, &k, &lr[i]), 0);
		assert_int_equal(bpf_map_lookup_elem(E.dp.port_class_fd, &c, &cr[i]), 0);
	}
	assert_memory_equal(r, w, N * sizeof(*w));
	assert_memory_equal(lr, lw, sizeof(lw));
	assert_memory_equal(cr, cw, sizeof(cw));
	memset(r, 0, N * sizeof(*r));
	memset(lr, 0, sizeof(lr));
	assert_int_equal(dp_array_read(E.dp.tnodes_fd, START, N, r, sizeof(*r)), 0);
	assert_memory_equal(r, w, N * sizeof(*w));
	assert_int_equal(dp_array_read(E.dp.tleaf_fd, START, N, lr, sizeof(*lr)), 0);
	assert_memory_equal(lr, lw, sizeof(lw));
	/* short: the syscalls, both ways */
	w[5].n = 42;
	assert_int_equal(dp_array_write(E.dp.tnodes_fd, START + 5, 1, &w[5], sizeof(*w)), 0);
	memset(r, 0, N * sizeof(*r));
	assert_int_equal(dp_array_read(E.dp.tnodes_fd, START + 5, 10, r, sizeof(*r)), 0);
	assert_memory_equal(r, w + 5, 10 * sizeof(*w));
	assert_int_equal(dp_array_read(E.dp.tnodes_fd, START, N, r, sizeof(*r)), 0);
	assert_int_equal(r[5].n, 42);
	free(w);
	free(r);
}

/* Scattered writes (dp_update_pairs) of mmapable arrays, long enough to
 * go through the mapping: ixdp_tmatch's 64-byte entries, ixdp_slot_pos's
 * 4-byte ones (8 apart).  A key past the array is refused, as by the
 * kernel. */
static void test_pairs_mapped_io(void **state)
{
	enum { N = 600 };
	struct ixdp_tmatch *w = calloc(N, sizeof(*w)), got;
	__u32 keys[N], pos[N], p;

	assert_non_null(w);
	for (unsigned i = 0; i < N; i++) {
		keys[i] = (i * 7919u) % IXDP_MAX_SLOTS;   /* scattered, distinct */
		memset(&w[i], (int)(i & 0xff), sizeof(w[i]));
		w[i].sport_lo = (__u16)i;
		w[i].action = (__u8)(i % 3);
		pos[i] = 0x70000000u | i;
	}
	assert_int_equal(dp_update_pairs(E.dp.tmatch_fd, keys, w, N, sizeof(*keys),
					 sizeof(*w)), 0);
	assert_int_equal(dp_update_pairs(E.dp.slot_pos_fd, keys, pos, N, sizeof(*keys),
					 sizeof(*pos)), 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(bpf_map_lookup_elem(E.dp.tmatch_fd, &keys[i], &got), 0);
		assert_memory_equal(&got, &w[i], sizeof(got));
		assert_int_equal(bpf_map_lookup_elem(E.dp.slot_pos_fd, &keys[i], &p), 0);
		assert_int_equal(p, pos[i]);
	}
	keys[N - 1] = IXDP_MAX_SLOTS;                   /* past the end */
	assert_int_not_equal(dp_update_pairs(E.dp.tmatch_fd, keys, w, N, sizeof(*keys),
					     sizeof(*w)), 0);
	free(w);
}

/* A rule name longer than ixdp_info's is cut to 31 bytes and stays
 * NUL-terminated; a short one is copied whole, the rest zero. */
static void test_info_name_truncated(void **state)
{
	static const char long_name[] =
		"a-rule-name-of-more-than-thirty-one-bytes-for-the-info-entry";
	struct specific_filter f = { .fam = IXDP_FAM_V4, .action = IXDP_ACT_PERMIT,
				     .name = long_name };
	struct ixdp_filter_info in;

	memset(&in, 0xaa, sizeof(in));
	dp_info_from_filter(&f, &in);
	assert_int_equal(strlen(in.name), sizeof(in.name) - 1);
	assert_memory_equal(in.name, long_name, sizeof(in.name) - 1);
	f.name = "short";
	memset(&in, 0xaa, sizeof(in));
	dp_info_from_filter(&f, &in);
	assert_string_equal(in.name, "short");
	for (size_t i = strlen("short"); i < sizeof(in.name); i++)
		assert_int_equal(in.name[i], 0);
}

/* ---- the oracle: random tables against filter_table_match() ------------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: a fixed seed gives the same run everywhere. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

struct shape {
	uint8_t fam, splen, dplen, skind, dkind;
	bool proto_exact, exempt;
};

#define NBASES 6
static uint8_t bases[2][NBASES][16];

/* Port ranges come from a small pool per table, as in real policies: every
 * distinct range endpoint multiplies the hash keys of range x range
 * filters. */
#define NRANGES 8
static struct port_spec ranges[NRANGES];

static const uint16_t port_pool[] = {
	1, 22, 53, 67, 80, 123, 443, 500, 1000, 1024, 3389, 4500, 8080, 40000, 65535,
};
#define NPOOL (sizeof(port_pool) / sizeof(port_pool[0]))

static uint8_t random_proto(uint8_t fam)
{
	static const uint8_t protos[] = {
		IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDP, IPPROTO_SCTP,
		IPPROTO_UDPLITE, IPPROTO_GRE, 0 /* ICMP of the family */,
	};
	uint8_t p = protos[rnd_below(sizeof(protos))];

	return p ? p : fam == V4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

static uint16_t random_port(void)
{
	return rnd_below(3) ? port_pool[rnd_below(NPOOL)] : (uint16_t)rnd();
}

static void keep_prefix(uint8_t *a, const uint8_t *net, uint8_t plen, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		a[i] = (uint8_t)((net[i] & m) | (a[i] & ~m));
	}
}

static void random_addr(uint8_t fam, uint8_t *a)
{
	size_t len = fam == V4 ? 4 : 16;

	memset(a, 0, 16);
	for (size_t i = 0; i < len; i++)
		a[i] = (uint8_t)rnd();
	/* Mostly near one of a few networks, so that filters overlap. */
	if (rnd_below(5))
		keep_prefix(a, bases[fam][rnd_below(NBASES)], (uint8_t)(len * 8 - 6), len);
}

static void random_shape(uint8_t fam, struct shape *s)
{
	uint8_t max = fam == V4 ? 32 : 128;

	memset(s, 0, sizeof(*s));
	s->fam = fam;
	s->splen = (uint8_t)rnd_below(max + 1);
	s->dplen = (uint8_t)rnd_below(max + 1);
	s->proto_exact = rnd_below(4) != 0;
	s->skind = (uint8_t)rnd_below(3);
	s->dkind = (uint8_t)rnd_below(3);
	s->exempt = rnd_below(10) == 0;
}

static void random_ports(uint8_t kind, struct port_spec *p)
{
	switch (kind) {
	case IXDP_PORT_ANY:
		p->lo = 0;
		p->hi = rnd_below(2) ? 0 : 65535;
		break;
	case IXDP_PORT_EXACT:
		p->lo = p->hi = random_port() | 1;
		break;
	default:
		*p = ranges[rnd_below(NRANGES)];
		break;
	}
}

static struct specific_filter random_filter(const struct shape *sh)
{
	struct specific_filter f;
	size_t len = sh->fam == V4 ? 4 : 16;

	memset(&f, 0, sizeof(f));
	f.fam = sh->fam;
	f.src_plen = sh->splen;
	f.dst_plen = sh->dplen;
	random_addr(f.fam, f.src);
	random_addr(f.fam, f.dst);
	for (size_t i = 0; i < len; i++) {
		unsigned sb = f.src_plen > i * 8 ? f.src_plen - i * 8 : 0;
		unsigned db = f.dst_plen > i * 8 ? f.dst_plen - i * 8 : 0;

		f.src[i] &= sb >= 8 ? 0xff : (uint8_t)(0xff << (8 - sb));
		f.dst[i] &= db >= 8 ? 0xff : (uint8_t)(0xff << (8 - db));
	}
	f.proto_exact = sh->proto_exact;
	f.proto = sh->proto_exact ? random_proto(f.fam) : 0;
	random_ports(sh->skind, &f.sport);
	random_ports(sh->dkind, &f.dport);
	f.action = (uint8_t)rnd_below(3);
	if (f.action == IXDP_ACT_NEGOTIATE && rnd_below(2))
		f.flags |= IXDP_F_INPASS;
	if (sh->exempt)
		f.flags |= IXDP_F_EXEMPTION;
	f.rule = (int)rnd_below(20);
	f.name = "random";
	return f;
}

/*
 * The interface groups of a random table: the programs run under
 * bpf_prog_test_run on lo (a lan interface), which is in groups 1 (lan)
 * and 2 (named lo) but not in 3 (remote) or 4 (named eth9).
 */
static uint16_t oracle_ifmask;

static void random_groups(struct filter_table *t)
{
	t->ngroups = 5;
	t->groups[1].conn = IXDP_CONN_LAN;
	t->groups[2].nnames = 1;
	snprintf(t->groups[2].names[0], IXDP_IFNAMSIZ, "lo");
	t->groups[3].conn = IXDP_CONN_REMOTE;
	t->groups[4].nnames = 2;
	snprintf(t->groups[4].names[0], IXDP_IFNAMSIZ, "eth9");
	snprintf(t->groups[4].names[1], IXDP_IFNAMSIZ, "ppp0");
}

/* The shapes of the last random table (the incremental test adds more). */
static struct shape shapes[2][512];
static uint32_t nshapes[2];
static uint32_t oracle_max_shapes = 60; /* random shapes per family, at most */

static void random_table(struct filter_table *t, size_t n)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < NRANGES; i++) {
		uint32_t lo = rnd_below(4) ? random_port() % 65000u : 0;
		uint32_t hi = lo + 1 + rnd_below(3000);

		ranges[i].lo = (uint16_t)lo;
		ranges[i].hi = (uint16_t)(hi > 65534 ? 65534 : hi);
	}
	for (uint8_t fam = 0; fam < 2; fam++) {
		for (size_t i = 0; i < NBASES; i++)
			random_addr(fam, bases[fam][i]);
		nshapes[fam] = 2 + rnd_below(oracle_max_shapes);
		for (uint32_t i = 0; i < nshapes[fam]; i++)
			random_shape(fam, &shapes[fam][i]);
	}
	random_groups(t);
	for (size_t i = 0; i < n; i++) {
		uint8_t fam = rnd_below(3) ? V4 : V6;
		struct specific_filter f =
			random_filter(&shapes[fam][rnd_below(nshapes[fam])]);

		/* half the filters on every interface, the others in a group;
		 * a copy in another group tests "as if absent" head on */
		f.ifgroup = rnd_below(2) ? 0 : (uint8_t)(1 + rnd_below(4));
		assert_int_equal(filter_table_push(t, &f), 0);
		if (rnd_below(6) == 0) {
			f.ifgroup = (uint8_t)((f.ifgroup + 1 + rnd_below(4)) % 5);
			f.action = (uint8_t)rnd_below(3);
			assert_int_equal(filter_table_push(t, &f), 0);
		}
	}
	assert_int_equal(filter_table_sort(t), 0);
}

static uint16_t port_near(const struct port_spec *p)
{
	if (port_kind(p) == IXDP_PORT_ANY || rnd_below(5) == 0)
		return random_port();
	switch (rnd_below(4)) {
	case 0:
		return p->lo;
	case 1:
		return p->hi;
	case 2:
		return (uint16_t)(p->hi + 1);
	}
	return (uint16_t)(p->lo + rnd_below(p->hi - p->lo + 1u));
}

struct opkt {
	struct pkt_spec s;
	struct pkt_tuple t;
	bool bcast;
	int dir;
};

/* A packet, most often made to hit (or nearly hit) a random filter. */
static void random_packet(const struct filter_table *t, struct opkt *o)
{
	const struct specific_filter *f = t->n && rnd_below(4) ?
					  &t->v[rnd_below((uint32_t)t->n)] : NULL;
	uint8_t fam = f ? f->fam : (uint8_t)rnd_below(2);
	size_t len = fam == V4 ? 4 : 16;
	struct pkt_spec *s = &o->s;

	memset(o, 0, sizeof(*o));
	s->fam = fam;
	random_addr(fam, s->src);
	random_addr(fam, s->dst);
	if (f && rnd_below(8)) {
		keep_prefix(s->src, f->src, f->src_plen, len);
		keep_prefix(s->dst, f->dst, f->dst_plen, len);
	}
	s->proto = f && f->proto_exact && rnd_below(8) ? f->proto : random_proto(fam);
	if (rnd_below(40) == 0)
		s->proto = rnd_below(2) ? IPPROTO_ESP : IPPROTO_AH;
	s->sport = f ? port_near(&f->sport) : random_port();
	s->dport = f ? port_near(&f->dport) : random_port();
	s->icmp_type = fam == V4 ? (rnd_below(2) ? 8 : 0) : (rnd_below(2) ? 128 : 129);
	s->echo_id = (uint16_t)rnd();
	if (rnd_below(12) == 0) {
		s->frag_off = (uint16_t)(1 + rnd_below(1000));
		s->v6_frag = fam == V6;
	}
	s->l2_bcast = rnd_below(30) == 0;
	if (fam == V4 && rnd_below(30) == 0)
		memset(s->dst, 0xff, 4);
	s->payload = (uint16_t)rnd_below(64);
	o->dir = (int)rnd_below(2);

	o->t.fam = fam;
	memcpy(o->t.src, s->src, 16);
	memcpy(o->t.dst, s->dst, 16);
	o->t.proto = s->proto;
	o->t.frag = s->frag_off != 0;
	o->t.ifmask = oracle_ifmask;
	if (proto_has_ports(s->proto) && !o->t.frag) {
		o->t.sport = s->sport;
		o->t.dport = s->dport;
	}
	o->bcast = s->l2_bcast ||
		   (fam == V4 && ((s->dst[0] & 0xf0) == 0xe0 ||
				  !memcmp(s->dst, "\xff\xff\xff\xff", 4))) ||
		   (fam == V6 && s->dst[0] == 0xff);
}

/* docs/behaviour.md §4 verdict for a packet whose first matching filter is f (or none). */
static char expected_verdict(const struct opkt *o, const struct specific_filter *f)
{
	if (o->s.proto == IPPROTO_ESP || o->s.proto == IPPROTO_AH || !f)
		return 'P';
	switch (f->action) {
	case IXDP_ACT_PERMIT:
		return 'P';
	case IXDP_ACT_BLOCK:
		return 'D';
	}
	if (o->bcast)
		return 'D';
	return o->dir == IN && (f->flags & IXDP_F_INPASS) ? 'P' : 'D';
}

/* The counter of the filter at position idx of the bank: its slot from
 * ixdp_order, then the shared array (not per CPU) indexed by slot. */
static void read_live_counter(uint32_t bank, long idx, struct ixdp_counter *sum)
{
	__u32 k = bank * IXDP_MAX_FILTERS + (__u32)idx, slot;

	assert_int_equal(bpf_map_lookup_elem(E.dp.order_fd, &k, &slot), 0);
	assert_int_equal(bpf_map_lookup_elem(E.dp.counters_fd, &slot, sum), 0);
}

static void describe(const struct opkt *o, const char *what, long want,
		     char got, char exp)
{
	char src[64], dst[64];

	format_prefix(o->t.fam, o->t.src, o->t.fam == V4 ? 32 : 128, src, sizeof(src));
	format_prefix(o->t.fam, o->t.dst, o->t.fam == V4 ? 32 : 128, dst, sizeof(dst));
	fail_msg("%s: %s %s -> %s proto %u ports %u -> %u frag %d bcast %d: "
		 "filter %ld, verdict %c, expected %c (seed in the output)",
		 what, o->dir == IN ? "in" : "out", src, dst, o->t.proto, o->t.sport,
		 o->t.dport, o->t.frag, o->bcast, want, got, exp);
}

/* A list over the tuple space's limits has only its tree: without it, a
 * new flow is dropped (fail closed), never passed or cached. */
static void expect_fail_closed(void)
{
	struct pkt_spec s = pkt_spec_of(V4, "198.51.100.7", "198.51.100.8",
					IPPROTO_ICMP, 0, 0);
	uint64_t d0 = drops(IXDP_DROP_UNCLASSIFIED);

	tree_enable(false);
	for (int i = 0; i < 2; i++) {
		s.echo_id = (uint16_t)(4242 + i);
		assert_int_equal(send_pkt(IN, &s), 'D');
		assert_int_equal(send_pkt(IN, &s), 'D');  /* not cached */
	}
	assert_int_equal(drops(IXDP_DROP_UNCLASSIFIED), d0 + 4);
	tree_enable(true);
}

static void oracle_round(size_t nfilters, size_t npackets)
{
	struct filter_table t;
	struct tuplespace ts;
	struct ixdp_filter_info *info;
	struct ixdp_counter *ctr, c;
	uint64_t (*want)[2];
	struct ixdp_bank bank;
	uint32_t live;
	size_t n;

	random_table(&t, nfilters);
	{
		enum ixdp_conn_type kind;

		assert_int_equal(dp_iface_kind("lo", &kind), 0);
		oracle_ifmask = ifgroups_of_iface(&t, "lo", kind);
		assert_int_equal(oracle_ifmask, 0x7);
	}
	if (tuplespace_build(&t, &ts, errbuf, sizeof(errbuf)) && !ts.over_limit)
		fail_msg("tuplespace_build: %s", errbuf);
	apply_table(&t);
	assert_int_equal(dp_read_bank(&E.dp, &live, &bank), 0);
	assert_int_equal(bank.tss_off, ts.over_limit);
	want = calloc(t.n + 1, sizeof(*want));
	assert_non_null(want);
	size_t matched = 0, dropped = 0;
	uint64_t tree0 = pkts(IXDP_PKT_TREE_SEARCH), tuple0 = pkts(IXDP_PKT_TUPLE_SEARCH);
	for (size_t i = 0; i < npackets; i++) {
		struct opkt o;
		long idx;
		char exp, got;

		/* The first half through the decision tree, the second through
		 * the tuple space (the tree's fallback) alone, when it holds
		 * the list. */
		if (i == npackets / 2 && !bank.tss_off) {
			assert_true(pkts(IXDP_PKT_TREE_SEARCH) > tree0);
			assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0);
			tree_enable(false);
			tree0 = pkts(IXDP_PKT_TREE_SEARCH);
		}
		random_packet(&t, &o);
		idx = filter_table_match(&t, &o.t);
		matched += idx >= 0;
		if (!bank.tss_off &&
		    tuplespace_lookup(&ts, &o.t) != (idx < 0 ? IXDP_NO_FILTER : (uint32_t)idx))
			describe(&o, "tuplespace_lookup differs", idx, '-', '-');
		exp = expected_verdict(&o, idx < 0 ? NULL : &t.v[idx]);
		got = send_pkt(o.dir, &o.s);
		if (got != exp)
			describe(&o, "wrong verdict", idx, got, exp);
		dropped += got == 'D';
		if (idx < 0 || o.s.proto == IPPROTO_ESP || o.s.proto == IPPROTO_AH)
			continue;
		want[idx][o.dir]++;
		read_live_counter(live, idx, &c);
		if (c.packets[o.dir] != want[idx][o.dir])
			describe(&o, "filter counter not incremented", idx, got, exp);
	}
	if (bank.tss_off) {
		assert_true(pkts(IXDP_PKT_TREE_SEARCH) > tree0);
		assert_int_equal(pkts(IXDP_PKT_TUPLE_SEARCH), tuple0);
		expect_fail_closed();
	} else {
		assert_true(pkts(IXDP_PKT_TUPLE_SEARCH) > tuple0);
		assert_int_equal(pkts(IXDP_PKT_TREE_SEARCH), tree0);
		tree_enable(true);
	}
	printf("oracle: %zu filters, %u+%u tuples, tree of %zu nodes (depth %u, "
	       "longest leaf %u), %zu packets: %zu matched a filter, %zu dropped\n",
	       t.n, ts.ntuples[V4], ts.ntuples[V6], E.dp.stats.tree_nodes,
	       E.dp.stats.tree_depth, E.dp.stats.tree_leaf_longest,
	       npackets, matched, dropped);
	/* No packet was counted against a filter it did not match. */
	assert_int_equal(dp_read_filters(&E.dp, &info, &ctr, &n), 0);
	assert_int_equal(n, t.n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ctr[i].packets[IN], want[i][IN]);
		assert_int_equal(ctr[i].packets[OUT], want[i][OUT]);
		assert_int_equal(info[i].weight, t.v[i].weight);
	}
	/* Many more packets against the userspace walk alone. */
	for (size_t i = 0; i < 20 * npackets && !bank.tss_off; i++) {
		struct opkt o;
		long idx;

		random_packet(&t, &o);
		idx = filter_table_match(&t, &o.t);
		if (tuplespace_lookup(&ts, &o.t) != (idx < 0 ? IXDP_NO_FILTER : (uint32_t)idx))
			describe(&o, "tuplespace_lookup differs", idx, '-', '-');
	}
	free(info);
	free(ctr);
	free(want);
	tuplespace_free(&ts);
	filter_table_free(&t);
}

static void test_oracle_random_tables(void **state)
{
	const char *env = getenv("IXDP_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20261101;
	static const size_t sizes[] = { 300, 800, 50, 500, 1500 };

	printf("oracle seed %llu (IXDP_SEED=%llu to replay)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	rng_state = seed ? seed : 1;
	for (size_t r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++)
		oracle_round(sizes[r], 2500);
}

/* Policies of many shapes (up to 400 per family, over the tuple space's
 * 128): the decision tree alone, against the reference matcher. */
static void test_oracle_many_shapes(void **state)
{
	const char *env = getenv("IXDP_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20261206;
	bool over = false;

	printf("many-shapes oracle seed %llu (IXDP_SEED=%llu to replay)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	rng_state = seed ? seed : 1;
	oracle_max_shapes = 400;
	for (int r = 0; r < 3; r++) {
		struct ixdp_bank b;

		oracle_round(3000, 2500);
		assert_int_equal(dp_read_bank(&E.dp, NULL, &b), 0);
		over |= b.tss_off;
	}
	oracle_max_shapes = 60;
	assert_true(over);      /* the point: lists the tuple space cannot hold */
}

/*
 * Tuples are named by shape in the keys: an exemption's tuple and a rule's
 * tuple of the same prefixes and ports are two tuples.  If they shared a
 * name, probing the heavy exemption tuple (spoofed-self, /32 -> /32) would
 * find the rule's key and skip the IKE exemption weighed between them.
 */
static void test_exemption_and_rule_tuples_apart(void **state)
{
	struct specific_filter f[3] = {
		flt("10.9.9.9/32", "10.9.9.9/32", -1, 0, 0, IXDP_ACT_BLOCK,
		    IXDP_F_EXEMPTION, "spoofed"),
		flt("10.9.0.1/32", "0.0.0.0/0", IPPROTO_UDP, "500", 0,
		    IXDP_ACT_PERMIT, IXDP_F_EXEMPTION, "ike"),
		flt("10.9.0.1/32", "10.9.0.2/32", -1, 0, 0, IXDP_ACT_BLOCK, 0, "rule"),
	};
	struct pkt_spec ike = udp4("10.9.0.1", "10.9.0.2", 500, 500);
	struct pkt_spec other = udp4("10.9.0.1", "10.9.0.2", 501, 500);

	f[0].rule = f[1].rule = -1;
	apply(f, 3);
	assert_int_equal(send_pkt(OUT, &ike), 'P');
	assert_int_equal(counter_of("ike").packets[OUT], 1);
	assert_int_equal(send_pkt(OUT, &other), 'D');
	assert_int_equal(counter_of("rule").packets[OUT], 1);
}

/* ---- incremental applies --------------------------------------------------------- */

static void large_table(struct filter_table *t, size_t n);

/* The keys of one bank, bank byte cleared, sorted (the values kept). */
struct bank_key {
	struct ixdp_fkey k;
	struct ixdp_fval v;
};

static int cmp_bank_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct bank_key));
}

static size_t bank_keys(uint8_t bank, struct bank_key **out)
{
	struct ixdp_fkey k, next;
	const struct ixdp_fkey *prev = NULL;
	size_t n = 0, cap = 1024;

	*out = malloc(cap * sizeof(**out));
	assert_non_null(*out);
	while (!bpf_map_get_next_key(E.dp.filters_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (next.bank != bank)
			continue;
		if (n == cap) {
			cap *= 2;
			*out = realloc(*out, cap * sizeof(**out));
			assert_non_null(*out);
		}
		memset(&(*out)[n], 0, sizeof((*out)[n]));
		assert_int_equal(bpf_map_lookup_elem(E.dp.filters_fd, &next,
						     &(*out)[n].v), 0);
		(*out)[n].k = next;
		(*out)[n].k.bank = 0;
		n++;
	}
	qsort(*out, n, sizeof(**out), cmp_bank_key);
	return n;
}

/* Both banks hold the same list: keys and values, tuples, order, entry. */
static void assert_banks_equal(void)
{
	struct bank_key *a, *b;
	size_t na = bank_keys(0, &a), nb = bank_keys(1, &b);
	struct ixdp_bank ba, bb;
	__u32 k0 = 0, k1 = 1;

	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(*a));
	free(a);
	free(b);
	assert_int_equal(bpf_map_lookup_elem(E.dp.banks_fd, &k0, &ba), 0);
	assert_int_equal(bpf_map_lookup_elem(E.dp.banks_fd, &k1, &bb), 0);
	assert_memory_equal(&ba, &bb, sizeof(ba));
	for (__u32 fam = 0; fam < 2; fam++)
		for (__u32 i = 0; i < ba.ntuples[fam]; i++) {
			struct ixdp_tuple x, y;
			__u32 ix = fam * IXDP_MAX_TUPLES + i;
			__u32 iy = (2 + fam) * IXDP_MAX_TUPLES + i;

			assert_int_equal(bpf_map_lookup_elem(E.dp.tuples_fd, &ix, &x), 0);
			assert_int_equal(bpf_map_lookup_elem(E.dp.tuples_fd, &iy, &y), 0);
			assert_memory_equal(&x, &y, sizeof(x));
		}
	for (__u32 p = 0; p < ba.nfilters; p++) {
		__u32 ix = p, iy = IXDP_MAX_FILTERS + p, sx, sy;

		assert_int_equal(bpf_map_lookup_elem(E.dp.order_fd, &ix, &sx), 0);
		assert_int_equal(bpf_map_lookup_elem(E.dp.order_fd, &iy, &sy), 0);
		assert_int_equal(sx, sy);
	}
}

/* The keys an apply computes from the live list (when both banks hold
 * it) are those the hash holds, bank by bank, in the same order. */
static void assert_keys_of_live_list(void)
{
	struct dp_bank_keys computed[2], read[2];
	struct ixdp_filter_info *info = NULL;
	__u32 *slots = NULL, live;
	struct ixdp_bank b;

	assert_int_equal(dp_read_bank(&E.dp, &live, &b), 0);
	assert_int_equal(dp_read_bank_infos(&E.dp, live, b.nfilters, &info), 0);
	assert_int_equal(dp_read_bank_slots(&E.dp, live, b.nfilters, &slots), 0);
	assert_int_equal(dp_keys_of_list(info, slots, b.nfilters, b.tss_off,
					 computed), 0);
	assert_int_equal(dp_read_all_keys(&E.dp, read), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(computed[k].n, read[k].n);
		assert_memory_equal(computed[k].v, read[k].v,
				    read[k].n * sizeof(*read[k].v));
	}
	dp_bank_keys_free(computed);
	dp_bank_keys_free(read);
	free(info);
	free(slots);
}

static void expect_writes(const char *what, size_t added, size_t deleted,
			  size_t changed, size_t slots)
{
	const struct dp_apply_stats *st = &E.dp.stats;

	printf("%s: keys +%zu -%zu ~%zu, slots %zu, order %zu, tuples %zu, "
	       "port classes %zu\n", what, st->keys_added, st->keys_deleted,
	       st->keys_changed, st->slots_written, st->order_written,
	       st->tuples_written, st->port_class_written);
	assert_true(st->mirrored);
	assert_int_equal(st->keys_added, added);
	assert_int_equal(st->keys_deleted, deleted);
	assert_int_equal(st->keys_changed, changed);
	assert_int_equal(st->slots_written, slots);
}

static void remove_at(struct filter_table *t, size_t i)
{
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

/*
 * One filter added, deleted or changed in a list of 10000 writes only its
 * keys (in both banks), its slot and what its position shifts; the same
 * list again writes nothing.
 */
static void test_incremental_apply_writes_only_the_difference(void **state)
{
	struct filter_table t;
	/* outside large_table()'s 10/8, a shape it has not (dst /32) */
	struct specific_filter f = flt("172.30.0.0/16", "192.0.2.2/32", -1, 0, 0,
				       IXDP_ACT_BLOCK, 0, "edit");
	struct specific_filter r = flt("172.31.0.0/16", "0.0.0.0/0", IPPROTO_UDP,
				       0, "6000-6999", IXDP_ACT_BLOCK, 0, "range");
	struct pkt_spec pf = udp4("172.30.1.1", "192.0.2.2", 1, 2);
	struct pkt_spec pr = udp4("172.31.1.1", "192.0.2.2", 1, 6500);
	size_t k = 5000, ntuples;
	struct ixdp_bank b;

	f.rule = r.rule = 1;
	large_table(&t, 10000);
	apply_table(&t);
	assert_banks_equal();
	apply_table(&t);
	expect_writes("the same list", 0, 0, 0, 0);
	assert_int_equal(E.dp.stats.order_written, 0);
	assert_int_equal(E.dp.stats.tuples_written, 0);
	assert_int_equal(dp_read_bank(&E.dp, NULL, &b), 0);
	ntuples = b.ntuples[V4];

	/* a filter of a new shape: its key in each bank, the tuples from
	 * its own on; no other key changes (keys name tuples by shape) */
	assert_int_equal(send_pkt(IN, &pf), 'P');
	assert_int_equal(filter_table_push(&t, &f), 0);
	assert_int_equal(filter_table_sort(&t), 0);
	apply_table(&t);
	expect_writes("one filter added", 2, 0, 0, 1);
	/* the tree is built again; what it wrote is the entries that moved */
	printf("one filter added to 10000: %zu tree entries written, relaid %d (a tree of "
	       "%zu nodes, %zu leaf entries)\n", E.dp.stats.tree_written, E.dp.stats.tree_relaid,
	       E.dp.stats.tree_nodes, E.dp.stats.tree_entries);
	assert_true(E.dp.stats.tuples_written >= 2 &&	/* both banks */
		    E.dp.stats.tuples_written <= 2 * (ntuples + 1));
	assert_int_equal(E.dp.stats.port_class_written, 0);
	assert_int_equal(send_pkt(IN, &pf), 'D');
	assert_banks_equal();

	/* an unchanged filter's action changed: a new slot, its key's value */
	for (k = 0; k < t.n && strcmp(t.v[k].name, "large"); k++)
		;
	t.v[k + 100].action = IXDP_ACT_BLOCK;
	t.v[k + 100].rule = 2;
	assert_int_equal(filter_table_sort(&t), 0);
	apply_table(&t);
	expect_writes("one action changed", 0, 0, 2, 1);
	printf("one action changed in 10000: %zu tree entries written, relaid %d\n",
	       E.dp.stats.tree_written, E.dp.stats.tree_relaid);
	assert_true(E.dp.stats.tree_relaid);
	assert_true(E.dp.stats.order_written < t.n);
	assert_banks_equal();

	/* a port range: the port classes (whole), its key */
	assert_int_equal(send_pkt(IN, &pr), 'P');
	assert_int_equal(filter_table_push(&t, &r), 0);
	assert_int_equal(filter_table_sort(&t), 0);
	apply_table(&t);
	expect_writes("one range filter added", 2, 0, 0, 1);
	assert_int_equal(E.dp.stats.port_class_written, 2 * 2 * IXDP_PORT_CLASSES);
	assert_int_equal(send_pkt(IN, &pr), 'D');
	assert_banks_equal();

	/* deleted: its keys, no slot written */
	for (k = 0; k < t.n && strcmp(t.v[k].name, "edit"); k++)
		;
	remove_at(&t, k);
	apply_table(&t);
	expect_writes("one filter deleted", 0, 2, 0, 0);
	assert_int_equal(send_pkt(IN, &pf), 'P');
	assert_int_equal(send_pkt(IN, &pr), 'D');
	assert_banks_equal();
	filter_table_free(&t);
}

/* Counters before an apply, to compare after it. */
struct snapshot {
	struct ixdp_filter_info *info;
	struct ixdp_counter *ctr;
	size_t n;
};

static void snapshot_take(struct snapshot *s)
{
	assert_int_equal(dp_read_filters(&E.dp, &s->info, &s->ctr, &s->n), 0);
}

static void snapshot_free(struct snapshot *s)
{
	free(s->info);
	free(s->ctr);
}

/* The index of the one filter of s equal to in, or -1 (none, or several). */
static long unique_match(const struct snapshot *s, const struct ixdp_filter_info *in)
{
	long at = -1;

	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(&s->info[i], in, sizeof(*in))) {
			if (at >= 0)
				return -1;
			at = (long)i;
		}
	return at;
}

/* Every filter unchanged by the apply kept its counter. */
static size_t assert_counters_kept(const struct snapshot *before)
{
	struct snapshot after;
	size_t kept = 0;

	snapshot_take(&after);
	for (size_t i = 0; i < after.n; i++) {
		long j = unique_match(before, &after.info[i]);

		if (j < 0 || unique_match(&after, &after.info[i]) < 0)
			continue;
		assert_memory_equal(&after.ctr[i], &before->ctr[j], sizeof(after.ctr[i]));
		kept += before->ctr[j].packets[IN] + before->ctr[j].packets[OUT] > 0;
	}
	snapshot_free(&after);
	return kept;
}

/* A random edit of t: filters deleted, added (of its shapes or new ones,
 * both families, ranges), actions changed. */
static void random_edit(struct filter_table *t)
{
	uint32_t ndel = rnd_below(4), nadd = rnd_below(5), nchg = rnd_below(4);

	for (uint32_t i = 0; i < ndel && t->n > 1; i++)
		remove_at(t, rnd_below((uint32_t)t->n));
	for (uint32_t i = 0; i < nadd; i++) {
		uint8_t fam = rnd_below(3) ? V4 : V6;
		struct specific_filter f;

		if (rnd_below(3) == 0 && nshapes[fam] < 100)
			random_shape(fam, &shapes[fam][nshapes[fam]++]);
		f = random_filter(&shapes[fam][rnd_below(nshapes[fam])]);
		f.ifgroup = rnd_below(2) ? 0 : (uint8_t)(1 + rnd_below(4));
		assert_int_equal(filter_table_push(t, &f), 0);
	}
	for (uint32_t i = 0; i < nchg && t->n; i++) {
		struct specific_filter *f = &t->v[rnd_below((uint32_t)t->n)];

		f->action = (uint8_t)((f->action + 1 + rnd_below(2)) % 3);
		f->flags &= (uint8_t)~IXDP_F_INPASS;
	}
	assert_int_equal(filter_table_sort(t), 0);
}

/* One probe against the reference matcher on the live list: the verdict
 * and the filter (its counter moves, by slot through ixdp_order). */
static void probe_one(const struct filter_table *t, const struct opkt *o,
		      uint32_t live, uint64_t (*want)[2])
{
	struct ixdp_counter c;
	long idx = filter_table_match(t, &o->t);
	char exp = expected_verdict(o, idx < 0 ? NULL : &t->v[idx]);
	char got = send_pkt(o->dir, &o->s);

	if (got != exp)
		describe(o, "incremental: wrong verdict", idx, got, exp);
	if (idx < 0 || o->s.proto == IPPROTO_ESP || o->s.proto == IPPROTO_AH)
		return;
	want[idx][o->dir]++;
	read_live_counter(live, idx, &c);
	if (c.packets[o->dir] != want[idx][o->dir])
		describe(o, "incremental: not the filter's counter", idx, got, exp);
}

/* The probes of the last round, sent again after the next edit: their
 * cached answers were computed from the list before it. */
#define NPROBES 400
static struct opkt probes[NPROBES];
static size_t nprobes;
static uint64_t replay_hits;    /* cache hits of the probes sent again */

/* Each probe twice (the second from the flow cache unless a fragment),
 * after the last round's probes again, against t, the live list; the new
 * probes aim at aim's filters.  Returns the cache hits. */
static uint64_t probe_round(const struct filter_table *t,
			    const struct filter_table *aim, size_t npackets)
{
	struct ixdp_counter c;
	uint64_t (*want)[2] = calloc(t->n + 1, sizeof(*want));
	uint64_t hits = pkts(IXDP_PKT_CACHE_HIT);
	uint32_t live;

	assert_non_null(want);
	assert_int_equal(dp_read_bank(&E.dp, &live, NULL), 0);
	for (size_t i = 0; i < t->n; i++) {
		read_live_counter(live, (long)i, &c);
		want[i][IN] = c.packets[IN];
		want[i][OUT] = c.packets[OUT];
	}
	for (size_t i = 0; i < nprobes; i++)
		probe_one(t, &probes[i], live, want);
	replay_hits += pkts(IXDP_PKT_CACHE_HIT) - hits;
	nprobes = 0;
	for (size_t i = 0; i < npackets; i++) {
		struct opkt o;

		random_packet(aim, &o);
		probe_one(t, &o, live, want);
		probe_one(t, &o, live, want);
		if (nprobes < NPROBES)
			probes[nprobes++] = o;
	}
	free(want);
	return pkts(IXDP_PKT_CACHE_HIT) - hits;
}

static bool table_has(const struct filter_table *t, const struct specific_filter *f)
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(&t->v[i], f, sizeof(*f)))
			return true;
	return false;
}

/* The filters of a that b lacks, pushed into out. */
static void push_missing(const struct filter_table *a, const struct filter_table *b,
			 struct filter_table *out)
{
	for (size_t i = 0; i < a->n; i++)
		if (!table_has(b, &a->v[i]))
			assert_int_equal(filter_table_push(out, &a->v[i]), 0);
}

static void copy_table(struct filter_table *dst, const struct filter_table *src)
{
	*dst = *src;
	dst->v = malloc((src->cap ? src->cap : 1) * sizeof(*dst->v));
	assert_non_null(dst->v);
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
}

/* One edit: probes aimed at the filters it adds, deletes or changes are
 * cached under the live list's answers first, then sent again after the
 * apply (probe_round() sends the last round's probes first). */
static void edit_and_probe(struct filter_table *t)
{
	struct filter_table prev, aim = {0};
	uint64_t kept = replay_hits;    /* these count only across an apply */

	copy_table(&prev, t);
	random_edit(t);
	push_missing(t, &prev, &aim);
	push_missing(&prev, t, &aim);
	probe_round(&prev, aim.n ? &aim : &prev, NPROBES / 2);
	replay_hits = kept;
	filter_table_free(&aim);
	filter_table_free(&prev);
}

/* memo: the applies keep a memo (dataplane.h, as ipsec-xdpd does) and
 * every one after the first takes the live list and keys from it; the
 * same checks hold. */
static void incremental_edits(bool memo)
{
	const char *env = getenv("IXDP_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20261206;
	struct filter_table t;
	size_t kept = 0, keys = 0, bumped = 0, chosen = 0, guided = 0;
	uint64_t hits = 0;

	printf("incremental oracle seed %llu (IXDP_SEED=%llu to replay)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	random_table(&t, 600);
	{
		enum ixdp_conn_type kind;

		assert_int_equal(dp_iface_kind("lo", &kind), 0);
		oracle_ifmask = ifgroups_of_iface(&t, "lo", kind);
	}
	stay_on_this_cpu();
	nprobes = 0;
	replay_hits = 0;
	E.dp.memo = memo ? dp_memo_new() : NULL;
	apply_table(&t);
	assert_true(probe_round(&t, &t, 1500) > 0);
	for (int round = 0; round < 25; round++) {
		struct snapshot before;

		edit_and_probe(&t);
		snapshot_take(&before);
		/* as `policy apply` does: the tree in force guides the new one */
		assert_int_equal(dp_guide_tree(&E.dp), 0);
		apply_table(&t);
		assert_int_equal(E.dp.stats.from_memo, memo);
		chosen += E.dp.stats.tree_cuts_chosen;
		guided += E.dp.stats.tree_cuts_guided;
		assert_true(E.dp.stats.mirrored);
		keys += E.dp.stats.keys_added + E.dp.stats.keys_deleted +
			E.dp.stats.keys_changed;
		kept += assert_counters_kept(&before);
		snapshot_free(&before);
		assert_banks_equal();
		assert_keys_of_live_list();
		assert_false(E.dp.stats.cache_emptied);
		bumped += E.dp.stats.cache_bumped;
		hits += probe_round(&t, &t, NPROBES);
	}
	printf("incremental oracle: 25 edits, %zu filters at the end, %zu keys "
	       "written in all, %zu counted filters kept their counters, "
	       "%zu cached slots invalidated, %llu cache hits (%llu of flows "
	       "cached before an edit)\n", t.n, keys, kept, bumped,
	       (unsigned long long)hits, (unsigned long long)replay_hits);
	printf("incremental oracle: the trees' builds took %zu cuts from the "
	       "tree in force and scored %zu\n", guided, chosen);
	/* edits of up to ten filters of some 600: most cuts are kept */
	assert_true(guided > 2 * chosen);
	assert_true(kept > 0);
	assert_true(hits > 0);
	assert_true(replay_hits > 0);
	ctree_guide(NULL, 0, 0);
	dp_memo_free(E.dp.memo);
	E.dp.memo = NULL;
	filter_table_free(&t);
}

static void test_oracle_incremental_edits(void **state)
{
	incremental_edits(false);
}

static void test_oracle_incremental_edits_from_memo(void **state)
{
	incremental_edits(true);
}

static void change_one_action(struct filter_table *t);

/* A memo stands only while no one else applied: after an apply without it
 * (as another process's), or one that left a bank half written, the next
 * apply reads the live list and keys back. */
static void test_memo_only_for_its_own_list(void **state)
{
	struct dp_memo *m = dp_memo_new();
	struct ixdp_bank zero = {0};
	struct filter_table t;
	__u32 live, other;

	rng_state = 20261208;
	random_table(&t, 300);
	E.dp.memo = m;
	apply_table(&t);
	change_one_action(&t);
	apply_table(&t);
	assert_true(E.dp.stats.from_memo);
	/* another writer's apply */
	E.dp.memo = NULL;
	change_one_action(&t);
	apply_table(&t);
	E.dp.memo = m;
	change_one_action(&t);
	apply_table(&t);
	assert_false(E.dp.stats.from_memo);
	assert_banks_equal();
	change_one_action(&t);
	apply_table(&t);
	assert_true(E.dp.stats.from_memo);
	/* the old bank left half written */
	assert_int_equal(dp_read_bank(&E.dp, &live, NULL), 0);
	other = live ^ 1;
	assert_int_equal(bpf_map_update_elem(E.dp.banks_fd, &other, &zero, BPF_ANY), 0);
	change_one_action(&t);
	apply_table(&t);
	assert_false(E.dp.stats.from_memo);
	assert_banks_equal();
	assert_keys_of_live_list();
	/* another writer's apply, then the memo made from the maps */
	E.dp.memo = NULL;
	change_one_action(&t);
	apply_table(&t);
	E.dp.memo = m;
	assert_int_equal(dp_memo_refresh(&E.dp), 0);
	change_one_action(&t);
	apply_table(&t);
	assert_true(E.dp.stats.from_memo);
	assert_banks_equal();
	assert_keys_of_live_list();
	E.dp.memo = NULL;
	dp_memo_free(m);
	filter_table_free(&t);
}

/* One filter's action changed, the table sorted again. */
static void change_one_action(struct filter_table *t)
{
	struct specific_filter *f = &t->v[t->n / 2];

	f->action = f->action == IXDP_ACT_PERMIT ? IXDP_ACT_BLOCK : IXDP_ACT_PERMIT;
	assert_int_equal(filter_table_sort(t), 0);
}

/* dp_guide_tree() takes the live bank's tree only when it is the live
 * list's (its mark names the bank's generation), and the apply keeps the
 * line's origin with the tree it writes. */
static void test_guide_only_from_the_live_tree(void **state)
{
	struct filter_table t;
	uint32_t live, origin = 0;

	rng_state = 20261207;
	random_table(&t, 400);
	apply_table(&t);
	change_one_action(&t);
	assert_int_equal(dp_guide_tree(&E.dp), 0);
	apply_table(&t);
	assert_true(E.dp.stats.tree_cuts_guided > 0);
	assert_int_equal(dp_read_bank(&E.dp, &live, NULL), 0);
	assert_int_equal(dp_read_u32(E.dp.state_fd, IXDP_STATE_TREE_ORIGIN0 + live,
				     &origin), 0);
	assert_true(origin >= 2);
	/* the live bank's tree unmarked: it guides nothing */
	tree_enable(false);
	change_one_action(&t);
	assert_int_equal(dp_guide_tree(&E.dp), 0);
	apply_table(&t);
	assert_int_equal(E.dp.stats.tree_cuts_guided, 0);
	assert_true(E.dp.stats.tree_cuts_chosen > 0);
	filter_table_free(&t);
}

/* A bank an apply left half written (its ixdp_banks entry zero: a write
 * failed) may hold keys of no list: the next apply reads that bank's keys
 * back from the hash and deletes them, rather than taking the live list's
 * keys for what the bank holds. */
static void test_half_written_bank_read_back(void **state)
{
	struct ixdp_bank zero = {0};
	struct ixdp_fval v = { .slot = 0, .action = IXDP_ACT_BLOCK };
	struct ixdp_fkey stray = { .fam = V4, .shape = 0x7fff };
	struct filter_table t;
	__u32 live, inactive;

	(void)state;
	large_table(&t, 1000);
	apply_table(&t);
	apply_table(&t);
	expect_writes("the same list", 0, 0, 0, 0);
	assert_int_equal(dp_read_bank(&E.dp, &live, NULL), 0);
	inactive = live ^ 1;
	stray.bank = (__u8)inactive;
	stray.src[0] = htonl(0xc6336401);
	assert_int_equal(bpf_map_update_elem(E.dp.filters_fd, &stray, &v, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_elem(E.dp.banks_fd, &inactive, &zero, BPF_ANY), 0);
	apply_table(&t);
	expect_writes("the same list over a half-written bank", 0, 1, 0, 0);
	assert_int_equal(bpf_map_lookup_elem(E.dp.filters_fd, &stray, &v), -ENOENT);
	/* both banks hold the live list's keys again (their port classes'
	 * signatures may differ: the rewritten bank's is "unknown") */
	assert_keys_of_live_list();
	filter_table_free(&t);
}

/* ---- cost per packet ------------------------------------------------------------ */

static __u32 cost_of(int prog_fd, const struct pkt_spec *s, int expect)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	__u32 ns = 0;

	assert_int_equal(dp_env_run(prog_fd, buf, len, 200000, &ns), expect);
	return ns;
}

/* A large table: many filters in 60 port-less shapes and a few with ports. */
static void large_table(struct filter_table *t, size_t n)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		struct specific_filter f;

		memset(&f, 0, sizeof(f));
		f.fam = V4;
		f.src_plen = (uint8_t)(12 + i % 20);
		f.dst_plen = (uint8_t)(i % 3 * 8);
		put16(f.src, (uint16_t)(0x0a00 + (i * 7919 % 251)));
		f.src[2] = (uint8_t)(i >> 8);
		f.src[3] = (uint8_t)i;
		for (unsigned b = f.src_plen; b < 32; b++)
			f.src[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		f.dst[0] = 192;
		for (unsigned b = f.dst_plen; b < 32; b++)
			f.dst[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		f.proto_exact = i % 10 == 0;
		f.proto = IPPROTO_TCP;
		if (i % 10 == 0)
			f.dport.lo = f.dport.hi = (uint16_t)(1 + i % 1000);
		f.action = IXDP_ACT_PERMIT;
		f.name = "large";
		assert_int_equal(filter_table_push(t, &f), 0);
	}
	assert_int_equal(filter_table_sort(t), 0);
}

static double apply_ms(const struct filter_table *t)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	apply_table(t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void test_cost_per_packet(void **state)
{
	struct specific_filter f[4];
	struct filter_table t;
	struct pkt_spec hit = tcp4("10.1.0.5", "192.0.2.2", 40000, 80);
	struct pkt_spec frag = udp4("172.16.0.1", "192.0.2.2", 0, 0);
	struct ixdp_bank b;
	__u32 boot, s_hit, s_walk, l_hit, l_walk, l_tc;

	frag.frag_off = 100;
	boot = cost_of(E.xdp_fd, &hit, XDP_PASS);
	action_filters(f);
	apply(f, 4);
	s_hit = cost_of(E.xdp_fd, &hit, XDP_PASS);
	/* A non-first fragment skips the cache: the cost of the walk over
	 * every port-less tuple of its family. */
	s_walk = cost_of(E.xdp_fd, &frag, XDP_PASS);
	large_table(&t, 50000);
	double ms_new = apply_ms(&t);
	double ms_same = apply_ms(&t);          /* every counter carried over */
	filter_table_free(&t);
	assert_int_equal(dp_read_bank(&E.dp, NULL, &b), 0);
	l_hit = cost_of(E.xdp_fd, &hit, XDP_PASS);
	l_walk = cost_of(E.xdp_fd, &frag, XDP_PASS);
	l_tc = cost_of(E.tc_fd, &hit, TC_ACT_OK);
	printf("cost ns/packet (test_run, floor ~29): boot permit %u; "
	       "4 filters/%u tuples: cache hit %u, walk %u; "
	       "%u filters/%u tuples: cache hit %u, walk %u, tc cache hit %u; "
	       "apply %.0f ms (again: %.0f ms)\n",
	       boot, 3u, s_hit, s_walk, b.nfilters, b.ntuples[V4], l_hit, l_walk, l_tc,
	       ms_new, ms_same);
	fflush(stdout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_non_ip_always_passes, reset),
		cmocka_unit_test_setup(test_boot_permit, reset),
		cmocka_unit_test_setup(test_boot_block, reset),
		cmocka_unit_test_setup(test_boot_exemption_any_protocol_fragments, reset),
		cmocka_unit_test_setup(test_boot_stateful, reset),
		cmocka_unit_test_setup(test_boot_stateful_icmp_ipv6_fragments, reset),
		cmocka_unit_test_setup(test_boot_stateful_idle_timeout, reset),
		cmocka_unit_test_setup(test_boot_stateful_flood_keeps_live_connections, reset),
		cmocka_unit_test_setup(test_boot_stateful_sweeper_deletes_idle_entry, reset),
		cmocka_unit_test_setup(test_policy_actions, reset),
		cmocka_unit_test_setup(test_broken_tree_falls_back_to_tuples, reset),
		cmocka_unit_test_setup(test_interface_groups, reset),
		cmocka_unit_test_setup(test_negotiate_broadcast_multicast_dropped, reset),
		cmocka_unit_test_setup(test_esp_ah_pass, reset),
		cmocka_unit_test_setup(test_ike_exemption, reset),
		cmocka_unit_test_setup(test_ipv6_extension_headers, reset),
		cmocka_unit_test_setup(test_ipv6_neighbour_discovery_always_passes, reset),
		cmocka_unit_test_setup(test_port_ranges, reset),
		cmocka_unit_test_setup(test_ip_options_and_vlan, reset),
		cmocka_unit_test_setup(test_ipv4_fragments, reset),
		cmocka_unit_test_setup(test_malformed, reset),
		cmocka_unit_test_setup(test_counters, reset),
		cmocka_unit_test_setup(test_atomic_swap, reset),
		cmocka_unit_test_setup(test_flow_cache_invalidated_by_apply, reset),
		cmocka_unit_test_setup(test_flow_cache_kept_across_incremental_apply, reset),
		cmocka_unit_test_setup(test_apply_rejects_and_keeps_live, reset),
		cmocka_unit_test_setup(test_table_is_live, reset),
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test(test_info_name_truncated),
		cmocka_unit_test_setup(test_array_mapped_io, reset),
		cmocka_unit_test_setup(test_pairs_mapped_io, reset),
		cmocka_unit_test_setup(test_oracle_random_tables, reset),
		cmocka_unit_test_setup(test_oracle_many_shapes, reset),
		cmocka_unit_test_setup(test_exemption_and_rule_tuples_apart, reset),
		cmocka_unit_test_setup(test_oracle_incremental_edits, reset),
		cmocka_unit_test_setup(test_oracle_incremental_edits_from_memo, reset),
		cmocka_unit_test_setup(test_memo_only_for_its_own_list, reset),
		cmocka_unit_test_setup(test_guide_only_from_the_live_tree, reset),
		cmocka_unit_test_setup(test_incremental_apply_writes_only_the_difference, reset),
		cmocka_unit_test_setup(test_half_written_bank_read_back, reset),
		cmocka_unit_test_setup(test_cost_per_packet, reset),
	};
	int rc;

	if (geteuid() != 0) {
		printf("needs root (bpffs mount, BPF programs)\n");
		return 77;
	}
	if (dp_env_up(&E))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dp_env_down(&E);
	return rc;
}
