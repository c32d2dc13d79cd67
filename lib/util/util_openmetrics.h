/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * util_openmetrics.h - writing the OpenMetrics text format (the one the
 * Prometheus project standardised, https://openmetrics.io): metric
 * families with their TYPE, UNIT and HELP lines, samples with escaped
 * label values, and the closing "# EOF".
 *
 * The text grows in one malloc'd buffer; a failed allocation is
 * remembered (om_failed) and the text is then not to be used.  Label
 * values are escaped as the format asks (backslash, double quote,
 * newline) and bytes that are not UTF-8 become '?', so a rule name cut
 * in the middle of a character still yields a valid exposition.
 */
#ifndef IXDP_UTIL_OPENMETRICS_H
#define IXDP_UTIL_OPENMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The media type of the text (for an HTTP Content-Type). */
#define OM_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct om_buf {
	char *text;		/* NUL-terminated once anything was written */
	size_t len, cap;
	bool failed;		/* out of memory: the text is incomplete */
};

void om_init(struct om_buf *b);
void om_free(struct om_buf *b);
bool om_failed(const struct om_buf *b);

/* "# TYPE name type", "# UNIT name unit" (unit may be NULL: none; the
 * name must then end in "_" unit), "# HELP name help".  type: "counter"
 * or "gauge". */
void om_family(struct om_buf *b, const char *name, const char *type,
	       const char *unit, const char *help);

/*
 * One sample: name (the family's, plus "_total" for a counter),
 * labels as a NULL-terminated list of name, value pairs (NULL: none),
 * the value.
 */
void om_sample(struct om_buf *b, const char *name, const char *const *labels,
	       uint64_t value);

/* Text written elsewhere with these functions (families of another
 * part), appended as it is. */
void om_append(struct om_buf *b, const char *text);

/* The closing line, "# EOF". */
void om_eof(struct om_buf *b);

#endif /* IXDP_UTIL_OPENMETRICS_H */
