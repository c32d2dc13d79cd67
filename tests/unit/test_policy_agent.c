// SPDX-License-Identifier: GPL-2.0-only
/* Boot exemptions pass their replies too (policy_agent.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/agent.h"

static void test_inbound_exemption_adds_outbound_reply(void **state)
{
	struct ixdp_boot_exempt in[] = { { .proto = 6, .dirs = IXDP_EXEMPT_IN, .dport = 22 } };
	struct ixdp_boot_exempt out[4];

	(void)state;
	assert_int_equal(bootexempt_mirror(in, 1, out, 4), 2);
	assert_int_equal(out[0].dport, 22);
	assert_int_equal(out[1].proto, 6);
	assert_int_equal(out[1].dirs, IXDP_EXEMPT_OUT);
	assert_int_equal(out[1].sport, 22);
	assert_int_equal(out[1].dport, 0);
}

static void test_symmetric_exemption_is_not_doubled(void **state)
{
	/* ICMP both ways, any ports: its mirror is itself */
	struct ixdp_boot_exempt in[] = { { .proto = 1, .dirs = IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT } };
	struct ixdp_boot_exempt out[4];

	(void)state;
	assert_int_equal(bootexempt_mirror(in, 1, out, 4), 1);
}

static void test_too_many_with_mirrors_is_refused(void **state)
{
	struct ixdp_boot_exempt in[3], out[4];

	(void)state;
	for (int i = 0; i < 3; i++)
		in[i] = (struct ixdp_boot_exempt){ .proto = 17, .dirs = IXDP_EXEMPT_IN,
						   .dport = (uint16_t)(100 + i) };
	assert_int_equal(bootexempt_mirror(in, 3, out, 4), -1);
	assert_int_equal(bootexempt_mirror(in, 2, out, 4), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbound_exemption_adds_outbound_reply),
		cmocka_unit_test(test_symmetric_exemption_is_not_doubled),
		cmocka_unit_test(test_too_many_with_mirrors_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
