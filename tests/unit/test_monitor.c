// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_monitor.c - the monitor view (ike/kernel/kernel_monitor.c) and the control
 * socket's `stats` and `show-sa` replies (ike/daemon/daemon_control.c).
 *
 * A snapshot of kernel SAs made here (the host kernel has no ESP) is
 * summed per protocol, direction and mode, and joined to the CHILD SAs
 * two daemons negotiated (the kernel calls recorded, as in
 * test_ike_child.c): bytes, packets, lifetimes and time left per
 * direction.  Then a control socket is opened on one daemon and asked,
 * as `ipsec-xdp` asks, for `stats` and `show-sa`.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <cmocka.h>

#include "sa/sa_child.h"
#include "daemon/daemon.h"
#include "daemon/daemon_show.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "ixdp_control.h"
#include "kernel/kernel.h"
#include "kernel/kernel_monitor.h"
#include "wire/wire_secrets.h"
#include "testutil.h"

#include "ike_testbed.h"

/* ---- a kernel that accepts everything ---------------------------------------------- */

static uint32_t next_spi;

static int k_spi_alloc(void *ctx, const struct ikk_addr *src,
		       const struct ikk_addr *dst, uint8_t proto, uint8_t mode,
		       uint32_t reqid, uint32_t *spi)
{
	*spi = next_spi++;
	return 0;
}

static int k_sa_add(void *ctx, const struct ikk_sa *sa, bool update) { return 0; }
static int k_sa_delete(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		       uint8_t proto) { return 0; }
static int k_policy_add(void *ctx, struct ikk_policy *pol, bool update) { return 0; }
static int k_policy_delete(void *ctx, const struct ikk_policy *pol) { return 0; }
static const char *k_error(void *ctx) { return "no error"; }
static int k_counters(void *ctx, const struct ikk_addr *dst, uint32_t spi,
		      uint8_t proto, struct ikk_sa_counters *out)
{
	memset(out, 0, sizeof(*out));
	return 0;
}

static const struct child_kops ok_ops = {
	.spi_alloc = k_spi_alloc, .sa_add = k_sa_add, .sa_delete = k_sa_delete,
	.policy_add = k_policy_add, .policy_delete = k_policy_delete,
	.error = k_error, .counters = k_counters,
};

/* ---- set-up ------------------------------------------------------------------------ */

#define POLICY(NAME, DST)                                                       \
	"filter-lists:\n"                                                       \
	"  l: { filters: [ { src: me, dst: " DST " } ] }\n"                     \
	"filter-actions:\n"                                                     \
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16, "        \
	"lifetime: 3600, lifetime-kb: 100000 } ] }\n"               \
	"policies:\n"                                                           \
	"  " NAME ":\n"                                                         \
	"    rules:\n"                                                          \
	"      - { name: r-" NAME ", filter-list: l, action: secure, "          \
	"authentication: [ { psk: lab } ] }\n"

static void side_init(struct side *s, const char *a4, const char *policy)
{
	static const char key[] = "lab = \"correct horse battery staple\"\n";
	char err[512];

	side_on_wire(s, a4, "2001:db8::99");
	if (peer_policy_from_buffer("test.yaml", policy, strlen(policy),
				    &s->d.policy, err, sizeof(err)))
		fail_msg("policy: %s", err);
	if (secrets_parse("secrets", key, strlen(key), &s->d.secrets, err,
			  sizeof(err)))
		fail_msg("secrets: %s", err);
	assert_int_equal(child_use_ops(&s->d, &ok_ops, NULL), 0);
}

static int setup(void **state)
{
	struct sockaddr_storage ss;
	char err[256];
	uint64_t serial;

	now = 1000000;
	armed = NULL;
	nat = false;
	next_spi = 0xc1000001;
	log_open(true, false, getenv("VERBOSE") == NULL);
	side_init(&A, "192.0.2.1", POLICY("a", "192.0.2.2"));
	side_init(&B, "192.0.2.2", POLICY("b", "192.0.2.0/24"));
	assert_int_equal(addr_parse(B.addr4, 500, &ss), 0);
	if (exch_init_start(&A.d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
	pump();
	assert_int_equal(A.outcomes_ok, 1);
	return 0;
}

static int teardown(void **state)
{
	daemon_close_all(&A.d, "test over");
	daemon_close_all(&B.d, "test over");
	child_release(&A.d);
	child_release(&B.d);
	daemon_fini(&A.d);
	daemon_fini(&B.d);
	assert_null(armed);
	return 0;
}

/* A's CHILD SA as child.c reports it. */
static struct child_info a_child(void)
{
	struct sockaddr_storage peer;
	struct child_info ci;
	struct ikesa *sa;

	addr_parse(B.addr4, 0, &peer);
	sa = ikesa_find_peer(&A.d, &peer);
	assert_non_null(sa);
	assert_int_equal(child_count(sa), 1);
	assert_int_equal(child_get(sa, 0, &ci), 0);
	return ci;
}

/* ---- a kernel snapshot ------------------------------------------------------------- */

#define T0 1700000000u	/* the SAs' add_time */

static struct ikk_sa_info snap_sa[4];
static struct ikk_addr snap_local[2];

static void sa_info(struct ikk_sa_info *s, const char *dst, uint32_t spi,
		    uint8_t proto, uint8_t mode, uint64_t bytes, uint64_t packets)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(ikk_addr_parse(dst, &s->dst), 0);
	s->spi = spi;
	s->proto = proto;
	s->mode = mode;
	s->ctr.bytes = bytes;
	s->ctr.packets = packets;
	s->ctr.add_time = T0;
	s->life.soft_secs = 3240;
	s->life.hard_secs = 3600;
	s->life.soft_bytes = 90000ull * 1024;
	s->life.hard_bytes = 100000ull * 1024;
}

/* A's view: in = the SA to A (192.0.2.1), out = the SA to B; plus an AH
 * tunnel SA from elsewhere and an ESP one toward a third host. */
static struct monitor_kernel snapshot(uint32_t spi_in, uint32_t spi_out)
{
	struct monitor_kernel k = { .sa = snap_sa, .nsa = 4,
				    .local = snap_local, .nlocal = 2,
				    .have_sa = true };

	sa_info(&snap_sa[0], "192.0.2.1", spi_in, IPPROTO_ESP,
		IKK_MODE_TRANSPORT, 150000, 100);
	snap_sa[0].ctr.integrity_failed = 3;
	snap_sa[0].ctr.replay = 2;
	snap_sa[0].ctr.use_time = T0 + 90;
	sa_info(&snap_sa[1], "192.0.2.2", spi_out, IPPROTO_ESP,
		IKK_MODE_TRANSPORT, 200000, 120);
	sa_info(&snap_sa[2], "192.0.2.1", 0x1234, IPPROTO_AH, IKK_MODE_TUNNEL,
		7000, 7);
	sa_info(&snap_sa[3], "198.51.100.9", 0x5678, IPPROTO_ESP,
		IKK_MODE_TUNNEL, 9000, 9);
	assert_int_equal(ikk_addr_parse("192.0.2.1", &snap_local[0]), 0);
	assert_int_equal(ikk_addr_parse("2001:db8::1", &snap_local[1]), 0);
	return k;
}

static int64_t path_int(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL, *part;
	struct json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part;
	     part = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, part, &v))
			fail_msg("no %s (at %s) in %s", path, part,
				 json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* ---- sums ----------------------------------------------------------------------------- */

static void test_totals(void **state)
{
	struct monitor_kernel k = snapshot(1, 2);
	struct json_object *o = monitor_kernel_json(&k);

	assert_int_equal(path_int(o, "sas"), 4);
	assert_int_equal(path_int(o, "esp.bytes_in"), 150000);
	assert_int_equal(path_int(o, "esp.packets_in"), 100);
	assert_int_equal(path_int(o, "esp.bytes_out"), 200000 + 9000);
	assert_int_equal(path_int(o, "esp.packets_out"), 120 + 9);
	assert_int_equal(path_int(o, "ah.bytes_in"), 7000);
	assert_int_equal(path_int(o, "ah.bytes_out"), 0);
	assert_int_equal(path_int(o, "transport.bytes_in"), 150000);
	assert_int_equal(path_int(o, "transport.bytes_out"), 200000);
	assert_int_equal(path_int(o, "tunnel.bytes_in"), 7000);
	assert_int_equal(path_int(o, "tunnel.bytes_out"), 9000);
	assert_int_equal(path_int(o, "integrity_failed"), 3);
	assert_int_equal(path_int(o, "replay"), 2);
	assert_true(has(o, "xfrm_stat_error"));	/* nothing read */
	json_object_put(o);
}

/* What could not be read is said, not shown as 0. */
static void test_unreadable_parts(void **state)
{
	struct monitor_kernel k = { .have_sa = false };
	struct json_object *o;

	snprintf(k.sa_err, sizeof(k.sa_err), "cannot list the SAs: denied");
	k.have_xs = true;
	k.xs.n = 1;
	snprintf(k.xs.c[0].name, sizeof(k.xs.c[0].name), "XfrmInNoStates");
	k.xs.c[0].value = 12;
	o = monitor_kernel_json(&k);
	assert_false(has(o, "sas"));
	assert_false(has(o, "esp"));
	assert_string_equal(json_object_get_string(
		json_object_object_get(o, "sa_error")), "cannot list the SAs: denied");
	assert_int_equal(path_int(o, "xfrm_stat.XfrmInNoStates"), 12);
	json_object_put(o);
}

/* ---- CHILD SAs ---------------------------------------------------------------------------- */

static void test_child_view(void **state)
{
	struct child_info ci = a_child();
	struct monitor_kernel k = snapshot(ci.spi_in, ci.spi_out);
	struct json_object *arr = json_object_new_array(), *ch;

	child_sas_json(&A.d, arr);
	assert_int_equal(json_object_array_length(arr), 1);
	ch = json_object_array_get_idx(arr, 0);
	monitor_child_json(ch, &k, T0 + 100);
	assert_int_equal(path_int(ch, "in.bytes"), 150000);
	assert_int_equal(path_int(ch, "in.packets"), 100);
	assert_int_equal(path_int(ch, "out.bytes"), 200000);
	assert_int_equal(path_int(ch, "out.packets"), 120);
	assert_int_equal(path_int(ch, "in.age_s"), 100);
	assert_int_equal(path_int(ch, "in.idle_s"), 10);
	assert_false(has(json_object_object_get(ch, "out"), "idle_s")); /* unused */
	assert_int_equal(path_int(ch, "in.integrity_failed"), 3);
	assert_int_equal(path_int(ch, "in.lifetime.hard_s"), 3600);
	assert_int_equal(path_int(ch, "in.lifetime.soft_s"), 3240);
	assert_int_equal(path_int(ch, "in.lifetime.hard_left_s"), 3500);
	assert_int_equal(path_int(ch, "in.lifetime.soft_left_s"), 3140);
	assert_int_equal(path_int(ch, "in.lifetime.hard_kb"), 100000);
	assert_int_equal(path_int(ch, "in.lifetime.soft_kb"), 90000);
	/* 100000 KB - 150000 bytes, in whole KB */
	assert_int_equal(path_int(ch, "in.lifetime.hard_left_kb"),
			 (100000 * 1024 - 150000) / 1024);
	/* past its life: 0 left, never negative */
	monitor_child_json(ch, &k, T0 + 4000);
	assert_int_equal(path_int(ch, "out.lifetime.hard_left_s"), 0);
	json_object_put(arr);
}

/* A CHILD SA the kernel does not have (gone, or another namespace) gets
 * no "in"/"out" rather than zeros. */
static void test_child_not_in_kernel(void **state)
{
	struct child_info ci = a_child();
	struct monitor_kernel k = snapshot(ci.spi_in + 100, ci.spi_out);
	struct json_object *arr = json_object_new_array(), *ch;

	/* the outbound SPI on the wrong destination does not match either */
	assert_int_equal(ikk_addr_parse("192.0.2.77", &snap_sa[1].dst), 0);
	child_sas_json(&A.d, arr);
	ch = json_object_array_get_idx(arr, 0);
	monitor_child_json(ch, &k, T0);
	assert_false(has(ch, "in"));
	assert_false(has(ch, "out"));
	json_object_put(arr);
}

/* ---- the control socket -------------------------------------------------------------------- */

static char rundir[48];
static struct event_base *evb;

static int open_control(void **state)
{
	char err[256];

	assert_int_equal(setup(state), 0);
	snprintf(rundir, sizeof(rundir), "/tmp/test_monitor.XXXXXX");
	assert_non_null(mkdtemp(rundir));
	snprintf(A.d.rundir, sizeof(A.d.rundir), "%s/run", rundir);
	evb = event_base_new();
	assert_non_null(evb);
	if (control_open(&A.d, evb, err, sizeof(err)))
		fail_msg("control_open: %s", err);
	return 0;
}

static int close_control(void **state)
{
	control_close(&A.d);
	event_base_free(evb);
	remove_tree(rundir);
	return teardown(state);
}

/* Ask the way ipsec-xdp does: one line out, one line back. */
static struct json_object *ask(const char *request)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	static char reply[1 << 16];
	size_t len = 0;
	int fd, tries;

	snprintf(un.sun_path, sizeof(un.sun_path), "%s/run/%s", rundir,
		 IXDP_CONTROL_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	for (tries = 0; tries < 1000 && !memchr(reply, '\n', len); tries++) {
		ssize_t n;

		event_base_loop(evb, EVLOOP_NONBLOCK);
		n = read(fd, reply + len, sizeof(reply) - 1 - len);
		if (n > 0)
			len += (size_t)n;
		else
			poll(NULL, 0, 1);
	}
	close(fd);
	reply[len] = '\0';
	assert_non_null(memchr(reply, '\n', len));
	return json_tokener_parse(reply);
}

static void test_control_stats(void **state)
{
	struct json_object *r = ask("{\"cmd\":\"stats\"}\n"), *k;

	assert_non_null(r);
	assert_true(json_object_get_boolean(json_object_object_get(r, "ok")));
	assert_int_equal(path_int(r, "stats.ike_sas_active"), 1);
	assert_int_equal(path_int(r, "stats.child_sas_active"), 1);
	assert_int_equal(path_int(r, "stats.negotiations_total"), 1);
	assert_int_equal(path_int(r, "stats.authentication_failures"), 0);
	assert_int_equal(path_int(r, "stats.invalid_major_version_sent"), 0);
	assert_int_equal(path_int(r, "stats.unsupported_critical_sent"), 0);
	assert_true(json_object_object_get_ex(r, "kernel", &k));
	/* this host's kernel: read, or the reason why not */
	assert_true(has(k, "sas") || has(k, "sa_error"));
	assert_true(has(k, "xfrm_stat") || has(k, "xfrm_stat_error"));
	if (has(k, "xfrm_stat"))
		(void)path_int(k, "xfrm_stat.XfrmInNoStates");
	if (has(k, "sas"))
		(void)path_int(k, "esp.bytes_out");
	json_object_put(r);
}

static void test_control_show_sa(void **state)
{
	struct child_info ci = a_child();
	struct json_object *r = ask("{\"cmd\":\"show-sa\"}\n"), *arr, *ch;
	char spi[16];

	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "child_sas", &arr));
	assert_int_equal(json_object_array_length(arr), 1);
	ch = json_object_array_get_idx(arr, 0);
	snprintf(spi, sizeof(spi), "%08x", ci.spi_in);
	assert_string_equal(json_object_get_string(json_object_object_get(ch, "spi_in")), spi);
	assert_string_equal(json_object_get_string(json_object_object_get(ch, "protocol")), "esp");
	assert_string_equal(json_object_get_string(json_object_object_get(ch, "peer")), "192.0.2.2");
	assert_int_equal(path_int(ch, "lifetime_s"), 3600);
	/* the recording kernel installed nothing: the real one has no such SA */
	assert_false(has(ch, "in"));
	assert_int_equal(json_object_array_length(json_object_object_get(r, "ike_sas")), 1);
	json_object_put(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_unreadable_parts),
		cmocka_unit_test_setup_teardown(test_child_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_not_in_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_stats, open_control, close_control),
		cmocka_unit_test_setup_teardown(test_control_show_sa, open_control, close_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
