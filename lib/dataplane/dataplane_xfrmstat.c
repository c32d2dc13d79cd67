// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_xfrmstat.c - /proc/net/xfrm_stat and its monitor mapping; see xfrmstat.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/dataplane_xfrmstat.h"

#define XFRMSTAT_FILE_MAX 8192	/* 32 lines of 30 bytes today */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_name_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

/* One line [p, end): a name, blanks, a decimal number, maybe blanks. */
static int parse_line(const char *p, const char *end, struct xfrmstat *out)
{
	const char *name = p;
	size_t name_len;
	uint64_t v = 0;
	bool digits = false;

	while (p < end && is_name_char(*p))
		p++;
	name_len = (size_t)(p - name);
	if (!name_len || name_len >= XFRMSTAT_NAME_MAX || p == end ||
	    !is_blank(*p))
		return -1;
	while (p < end && is_blank(*p))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		digits = true;
	}
	while (p < end && is_blank(*p))
		p++;
	if (!digits || p != end || out->n == XFRMSTAT_MAX)
		return -1;
	memcpy(out->c[out->n].name, name, name_len);
	out->c[out->n].name[name_len] = '\0';
	out->c[out->n].value = v;
	out->n++;
	return 0;
}

int xfrmstat_parse(const char *text, size_t len, struct xfrmstat *out,
		   char *errbuf, size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		line++;
		if (eol > p && parse_line(p, eol, out)) {
			snprintf(errbuf, errlen, "line %u is not \"Name value\""
				 "%s", line, out->n == XFRMSTAT_MAX
				 ? " (too many counters)" : "");
			return -1;
		}
		p = eol + 1;
	}
	return 0;
}

int xfrmstat_read(const char *path, struct xfrmstat *out, char *errbuf,
		  size_t errlen)
{
	char text[XFRMSTAT_FILE_MAX], why[200];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: %s", path, errno == ENOENT
			 ? "not available (a kernel without xfrm)"
			 : strerror(errno));
		return -1;
	}
	while (len < sizeof(text) &&
	       (n = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == sizeof(text)) {
		snprintf(errbuf, errlen, "%s: longer than %d bytes", path,
			 XFRMSTAT_FILE_MAX);
		return -1;
	}
	if (xfrmstat_parse(text, len, out, why, sizeof(why))) {
		snprintf(errbuf, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

uint64_t xfrmstat_get(const struct xfrmstat *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->c[i].name, name))
			return s->c[i].value;
	return 0;
}

static const char *const other_in_errors[] = {
	"XfrmInError", "XfrmInBufferError", "XfrmInHdrError",
	"XfrmInStateModeError", "XfrmInStateExpired", "XfrmInStateMismatch",
	"XfrmInStateInvalid",
};

void xfrmstat_monitor(const struct xfrmstat *s, struct xfrmstat_monitor *m)
{
	memset(m, 0, sizeof(*m));
	m->bad_spi = xfrmstat_get(s, "XfrmInNoStates");
	m->not_decrypted = xfrmstat_get(s, "XfrmInStateProtoError");
	m->replays = xfrmstat_get(s, "XfrmInStateSeqError");
	for (size_t i = 0; i < sizeof(other_in_errors) / sizeof(other_in_errors[0]); i++)
		m->other_in_errors += xfrmstat_get(s, other_in_errors[i]);
	for (size_t i = 0; i < s->n; i++)
		if (!strncmp(s->c[i].name, "XfrmOut", 7))
			m->out_errors += s->c[i].value;
}
