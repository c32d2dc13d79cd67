// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_memory.c - what the dataplane keeps on every CPU stays within
 * IXDP_PERCPU_BUDGET (1 MiB, issue 11): from the maps' definitions in the
 * BPF object, and from the maps the kernel really created (bpf_map_info of
 * the pinned maps), which must agree.  Also that the per-filter counters,
 * the largest map indexed by filter, are not per CPU: they would cost
 * 4 MiB on every CPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* dp_env.h has helpers this test does not use */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "dp_env.h"

/* The cost of the maps as the object defines them (not loaded). */
static void definitions(struct dp_memory *m)
{
	struct ipsec_xdp_bpf *skel = ipsec_xdp_bpf__open();
	struct bpf_map *map;

	assert_non_null(skel);
	memset(m, 0, sizeof(*m));
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;	/* .rodata/.bss: not pinned, a few bytes */
		dp_map_cost(bpf_map__type(map), bpf_map__key_size(map),
			    bpf_map__value_size(map), bpf_map__max_entries(map), m);
		m->maps++;
	}
	ipsec_xdp_bpf__destroy(skel);
}

static void test_percpu_budget_from_definitions(void **state)
{
	struct dp_memory m;

	(void)state;
	definitions(&m);
	assert_true(m.maps > 10);
	assert_true(m.bytes_per_cpu > 0);	/* the flow cache at least */
	assert_true(m.bytes_per_cpu <= IXDP_PERCPU_BUDGET);
}

static void test_counters_and_cache_sizes(void **state)
{
	struct ipsec_xdp_bpf *skel = ipsec_xdp_bpf__open();

	(void)state;
	assert_non_null(skel);
	assert_false(dp_map_type_percpu(bpf_map__type(skel->maps.ixdp_counters)));
	assert_int_equal(bpf_map__max_entries(skel->maps.ixdp_counters),
			 IXDP_MAX_SLOTS);
	/* the slot hash masks with IXDP_FLOW_CACHE_SIZE - 1 */
	assert_int_equal(bpf_map__max_entries(skel->maps.ixdp_flow_cache),
			 IXDP_FLOW_CACHE_SIZE);
	assert_int_equal(IXDP_FLOW_CACHE_SIZE & (IXDP_FLOW_CACHE_SIZE - 1), 0);
	ipsec_xdp_bpf__destroy(skel);
}

static void test_loaded_maps_agree(void **state)
{
	struct dp_env e;
	struct dp_memory def, live;

	(void)state;
	definitions(&def);
	assert_int_equal(dp_env_up(&e), 0);
	assert_int_equal(dp_memory(e.dir, &live), 0);
	dp_env_down(&e);
	assert_int_equal(live.maps, def.maps);
	assert_true(live.bytes_per_cpu == def.bytes_per_cpu);
	assert_true(live.bytes_shared == def.bytes_shared);
	assert_true(live.bytes_per_cpu <= IXDP_PERCPU_BUDGET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percpu_budget_from_definitions),
		cmocka_unit_test(test_counters_and_cache_sizes),
		cmocka_unit_test(test_loaded_maps_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
