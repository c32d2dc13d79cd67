// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_keyholder.c - the key holder's messages (ike/wire/wire_keymsg.c)
 * and the key holder itself (ike/daemon/daemon_keyholder.c): a real one,
 * forked over a socketpair, gives the network process the ids but never
 * a key, computes the same AUTH as the keys would in-process, and its
 * death stops the caller (fail closed); under its own seccomp filter it
 * puts back, or forgets, the rollback copy of `policy apply
 * --confirm-within` on the two payload-free requests, and only that.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/daemon_keyholder.h"
#include "daemon/daemon_sandbox.h"
#include "agent/agent_rollback.h"
#include "sa/sa_keys.h"
#include "wire/wire_crypto.h"
#include "wire/wire_ikev2.h"
#include "wire/wire_keymsg.h"
#include "wire/wire_secrets.h"
#include "testutil.h"

/* ---- the codec --------------------------------------------------------------- */

static void test_keymsg_round_trip(void **state)
{
	static const uint8_t octets[] = "signed octets", auth[] = { 1, 2, 3 };
	struct keymsg m = { .type = KM_PSK_VERIFY, .seq = 77, .prf = 5,
			    .u32 = 0xdeadbeef, .method = 14,
			    .data = octets, .data_len = sizeof(octets),
			    .data2 = auth, .data2_len = sizeof(auth) }, d;
	uint8_t buf[KM_MSG_MAX];
	const char *why;
	size_t n;

	snprintf(m.id, sizeof(m.id), "branch key");
	n = keymsg_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, KM_HDR_LEN + 10 + sizeof(octets) + sizeof(auth));
	assert_int_equal(keymsg_decode(buf, n, &d, &why), 0);
	assert_int_equal(d.type, KM_PSK_VERIFY);
	assert_int_equal(d.seq, 77);
	assert_int_equal(d.prf, 5);
	assert_int_equal(d.u32, 0xdeadbeef);
	assert_int_equal(d.method, 14);
	assert_string_equal(d.id, "branch key");
	assert_int_equal(d.data_len, sizeof(octets));
	assert_memory_equal(d.data, octets, sizeof(octets));
	assert_int_equal(d.data2_len, sizeof(auth));
	assert_memory_equal(d.data2, auth, sizeof(auth));
	assert_string_equal(keymsg_type_name(KM_SIGN | KM_REPLY), "sign");
}

static void test_keymsg_refused(void **state)
{
	struct keymsg m = { .type = KM_RELOAD }, d;
	uint8_t buf[KM_MSG_MAX], bad[KM_MSG_MAX];
	const char *why;
	size_t n, cut;

	snprintf(m.id, sizeof(m.id), "x");
	n = keymsg_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	for (cut = 0; cut < n; cut++)	/* every truncation */
		assert_int_equal(keymsg_decode(buf, cut, &d, &why), -1);
	memcpy(bad, buf, n);
	bad[n] = 0;			/* a byte too many */
	assert_int_equal(keymsg_decode(bad, n + 1, &d, &why), -1);
	memcpy(bad, buf, n);
	bad[0] = 2;			/* another version */
	assert_int_equal(keymsg_decode(bad, n, &d, &why), -1);
	assert_string_equal(why, "unknown version");
	bad[0] = KM_VERSION;
	bad[1] = 0x42;			/* no such type */
	assert_int_equal(keymsg_decode(bad, n, &d, &why), -1);
	bad[1] = KM_RELOAD;
	bad[KM_HDR_LEN] = 0;		/* a NUL in the id */
	assert_int_equal(keymsg_decode(bad, n, &d, &why), -1);
	memcpy(bad, buf, n);
	bad[16] = 0x7f;			/* data length past any bound */
	assert_int_equal(keymsg_decode(bad, n, &d, &why), -1);
	/* the encoder refuses what the decoder would */
	m.data_len = KM_DATA_MAX + 1;
	m.data = buf;
	assert_int_equal(keymsg_encode(&m, bad, sizeof(bad)), 0);
	m.data_len = 0;
	m.type = 0;
	assert_int_equal(keymsg_encode(&m, bad, sizeof(bad)), 0);
}

/* The rollback requests are fixed: nothing in any field but type and seq. */
static void test_keymsg_rollback(void **state)
{
	static const uint8_t why_text[] = "cannot rename";
	static const size_t fields[] = { 2, 3, 8, 9, 12, 13, 14, 15 };
	struct keymsg m = { .type = KM_ROLLBACK, .seq = 3 }, d;
	uint8_t buf[KM_MSG_MAX], bad[KM_MSG_MAX];
	const char *why;
	size_t n;

	n = keymsg_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, KM_HDR_LEN);
	assert_int_equal(keymsg_decode(buf, n, &d, &why), 0);
	assert_int_equal(d.type, KM_ROLLBACK);
	assert_int_equal(d.seq, 3);
	assert_string_equal(keymsg_type_name(KM_ROLLBACK), "rollback");
	assert_string_equal(keymsg_type_name(KM_ROLLBACK_DROP | KM_REPLY),
			    "rollback-drop");
	/* status, method, prf, u32: each set in turn, refused */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		memcpy(bad, buf, n);
		bad[fields[i]] = 1;
		assert_int_equal(keymsg_decode(bad, n, &d, &why), -1);
		assert_string_equal(why, "a rollback request that carries "
				    "something");
	}
	memcpy(bad, buf, n);
	bad[KM_HDR_LEN] = 'x';		/* a byte of data */
	bad[19] = 1;
	assert_int_equal(keymsg_decode(bad, n + 1, &d, &why), -1);
	assert_string_equal(why, "a rollback request that carries something");
	bad[19] = 0;
	bad[10] = 1;			/* an id */
	assert_int_equal(keymsg_decode(bad, n + 1, &d, &why), -1);
	assert_string_equal(why, "a rollback request that carries something");
	m.type = KM_ROLLBACK_DROP;
	m.u32 = 1;
	assert_int_equal(keymsg_encode(&m, bad, sizeof(bad)), 0);
	m.u32 = 0;
	snprintf(m.id, sizeof(m.id), "../secrets");
	assert_int_equal(keymsg_encode(&m, bad, sizeof(bad)), 0);
	/* a reply carries its status and error text */
	memset(&m, 0, sizeof(m));
	m.type = KM_ROLLBACK | KM_REPLY;
	m.status = KM_ST_FAILED;
	m.data = why_text;
	m.data_len = sizeof(why_text) - 1;
	n = keymsg_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, KM_HDR_LEN + sizeof(why_text) - 1);
	assert_int_equal(keymsg_decode(buf, n, &d, &why), 0);
	assert_int_equal(d.status, KM_ST_FAILED);
}

static void test_keymsg_ids(void **state)
{
	uint8_t data[600];
	char id[KM_ID_MAX + 1], longest[KM_ID_MAX + 2];
	size_t len = 0, off = 0;

	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_true(keymsg_add_id(data, sizeof(data), &len, "office"));
	assert_true(keymsg_add_id(data, sizeof(data), &len, "10.77.0.2"));
	assert_false(keymsg_add_id(data, sizeof(data), &len, longest));
	assert_false(keymsg_add_id(data, sizeof(data), &len, ""));
	assert_int_equal(keymsg_next_id(data, len, &off, id), 1);
	assert_string_equal(id, "office");
	assert_int_equal(keymsg_next_id(data, len, &off, id), 1);
	assert_string_equal(id, "10.77.0.2");
	assert_int_equal(keymsg_next_id(data, len, &off, id), 0);
	off = 0;
	assert_int_equal(keymsg_next_id(data, len - 1, &off, id), 1);
	assert_int_equal(keymsg_next_id(data, len - 1, &off, id), -1);
}

/* ---- a real key holder --------------------------------------------------------- */

static char confdir[64];
static struct daemon D;

static void write_secrets(size_t extra)
{
	char path[128];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/secrets", confdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "lab = \"correct horse battery staple\"\n"
		   "branch = 0x0102030405\n");
	for (i = 0; i < extra; i++)	/* ids enough for several pages */
		fprintf(f, "peer-%03zu-%0200d = \"k%zu\"\n", i, 0, i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static int holder_up(void **state)
{
	char err[700];

	snprintf(confdir, sizeof(confdir), "/tmp/ixdp-keyholder.XXXXXX");
	assert_non_null(mkdtemp(confdir));
	write_secrets(0);
	memset(&D, 0, sizeof(D));
	snprintf(D.confdir, sizeof(D.confdir), "%s", confdir);
	if (keyholder_start(&D, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	return 0;
}

static int holder_down(void **state)
{
	char cmd[128];

	keyholder_stop(&D);
	secrets_free(D.secrets);
	D.secrets = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", confdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_holder_ids_not_keys(void **state)
{
	char err[700];
	size_t i;

	assert_int_equal(keyholder_reload(&D, err, sizeof(err)), 0);
	assert_int_equal(D.secrets->n, 2);
	assert_null(D.secrets->host);
	for (i = 0; i < D.secrets->n; i++) {
		assert_null(D.secrets->v[i].key);	/* never a key here */
		assert_int_equal(D.secrets->v[i].len, 0);
	}
	assert_non_null(secrets_find(D.secrets, "lab"));
	assert_non_null(secrets_find(D.secrets, "branch"));
	/* more ids than one reply holds: every one arrives, in order */
	write_secrets(400);
	assert_int_equal(keyholder_reload(&D, err, sizeof(err)), 0);
	assert_int_equal(D.secrets->n, 402);
	assert_non_null(secrets_find(D.secrets, "lab"));
	assert_int_equal(strncmp(D.secrets->v[401].id, "peer-399-", 9), 0);
}

static void test_holder_bad_reload_keeps(void **state)
{
	char path[128], err[700];

	assert_int_equal(keyholder_reload(&D, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/secrets", confdir);
	assert_int_equal(chmod(path, 0644), 0);	/* others may read: refused */
	assert_int_equal(keyholder_reload(&D, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "secrets"));
	assert_null(strstr(err, "horse"));	/* never the key */
	assert_non_null(secrets_find(D.secrets, "lab"));
	/* the key holder keeps its set too */
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_holder_same_auth(void **state)
{
	static const char local_text[] =
		"lab = \"correct horse battery staple\"\nbranch = 0x0102030405\n";
	static const uint8_t octets[] = "an IKE_SA_INIT message | nonce | prf";
	uint8_t mine[IKE_PRF_MAX_LEN], theirs[IKE_PRF_MAX_LEN];
	size_t mlen = 0, tlen = 0;
	struct secrets *local;
	const char *why;
	char err[700];

	assert_int_equal(keyholder_reload(&D, err, sizeof(err)), 0);
	assert_int_equal(secrets_parse("s", local_text, strlen(local_text),
				       &local, err, sizeof(err)), 0);
	assert_int_equal(keys_psk_mac(local, "lab", IKEV2_PRF_HMAC_SHA2_256,
				      octets, sizeof(octets), mine, &mlen,
				      &why), 0);
	assert_int_equal(D.keys->psk_mac(&D, "lab", IKEV2_PRF_HMAC_SHA2_256,
					 octets, sizeof(octets), theirs,
					 &tlen, &why), 0);
	assert_int_equal(tlen, 32);
	assert_int_equal(mlen, tlen);
	assert_memory_equal(mine, theirs, tlen);
	assert_int_equal(D.keys->psk_verify(&D, "lab", IKEV2_PRF_HMAC_SHA2_256,
					    octets, sizeof(octets), mine,
					    mlen), KEYS_MATCH);
	mine[0] ^= 1;
	assert_int_equal(D.keys->psk_verify(&D, "lab", IKEV2_PRF_HMAC_SHA2_256,
					    octets, sizeof(octets), mine,
					    mlen), KEYS_MISMATCH);
	assert_int_equal(D.keys->psk_verify(&D, "branch",
					    IKEV2_PRF_HMAC_SHA2_256, octets,
					    sizeof(octets), theirs, tlen),
			 KEYS_MISMATCH);
	assert_int_equal(D.keys->psk_verify(&D, "nobody",
					    IKEV2_PRF_HMAC_SHA2_256, octets,
					    sizeof(octets), theirs, tlen),
			 KEYS_NO_KEY);
	assert_int_equal(D.keys->psk_mac(&D, "nobody", IKEV2_PRF_HMAC_SHA2_256,
					 octets, sizeof(octets), theirs, &tlen,
					 &why), -1);
	/* no host key: no signature, and a reason */
	assert_int_equal(D.keys->sign(&D, 0, octets, sizeof(octets),
				      &mine[0], theirs, &tlen, &why), -1);
	assert_non_null(why);
	secrets_free(local);
}

/* Fail closed: a caller whose key holder is gone stops (exit 1). */
static void test_holder_death_stops(void **state)
{
	static const uint8_t octets[] = "octets";
	uint8_t out[IKE_PRF_MAX_LEN];
	const char *why;
	size_t len;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char err[700];
		struct daemon c = { 0 };

		snprintf(c.confdir, sizeof(c.confdir), "%s", confdir);
		if (keyholder_start(&c, NULL, err, sizeof(err)))
			_exit(3);
		kill(keyholder_pid(&c), SIGKILL);
		waitpid(keyholder_pid(&c), NULL, 0);
		c.keys->psk_mac(&c, "lab", IKEV2_PRF_HMAC_SHA2_256, octets,
				sizeof(octets), out, &len, &why);
		_exit(0);	/* reached only if it authenticated anyway */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

/* ---- the rollback copy, put back by a confined key holder -------------------- */

static void put(const char *name, const char *text, mode_t mode)
{
	write_test_file(confdir, name, text, mode);
}

/* name holds exactly text, mode mode (0: it is not there). */
static void holds(const char *name, const char *text, mode_t mode)
{
	char path[128], buf[256] = "";
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", confdir, name);
	if (!mode) {
		assert_int_equal(lstat(path, &st), -1);
		return;
	}
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_int_equal(n, strlen(text));
	assert_memory_equal(buf, text, n);
}

static int confined_holder_up(void **state)
{
	char err[700];

	snprintf(confdir, sizeof(confdir), "/tmp/ixdp-keyholder.XXXXXX");
	assert_non_null(mkdtemp(confdir));
	memset(&D, 0, sizeof(D));
	snprintf(D.confdir, sizeof(D.confdir), "%s", confdir);
	if (keyholder_start(&D, sandbox_keyholder, err, sizeof(err)))
		fail_msg("%s", err);
	return 0;
}

static void test_holder_rollback(void **state)
{
	char err[700];
	bool had = false;

	put("policy.yaml", "policies: { old: {} }\n", 0640);
	assert_int_equal(agent_rollback_save(confdir, err, sizeof(err)), 0);
	holds("policy.yaml.rollback", "policies: { old: {} }\n", 0640);
	/* one at a time */
	assert_int_equal(agent_rollback_save(confdir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already waits"));
	put("policy.yaml", "policies: { new: {} }\n", 0600);
	assert_int_equal(keyholder_rollback(&D, false, &had, err, sizeof(err)), 0);
	assert_true(had);
	holds("policy.yaml", "policies: { old: {} }\n", 0640);
	holds("policy.yaml.rollback", "", 0);
	assert_int_equal(agent_rollback_kept(confdir), AGENT_KEPT_NOTHING);
	/* nothing kept: nothing put back */
	assert_int_equal(keyholder_rollback(&D, false, &had, err, sizeof(err)),
			 KEYHOLDER_NOTHING_KEPT);
	holds("policy.yaml", "policies: { old: {} }\n", 0640);
	/* confirmed: the copy goes, the policy stays */
	assert_int_equal(agent_rollback_save(confdir, err, sizeof(err)), 0);
	put("policy.yaml", "policies: { new: {} }\n", 0640);
	assert_int_equal(keyholder_rollback(&D, true, NULL, err, sizeof(err)), 0);
	assert_int_equal(agent_rollback_kept(confdir), AGENT_KEPT_NOTHING);
	holds("policy.yaml", "policies: { new: {} }\n", 0640);
}

static void test_holder_rollback_none(void **state)
{
	char err[700], path[128];
	bool had = true;

	assert_int_equal(agent_rollback_save(confdir, err, sizeof(err)), 0);
	assert_int_equal(agent_rollback_kept(confdir), AGENT_KEPT_NONE);
	put("policy.yaml", "policies: { new: {} }\n", 0640);
	assert_int_equal(keyholder_rollback(&D, false, &had, err, sizeof(err)), 0);
	assert_false(had);
	holds("policy.yaml", "", 0);
	assert_int_equal(agent_rollback_kept(confdir), AGENT_KEPT_NOTHING);
	/* a copy that is not a regular file (a link to the secrets): kept */
	put("secrets", "lab = \"key\"\n", 0600);
	put("policy.yaml", "policies: { new: {} }\n", 0640);
	snprintf(path, sizeof(path), "%s/policy.yaml.rollback", confdir);
	assert_int_equal(symlink("secrets", path), 0);
	assert_int_equal(keyholder_rollback(&D, false, &had, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	holds("policy.yaml", "policies: { new: {} }\n", 0640);
	/* the key holder is still there and confined: it forgets it */
	assert_int_equal(keyholder_rollback(&D, true, NULL, err, sizeof(err)), 0);
	holds("secrets", "lab = \"key\"\n", 0600);
	assert_int_equal(agent_rollback_kept(confdir), AGENT_KEPT_NOTHING);
}

/* A reply sent to the key holder is refused, not answered. */
static void test_holder_refuses_replies(void **state)
{
	struct keymsg q = { .type = KM_SIGN | KM_REPLY, .seq = 9 }, r;
	struct secrets *s = NULL;
	uint8_t out[KM_MSG_MAX];
	const char *why;
	size_t n = keyholder_answer(confdir, &s, &q, out, sizeof(out));

	assert_true(n > 0);
	assert_int_equal(keymsg_decode(out, n, &r, &why), 0);
	assert_int_equal(r.status, KM_ST_REFUSED);
	assert_int_equal(r.seq, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keymsg_round_trip),
		cmocka_unit_test(test_keymsg_refused),
		cmocka_unit_test(test_keymsg_rollback),
		cmocka_unit_test(test_keymsg_ids),
		cmocka_unit_test_setup_teardown(test_holder_ids_not_keys,
						holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_bad_reload_keeps,
						holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_same_auth,
						holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_death_stops,
						holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_refuses_replies,
						holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_rollback,
						confined_holder_up, holder_down),
		cmocka_unit_test_setup_teardown(test_holder_rollback_none,
						confined_holder_up, holder_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
