// SPDX-License-Identifier: GPL-2.0-only
/* util_openmetrics.c - see util_openmetrics.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_openmetrics.h"

void om_init(struct om_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void om_free(struct om_buf *b)
{
	free(b->text);
	om_init(b);
}

bool om_failed(const struct om_buf *b)
{
	return b->failed;
}

/* Room for n more bytes and the NUL. */
static bool reserve(struct om_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *t;

	if (b->failed)
		return false;
	while (cap - b->len < n + 1) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	if (cap != b->cap) {
		t = realloc(b->text, cap);
		if (!t) {
			b->failed = true;
			return false;
		}
		b->text = t;
		b->cap = cap;
	}
	return true;
}

static void put(struct om_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

static void puts_(struct om_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void printf_(struct om_buf *b, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		put(b, small, (size_t)n);
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The length of the valid UTF-8 character at s (0: not one). */
static size_t utf8_char(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A label value or HELP text: \ " and newline escaped, non-UTF-8 as '?'. */
static void put_escaped(struct om_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_char(p);

		if (*p == '\\')
			puts_(b, "\\\\");
		else if (*p == '\n')
			puts_(b, "\\n");
		else if (*p == '"')
			puts_(b, "\\\"");
		else if (n == 0 || *p < 0x20)
			puts_(b, "?");
		else
			put(b, (const char *)p, n);
		p += n ? n : 1;
	}
}

void om_family(struct om_buf *b, const char *name, const char *type,
	       const char *unit, const char *help)
{
	printf_(b, "# TYPE %s %s\n", name, type);
	if (unit)
		printf_(b, "# UNIT %s %s\n", name, unit);
	printf_(b, "# HELP %s ", name);
	put_escaped(b, help);
	puts_(b, "\n");
}

void om_sample(struct om_buf *b, const char *name, const char *const *labels,
	       uint64_t value)
{
	puts_(b, name);
	if (labels && labels[0]) {
		puts_(b, "{");
		for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
			printf_(b, "%s%s=\"", i ? "," : "", labels[i]);
			put_escaped(b, labels[i + 1]);
			puts_(b, "\"");
		}
		puts_(b, "}");
	}
	printf_(b, " %" PRIu64 "\n", value);
}

void om_append(struct om_buf *b, const char *text)
{
	puts_(b, text);
}

void om_eof(struct om_buf *b)
{
	puts_(b, "# EOF\n");
}
