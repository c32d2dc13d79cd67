// SPDX-License-Identifier: GPL-2.0-only
/* agent_source.c - see agent_source.h: signature check and cache of a
 * central policy document. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "agent/agent_source.h"
#include "util/util_atomic_file.h"

#define STATE_MAX 8192	/* the state file: a few short lines */

void source_path(const char *statedir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/central%s%s", statedir, *name ? "/" : "", name);
}

/* ---- the signature ------------------------------------------------------------ */

static EVP_PKEY *read_key(const char *keypath, char *err, size_t errlen)
{
	FILE *fp = fopen(keypath, "re");
	EVP_PKEY *k;

	if (!fp) {
		snprintf(err, errlen, "policysourcekey %s: %s", keypath,
			 strerror(errno));
		return NULL;
	}
	k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!k)
		snprintf(err, errlen, "policysourcekey %s: not a PEM public "
			 "key", keypath);
	return k;
}

/* The digest the key type signs with: NULL for EdDSA (the bytes
 * themselves); -1 for a type not accepted. */
static int key_digest(EVP_PKEY *k, const EVP_MD **md)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		*md = NULL;
		return 0;
	case EVP_PKEY_EC:
		*md = EVP_sha256();
		return 0;
	default:
		return -1;
	}
}

int source_verify(const char *keypath, const void *doc, size_t len,
		  const void *sig, size_t siglen, char *err, size_t errlen)
{
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
	EVP_PKEY *k;
	int ok;

	if (len > SOURCE_DOC_MAX || siglen > SOURCE_SIG_MAX || siglen == 0) {
		snprintf(err, errlen, "refused: document of %zu bytes (at most "
			 "%u), signature of %zu (1 to %u)", len, SOURCE_DOC_MAX,
			 siglen, SOURCE_SIG_MAX);
		return -1;
	}
	if (!(k = read_key(keypath, err, errlen)))
		return -1;
	if (key_digest(k, &md)) {
		snprintf(err, errlen, "policysourcekey %s: an Ed25519, Ed448 "
			 "or ECDSA key is expected", keypath);
		EVP_PKEY_free(k);
		return -1;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, k) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, doc, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	if (!ok)
		snprintf(err, errlen, "bad signature: the document is not "
			 "signed by the key in %s", keypath);
	return ok ? 0 : -1;
}

/* ---- the state file ----------------------------------------------------------- */

void source_tag_copy(char out[SOURCE_TAG_MAX], const char *value, size_t len)
{
	out[0] = '\0';
	if (len >= SOURCE_TAG_MAX)
		return;
	for (size_t i = 0; i < len; i++)
		if (value[i] < ' ' || value[i] > '~')
			return;
	memcpy(out, value, len);
	out[len] = '\0';
}

static int64_t parse_time(const char *v)
{
	char *end;
	long long n = strtoll(v, &end, 10);

	return *v && !*end && n >= 0 ? (int64_t)n : 0;
}

static void state_set(struct source_state *st, const char *key,
		      const char *v)
{
	if (!strcmp(key, "source") && !bootconf_check_url(v, NULL, 0))
		snprintf(st->url, sizeof(st->url), "%s", v);
	else if (!strcmp(key, "etag"))
		source_tag_copy(st->etag, v, strlen(v));
	else if (!strcmp(key, "last-modified"))
		source_tag_copy(st->last_modified, v, strlen(v));
	else if (!strcmp(key, "fetched"))
		st->fetched = parse_time(v);
	else if (!strcmp(key, "changed"))
		st->changed = parse_time(v);
	else if (!strcmp(key, "polled"))
		st->polled = parse_time(v);
	else if (!strcmp(key, "interval"))
		st->interval_s = (uint32_t)parse_time(v);
	else if (!strcmp(key, "cache-in-use"))
		st->cache_in_use = !strcmp(v, "yes");
	else if (!strcmp(key, "in-force"))
		st->in_force = !strcmp(v, "yes");
	else if (!strcmp(key, "pid"))
		st->pid = (int)parse_time(v);
	else if (!strcmp(key, "result"))
		source_tag_copy(st->result, v, strlen(v) < sizeof(st->result) ?
				strlen(v) : 0);
}

int source_state_read(const char *statedir, struct source_state *st,
		      char *err, size_t errlen)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	size_t len;

	memset(st, 0, sizeof(*st));
	source_path(statedir, "state", path, sizeof(path));
	if (access(path, F_OK) && errno == ENOENT)
		return 1;
	if (read_file_whole(path, STATE_MAX, &text, &len, err, errlen))
		return -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");

		if (!eq)
			continue;
		*eq = '\0';
		state_set(st, line, eq + 3);
	}
	free(text);
	return 0;
}

static int make_dir(const char *dir, mode_t mode, char *err, size_t errlen)
{
	if (mkdir(dir, mode) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_cache_dir(const char *statedir, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	source_path(statedir, "", dir, sizeof(dir));
	return make_dir(statedir, 0755, err, errlen) ||
	       make_dir(dir, 0700, err, errlen) ? -1 : 0;
}

int source_state_write(const char *statedir, const struct source_state *st,
		       char *err, size_t errlen)
{
	char path[PATH_MAX], text[STATE_MAX];
	int n;

	n = snprintf(text, sizeof(text),
		     "# ipsec-xdpd's central policy state; do not edit\n"
		     "source = %s\netag = %s\nlast-modified = %s\n"
		     "fetched = %" PRId64 "\nchanged = %" PRId64 "\n"
		     "polled = %" PRId64 "\ninterval = %" PRIu32 "\n"
		     "cache-in-use = %s\nin-force = %s\npid = %d\nresult = %s\n",
		     st->url, st->etag, st->last_modified, st->fetched,
		     st->changed, st->polled, st->interval_s,
		     st->cache_in_use ? "yes" : "no", st->in_force ? "yes" : "no",
		     st->pid, st->result);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "central policy state too long");
		return -1;
	}
	if (make_cache_dir(statedir, err, errlen))
		return -1;
	source_path(statedir, "state", path, sizeof(path));
	return write_file_atomic(path, text, (size_t)n, 0600, err, errlen);
}

/* ---- the cache ---------------------------------------------------------------- */

/* The signature first: a document is never beside another's signature
 * for long, and either way source_cache_usable checks the pair. */
int source_cache_store(const char *statedir, const void *doc, size_t len,
		       const void *sig, size_t siglen, char *err,
		       size_t errlen)
{
	char path[PATH_MAX];

	if (make_cache_dir(statedir, err, errlen))
		return -1;
	source_path(statedir, "policy.yaml.sig", path, sizeof(path));
	if (write_file_atomic(path, sig, siglen, 0600, err, errlen))
		return -1;
	source_path(statedir, "policy.yaml", path, sizeof(path));
	return write_file_atomic(path, doc, len, 0600, err, errlen);
}

int source_cache_load(const char *statedir, const struct bootconf *conf,
		      char **docp, size_t *lenp, char *err, size_t errlen)
{
	char path[PATH_MAX], sigpath[PATH_MAX], *doc = NULL, *sig = NULL;
	struct source_state st;
	size_t len = 0, siglen = 0;
	int rc;

	*docp = NULL;
	*lenp = 0;
	if (!conf->policysource[0])
		return 1;
	if ((rc = source_state_read(statedir, &st, err, errlen)))
		return rc;
	source_path(statedir, "policy.yaml", path, sizeof(path));
	source_path(statedir, "policy.yaml.sig", sigpath, sizeof(sigpath));
	if (strcmp(st.url, conf->policysource) || access(path, F_OK))
		return 1;
	rc = -1;
	if (!read_file_whole(path, SOURCE_DOC_MAX, &doc, &len, err, errlen) &&
	    !read_file_whole(sigpath, SOURCE_SIG_MAX, &sig, &siglen, err, errlen))
		rc = source_verify(conf->policysourcekey, doc, len, sig, siglen,
				   err, errlen);
	free(sig);
	if (rc) {
		free(doc);
		return -1;
	}
	*docp = doc;
	*lenp = len;
	return 0;
}

int source_cache_usable(const char *statedir, const struct bootconf *conf,
			char *path, size_t pathlen, char *err, size_t errlen)
{
	char *doc;
	size_t len;
	int rc = source_cache_load(statedir, conf, &doc, &len, err, errlen);

	free(doc);
	source_path(statedir, "policy.yaml", path, pathlen);
	return rc;
}
