/* SPDX-License-Identifier: GPL-2.0-only */
/* util_errbuf.h - the library's one way to report an error into a caller's buffer. */
#ifndef IXDP_ERRBUF_H
#define IXDP_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Format into errbuf (if any) and return -1, so that `return errbuf_set(...)`
 * reports and fails in one step. */
__attribute__((format(printf, 3, 4)))
static inline int errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#endif
