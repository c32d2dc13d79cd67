// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_secrets.c - the pre-shared key file (ike/wire/wire_secrets.c) and peer
 * selection from the assigned policy (ike/sa/sa_peer.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "wire/wire_secrets.h"

/* ---- secrets --------------------------------------------------------------- */

static void test_secrets_forms(void **state)
{
	static const char text[] =
		"# comment\n"
		"\n"
		"office = \"a long passphrase\"   # trailing comment\n"
		"  10.77.0.2\t=\t0x00ff10\n"
		"\"branch key\" = \"with \\\"quotes\\\" and \\\\ backslashes\"\n"
		"host.example.com=\"x\"";
	struct secrets *s;
	const struct secret *k;
	char err[256];

	assert_int_equal(secrets_parse("secrets", text, strlen(text), &s, err,
				       sizeof(err)), 0);
	assert_int_equal(s->n, 4);
	k = secrets_find(s, "office");
	assert_non_null(k);
	assert_int_equal(k->len, 17);
	assert_memory_equal(k->key, "a long passphrase", 17);
	k = secrets_find(s, "10.77.0.2");
	assert_non_null(k);
	assert_int_equal(k->len, 3);
	assert_memory_equal(k->key, "\x00\xff\x10", 3);
	k = secrets_find(s, "branch key");
	assert_non_null(k);
	assert_int_equal(k->len, strlen("with \"quotes\" and \\ backslashes"));
	assert_memory_equal(k->key, "with \"quotes\" and \\ backslashes", k->len);
	assert_non_null(secrets_find(s, "host.example.com"));
	assert_null(secrets_find(s, "nobody"));
	secrets_free(s);
}

static void test_secrets_errors(void **state)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "office \"topsecret\"\n", "secrets:1: expected '='" },
		{ "\n\noffice = 0xabc\n", "secrets:3: a 0x key needs an even" },
		{ "office = 0x\n", "secrets:1: a 0x key needs hex digits" },
		{ "a = \"topsecret\"\na = \"other\"\n", "secrets:2: a key with this id" },
		{ "a = \"topsecret\n", "secrets:1: a quoted string does not end" },
		{ "a = \"topsecret\" junk\n", "secrets:1: unexpected text" },
		{ "a = \"\"\n", "secrets:1: empty key" },
		{ "a = topsecret\n", "secrets:1: expected the key" },
		{ "= \"topsecret\"\n", "secrets:1: expected an id" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct secrets *s = NULL;
		char err[256] = "";

		assert_int_equal(secrets_parse("secrets", bad[i].text,
					       strlen(bad[i].text), &s, err,
					       sizeof(err)), -1);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)))
			fail_msg("'%s': got '%s'", bad[i].text, err);
		assert_null(strstr(err, "topsecret"));	/* never the key */
	}
}

static void test_secrets_file_mode(void **state)
{
	char dir[] = "/tmp/ixdp-secrets.XXXXXX", path[256], err[512];
	struct secrets *s = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	/* no file: no keys, no error */
	assert_int_equal(secrets_load(dir, &s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 0);
	secrets_free(s);

	snprintf(path, sizeof(path), "%s/secrets", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("lab = \"k\"\n", f);
	fclose(f);
	chmod(path, 0644);
	s = NULL;
	assert_int_equal(secrets_load(dir, &s, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "chmod 600"));
	chmod(path, 0640);
	assert_int_equal(secrets_load(dir, &s, err, sizeof(err)), -1);
	chmod(path, 0600);
	assert_int_equal(secrets_load(dir, &s, err, sizeof(err)), 0);
	assert_int_equal(s->n, 1);
	secrets_free(s);
	unlink(path);
	rmdir(dir);
}

/* ---- peer selection ------------------------------------------------------------ */

static const char policy[] =
	"filter-lists:\n"
	"  net: { filters: [ { src: me, dst: 10.1.0.0/16 } ] }\n"
	"  host: { filters: [ { src: me, dst: 10.1.2.3, protocol: tcp, dst-port: 22 } ] }\n"
	"  range: { filters: [ { src: me, dst: 10.9.0.10-10.9.0.20 } ] }\n"
	"  v6: { filters: [ { src: 2001:db8::/32, dst: me } ] }\n"
	"  tun: { filters: [ { src: 10.10.0.0/16, dst: 10.20.0.0/16, mirrored: no } ] }\n"
	"  off: { filters: [ { src: me, dst: 10.50.0.1 } ] }\n"
	"filter-actions:\n"
	"  secure: { action: negotiate, methods: [ { esp: aes256gcm16 } ] }\n"
	"policies:\n"
	"  p:\n"
	"    ike:\n"
	"      proposals: [ aes128-sha256-modp2048, aes256gcm16-prfsha384-ecp384 ]\n"
	"      lifetime: 3600\n"
	"    rules:\n"
	"      - { name: net, filter-list: net, action: secure, authentication: [ { psk: net-key } ] }\n"
	"      - { name: host, filter-list: host, action: secure,\n"
	"          authentication: [ { certificate: /etc/ca.pem }, { psk: host-key } ] }\n"
	"      - { name: range, filter-list: range, action: secure,\n"
	"          authentication: [ { certificate: /etc/ca.pem } ] }\n"
	"      - { name: v6, filter-list: v6, action: secure, authentication: [ { psk: v6-key } ] }\n"
	"      - { name: tun, filter-list: tun, action: secure, tunnel: 198.51.100.1,\n"
	"          authentication: [ { psk: tun-key } ] }\n"
	"      - { name: off, filter-list: off, action: secure, active: no,\n"
	"          authentication: [ { psk: off-key } ] }\n"
	"      - { name: clear, filter-list: off, action: permit }\n";

static struct peer_policy *load(const char *text)
{
	struct peer_policy *pp = NULL;
	char err[512];

	if (peer_policy_from_buffer("p.yaml", text, strlen(text), &pp, err,
				    sizeof(err)))
		fail_msg("%s", err);
	return pp;
}

static enum peer_source lookup(struct peer_policy *pp, const char *addr,
			       struct peer_conf *pc)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_parse(addr, 500, &ss), 0);
	return peer_lookup(pp, &ss, pc);
}

static void test_peer_rules(void **state)
{
	struct peer_policy *pp = load(policy);
	struct peer_conf pc;

	assert_int_equal(lookup(pp, "10.1.9.9", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "net");
	assert_int_equal(pc.npsk, 1);
	assert_string_equal(pc.psk[0], "net-key");
	assert_int_equal(pc.lifetime_s, 3600);
	assert_int_equal(pc.nprop, 2);
	assert_int_equal(pc.prop[0].encr, IKEV2_ENCR_AES_CBC);
	assert_int_equal(pc.prop[0].key_bits, 128);
	assert_int_equal(pc.prop[0].integ, IKEV2_INTEG_HMAC_SHA2_256_128);
	assert_int_equal(pc.prop[0].prf, IKEV2_PRF_HMAC_SHA2_256);
	assert_int_equal(pc.prop[0].dh, IKEV2_DH_MODP_2048);
	assert_int_equal(pc.prop[1].encr, IKEV2_ENCR_AES_GCM_16);
	assert_int_equal(pc.prop[1].integ, IKEV2_INTEG_NONE);
	assert_int_equal(pc.prop[1].prf, IKEV2_PRF_HMAC_SHA2_384);
	assert_int_equal(pc.prop[1].dh, IKEV2_DH_ECP_384);

	/* the host rule is more specific than the /16 */
	assert_int_equal(lookup(pp, "10.1.2.3", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "host");
	assert_false(pc.cert_only);
	assert_string_equal(pc.psk[0], "host-key");

	assert_int_equal(lookup(pp, "10.9.0.15", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "range");
	assert_true(pc.cert_only);

	assert_int_equal(lookup(pp, "2001:db8:1::5", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "v6");

	assert_int_equal(lookup(pp, "198.51.100.1", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "tun");
	assert_int_equal(lookup(pp, "10.20.1.1", &pc), PEER_RULE);
	assert_string_equal(pc.rule, "tun");
	peer_policy_free(pp);
}

static void test_peer_default_response(void **state)
{
	struct peer_policy *pp = load(policy);
	struct peer_conf pc;
	size_t i;

	/* inactive and permit rules name no peer: the default response */
	assert_int_equal(lookup(pp, "10.50.0.1", &pc), PEER_DEFAULT);
	assert_string_equal(pc.rule, "default-response");
	assert_string_equal(pc.psk[0], "10.50.0.1");
	for (i = 0; i < pc.npsk; i++)
		assert_string_not_equal(pc.psk[i], "off-key");
	assert_int_equal(pc.npsk, 5);	/* address + 4 rules' keys */
	assert_int_equal(pc.nprop, 2);
	peer_policy_free(pp);

	pp = load("filter-lists:\n  x: { filters: [ { src: me, dst: 10.1.1.1 } ] }\n"
		  "policies:\n  p:\n    default-response: no\n    rules:\n"
		  "      - { name: x, filter-list: x, action: block }\n");
	assert_int_equal(lookup(pp, "10.50.0.1", &pc), PEER_NONE);
	peer_policy_free(pp);

	assert_int_equal(lookup(NULL, "10.50.0.1", &pc), PEER_NONE);
}

static void test_peer_default_proposal(void **state)
{
	struct peer_policy *pp = load("policies:\n  p: {}\n");
	struct peer_conf pc;

	assert_int_equal(lookup(pp, "192.0.2.1", &pc), PEER_DEFAULT);
	assert_int_equal(pc.nprop, 1);
	assert_int_equal(pc.prop[0].encr, IKEV2_ENCR_AES_GCM_16);
	assert_int_equal(pc.prop[0].key_bits, 256);
	assert_int_equal(pc.prop[0].dh, IKEV2_DH_CURVE25519);
	assert_int_equal(pc.lifetime_s, 28800);
	peer_policy_free(pp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_forms),
		cmocka_unit_test(test_secrets_errors),
		cmocka_unit_test(test_secrets_file_mode),
		cmocka_unit_test(test_peer_rules),
		cmocka_unit_test(test_peer_default_response),
		cmocka_unit_test(test_peer_default_proposal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
