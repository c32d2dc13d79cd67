// SPDX-License-Identifier: GPL-2.0-only
/* wire_secrets.c - the pre-shared key file and the host certificate
 * (cert.c); see secrets.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_secrets.h"

#define SECRETS_MAX_FILE (1u << 20)

struct lexer {
	const char *p, *end;
	unsigned line;
	const char *name;
	char *err;
	size_t errlen;
};

static int lex_fail(struct lexer *lx, const char *what)
{
	snprintf(lx->err, lx->errlen, "%s:%u: %s", lx->name, lx->line, what);
	return -1;
}

static void skip_blanks(struct lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
				   *lx->p == '\r'))
		lx->p++;
}

static bool at_line_end(struct lexer *lx)
{
	skip_blanks(lx);
	return lx->p == lx->end || *lx->p == '\n' || *lx->p == '#';
}

/* A "quoted string" with \" and \\ into out (at most cap bytes). */
static int lex_quoted(struct lexer *lx, uint8_t *out, size_t cap,
		      size_t *len, const char *what)
{
	size_t n = 0;

	lx->p++;	/* the opening quote */
	while (lx->p < lx->end && *lx->p != '"') {
		char c = *lx->p++;

		if (c == '\n')
			return lex_fail(lx, "a quoted string does not end on its line");
		if (c == '\\' && lx->p < lx->end &&
		    (*lx->p == '"' || *lx->p == '\\'))
			c = *lx->p++;
		if (n == cap)
			return lex_fail(lx, what);
		out[n++] = (uint8_t)c;
	}
	if (lx->p == lx->end)
		return lex_fail(lx, "a quoted string does not end");
	lx->p++;
	*len = n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int lex_hex(struct lexer *lx, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = 0;

	lx->p += 2;	/* 0x */
	while (lx->p + 1 < lx->end && hexval(lx->p[0]) >= 0 &&
	       hexval(lx->p[1]) >= 0) {
		if (n == cap)
			return lex_fail(lx, "key longer than 1024 bytes");
		out[n++] = (uint8_t)(hexval(lx->p[0]) << 4 | hexval(lx->p[1]));
		lx->p += 2;
	}
	if (lx->p < lx->end && hexval(*lx->p) >= 0)
		return lex_fail(lx, "a 0x key needs an even number of hex digits");
	if (n == 0)
		return lex_fail(lx, "a 0x key needs hex digits");
	*len = n;
	return 0;
}

static bool id_char(char c)
{
	return c > ' ' && c != '=' && c != '#' && c != '"' && c != 0x7f;
}

static int lex_id(struct lexer *lx, char *id, size_t cap)
{
	size_t n = 0;

	if (*lx->p == '"') {
		if (lex_quoted(lx, (uint8_t *)id, cap - 1, &n,
			       "id longer than 255 characters"))
			return -1;
		if (memchr(id, '\0', n))
			return lex_fail(lx, "id holds a NUL byte");
	} else {
		while (lx->p < lx->end && id_char(*lx->p)) {
			if (n == cap - 1)
				return lex_fail(lx, "id longer than 255 characters");
			id[n++] = *lx->p++;
		}
	}
	if (n == 0)
		return lex_fail(lx, "expected an id, then = and the key");
	id[n] = '\0';
	return 0;
}

static int secrets_add(struct secrets *s, const char *id, const uint8_t *key,
		       size_t len)
{
	struct secret *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	s->v = v;
	v[s->n].id = strdup(id);
	v[s->n].key = malloc(len);
	if (!v[s->n].id || !v[s->n].key) {
		free(v[s->n].id);
		free(v[s->n].key);
		return -1;
	}
	memcpy(v[s->n].key, key, len);
	v[s->n].len = len;
	s->n++;
	return 0;
}

/* One `ID = KEY` line. */
static int parse_entry(struct lexer *lx, struct secrets *s)
{
	char id[SECRETS_MAX_ID + 1];
	uint8_t key[SECRETS_MAX_KEY];
	size_t len = 0;
	int rc = -1;

	if (lex_id(lx, id, sizeof(id)))
		return -1;
	skip_blanks(lx);
	if (lx->p == lx->end || *lx->p != '=')
		return lex_fail(lx, "expected '=' after the id");
	lx->p++;
	skip_blanks(lx);
	if (lx->p < lx->end && *lx->p == '"')
		rc = lex_quoted(lx, key, sizeof(key), &len,
				"key longer than 1024 bytes");
	else if (lx->end - lx->p >= 2 && lx->p[0] == '0' &&
		 (lx->p[1] == 'x' || lx->p[1] == 'X'))
		rc = lex_hex(lx, key, sizeof(key), &len);
	else
		lex_fail(lx, "expected the key: \"text\" or 0xHEX");
	if (rc == 0 && len == 0)
		rc = lex_fail(lx, "empty key");
	if (rc == 0 && !at_line_end(lx))
		rc = lex_fail(lx, "unexpected text after the key");
	if (rc == 0 && secrets_find(s, id))
		rc = lex_fail(lx, "a key with this id was given before");
	if (rc == 0 && secrets_add(s, id, key, len))
		rc = lex_fail(lx, "out of memory");
	ike_wipe(key, sizeof(key));
	return rc;
}

int secrets_parse(const char *name, const char *text, size_t len,
		  struct secrets **out, char *err, size_t errlen)
{
	struct lexer lx = { text, text + len, 1, name, err, errlen };
	struct secrets *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (lx.p < lx.end) {
		if (!at_line_end(&lx) && parse_entry(&lx, s)) {
			secrets_free(s);
			return -1;
		}
		while (lx.p < lx.end && *lx.p != '\n')	/* a comment */
			lx.p++;
		if (lx.p < lx.end) {
			lx.p++;
			lx.line++;
		}
	}
	*out = s;
	return 0;
}

int secrets_check_file(int fd, const char *path, const char *what,
		       char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "%s belongs to another user (uid %u): %s "
			 "must belong to root", path, (unsigned)st.st_uid, what);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s is accessible to group or others "
			 "(mode %04o): it holds %s; run `chmod 600 %s`", path,
			 (unsigned)(st.st_mode & 07777), what, path);
		return -1;
	}
	if (st.st_size > SECRETS_MAX_FILE) {
		snprintf(err, errlen, "%s is larger than 1 MiB", path);
		return -1;
	}
	return 0;
}

ssize_t secrets_read_fd(int fd, void *buf, size_t cap)
{
	uint8_t *p = buf;
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, p + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* Our certificate and private key join the keys (cert.h). */
static int load_host_cert(const char *confdir, struct secrets *s, char *err,
			  size_t errlen)
{
	return cert_host_load(confdir, &s->host, err, errlen);
}

static int load_keys(const char *confdir, struct secrets **out, char *err,
		     size_t errlen)
{
	char path[1024];
	char *buf;
	ssize_t n;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", confdir, SECRETS_FILE);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return secrets_parse(SECRETS_FILE, "", 0, out, err, errlen);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (secrets_check_file(fd, path, "the pre-shared keys", err, errlen)) {
		close(fd);
		return -1;
	}
	buf = malloc(SECRETS_MAX_FILE + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = secrets_read_fd(fd, buf, SECRETS_MAX_FILE + 1);
	close(fd);
	if (n < 0 || (size_t)n > SECRETS_MAX_FILE) {
		snprintf(err, errlen, "%s: cannot read it whole", path);
		rc = -1;
	} else {
		rc = secrets_parse(SECRETS_FILE, buf, (size_t)n, out, err,
				   errlen);
	}
	ike_wipe(buf, SECRETS_MAX_FILE + 1);
	free(buf);
	return rc;
}

int secrets_load(const char *confdir, struct secrets **out, char *err,
		 size_t errlen)
{
	if (load_keys(confdir, out, err, errlen))
		return -1;
	if (load_host_cert(confdir, *out, err, errlen)) {
		secrets_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

const struct secret *secrets_find(const struct secrets *s, const char *id)
{
	size_t i;

	if (!s || !id)
		return NULL;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].id, id))
			return &s->v[i];
	return NULL;
}

void secrets_free(struct secrets *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		ike_wipe(s->v[i].key, s->v[i].len);
		free(s->v[i].key);
		free(s->v[i].id);
	}
	free(s->v);
	cert_host_free(s->host);
	free(s);
}
