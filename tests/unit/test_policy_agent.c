// SPDX-License-Identifier: GPL-2.0-only
/* Boot exemptions pass their replies too; a policy document in memory
 * compiles as its file would, its errors naming it (agent.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
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

static const char doc[] =
	"filter-lists:\n"
	"  b: { filters: [ { src: 10.9.0.1, dst: 10.9.0.2 } ] }\n"
	"policies:\n"
	"  p:\n"
	"    polling-interval: 5\n"
	"    rules:\n"
	"      - { name: r, filter-list: b, action: block }\n";

/* What ipsec-xdpd's policy agent compiles: the stored file's bytes. */
static void test_compile_buffer(void **state)
{
	struct bootconf conf = { .ipsecexempt = 3 };
	struct policy_file *pf = NULL;
	struct filter_table t = { 0 };
	struct compile_diag diag = { 0 };
	char err[8192];
	size_t rule_filters = 0;

	(void)state;
	assert_int_equal(agent_compile_buffer("/etc/x/policy.yaml", doc, strlen(doc),
					      &conf, &pf, &t, &diag, err,
					      sizeof(err)), 0);
	assert_non_null(pf);
	assert_int_equal(pf->assigned->polling_interval_s, 5);
	/* polling-interval acts now: no warning about it */
	for (size_t i = 0; i < diag.nwarnings; i++)
		assert_null(strstr(diag.warnings[i], "polling-interval"));
	for (size_t i = 0; i < t.n; i++)
		rule_filters += t.v[i].rule == 0;
	assert_int_equal(rule_filters, 2);	/* the filter and its mirror */
	filter_table_free(&t);
	compile_diag_free(&diag);
	policy_file_free(pf);
}

/* An invalid document: file:line:col under the name given, nothing out. */
static void test_compile_buffer_error(void **state)
{
	static const char bad[] =
		"policies:\n"
		"  broken:\n"
		"    rules:\n"
		"      - { name: x, filter-list: nowhere, action: block }\n";
	struct bootconf conf = { .ipsecexempt = 3 };
	struct policy_file *pf = NULL;
	struct filter_table t = { 0 };
	struct compile_diag diag = { 0 };
	char err[8192];

	(void)state;
	assert_int_equal(agent_compile_buffer("/etc/x/policy.yaml", bad, strlen(bad),
					      &conf, &pf, &t, &diag, err,
					      sizeof(err)), -1);
	assert_null(pf);
	assert_int_equal(t.n, 0);
	assert_non_null(strstr(err, "/etc/x/policy.yaml:4:"));
	assert_non_null(strstr(err, "nowhere"));
	compile_diag_free(&diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbound_exemption_adds_outbound_reply),
		cmocka_unit_test(test_symmetric_exemption_is_not_doubled),
		cmocka_unit_test(test_too_many_with_mirrors_is_refused),
		cmocka_unit_test(test_compile_buffer),
		cmocka_unit_test(test_compile_buffer_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
