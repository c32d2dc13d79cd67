// SPDX-License-Identifier: GPL-2.0-only
/* ctl_cmd_show.c - `show filters [--specific] | stats | config | all`
 * (`show stats` itself is cmd_stats.c; the dataplane part is here). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_live.h"
#include "agent/agent.h"
#include "ctl_policy_view.h"

/* Each part either prints text or adds a member to the JSON object `out`. */

static int show_configured(struct ctx *c, struct json_object *out)
{
	char path[PATH_MAX];
	struct policy_file *pf;
	int ret;

	agent_assigned_path(c->confdir, path, sizeof(path));
	if (access(path, F_OK)) {
		if (out)
			json_object_object_add(out, "filters", NULL);
		else
			printf("no policy is assigned (ipsec-xdp policy apply FILE)\n");
		return EXIT_OK;
	}
	if ((ret = load_assigned_policy(c, &pf)))
		return ret;
	if (out)
		json_object_object_add(out, "filters", configured_filters_json(pf));
	else
		print_configured_filters(pf);
	policy_file_free(pf);
	return EXIT_OK;
}

static void print_specific_text(const struct live_list *l)
{
	struct spec_widths w;

	if (l->source == LIST_NONE) {
		printf("no policy applied: boot mode %s decides (see show config)\n",
		       bootmode_name(l->bootmode));
		return;
	}
	printf("specific filters (%s), tried in this order; unmatched traffic is permitted\n",
	       list_source_name(l->source));
	spec_widths_init(&w);
	for (size_t i = 0; i < l->table.n; i++)
		spec_widths_add(&w, i, &l->table.v[i]);
	print_specific_header(&w);
	for (size_t i = 0; i < l->table.n; i++)
		print_specific_row(&w, &l->table, i, l->counters ? &l->counters[i] : NULL);
}

static int show_specific(struct ctx *c, struct json_object *out)
{
	struct live_list l;
	int ret = live_list_read(c, &l);

	if (ret)
		return ret;
	if (out) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < l.table.n; i++)
			json_object_array_add(arr, specific_json(&l.table, i,
						l.counters ? &l.counters[i] : NULL));
		json_object_object_add(out, "source", json_object_new_string(list_source_name(l.source)));
		json_object_object_add(out, "specific_filters", arr);
	} else {
		print_specific_text(&l);
	}
	live_list_free(&l);
	return EXIT_OK;
}

static int max_len(int w, const char *s)
{
	return (int)strlen(s) > w ? (int)strlen(s) : w;
}

/* The hand-off counters (negotiate traffic and xfrm: redirects, soft
 * passes, held packets, events); false when their map cannot be read. */
static bool read_handoff_stats(struct ctx *c, uint64_t xs[IXDP_XS__MAX])
{
	struct dp_handoff h;
	char err[300];
	bool ok;

	if (dp_handoff_open(&h, c->root, err, sizeof(err)))
		return false;
	ok = dp_read_xfrm_stats(&h, xs) == 0;
	dp_handoff_close(&h);
	return ok;
}

int show_dataplane_stats(struct ctx *c, struct json_object *out)
{
	uint64_t drops[IXDP_DROP__MAX], pkts[IXDP_PKT__MAX], xs[IXDP_XS__MAX];
	struct dp dp;
	bool has_xs;
	int ret, w = 20;

	if ((ret = open_dataplane(c, &dp)))
		return ret;
	ret = dp_read_drops(&dp, drops) || dp_read_pkts(&dp, pkts);
	dp_close(&dp);
	if (ret)
		return fail(EXIT_FAIL, "cannot read the counters");
	has_xs = read_handoff_stats(c, xs);
	if (out) {
		struct json_object *d = json_object_new_object(), *p = json_object_new_object();

		for (int i = 0; i < IXDP_PKT__MAX; i++)
			json_object_object_add(p, pkt_counter_name(i), json_object_new_int64((int64_t)pkts[i]));
		for (int i = 0; i < IXDP_DROP__MAX; i++)
			json_object_object_add(d, drop_reason_name(i), json_object_new_int64((int64_t)drops[i]));
		json_object_object_add(out, "packets", p);
		json_object_object_add(out, "drops", d);
		if (has_xs) {
			struct json_object *x = json_object_new_object();

			for (int i = 0; i < IXDP_XS__MAX; i++)
				json_object_object_add(x, xfrm_stat_name(i), json_object_new_int64((int64_t)xs[i]));
			json_object_object_add(out, "xfrm_handoff", x);
		}
		return EXIT_OK;
	}
	for (int i = 0; i < IXDP_PKT__MAX; i++)
		w = max_len(w, pkt_counter_name(i));
	for (int i = 0; i < IXDP_DROP__MAX; i++)
		w = max_len(w, drop_reason_name(i));
	for (int i = 0; has_xs && i < IXDP_XS__MAX; i++)
		w = max_len(w, xfrm_stat_name(i));
	printf("packets:\n");
	for (int i = 0; i < IXDP_PKT__MAX; i++)
		printf("  %-*s %llu\n", w, pkt_counter_name(i), (unsigned long long)pkts[i]);
	printf("drops:\n");
	for (int i = 0; i < IXDP_DROP__MAX; i++)
		printf("  %-*s %llu\n", w, drop_reason_name(i), (unsigned long long)drops[i]);
	if (!has_xs)
		return EXIT_OK;
	printf("xfrm hand-off:\n");
	for (int i = 0; i < IXDP_XS__MAX; i++)
		printf("  %-*s %llu\n", w, xfrm_stat_name(i), (unsigned long long)xs[i]);
	return EXIT_OK;
}

static int show_config(struct ctx *c, struct json_object *out)
{
	char buf[64], ifs[BOOTCONF_LOADIF_MAX * BOOTCONF_IFNAME_MAX];
	struct bootconf conf;
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	bootconf_loadifs_format(&conf, ifs, sizeof(ifs));
	if (out) {
		struct json_object *ex = json_object_new_array();

		for (size_t i = 0; i < conf.nexempt; i++) {
			bootexempt_format(&conf.exempt[i], buf, sizeof(buf));
			json_object_array_add(ex, json_object_new_string(buf));
		}
		json_object_object_add(out, "bootmode", json_object_new_string(
			bootmode_name(bootconf_effective_mode(&conf))));
		json_object_object_add(out, "bootmode_configured", json_object_new_boolean(conf.bootmode_set));
		json_object_object_add(out, "bootexemptions", ex);
		json_object_object_add(out, "ipsecexempt", json_object_new_int(conf.ipsecexempt));
		json_object_object_add(out, "ikelogging", json_object_new_int(conf.ikelogging));
		json_object_object_add(out, "strongcrlcheck", json_object_new_int(conf.strongcrlcheck));
		json_object_object_add(out, "policysource", json_object_new_string(conf.policysource));
		json_object_object_add(out, "policysourcekey", json_object_new_string(conf.policysourcekey));
		json_object_object_add(out, "policysourceca", json_object_new_string(conf.policysourceca));
		json_object_object_add(out, "loadinterfaces", json_object_new_string(ifs));
		return EXIT_OK;
	}
	printf("bootmode        %s%s\n", bootmode_name(bootconf_effective_mode(&conf)),
	       conf.bootmode_set ? "" : " (not configured: permit until a policy is "
	       "applied once, then stateful)");
	printf("bootexemptions ");
	if (!conf.nexempt)
		printf(" none");
	for (size_t i = 0; i < conf.nexempt; i++) {
		bootexempt_format(&conf.exempt[i], buf, sizeof(buf));
		printf(" %s", buf);
	}
	printf("\nipsecexempt     %d\nikelogging      %d\nstrongcrlcheck  %d\n",
	       conf.ipsecexempt, conf.ikelogging, conf.strongcrlcheck);
	printf("policysource    %s\npolicysourcekey %s\npolicysourceca  %s\n",
	       conf.policysource[0] ? conf.policysource : "none",
	       conf.policysourcekey[0] ? conf.policysourcekey : "none",
	       conf.policysourceca[0] ? conf.policysourceca : "none (the system's CAs)");
	printf("loadinterfaces  %s%s\n", ifs, conf.loadifs == BOOTCONF_LOAD_NONE
	       ? " (only `ipsec-xdp load` attaches the dataplane)" : conf.loadifs ==
	       BOOTCONF_LOAD_ALL ? " (every interface but loopback and xfrm ones, "
	       "attached by ipsec-xdpd as it appears)" : " (attached by ipsec-xdpd as "
	       "they appear)");
	return EXIT_OK;
}

/* `show all`: every part; a part that cannot be shown (e.g. not loaded)
 * is reported and the others still shown. */
static int show_all(struct ctx *c)
{
	struct json_object *out = c->json ? json_object_new_object() : NULL;
	int (*parts[])(struct ctx *, struct json_object *) = {
		show_config, show_configured, show_specific, show_monitor_stats,
	};
	int ret = EXIT_OK;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		struct json_object *part = out ? json_object_new_object() : NULL;
		int r = parts[i](c, part);
		static const char *names[] = { "config", "configured", "specific", "stats" };

		if (r && r != EXIT_NOT_LOADED && ret == EXIT_OK)
			ret = r;
		if (out)
			json_object_object_add(out, names[i], part);
		else
			putchar('\n');
	}
	if (out)
		print_json(out);
	return ret;
}

static int show_one(struct ctx *c, int (*part)(struct ctx *, struct json_object *))
{
	struct json_object *out = c->json ? json_object_new_object() : NULL;
	int ret = part(c, out);

	if (out) {
		if (ret == EXIT_OK)
			print_json(out);
		else
			json_object_put(out);
	}
	return ret;
}

int cmd_show(struct ctx *c, int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "filters"))
		return show_one(c, show_configured);
	if (argc == 3 && !strcmp(argv[1], "filters") && !strcmp(argv[2], "--specific"))
		return show_one(c, show_specific);
	if (argc == 2 && !strcmp(argv[1], "stats"))
		return cmd_show_stats(c);
	if (argc == 3 && !strcmp(argv[1], "stats") && !strcmp(argv[2], "--openmetrics"))
		return cmd_show_openmetrics(c);
	if (argc == 2 && !strcmp(argv[1], "config"))
		return show_one(c, show_config);
	if (argc == 2 && !strcmp(argv[1], "all"))
		return show_all(c);
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "sa"))
		return cmd_show_ike(c, argc - 1, argv + 1);
	if (argc == 2 && !strcmp(argv[1], "ikestats"))
		return cmd_show_ike(c, argc - 1, argv + 1);
	return fail(EXIT_USAGE, "usage: ipsec-xdp show filters [--specific] | stats [--openmetrics] | config | all | sa [PEER|RULE] | ikestats");
}
