// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_policy_source.c - the central policy's checks (lib/agent/
 * agent_source.h, docs/behaviour.md §8): the detached signature (Ed25519
 * and ECDSA P-256, a changed byte, another key, sizes over the bounds, a
 * key of a type not accepted), the cache (used only when it came from the
 * configured source and its signature checks again; a tampered one is
 * refused), the state file's round trip and the header values kept, and
 * the configuration keys (https only, no credentials, a key required).
 * Keys are made here with OpenSSL, in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "testutil.h"

#include "agent/agent_source.h"
#include "policy/policy_bootconf.h"
#include "util/util_atomic_file.h"

static char dir[64];
static const char doc[] = "policies:\n  p:\n    rules: []\n";

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ixdp-source.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	remove_tree(dir);
	return 0;
}

/* A new key of type (EVP_PKEY_ED25519, EVP_PKEY_EC: P-256, EVP_PKEY_RSA);
 * its public half written to dir/name. */
static EVP_PKEY *new_key(int type, const char *name, char *path, size_t len)
{
	EVP_PKEY *k = NULL;
	FILE *fp;

	if (type == EVP_PKEY_EC)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (type == EVP_PKEY_RSA)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	snprintf(path, len, "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PUBKEY(fp, k), 1);
	fclose(fp);
	return k;
}

/* As `openssl pkeyutl -sign -rawin` (EdDSA) or `openssl dgst -sha256
 * -sign` (ECDSA) would sign. */
static size_t sign(EVP_PKEY *k, const void *data, size_t len, uint8_t *sig,
		   size_t max)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL
			   : EVP_sha256();
	size_t n = max;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &n, data, len), 1);
	EVP_MD_CTX_free(ctx);
	return n;
}

static void check_key_type(int type)
{
	char pub[128], err[512];
	uint8_t sig[256], bad[sizeof(doc)];
	EVP_PKEY *k = new_key(type, "k.pub", pub, sizeof(pub));
	size_t n = sign(k, doc, sizeof(doc) - 1, sig, sizeof(sig));

	assert_int_equal(source_verify(pub, doc, sizeof(doc) - 1, sig, n, err,
				       sizeof(err)), 0);
	/* one byte of the document changed */
	memcpy(bad, doc, sizeof(doc));
	bad[3] ^= 1;
	assert_int_equal(source_verify(pub, bad, sizeof(doc) - 1, sig, n, err,
				       sizeof(err)), -1);
	assert_non_null(strstr(err, "bad signature"));
	/* one byte of the signature changed */
	sig[n / 2] ^= 0x40;
	assert_int_equal(source_verify(pub, doc, sizeof(doc) - 1, sig, n, err,
				       sizeof(err)), -1);
	EVP_PKEY_free(k);
}

static void test_verify_ed25519(void **state)
{
	check_key_type(EVP_PKEY_ED25519);
}

static void test_verify_ecdsa(void **state)
{
	check_key_type(EVP_PKEY_EC);
}

static void test_verify_refusals(void **state)
{
	char pub[128], other[128], rsa[128], err[512];
	uint8_t sig[256];
	EVP_PKEY *k = new_key(EVP_PKEY_ED25519, "k.pub", pub, sizeof(pub));
	EVP_PKEY *o = new_key(EVP_PKEY_ED25519, "o.pub", other, sizeof(other));
	EVP_PKEY *r = new_key(EVP_PKEY_RSA, "r.pub", rsa, sizeof(rsa));
	size_t n = sign(k, doc, sizeof(doc) - 1, sig, sizeof(sig));
	char *big = calloc(1, SOURCE_DOC_MAX + 1);

	/* another key than the one trusted */
	assert_int_equal(source_verify(other, doc, sizeof(doc) - 1, sig, n,
				       err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad signature"));
	/* sizes: refused before any key is read */
	assert_non_null(big);
	assert_int_equal(source_verify(pub, big, SOURCE_DOC_MAX + 1, sig, n,
				       err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refused"));
	assert_int_equal(source_verify(pub, doc, sizeof(doc) - 1, big,
				       SOURCE_SIG_MAX + 1, err, sizeof(err)), -1);
	assert_int_equal(source_verify(pub, doc, sizeof(doc) - 1, sig, 0, err,
				       sizeof(err)), -1);
	/* a key type not accepted, a missing key, a file that is no key */
	assert_int_equal(source_verify(rsa, doc, sizeof(doc) - 1, sig, n, err,
				       sizeof(err)), -1);
	assert_non_null(strstr(err, "Ed25519, Ed448 or ECDSA"));
	snprintf(other, sizeof(other), "%s/missing.pub", dir);
	assert_int_equal(source_verify(other, doc, sizeof(doc) - 1, sig, n,
				       err, sizeof(err)), -1);
	assert_int_equal(write_file_atomic(other, "junk\n", 5, 0600, err,
					   sizeof(err)), 0);
	assert_int_equal(source_verify(other, doc, sizeof(doc) - 1, sig, n,
				       err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a PEM public key"));
	free(big);
	EVP_PKEY_free(k);
	EVP_PKEY_free(o);
	EVP_PKEY_free(r);
}

/* A configuration with source url and key pub. */
static void conf_for(struct bootconf *c, const char *url, const char *pub)
{
	bootconf_defaults(c);
	snprintf(c->policysource, sizeof(c->policysource), "%s", url);
	snprintf(c->policysourcekey, sizeof(c->policysourcekey), "%s", pub);
}

static void test_cache(void **state)
{
	const char *url = "https://policy.example/p.yaml";
	char pub[128], path[256], err[512], *got;
	struct source_state st = { 0 };
	struct bootconf c;
	uint8_t sig[256];
	EVP_PKEY *k = new_key(EVP_PKEY_ED25519, "k.pub", pub, sizeof(pub));
	size_t n = sign(k, doc, sizeof(doc) - 1, sig, sizeof(sig)), len;

	conf_for(&c, url, pub);
	/* nothing cached yet */
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), 1);
	assert_int_equal(source_cache_store(dir, doc, sizeof(doc) - 1, sig, n,
					    err, sizeof(err)), 0);
	/* cached, but the state does not say it came from this source */
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), 1);
	snprintf(st.url, sizeof(st.url), "%s", url);
	assert_int_equal(source_state_write(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), 0);
	assert_int_equal(len, sizeof(doc) - 1);
	assert_memory_equal(got, doc, len);
	free(got);
	assert_int_equal(source_cache_usable(dir, &c, path, sizeof(path), err,
					     sizeof(err)), 0);
	/* another source configured: not used */
	conf_for(&c, "https://other.example/p.yaml", pub);
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), 1);
	/* no source: not used */
	conf_for(&c, "", pub);
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), 1);
	/* the cached document changed on disk: refused, nothing returned */
	conf_for(&c, url, pub);
	source_path(dir, "policy.yaml", path, sizeof(path));
	assert_int_equal(write_file_atomic(path, "policies: {}\n", 13, 0600,
					   err, sizeof(err)), 0);
	assert_int_equal(source_cache_load(dir, &c, &got, &len, err,
					   sizeof(err)), -1);
	assert_null(got);
	assert_non_null(strstr(err, "bad signature"));
	EVP_PKEY_free(k);
}

static void test_state_round_trip(void **state)
{
	struct source_state st = { 0 }, back;
	char err[512];

	snprintf(st.url, sizeof(st.url), "https://p.example/x.yaml");
	snprintf(st.etag, sizeof(st.etag), "\"abc-1\"");
	snprintf(st.last_modified, sizeof(st.last_modified),
		 "Sat, 05 Dec 2026 23:00:00 GMT");
	st.fetched = 1700000000;
	st.changed = 1700000001;
	st.polled = 1700000002;
	st.interval_s = 5;
	st.cache_in_use = true;
	st.in_force = true;
	snprintf(st.result, sizeof(st.result), "unreachable: refused");
	assert_int_equal(source_state_read(dir, &back, err, sizeof(err)), 1);
	assert_int_equal(source_state_write(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(source_state_read(dir, &back, err, sizeof(err)), 0);
	assert_string_equal(back.url, st.url);
	assert_string_equal(back.etag, st.etag);
	assert_string_equal(back.last_modified, st.last_modified);
	assert_int_equal(back.fetched, st.fetched);
	assert_int_equal(back.changed, st.changed);
	assert_int_equal(back.interval_s, 5);
	assert_true(back.cache_in_use && back.in_force);
	assert_string_equal(back.result, st.result);
}

static void test_tag_copy(void **state)
{
	char out[SOURCE_TAG_MAX], longv[SOURCE_TAG_MAX + 1];

	source_tag_copy(out, "\"v1\"", 4);
	assert_string_equal(out, "\"v1\"");
	/* a control character (a header split into the state file) */
	source_tag_copy(out, "a\nsource = x", 12);
	assert_string_equal(out, "");
	memset(longv, 'a', sizeof(longv));
	source_tag_copy(out, longv, sizeof(longv));
	assert_string_equal(out, "");
}

static void test_config_keys(void **state)
{
	struct bootconf c;
	char why[512];

	bootconf_defaults(&c);
	assert_int_equal(bootconf_set_key(&c, "policysource",
		"http://p.example/x", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "https"));
	assert_int_equal(bootconf_set_key(&c, "policysource",
		"https://user:pw@p.example/x", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "credentials"));
	assert_int_equal(bootconf_set_key(&c, "policysource",
		"https://p.example/x y", why, sizeof(why)), -1);
	assert_int_equal(bootconf_set_key(&c, "policysourcekey", "key.pem",
					  why, sizeof(why)), -1);
	assert_int_equal(bootconf_set_key(&c, "policysource",
		"https://p.example/x", why, sizeof(why)), 0);
	/* a source without its key is not saved */
	assert_int_equal(bootconf_save(dir, &c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "policysourcekey"));
	assert_int_equal(bootconf_set_key(&c, "policysourcekey", "/k.pem",
					  why, sizeof(why)), 0);
	assert_int_equal(bootconf_save(dir, &c, why, sizeof(why)), 0);
	bootconf_defaults(&c);
	assert_int_equal(bootconf_load(dir, &c, why, sizeof(why)), 0);
	assert_string_equal(c.policysource, "https://p.example/x");
	assert_string_equal(c.policysourcekey, "/k.pem");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verify_ed25519, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_ecdsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
