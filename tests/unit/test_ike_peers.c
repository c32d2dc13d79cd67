// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_peers.c - the daemon's peers and its policy, with two daemons
 * in one process (ike_testbed.h): which rule names a peer (peer.c: the
 * most specific, then the policy's order), INITIAL_CONTACT between the
 * same authenticated identities only (exchange_auth.c), a CHILD SA that
 * the dataplane asks for on an IKE SA that is up (dplink_negotiate), and
 * a policy reload that deletes the CHILD SAs of changed or deleted rules
 * and keeps the others (daemon.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/daemon_dplink.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "wire/wire_secrets.h"
#include "sa/sa_child.h"
#include "kernel/kernel.h"

#define IKE_TESTBED_KERNEL
#include "ike_testbed.h"
#include "testutil.h"

#define A4 "192.0.2.1"
#define B4 "192.0.2.2"

/* ---- set-up ------------------------------------------------------------------ */

#define RULE(NAME, LIST, ACTION) \
	"      - { name: " NAME ", filter-list: " LIST ", action: " ACTION \
	", authentication: [ { psk: lab } ] }\n"

/* A's policy: lists for every flow to B (all), to B's /24 (net), UDP
 * (udp), SSH (ssh); the rules follow. */
#define A_LISTS                                                               \
	"filter-lists:\n"                                                     \
	"  all: { filters: [ { src: me, dst: " B4 " } ] }\n"                  \
	"  net: { filters: [ { src: me, dst: 192.0.2.0/24 } ] }\n"            \
	"  udp: { filters: [ { src: me, dst: " B4 ", protocol: udp } ] }\n"   \
	"  ssh: { filters: [ { src: me, dst: " B4 ", protocol: tcp, dst-port: 22 } ] }\n" \
	"filter-actions:\n"                                                   \
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n" \
	"  cbc:    { action: negotiate, methods: [ { esp: aes128-sha256 } ] }\n" \
	"  pfs:    { action: negotiate, pfs: yes, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n" \
	"  answer: { action: negotiate, inpass: yes, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n" \
	"  soft:   { action: negotiate, soft: yes, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n" \
	"policies:\n"                                                         \
	"  a:\n"                                                              \
	"    rules:\n"

/* B answers A's whole /24. */
static const char b_policy[] =
	"filter-lists:\n"
	"  l: { filters: [ { src: me, dst: 192.0.2.0/24 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n"
	"policies:\n"
	"  b:\n"
	"    rules:\n"
	RULE("r-b", "l", "secure");

static int setup(void **state)
{
	sides_setup(A4, B4);
	set_policy(&B, b_policy);
	return 0;
}

static int teardown(void **state)
{
	sides_teardown();
	return 0;
}

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_parse(text, 500, &ss), 0);
	return ss;
}

static struct ikesa *sa_to(struct side *s, const char *peer)
{
	struct sockaddr_storage ss = addr(peer);

	return ikesa_find_peer(&s->d, &ss);
}

static void initiate(struct side *s, const char *peer)
{
	struct sockaddr_storage ss = addr(peer);
	char err[256];
	uint64_t serial;

	if (exch_init_start(&s->d, &ss, &serial, err, sizeof(err)))
		fail_msg("initiate: %s", err);
	pump();
}

static struct child_info child_of(struct ikesa *sa, size_t i)
{
	struct child_info ci;

	assert_int_equal(child_get(sa, i, &ci), 0);
	return ci;
}

static size_t established(struct side *s)
{
	size_t up, negotiating;

	ikesa_count(&s->d, &up, &negotiating);
	return up;
}

/* The flow of an outbound TCP packet from A to B's port. */
static struct ikk_selector tcp_flow(uint16_t dport)
{
	struct ikk_selector sel;

	memset(&sel, 0, sizeof(sel));
	sel.family = AF_INET;
	sel.proto = IPPROTO_TCP;
	ikk_addr_parse(A4, &sel.src);
	ikk_addr_parse(B4, &sel.dst);
	sel.src_plen = sel.dst_plen = 32;
	sel.sport = 40000;
	sel.dport = dport;
	sel.sport_mask = sel.dport_mask = 0xffff;
	return sel;
}

/* ---- which rule names a peer ------------------------------------------------ */

static const char *rule_for(const char *policy, const char *peer)
{
	static struct peer_conf pc;
	struct peer_policy *pp = NULL;
	struct sockaddr_storage ss = addr(peer);
	char err[512];

	if (peer_policy_from_buffer("p.yaml", policy, strlen(policy), &pp, err,
				    sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(peer_lookup(pp, &ss, &pc), PEER_RULE);
	peer_policy_free(pp);
	return pc.rule;
}

#define PEER_LISTS                                                            \
	"filter-lists:\n"                                                     \
	"  host: { filters: [ { src: me, dst: 198.51.100.1 } ] }\n"           \
	"  net:  { filters: [ { src: me, dst: 198.51.100.0/24 } ] }\n"        \
	"  tun:  { filters: [ { src: 10.1.0.0/16, dst: 10.2.0.0/16, mirrored: no } ] }\n"   \
	"filter-actions:\n"                                                   \
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n" \
	"policies:\n"                                                         \
	"  p:\n"                                                              \
	"    rules:\n"
#define TUN_RULE \
	"      - { name: site, filter-list: tun, action: secure, tunnel: 198.51.100.1, " \
	"authentication: [ { psk: lab } ] }\n"

/* A tunnel endpoint names its peer as a host filter does: between the two
 * the policy's order decides, and either beats a prefix. */
static void test_peer_most_specific_then_order(void **state)
{
	assert_string_equal(rule_for(PEER_LISTS RULE("transport", "host",
						      "secure") TUN_RULE,
				     "198.51.100.1"), "transport");
	assert_string_equal(rule_for(PEER_LISTS TUN_RULE
				     RULE("transport", "host", "secure"),
				     "198.51.100.1"), "site");
	/* a /24 holding the endpoint is less specific, wherever it is */
	assert_string_equal(rule_for(PEER_LISTS RULE("subnet", "net", "secure")
				     TUN_RULE, "198.51.100.1"), "site");
	assert_string_equal(rule_for(PEER_LISTS TUN_RULE
				     RULE("subnet", "net", "secure"),
				     "198.51.100.1"), "site");
	/* another address of the /24: only the prefix names it */
	assert_string_equal(rule_for(PEER_LISTS TUN_RULE
				     RULE("subnet", "net", "secure"),
				     "198.51.100.7"), "subnet");
	/* equal host filters: the first rule */
	assert_string_equal(rule_for(PEER_LISTS RULE("one", "host", "secure")
				     RULE("two", "host", "secure"),
				     "198.51.100.1"), "one");
}

/* ---- INITIAL_CONTACT -------------------------------------------------------------- */

/* A forgets its IKE SAs without a word (a reboot): its next IKE SA with B
 * carries INITIAL_CONTACT. */
static void reboot_a(void)
{
	struct ikesa *sa;

	while ((sa = sa_to(&A, B4)) || (sa = sa_to(&A, "192.0.2.12")))
		ikesa_close(&A.d, sa, "reboot");
	A.nq = 0;
}

/* From a second address of A with the same identity (its FQDN): B's IKE
 * SA with A's first address is stale and goes. */
static void test_initial_contact_same_identity(void **state)
{
	snprintf(A.d.local_fqdn, sizeof(A.d.local_fqdn), "a.example");
	set_policy(&A, A_LISTS RULE("r-all", "all", "secure"));
	initiate(&A, B4);
	assert_non_null(sa_to(&B, A4));
	assert_int_equal(established(&B), 1);

	reboot_a();
	A.addr4 = "192.0.2.11";
	initiate(&A, B4);
	assert_true(sa_to(&A, B4)->initial_contact);
	assert_non_null(sa_to(&B, "192.0.2.11"));
	assert_null(sa_to(&B, A4));		/* the stale one went */
	assert_int_equal(established(&B), 1);
	assert_int_equal(child_count(sa_to(&B, "192.0.2.11")), 1);
	assert_int_equal(n_sas(&KB), 2);	/* its CHILD SA with it */
}

/* Another identity of A from its second address: B's IKE SA with the
 * first identity stays. */
static void test_initial_contact_other_peer_identity(void **state)
{
	snprintf(A.d.local_fqdn, sizeof(A.d.local_fqdn), "a.example");
	set_policy(&A, A_LISTS RULE("r-all", "all", "secure"));
	initiate(&A, B4);
	reboot_a();
	A.addr4 = "192.0.2.11";
	snprintf(A.d.local_fqdn, sizeof(A.d.local_fqdn), "other.example");
	initiate(&A, B4);
	assert_true(sa_to(&A, B4)->initial_contact);
	assert_non_null(sa_to(&B, "192.0.2.11"));
	assert_non_null(sa_to(&B, A4));
	assert_int_equal(established(&B), 2);
}

/* The same A (same address, same identity) to B's second address, where
 * B's identity is that address: another pair of identities, so B's IKE
 * SA for its first address stays. */
static void test_initial_contact_other_local_identity(void **state)
{
	set_policy(&A, A_LISTS RULE("r-net", "net", "secure"));
	initiate(&A, B4);
	initiate(&A, "192.0.2.12");	/* A: first contact with that peer */
	assert_true(sa_to(&A, "192.0.2.12")->initial_contact);
	assert_int_equal(established(&B), 2);
	assert_int_equal(established(&A), 2);
}

/* ---- a CHILD SA the dataplane asks for ------------------------------------------ */

/* No IKE SA: one starts; while it is under way it is waited for; once it
 * is up, another rule's CHILD SA is made on it (CREATE_CHILD_SA) for that
 * very rule, though an earlier rule's filter holds the flow too. */
static void test_dplink_child_on_ike_sa(void **state)
{
	struct sockaddr_storage b = addr(B4);
	struct ikk_selector sel = tcp_flow(22);
	enum dplink_how how = 0;
	uint64_t serial = 0, first;
	char err[256];
	struct child_info c0, c1;

	set_policy(&A, A_LISTS RULE("r-all", "all", "secure")
		   RULE("r-ssh", "ssh", "pfs"));
	assert_int_equal(dplink_negotiate(&A.d, &b, "r-all", NULL, &serial,
					  &how, err, sizeof(err)), 0);
	assert_int_equal(how, DPLINK_NEW_IKE);
	first = serial;
	assert_int_equal(dplink_negotiate(&A.d, &b, "r-ssh", &sel, &serial,
					  &how, err, sizeof(err)), 0);
	assert_int_equal(how, DPLINK_WAIT_IKE);
	assert_int_equal(serial, first);
	pump();
	assert_int_equal(A.outcomes_ok, 1);
	assert_int_equal(child_count(sa_to(&A, B4)), 1);

	assert_int_equal(dplink_negotiate(&A.d, &b, "r-ssh", &sel, &serial,
					  &how, err, sizeof(err)), 0);
	assert_int_equal(how, DPLINK_NEW_CHILD);
	assert_int_equal(serial, first);
	/* asked twice (two events): one CHILD SA */
	assert_int_equal(dplink_negotiate(&A.d, &b, "r-ssh", &sel, &serial,
					  &how, err, sizeof(err)), 0);
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(established(&B), 1);
	assert_int_equal(child_count(sa_to(&A, B4)), 2);
	assert_int_equal(child_count(sa_to(&B, A4)), 2);
	c0 = child_of(sa_to(&A, B4), 0);
	c1 = child_of(sa_to(&A, B4), 1);
	assert_string_equal(c0.rule, "r-all");
	assert_string_equal(c1.rule, "r-ssh");
	assert_string_equal(c1.remote_ts, "192.0.2.2/32[6/22]");
	assert_true(c1.pfs_group != 0);		/* r-ssh's PFS */
	assert_int_equal(c0.pfs_group, 0);
	assert_int_equal(n_sas(&KA), 4);
	assert_int_equal(n_sas(&KB), 4);
}

/* A flow no filter of the rule holds: no CHILD SA, the IKE SA stays. */
static void test_dplink_rule_without_flow(void **state)
{
	struct sockaddr_storage b = addr(B4);
	struct ikk_selector sel = tcp_flow(80);
	enum dplink_how how = 0;
	uint64_t serial = 0;
	char err[256];

	set_policy(&A, A_LISTS RULE("r-all", "all", "secure")
		   RULE("r-ssh", "ssh", "secure"));
	initiate(&A, B4);
	assert_int_equal(dplink_negotiate(&A.d, &b, "r-ssh", &sel, &serial,
					  &how, err, sizeof(err)), 0);
	assert_int_equal(how, DPLINK_NEW_CHILD);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_int_equal(established(&A), 1);
}

/* ---- a policy reload ------------------------------------------------------------ */

static char confdir[64];

static void write_file(const char *name, const char *text, mode_t mode)
{
	write_test_file(confdir, name, text, mode);
}

static int reload(const char *policy)
{
	char err[700];

	write_file("policy.yaml", policy, 0644);
	return daemon_load(&A.d, false, err, sizeof(err));
}

static int setup_reload(void **state)
{
	setup(state);
	snprintf(confdir, sizeof(confdir), "/tmp/ixdp-peers.XXXXXX");
	assert_non_null(mkdtemp(confdir));
	snprintf(A.d.confdir, sizeof(A.d.confdir), "%s", confdir);
	write_file("secrets", "lab = \"correct horse battery staple\"\n", 0600);
	return 0;
}

static int teardown_reload(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/secrets", confdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policy.yaml", confdir);
	unlink(path);
	rmdir(confdir);
	return teardown(state);
}

/* r-udp (from IKE_AUTH) and r-ssh (CREATE_CHILD_SA) up with B. */
static void two_children(const char *policy)
{
	struct sockaddr_storage b = addr(B4);
	struct ikk_selector sel = tcp_flow(22);
	enum dplink_how how;
	uint64_t serial;
	char err[256];

	assert_int_equal(reload(policy), 0);
	initiate(&A, B4);
	assert_int_equal(dplink_negotiate(&A.d, &b, "r-ssh", &sel, &serial,
					  &how, err, sizeof(err)), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 2);
	assert_int_equal(child_count(sa_to(&B, A4)), 2);
}

/* The rules reordered, r-udp's methods changed: r-udp's CHILD SA goes on
 * both sides (and from both kernels), r-ssh's stays as it was. */
static void test_reload_changed_rule(void **state)
{
	struct child_info ssh;

	two_children(A_LISTS RULE("r-udp", "udp", "secure")
		     RULE("r-ssh", "ssh", "secure"));
	assert_string_equal(child_of(sa_to(&A, B4), 0).rule, "r-udp");
	ssh = child_of(sa_to(&A, B4), 1);
	assert_string_equal(ssh.rule, "r-ssh");

	assert_int_equal(reload(A_LISTS RULE("r-ssh", "ssh", "secure")
				RULE("r-udp", "udp", "cbc")), 0);
	pump();
	assert_int_equal(established(&A), 1);
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_int_equal(child_count(sa_to(&B, A4)), 1);
	assert_int_equal(child_of(sa_to(&A, B4), 0).spi_in, ssh.spi_in);
	assert_int_equal(child_of(sa_to(&A, B4), 0).spi_out, ssh.spi_out);
	assert_int_equal(child_of(sa_to(&B, A4), 0).spi_in, ssh.spi_out);
	assert_int_equal(n_sas(&KA), 2);
	assert_int_equal(n_sas(&KB), 2);
	assert_non_null(sa_by_spi(&KA, ssh.spi_in));
	assert_int_equal(n_pols(&KA, IKK_DIR_OUT), 1);
	assert_int_equal(n_pols(&KB, IKK_DIR_OUT), 1);

	/* the same again: nothing changes */
	assert_int_equal(reload(A_LISTS RULE("r-ssh", "ssh", "secure")
				RULE("r-udp", "udp", "cbc")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_int_equal(child_count(sa_to(&B, A4)), 1);
}

/* A deleted rule, a filter or PFS change: its CHILD SA goes; a policy that
 * fails to load changes nothing. */
static void test_reload_deleted_and_filter_changed(void **state)
{
	two_children(A_LISTS RULE("r-udp", "udp", "secure")
		     RULE("r-ssh", "ssh", "secure"));

	assert_int_not_equal(reload("policies: [ nonsense\n"), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 2);

	/* r-ssh gone; r-udp with PFS now */
	assert_int_equal(reload(A_LISTS RULE("r-udp", "udp", "pfs")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 0);
	assert_int_equal(child_count(sa_to(&B, A4)), 0);
	assert_int_equal(n_sas(&KA), 0);
	assert_int_equal(n_sas(&KB), 0);
	assert_int_equal(established(&A), 1);	/* the IKE SA stays */
	assert_int_equal(established(&B), 1);
}

/* A rekey of r-udp's CHILD SA is on its way when the reload changes
 * r-udp: the old pair goes at once, the new one as soon as the answer
 * makes it (on both sides); r-ssh's stays. */
static void test_reload_during_rekey(void **state)
{
	struct child_info udp, ssh;

	two_children(A_LISTS RULE("r-udp", "udp", "secure")
		     RULE("r-ssh", "ssh", "secure"));
	udp = child_of(sa_to(&A, B4), 0);
	ssh = child_of(sa_to(&A, B4), 1);
	assert_string_equal(udp.rule, "r-udp");
	exch_create_rekey_child(&A.d, sa_to(&A, B4), udp.spi_in);
	assert_string_equal(exch_create_rule_in_flight(sa_to(&A, B4)), "r-udp");
	assert_true(deliver(&A));		/* B answers: a new pair */
	assert_int_equal(child_count(sa_to(&B, A4)), 3);

	assert_int_equal(reload(A_LISTS RULE("r-ssh", "ssh", "secure")
				RULE("r-udp", "udp", "cbc")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_int_equal(child_count(sa_to(&B, A4)), 1);
	assert_int_equal(child_of(sa_to(&A, B4), 0).spi_in, ssh.spi_in);
	assert_int_equal(n_sas(&KA), 2);
	assert_int_equal(n_sas(&KB), 2);
	assert_int_equal(established(&A), 1);
}

static void test_reload_filter_changed(void **state)
{
	two_children(A_LISTS RULE("r-udp", "udp", "secure")
		     RULE("r-ssh", "ssh", "secure"));
	/* r-ssh's list now names another port: same name, other filters */
	assert_int_equal(reload(
		"filter-lists:\n"
		"  udp: { filters: [ { src: me, dst: " B4 ", protocol: udp } ] }\n"
		"  ssh: { filters: [ { src: me, dst: " B4 ", protocol: tcp, dst-port: 2222 } ] }\n"
		"filter-actions:\n"
		"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 }, { esp: aes128-sha256 } ] }\n"
		"policies:\n  a:\n    rules:\n"
		RULE("r-udp", "udp", "secure") RULE("r-ssh", "ssh", "secure")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_string_equal(child_of(sa_to(&A, B4), 0).rule, "r-udp");
	assert_int_equal(child_count(sa_to(&B, A4)), 1);
}

/* The same methods, inpass or soft now: the action changed, so the
 * dataplane drops the rule's bundles, and its CHILD SA goes too. */
static void test_reload_action_flags(void **state)
{
	two_children(A_LISTS RULE("r-udp", "udp", "secure")
		     RULE("r-ssh", "ssh", "secure"));
	assert_int_equal(reload(A_LISTS RULE("r-udp", "udp", "answer")
				RULE("r-ssh", "ssh", "secure")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 1);
	assert_string_equal(child_of(sa_to(&A, B4), 0).rule, "r-ssh");
	assert_int_equal(reload(A_LISTS RULE("r-udp", "udp", "answer")
				RULE("r-ssh", "ssh", "soft")), 0);
	pump();
	assert_int_equal(child_count(sa_to(&A, B4)), 0);
	assert_int_equal(child_count(sa_to(&B, A4)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_most_specific_then_order),
		cmocka_unit_test_setup_teardown(test_initial_contact_same_identity,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_contact_other_peer_identity,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_contact_other_local_identity,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dplink_child_on_ike_sa,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dplink_rule_without_flow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_changed_rule,
						setup_reload, teardown_reload),
		cmocka_unit_test_setup_teardown(test_reload_deleted_and_filter_changed,
						setup_reload, teardown_reload),
		cmocka_unit_test_setup_teardown(test_reload_during_rekey,
						setup_reload, teardown_reload),
		cmocka_unit_test_setup_teardown(test_reload_filter_changed,
						setup_reload, teardown_reload),
		cmocka_unit_test_setup_teardown(test_reload_action_flags,
						setup_reload, teardown_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
