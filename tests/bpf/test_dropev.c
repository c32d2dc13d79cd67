// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_dropev.c - the drop events of `ipsec-xdp monitor` under
 * bpf_prog_test_run_opts(): what one event says (reason, filter, bank
 * generation, the packet), and the per-CPU token bucket: a burst of drops
 * gives at most IXDP_DROP_EV_BURST events plus one per
 * IXDP_DROP_EV_INTERVAL_NS that passed, and every drop is either described
 * or counted as suppressed.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "compile/compiler.h"
#include "dataplane/dataplane_dropev.h"
#include "dp_env.h"

static struct dp_env E;
static struct dp_dropev R;
static char errbuf[512];
static struct ixdp_drop_event evs[4096];
static size_t nevs;

static int on_event(void *ctx, const struct ixdp_drop_event *ev)
{
	if (nevs < sizeof(evs) / sizeof(evs[0]))
		evs[nevs] = *ev;
	nevs++;
	return 0;
}

static size_t drain(void)
{
	nevs = 0;
	assert_true(dp_dropev_process(&R) >= 0);
	return nevs;
}

/* Block UDP from 192.0.2.0/24 to port 9999, nothing else. */
static void apply_block(void)
{
	struct specific_filter f;
	struct filter_table t = {0};

	memset(&f, 0, sizeof(f));
	f.fam = IXDP_FAM_V4;
	inet_pton(AF_INET, "192.0.2.0", f.src);
	f.src_plen = 24;
	f.proto_exact = 1;
	f.proto = IPPROTO_UDP;
	f.dport.lo = f.dport.hi = 9999;
	f.action = IXDP_ACT_BLOCK;
	f.rule = 0;
	f.name = "no-udp9";
	assert_int_equal(filter_table_push(&t, &f), 0);
	assert_int_equal(filter_table_sort(&t), 0);
	if (dp_apply_table(&E.dp, &t, true, errbuf, sizeof(errbuf)))
		fail_msg("dp_apply_table: %s", errbuf);
	filter_table_free(&t);
}

static int setup(void **state)
{
	cpu_set_t one;

	/* One CPU for every run: the rate limit and its counts are per CPU. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		perror("sched_setaffinity");
	if (dp_env_up(&E))
		return -1;
	if (dp_dropev_open(&R, E.dir, on_event, NULL, errbuf, sizeof(errbuf))) {
		fprintf(stderr, "%s\n", errbuf);
		return -1;
	}
	apply_block();
	return 0;
}

static int teardown(void **state)
{
	dp_dropev_close(&R);
	dp_env_down(&E);
	return 0;
}

static int run_in(const struct pkt_spec *s, int repeat)
{
	uint8_t buf[PKT_MAX];
	size_t len = pkt_build(s, buf);

	return dp_env_run(E.xdp_fd, buf, len, repeat, NULL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_event_contents(void **state)
{
	struct pkt_spec blocked = pkt_spec_of(IXDP_FAM_V4, "192.0.2.7", "10.0.0.1",
					      IPPROTO_UDP, 5353, 9999);
	struct pkt_spec other = pkt_spec_of(IXDP_FAM_V4, "192.0.2.7", "10.0.0.1",
					    IPPROTO_UDP, 5353, 53);
	struct ixdp_filter_info info;
	struct ixdp_bank b;
	uint32_t bank, idx, slot;

	drain();
	assert_int_equal(dp_env_send(&E, IXDP_DIR_IN, &other), 'P');
	assert_int_equal(drain(), 0);           /* passed: no event */
	assert_int_equal(run_in(&blocked, 1), XDP_DROP);
	assert_int_equal(drain(), 1);
	assert_int_equal(dp_read_bank(&E.dp, &bank, &b), 0);
	assert_int_equal(evs[0].reason, IXDP_DROP_BLOCK_FILTER);
	assert_int_equal(evs[0].dir, IXDP_DIR_IN);
	assert_int_equal(evs[0].fam, IXDP_FAM_V4);
	assert_int_equal(evs[0].proto, IPPROTO_UDP);
	assert_int_equal(evs[0].sport, 5353);
	assert_int_equal(evs[0].dport, 9999);
	assert_memory_equal(evs[0].src, blocked.src, 4);
	assert_memory_equal(evs[0].dst, blocked.dst, 4);
	assert_int_equal(evs[0].bank, bank);
	assert_int_equal(evs[0].generation, b.generation);
	assert_int_equal(evs[0].suppressed, 0);
	assert_true(evs[0].ts_ns > 0 && evs[0].ts_ns <= mono_ns());
	/* the filter it names is the block filter of the rule */
	idx = bank * IXDP_MAX_FILTERS + evs[0].filter;	/* the position */
	assert_int_equal(bpf_map_lookup_elem(E.dp.order_fd, &idx, &slot), 0);
	assert_int_equal(slot, evs[0].slot);
	assert_int_equal(bpf_map_lookup_elem(E.dp.info_fd, &slot, &info), 0);
	assert_string_equal(info.name, "no-udp9");
	assert_int_equal(info.action, IXDP_ACT_BLOCK);
}

static void test_rate_limit(void **state)
{
	struct pkt_spec blocked = pkt_spec_of(IXDP_FAM_V4, "192.0.2.8", "10.0.0.1",
					      IPPROTO_UDP, 1000, 9999);
	struct dp_dropev_totals t0, t1;
	const int n = 2000;
	uint64_t start, elapsed, bound, suppressed_in_events = 0;
	size_t got;

	drain();
	assert_int_equal(dp_dropev_totals(&R, &t0), 0);
	start = mono_ns();
	assert_int_equal(run_in(&blocked, n), XDP_DROP);   /* one CPU */
	elapsed = mono_ns() - start;
	got = drain();
	assert_int_equal(dp_dropev_totals(&R, &t1), 0);
	/* The bucket may have been partly used by the test before: at most
	 * a full burst plus what refilled while the runs went on. */
	bound = IXDP_DROP_EV_BURST + elapsed / IXDP_DROP_EV_INTERVAL_NS + 1;
	assert_true(got >= 1);
	assert_true(got <= bound);
	assert_int_equal(t1.events - t0.events, got);
	assert_int_equal(t1.lost, t0.lost);
	/* every drop described or suppressed */
	assert_int_equal(got + (t1.suppressed - t0.suppressed), n);
	/* the events carry the suppressed counts: all but those after the
	 * last event, which the next event will carry */
	for (size_t i = 0; i < got; i++)
		suppressed_in_events += evs[i].suppressed;
	assert_true(suppressed_in_events <= t1.suppressed - t0.suppressed);
	/* Past the refill time: one more event, carrying the count of the
	 * drops suppressed since the last one. */
	usleep(2 * IXDP_DROP_EV_INTERVAL_NS / 1000);
	assert_int_equal(run_in(&blocked, 1), XDP_DROP);
	assert_int_equal(drain(), 1);
	assert_int_equal(suppressed_in_events + evs[0].suppressed,
			 t1.suppressed - t0.suppressed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_contents),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
