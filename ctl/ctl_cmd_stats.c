// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_stats.c - `show stats`: the IP Security Monitor's statistics
 * (docs/behaviour.md §6) in its two groups, main mode (IKE) and quick mode (IPsec), then the
 * dataplane's counters.
 *
 * Sources: the daemon's `stats` reply (include/ixdp_control.h: its IKE
 * counters and the kernel's SAs summed), /proc/net/xfrm_stat (mapped as
 * lib/dataplane/dataplane_xfrmstat.h documents; read by the daemon in its own network
 * namespace, or here when the daemon is not running) and the pinned
 * dataplane maps.  A row whose source cannot be read is left out, never
 * shown as 0; what is missing and why is said once at the top.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "dataplane/dataplane_xfrmstat.h"
#include "dataplane/dataplane_metrics.h"

enum source {
	SRC_IKE,	/* the daemon's "stats" */
	SRC_KERNEL,	/* the daemon's "kernel": SAs in force summed */
	SRC_XFRM,	/* xfrm_stat mapped (xfrm_monitor_json) */
};

struct row {
	const char *key, *label;
	enum source src;
	const char *from;	/* "name" or "object.name" */
};

static const struct row main_mode[] = {
	{ "active_negotiations", "Active negotiations", SRC_IKE, "negotiations_active" },
	{ "total_negotiations", "Total negotiations", SRC_IKE, "negotiations_total" },
	{ "negotiation_failures", "Negotiation failures", SRC_IKE, "negotiations_failed" },
	{ "negotiation_failures_authentication", "  by AUTHENTICATION_FAILED", SRC_IKE, "negotiations_failed_authentication" },
	{ "negotiation_failures_no_proposal", "  by NO_PROPOSAL_CHOSEN", SRC_IKE, "negotiations_failed_no_proposal_chosen" },
	{ "negotiation_failures_ts_unacceptable", "  by TS_UNACCEPTABLE", SRC_IKE, "negotiations_failed_ts_unacceptable" },
	{ "negotiation_failures_invalid_syntax", "  by INVALID_SYNTAX", SRC_IKE, "negotiations_failed_invalid_syntax" },
	{ "negotiation_failures_timeout", "  by timeout", SRC_IKE, "negotiations_failed_timeout" },
	{ "negotiation_failures_kernel", "  by the kernel (CHILD SA)", SRC_IKE, "negotiations_failed_kernel" },
	{ "negotiation_failures_other", "  by another reason", SRC_IKE, "negotiations_failed_other" },
	{ "backoff_steps", "Backoff steps (peers failing)", SRC_IKE, "backoff_steps" },
	{ "negotiations_held_back", "Negotiations held back", SRC_IKE, "negotiations_held_back" },
	{ "authentication_failures", "Authentication failures", SRC_IKE, "authentication_failures" },
	{ "invalid_cookies_received", "Invalid cookies received", SRC_IKE, "invalid_cookies" },
	{ "ike_sas", "IKE SAs (main mode SAs)", SRC_IKE, "ike_sas_active" },
	{ "child_sas", "CHILD SAs (quick mode SAs)", SRC_IKE, "child_sas_active" },
	{ "ike_rekeys", "IKE SA rekeys", SRC_IKE, "ike_sa_rekeys" },
	{ "soft_associations", "Soft associations", SRC_IKE, "soft_sas" },
};

static const struct row quick_mode[] = {
	{ "active_security_associations", "Active security associations", SRC_KERNEL, "sas" },
	{ "key_additions", "Key additions", SRC_IKE, "key_additions" },
	{ "key_updates", "Key updates", SRC_IKE, "key_updates" },
	{ "key_deletions", "Key deletions", SRC_IKE, "key_deletions" },
	{ "rekeys", "Rekeys", SRC_IKE, "child_sa_rekeys" },
	{ "bad_spi_packets", "Bad SPI packets", SRC_XFRM, "bad_spi" },
	{ "packets_not_decrypted", "Packets not decrypted", SRC_XFRM, "not_decrypted" },
	{ "packets_not_authenticated", "Packets not authenticated", SRC_KERNEL, "integrity_failed" },
	{ "packets_with_replay_detection", "Packets with replay detection", SRC_XFRM, "replays" },
	{ "esp_bytes_sent", "Bytes sent (ESP)", SRC_KERNEL, "esp.bytes_out" },
	{ "esp_bytes_received", "Bytes received (ESP)", SRC_KERNEL, "esp.bytes_in" },
	{ "ah_bytes_sent", "Bytes sent (AH)", SRC_KERNEL, "ah.bytes_out" },
	{ "ah_bytes_received", "Bytes received (AH)", SRC_KERNEL, "ah.bytes_in" },
	{ "transport_bytes_sent", "Transport bytes sent", SRC_KERNEL, "transport.bytes_out" },
	{ "transport_bytes_received", "Transport bytes received", SRC_KERNEL, "transport.bytes_in" },
	{ "tunnel_bytes_sent", "Bytes sent in tunnels", SRC_KERNEL, "tunnel.bytes_out" },
	{ "tunnel_bytes_received", "Bytes received in tunnels", SRC_KERNEL, "tunnel.bytes_in" },
	{ "other_inbound_errors", "Other inbound errors", SRC_XFRM, "other_in_errors" },
	{ "outbound_errors", "Outbound errors", SRC_XFRM, "out_errors" },
};

struct sources {
	struct json_object *ike, *kernel, *xfrm;	/* NULL: unavailable */
};

/* ---- xfrm_stat --------------------------------------------------------------------- */

static void xfrmstat_from_json(struct json_object *o, struct xfrmstat *xs)
{
	memset(xs, 0, sizeof(*xs));
	json_object_object_foreach(o, key, val) {
		if (xs->n == XFRMSTAT_MAX || strlen(key) >= XFRMSTAT_NAME_MAX)
			break;
		snprintf(xs->c[xs->n].name, XFRMSTAT_NAME_MAX, "%s", key);
		xs->c[xs->n++].value = (uint64_t)json_object_get_int64(val);
	}
}

static struct json_object *xfrm_monitor_json(const struct xfrmstat *xs)
{
	struct json_object *o = json_object_new_object();
	struct xfrmstat_monitor m;

	xfrmstat_monitor(xs, &m);
	json_object_object_add(o, "bad_spi", json_object_new_int64((int64_t)m.bad_spi));
	json_object_object_add(o, "not_decrypted", json_object_new_int64((int64_t)m.not_decrypted));
	json_object_object_add(o, "replays", json_object_new_int64((int64_t)m.replays));
	json_object_object_add(o, "other_in_errors", json_object_new_int64((int64_t)m.other_in_errors));
	json_object_object_add(o, "out_errors", json_object_new_int64((int64_t)m.out_errors));
	return o;
}

/* The daemon's xfrm_stat (its network namespace), else our own read. */
static struct json_object *read_xfrm(struct json_object *kernel, char *why,
				     size_t whylen)
{
	struct json_object *raw;
	struct xfrmstat xs;

	if (kernel && json_object_object_get_ex(kernel, "xfrm_stat", &raw)) {
		xfrmstat_from_json(raw, &xs);
		return xfrm_monitor_json(&xs);
	}
	if (xfrmstat_read(XFRMSTAT_PATH, &xs, why, whylen))
		return NULL;
	return xfrm_monitor_json(&xs);
}

/* ---- the layout ------------------------------------------------------------------------ */

static bool lookup(const struct sources *s, const struct row *r, int64_t *v)
{
	struct json_object *o = r->src == SRC_IKE ? s->ike
			      : r->src == SRC_KERNEL ? s->kernel : s->xfrm;
	const char *dot = strchr(r->from, '.');
	struct json_object *val;
	char first[32];

	if (!o)
		return false;
	if (dot) {
		snprintf(first, sizeof(first), "%.*s", (int)(dot - r->from), r->from);
		if (!json_object_object_get_ex(o, first, &o))
			return false;
	}
	if (!json_object_object_get_ex(o, dot ? dot + 1 : r->from, &val))
		return false;
	*v = json_object_get_int64(val);
	return true;
}

/* Every message the daemon dropped, whatever the reason. */
static bool invalid_packets(const struct sources *s, int64_t *v)
{
	if (!s->ike)
		return false;
	*v = 0;
	json_object_object_foreach(s->ike, key, val)
		if (!strncmp(key, "drop_", 5))
			*v += json_object_get_int64(val);
	return true;
}

static struct json_object *group_json(const struct sources *s,
				      const struct row *rows, size_t n)
{
	struct json_object *o = json_object_new_object();
	int64_t v;

	for (size_t i = 0; i < n; i++)
		if (lookup(s, &rows[i], &v))
			json_object_object_add(o, rows[i].key, json_object_new_int64(v));
	return o;
}

static void print_group(const char *title, const struct sources *s,
			const struct row *rows, size_t n)
{
	int64_t v;

	printf("%s\n", title);
	for (size_t i = 0; i < n; i++)
		if (lookup(s, &rows[i], &v))
			printf("  %-32s %" PRId64 "\n", rows[i].label, v);
}

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static void print_monitor(const struct sources *s)
{
	int64_t v;

	if (s->ike) {
		print_group("Main mode (IKE, ipsec-xdpd)", s, main_mode, NROWS(main_mode));
		if (invalid_packets(s, &v))
			printf("  %-32s %" PRId64 "\n", "Invalid packets received", v);
	}
	if (s->ike || s->xfrm)
		print_group("Quick mode (IPsec, kernel xfrm)", s, quick_mode,
			    NROWS(quick_mode));
}

static void add_monitor_json(struct json_object *out, const struct sources *s)
{
	struct json_object *mm = group_json(s, main_mode, NROWS(main_mode));
	int64_t v;

	if (invalid_packets(s, &v))
		json_object_object_add(mm, "invalid_packets_received",
				       json_object_new_int64(v));
	json_object_object_add(out, "main_mode", mm);
	json_object_object_add(out, "quick_mode",
			       group_json(s, quick_mode, NROWS(quick_mode)));
	json_object_object_add(out, "ike", json_object_get(s->ike));
	json_object_object_add(out, "kernel", json_object_get(s->kernel));
}

/* ---- show stats ------------------------------------------------------------------------- */

static void say_missing(bool daemon, const char *daemon_err, bool xfrm,
			const char *xfrm_err)
{
	if (!daemon)
		printf("%s: IKE statistics and SA byte counts unavailable\n",
		       daemon_err);
	if (!xfrm)
		printf("kernel IPsec counters unavailable: %s\n", xfrm_err);
	if (!daemon || !xfrm)
		putchar('\n');
}

/* The monitor's groups then the dataplane's counters, into out (JSON) or
 * printed when out is NULL; the dataplane's return code (EXIT_NOT_LOADED
 * when it is not loaded: the daemon's part is shown all the same). */
int show_monitor_stats(struct ctx *c, struct json_object *out)
{
	struct json_object *reply = NULL;
	struct sources s = { NULL, NULL, NULL };
	char derr[700] = "", xerr[300] = "";
	bool daemon = !daemon_ask("stats", &reply, derr, sizeof(derr));
	int rc;

	if (daemon) {
		json_object_object_get_ex(reply, "stats", &s.ike);
		json_object_object_get_ex(reply, "kernel", &s.kernel);
	}
	s.xfrm = read_xfrm(s.kernel, xerr, sizeof(xerr));
	if (out) {
		json_object_object_add(out, "daemon_running", json_object_new_boolean(daemon));
		if (!daemon)
			json_object_object_add(out, "daemon_error", json_object_new_string(derr));
		add_monitor_json(out, &s);
	} else {
		say_missing(daemon, derr, s.xfrm != NULL, xerr);
		print_monitor(&s);
		printf("\nDataplane (ipsec-xdp)\n");
	}
	rc = show_dataplane_stats(c, out);
	if (out)
		json_object_object_add(out, "dataplane_loaded",
				       json_object_new_boolean(rc != EXIT_NOT_LOADED));
	json_object_put(s.xfrm);
	json_object_put(reply);
	return rc;
}

int cmd_show_stats(struct ctx *c)
{
	struct json_object *out = c->json ? json_object_new_object() : NULL;
	int rc = show_monitor_stats(c, out);

	if (out)
		print_json(out);
	return rc;
}

/* `show stats --openmetrics`: the daemon's families (when it runs) and
 * the dataplane's, written by lib/dataplane/dataplane_metrics.c, the same
 * writer as ipsec-xdpd's --metrics-listen endpoint. */
int cmd_show_openmetrics(struct ctx *c)
{
	struct json_object *reply = NULL, *fam = NULL;
	char derr[700], err[300];
	struct om_buf b;
	int rc = EXIT_OK;

	if (c->json)
		return fail(EXIT_USAGE, "show stats: -j and --openmetrics exclude each other");
	if (daemon_ask("metrics", &reply, derr, sizeof(derr)) == EXIT_OK &&
	    (!json_object_object_get_ex(reply, "families", &fam) ||
	     !json_object_is_type(fam, json_type_string))) {
		json_object_put(reply);
		return fail(EXIT_FAIL, "ipsec-xdpd answered without \"families\"");
	}
	om_init(&b);
	if (dp_metrics_expose(&b, c->root, fam ? json_object_get_string(fam) : NULL,
			      err, sizeof(err)))
		rc = fail(EXIT_FAIL, "%s", err);
	else
		fputs(b.text, stdout);
	om_free(&b);
	json_object_put(reply);
	return rc;
}
