/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agent_source.h - a central policy (docs/behaviour.md §8): the signature
 * check of a document fetched from the policysource, and its cache under
 * the state directory.  No network here: ipsec-xdpd fetches
 * (ike/daemon/daemon_source.c) and hands the bytes over.
 *
 * The cache, STATEDIR/central/ (STATEDIR: $IPSEC_XDP_STATEDIR or
 * /var/lib/ipsec-xdp):
 *   policy.yaml      the last document that was verified and compiled
 *   policy.yaml.sig  its detached signature
 *   state            key = value lines: the source it came from, its
 *                    ETag and Last-Modified, when it was fetched and when
 *                    it changed, the last poll's outcome, whether the
 *                    cache is in use (the source could not be reached)
 * A cached document is used only when its signature checks again with
 * the configured key and it came from the configured source.
 */
#ifndef IXDP_AGENT_SOURCE_H
#define IXDP_AGENT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "policy/policy_bootconf.h"
#include "policy/policy_state.h"	/* ixdp_statedir() */

#define SOURCE_DOC_MAX (1u << 20)	/* a policy document: 1 MiB at most */
#define SOURCE_SIG_MAX 1024u		/* a signature: far below */
#define SOURCE_TAG_MAX 256		/* an ETag or Last-Modified, with NUL */
#define SOURCE_POLL_DEFAULT_S 180	/* until a document gives its own */

/* STATEDIR/central/NAME */
void source_path(const char *statedir, const char *name, char *buf, size_t len);

/*
 * Does sig sign doc with the public key in keypath (PEM)?  Ed25519 and
 * Ed448 keys sign the bytes, ECDSA keys their SHA-256 (DER signature):
 * `openssl pkeyutl -sign -rawin` and `openssl dgst -sha256 -sign`.  Sizes
 * over SOURCE_DOC_MAX / SOURCE_SIG_MAX are refused before any parsing.
 * 0 when it does; -1 and err saying why not.
 */
int source_verify(const char *keypath, const void *doc, size_t len,
		  const void *sig, size_t siglen, char *err, size_t errlen);

struct source_state {
	char url[BOOTCONF_URL_MAX];	/* the source of the cached document */
	char etag[SOURCE_TAG_MAX];	/* its validators, for a conditional GET */
	char last_modified[SOURCE_TAG_MAX];
	int64_t fetched;	/* last time the source answered (200 or 304) */
	int64_t changed;	/* last time the document in force changed */
	int64_t polled;		/* last poll, whatever its outcome */
	uint32_t interval_s;	/* the polling interval in use */
	bool cache_in_use;	/* in force from the cache: source unreachable */
	bool in_force;		/* a document from the source is in force */
	int pid;		/* the ipsec-xdpd that wrote this */
	char result[300];	/* the last poll's outcome, one line */
};

/* Read STATEDIR/central/state: 0, 1 when there is none (st zeroed), -1
 * and err when it cannot be read.  Unknown keys are skipped, bad values
 * cleared. */
int source_state_read(const char *statedir, struct source_state *st,
		      char *err, size_t errlen);
/* Write it (atomically, creating STATEDIR/central, mode 0700). */
int source_state_write(const char *statedir, const struct source_state *st,
		       char *err, size_t errlen);

/* A header value fit to keep: printable ASCII, shorter than
 * SOURCE_TAG_MAX.  Copied to out; "" when not fit. */
void source_tag_copy(char out[SOURCE_TAG_MAX], const char *value, size_t len);

/* Keep doc and sig (already verified and compiled) as the cache. */
int source_cache_store(const char *statedir, const void *doc, size_t len,
		       const void *sig, size_t siglen, char *err,
		       size_t errlen);

/*
 * Is a cached document usable under conf: a policysource is configured,
 * the cache came from it, and its signature checks with the configured
 * key?  0 and path (STATEDIR/central/policy.yaml) when it is; 1 when
 * there is no source or no cache for it; -1 and err when the cache is
 * there but refused (bad signature, unreadable).
 */
int source_cache_usable(const char *statedir, const struct bootconf *conf,
			char *path, size_t pathlen, char *err, size_t errlen);

/* The same, with the verified document itself (malloc'd, *lenp bytes)
 * in *docp when 0: what was checked is what is used (no second read). */
int source_cache_load(const char *statedir, const struct bootconf *conf,
		      char **docp, size_t *lenp, char *err, size_t errlen);

#endif /* IXDP_AGENT_SOURCE_H */
