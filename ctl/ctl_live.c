// SPDX-License-Identifier: GPL-2.0-only
/* ctl_live.c - see live.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_live.h"
#include "agent/agent.h"

const char *list_source_name(enum list_source s)
{
	switch (s) {
	case LIST_DATAPLANE:
		return "dataplane";
	case LIST_COMPILED:
		return "assigned policy (not loaded)";
	default:
		return "none";
	}
}

static void info_to_filter(const struct ixdp_filter_info *in, struct specific_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->fam = in->fam;
	memcpy(f->src, in->src, sizeof(f->src));
	memcpy(f->dst, in->dst, sizeof(f->dst));
	f->src_plen = in->src_plen;
	f->dst_plen = in->dst_plen;
	f->proto_exact = in->proto_exact;
	f->proto = in->proto;
	f->sport.lo = in->sport_lo;
	f->sport.hi = in->sport_hi;
	f->dport.lo = in->dport_lo;
	f->dport.hi = in->dport_hi;
	f->action = in->action;
	f->flags = in->flags;
	f->weight = in->weight;
	f->rule = in->rule == ~0u ? -1 : (int)in->rule;
	f->name = in->name;
}

static int read_from_dataplane(struct ctx *c, struct live_list *l)
{
	struct ixdp_bank bank;
	struct ixdp_boot boot;
	uint32_t live;
	size_t n = 0;
	struct dp dp;
	int ret;

	if ((ret = open_dataplane(c, &dp)))
		return ret;
	if (dp_read_bank(&dp, &live, &bank) || dp_read_boot(&dp, &boot)) {
		dp_close(&dp);
		return fail(EXIT_FAIL, "cannot read the dataplane's state");
	}
	l->bootmode = (enum ixdp_bootmode)boot.mode;
	if (!bank.has_policy) {
		dp_close(&dp);
		l->source = LIST_NONE;
		return EXIT_OK;
	}
	ret = dp_read_filters(&dp, &l->info, &l->counters, &n);
	dp_close(&dp);
	if (ret)
		return fail(EXIT_FAIL, "cannot read the filter list from the dataplane");
	l->source = LIST_DATAPLANE;
	for (size_t i = 0; i < n; i++) {
		struct specific_filter f;

		info_to_filter(&l->info[i], &f);
		if (filter_table_push(&l->table, &f))
			return fail(EXIT_FAIL, "out of memory");
	}
	return EXIT_OK;
}

static int compile_assigned(struct ctx *c, struct live_list *l)
{
	struct compile_diag diag = { 0 };
	char path[PATH_MAX], err[1024];
	struct bootconf conf;
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	ctl_policy_path(c, &conf, path, sizeof(path));
	l->bootmode = bootconf_effective_mode(&conf);
	if (access(path, F_OK)) {
		l->source = LIST_NONE;
		return EXIT_OK;
	}
	ret = agent_compile(path, &conf, &l->pf, &l->table, &diag, err, sizeof(err));
	compile_diag_free(&diag);
	if (ret)
		return fail(EXIT_BAD_INPUT, "%s", err);
	l->source = LIST_COMPILED;
	return EXIT_OK;
}

int live_list_read(struct ctx *c, struct live_list *l)
{
	memset(l, 0, sizeof(*l));
	if (dp_is_loaded(c->root))
		return read_from_dataplane(c, l);
	return compile_assigned(c, l);
}

void live_list_free(struct live_list *l)
{
	filter_table_free(&l->table);
	free(l->info);
	free(l->counters);
	if (l->pf)
		policy_file_free(l->pf);
	memset(l, 0, sizeof(*l));
}

static void flags_str(uint8_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", flags & IXDP_F_INPASS ? "inpass " : "",
		 flags & IXDP_F_SOFT ? "soft " : "",
		 flags & IXDP_F_EXEMPTION ? "exemption " : "");
	if (*buf)
		buf[strlen(buf) - 1] = '\0';
}

/* One row's cells, as text. */
struct spec_cells {
	char idx[24], src[64], dst[64], proto[16], sport[16], dport[16];
	const char *action, *rule;
};

static void spec_cells(size_t idx, const struct specific_filter *f,
		       struct spec_cells *c)
{
	char pb[16];

	snprintf(c->idx, sizeof(c->idx), "%zu", idx);
	format_prefix(f->fam, f->src, f->src_plen, c->src, sizeof(c->src));
	format_prefix(f->fam, f->dst, f->dst_plen, c->dst, sizeof(c->dst));
	snprintf(c->proto, sizeof(c->proto), "%s",
		 f->proto_exact ? proto_name(f->proto, pb, sizeof(pb)) : "any");
	port_range_str(f->sport.lo, f->sport.hi, c->sport, sizeof(c->sport));
	port_range_str(f->dport.lo, f->dport.hi, c->dport, sizeof(c->dport));
	c->action = action_name(f->action);
	c->rule = f->name ? f->name : "";
}

static void widen(int *w, const char *s)
{
	int n = (int)strlen(s);

	if (n > *w)
		*w = n;
}

void spec_widths_init(struct spec_widths *w)
{
	*w = (struct spec_widths){
		.idx = 1, .src = (int)strlen("SOURCE"), .dst = (int)strlen("DESTINATION"),
		.proto = (int)strlen("PROTO"), .sport = (int)strlen("SRC-PORT"),
		.dport = (int)strlen("DST-PORT"), .action = (int)strlen("ACTION"),
		.rule = (int)strlen("RULE"),
	};
}

void spec_widths_add(struct spec_widths *w, size_t idx,
		     const struct specific_filter *f)
{
	struct spec_cells c;

	spec_cells(idx, f, &c);
	widen(&w->idx, c.idx);
	widen(&w->src, c.src);
	widen(&w->dst, c.dst);
	widen(&w->proto, c.proto);
	widen(&w->sport, c.sport);
	widen(&w->dport, c.dport);
	widen(&w->action, c.action);
	widen(&w->rule, c.rule);
}

void print_specific_header(const struct spec_widths *w)
{
	printf("%*s %10s %-*s %-*s %-*s %-*s %-*s %-*s %-*s %10s %10s\n", w->idx, "#",
	       "WEIGHT", w->src, "SOURCE", w->dst, "DESTINATION", w->proto, "PROTO",
	       w->sport, "SRC-PORT", w->dport, "DST-PORT", w->action, "ACTION",
	       w->rule, "RULE", "PKTS-IN", "PKTS-OUT");
}

void print_specific_row(const struct spec_widths *w, size_t idx,
			const struct specific_filter *f,
			const struct ixdp_counter *ctr)
{
	struct spec_cells c;
	char fl[32];

	spec_cells(idx, f, &c);
	flags_str(f->flags, fl, sizeof(fl));
	printf("%*s %10u %-*s %-*s %-*s %-*s %-*s %-*s %-*s", w->idx, c.idx, f->weight,
	       w->src, c.src, w->dst, c.dst, w->proto, c.proto, w->sport, c.sport,
	       w->dport, c.dport, w->action, c.action, w->rule, c.rule);
	if (ctr)
		printf(" %10llu %10llu", (unsigned long long)ctr->packets[IXDP_DIR_IN],
		       (unsigned long long)ctr->packets[IXDP_DIR_OUT]);
	if (*fl)
		printf("  [%s]", fl);
	putchar('\n');
}

struct json_object *specific_json(size_t idx, const struct specific_filter *f,
				  const struct ixdp_counter *ctr)
{
	struct json_object *o = json_object_new_object();
	char buf[64], pb[16];

	json_object_object_add(o, "index", json_object_new_int64((int64_t)idx));
	json_object_object_add(o, "weight", json_object_new_int64(f->weight));
	json_object_object_add(o, "family", json_object_new_string(f->fam == IXDP_FAM_V4 ? "ipv4" : "ipv6"));
	format_prefix(f->fam, f->src, f->src_plen, buf, sizeof(buf));
	json_object_object_add(o, "src", json_object_new_string(buf));
	format_prefix(f->fam, f->dst, f->dst_plen, buf, sizeof(buf));
	json_object_object_add(o, "dst", json_object_new_string(buf));
	json_object_object_add(o, "protocol", json_object_new_string(
		f->proto_exact ? proto_name(f->proto, pb, sizeof(pb)) : "any"));
	port_range_str(f->sport.lo, f->sport.hi, buf, sizeof(buf));
	json_object_object_add(o, "src_port", json_object_new_string(buf));
	port_range_str(f->dport.lo, f->dport.hi, buf, sizeof(buf));
	json_object_object_add(o, "dst_port", json_object_new_string(buf));
	json_object_object_add(o, "action", json_object_new_string(action_name(f->action)));
	json_object_object_add(o, "inpass", json_object_new_boolean(f->flags & IXDP_F_INPASS));
	json_object_object_add(o, "soft", json_object_new_boolean(f->flags & IXDP_F_SOFT));
	json_object_object_add(o, "exemption", json_object_new_boolean(f->flags & IXDP_F_EXEMPTION));
	json_object_object_add(o, "rule", json_object_new_string(f->name ? f->name : ""));
	if (ctr) {
		json_object_object_add(o, "packets_in", json_object_new_int64((int64_t)ctr->packets[0]));
		json_object_object_add(o, "bytes_in", json_object_new_int64((int64_t)ctr->bytes[0]));
		json_object_object_add(o, "packets_out", json_object_new_int64((int64_t)ctr->packets[1]));
		json_object_object_add(o, "bytes_out", json_object_new_int64((int64_t)ctr->bytes[1]));
	}
	return o;
}
