/* SPDX-License-Identifier: GPL-2.0-only */
/* ctl_live.h - the specific filter list in force, for `show` and `match`. */
#ifndef IXDP_LIVE_H
#define IXDP_LIVE_H

#include "ctl.h"
#include "compile/compiler.h"

enum list_source {
	LIST_NONE = 0,       /* no policy: the boot mode rules */
	LIST_DATAPLANE,      /* read from the loaded dataplane */
	LIST_COMPILED,       /* not loaded: the assigned policy compiled here */
};

struct live_list {
	enum list_source source;
	struct filter_table table;
	struct ixdp_filter_info *info;  /* LIST_DATAPLANE; names point here */
	struct ixdp_counter *counters;  /* LIST_DATAPLANE, else NULL */
	struct policy_file *pf;         /* LIST_COMPILED; names point here */
	enum ixdp_bootmode bootmode;    /* the mode in force when LIST_NONE */
};

/* Fill l; returns an exit code (EXIT_OK on success). */
int live_list_read(struct ctx *c, struct live_list *l);
void live_list_free(struct live_list *l);

const char *list_source_name(enum list_source s);

/* The widths of the text table's columns, measured over the rows it will
 * show (an IPv6 prefix is up to 43 characters: no fixed width fits). */
struct spec_widths {
	int idx, src, dst, proto, sport, dport, action, rule;
};
void spec_widths_init(struct spec_widths *w);   /* the headers' widths */
void spec_widths_add(struct spec_widths *w, size_t idx,
		     const struct specific_filter *f);

/* One specific filter as a table row / JSON object; ctr may be NULL. */
void print_specific_header(const struct spec_widths *w);
void print_specific_row(const struct spec_widths *w, size_t idx,
			const struct specific_filter *f,
			const struct ixdp_counter *ctr);
struct json_object *specific_json(size_t idx, const struct specific_filter *f,
				  const struct ixdp_counter *ctr);

#endif
