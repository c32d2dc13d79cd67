/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_secrets.h - the pre-shared keys, CONFDIR/secrets.
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
 *
 * The host's certificate and private key (CONFDIR/certs/host.pem,
 * CONFDIR/private/host.key; cert.h) are read with the keys, under the same
 * rule for the key file, and kept here as `host`.
 */
#ifndef IXDP_IKE_SECRETS_H
#define IXDP_IKE_SECRETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SECRETS_FILE     "secrets"
#define SECRETS_MAX_KEY  1024
#define SECRETS_MAX_ID   255

struct secret {
	char *id;
	uint8_t *key;
	size_t len;
};

struct cert_host;

struct secrets {
	struct secret *v;
	size_t n;
	struct cert_host *host;	/* NULL: no host certificate */
};

/* Read CONFDIR/secrets.  A missing file gives an empty set (and 0); a
 * file group- or world-readable, or owned by another user, is refused
 * with -1 and err says so; so is a malformed one (err: "secrets:LINE:
 * ...").  Then the host certificate (cert_host_load): its errors too. */
int secrets_load(const char *confdir, struct secrets **out, char *err,
		 size_t errlen);
int secrets_parse(const char *name, const char *text, size_t len,
		  struct secrets **out, char *err, size_t errlen);
/* 0 when the open file fd is a regular file of root (or us) that neither
 * group nor others may access, at most 1 MiB; else -1 and err (what: "the
 * pre-shared keys", "the host's private key"). */
int secrets_check_file(int fd, const char *path, const char *what,
		       char *err, size_t errlen);
/* Read fd until end of file or cap bytes, retrying on EINTR: the count
 * read, or -1 on a read error.  Callers pass one byte more than they accept
 * to see that a file was not cut short. */
ssize_t secrets_read_fd(int fd, void *buf, size_t cap);
const struct secret *secrets_find(const struct secrets *s, const char *id);
void secrets_free(struct secrets *s);

#endif /* IXDP_IKE_SECRETS_H */
