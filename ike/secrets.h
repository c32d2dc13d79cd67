/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * secrets.h - the pre-shared keys, CONFDIR/secrets.
 *
 * One key a line:
 *
 *   # comment
 *   office        = "a long passphrase"
 *   10.77.0.2     = 0x8f3a...            (hexadecimal bytes)
 *   "branch key"  = "with \"quotes\" and \\ backslashes"
 *
 * The id is what a policy's `psk: NAME` names, or a peer's identity or
 * address (default response).  The file must be readable by its owner
 * only: secrets_load refuses it otherwise.  Keys are wiped when freed and
 * never appear in a message, a log line or an error.
 */
#ifndef IXDP_IKE_SECRETS_H
#define IXDP_IKE_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#define SECRETS_FILE     "secrets"
#define SECRETS_MAX_KEY  1024
#define SECRETS_MAX_ID   255

struct secret {
	char *id;
	uint8_t *key;
	size_t len;
};

struct secrets {
	struct secret *v;
	size_t n;
};

/* Read CONFDIR/secrets.  A missing file gives an empty set (and 0); a
 * file group- or world-readable, or owned by another user, is refused
 * with -1 and err says so; so is a malformed one (err: "secrets:LINE:
 * ..."). */
int secrets_load(const char *confdir, struct secrets **out, char *err,
		 size_t errlen);
int secrets_parse(const char *name, const char *text, size_t len,
		  struct secrets **out, char *err, size_t errlen);
const struct secret *secrets_find(const struct secrets *s, const char *id);
void secrets_free(struct secrets *s);

#endif /* IXDP_IKE_SECRETS_H */
