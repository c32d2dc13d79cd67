// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_policy_view.c - the assigned policy as the administrator wrote it, in
 * text and JSON (`policy show`, `show filters`).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"
#include "ctl_policy_view.h"

int load_assigned_policy(struct ctx *c, struct policy_file **pf)
{
	struct policy_error perr;
	char path[PATH_MAX], msg[1024];

	agent_assigned_path(c->confdir, path, sizeof(path));
	if (access(path, F_OK))
		return fail(EXIT_FAIL, "no policy is assigned (ipsec-xdp policy apply FILE)");
	memset(&perr, 0, sizeof(perr));
	if (policy_parse_file(path, pf, &perr)) {
		policy_error_format(&perr, msg, sizeof(msg));
		return fail(EXIT_BAD_INPUT, "%s", msg);
	}
	return EXIT_OK;
}

void addr_spec_str(const struct addr_spec *a, char *buf, size_t len)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	switch (a->kind) {
	case ADDR_PREFIX: {
		uint8_t max = a->addr.family == AF_INET ? 32 : 128;

		inet_ntop(a->addr.family, a->addr.bytes, lo, sizeof(lo));
		if (a->plen == max)
			snprintf(buf, len, "%s", lo);
		else
			snprintf(buf, len, "%s/%u", lo, a->plen);
		break;
	}
	case ADDR_RANGE:
		inet_ntop(a->addr.family, a->addr.bytes, lo, sizeof(lo));
		inet_ntop(a->hi.family, a->hi.bytes, hi, sizeof(hi));
		snprintf(buf, len, "%s-%s", lo, hi);
		break;
	default:
		snprintf(buf, len, "%s", addr_kind_name(a->kind));
	}
}

static const char *filter_proto_str(int proto, char *buf, size_t len)
{
	return proto == PROTO_ANY ? "any" : proto_name((unsigned)proto, buf, len);
}

static struct json_object *filter_spec_json(const struct filter_spec *f)
{
	struct json_object *o = json_object_new_object();
	char buf[128];

	addr_spec_str(&f->src, buf, sizeof(buf));
	json_object_object_add(o, "src", json_object_new_string(buf));
	addr_spec_str(&f->dst, buf, sizeof(buf));
	json_object_object_add(o, "dst", json_object_new_string(buf));
	json_object_object_add(o, "protocol",
			       json_object_new_string(filter_proto_str(f->proto, buf, sizeof(buf))));
	port_range_str(f->sport.lo, f->sport.hi, buf, sizeof(buf));
	json_object_object_add(o, "src_port", json_object_new_string(buf));
	port_range_str(f->dport.lo, f->dport.hi, buf, sizeof(buf));
	json_object_object_add(o, "dst_port", json_object_new_string(buf));
	json_object_object_add(o, "mirrored", json_object_new_boolean(f->mirrored));
	json_object_object_add(o, "line", json_object_new_int((int)f->pos.line));
	return o;
}

/* A configured filter's cells, as text. */
struct spec_text {
	char src[128], dst[128], proto[16], sport[32], dport[32];
};

static void spec_text(const struct filter_spec *f, struct spec_text *t)
{
	char pb[16];

	addr_spec_str(&f->src, t->src, sizeof(t->src));
	addr_spec_str(&f->dst, t->dst, sizeof(t->dst));
	snprintf(t->proto, sizeof(t->proto), "%s", filter_proto_str(f->proto, pb, sizeof(pb)));
	port_range_str(f->sport.lo, f->sport.hi, t->sport, sizeof(t->sport));
	port_range_str(f->dport.lo, f->dport.hi, t->dport, sizeof(t->dport));
}

/* Column widths from the headers and every row (long IPv6 addresses). */
struct spec_text_widths {
	int src, dst, proto, sport, dport;
};

static int max_int(int a, size_t b)
{
	return (size_t)a > b ? a : (int)b;
}

static void measure_filters(const struct filter_list *fl, struct spec_text_widths *w)
{
	struct spec_text t;

	*w = (struct spec_text_widths){ 6, 11, 5, 8, 8 }; /* SOURCE ... DST-PORT */
	for (size_t i = 0; i < fl->nfilters; i++) {
		spec_text(&fl->filters[i], &t);
		w->src = max_int(w->src, strlen(t.src));
		w->dst = max_int(w->dst, strlen(t.dst));
		w->proto = max_int(w->proto, strlen(t.proto));
		w->sport = max_int(w->sport, strlen(t.sport));
		w->dport = max_int(w->dport, strlen(t.dport));
	}
}

static void print_filter_spec(const struct filter_spec *f, const char *indent,
			      const struct spec_text_widths *w)
{
	struct spec_text t;

	spec_text(f, &t);
	printf("%s%-*s %-*s %-*s %-*s %-*s %s\n", indent, w->src, t.src, w->dst, t.dst,
	       w->proto, t.proto, w->sport, t.sport, w->dport, t.dport,
	       f->mirrored ? "mirrored" : "one-way");
}

static struct json_object *rule_json(const struct rule *r, bool filters_only)
{
	struct json_object *o = json_object_new_object();
	struct json_object *fl = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "active", json_object_new_boolean(r->active));
	json_object_object_add(o, "filter_list", json_object_new_string(r->filters->name));
	json_object_object_add(o, "action", json_object_new_string(r->action->name));
	json_object_object_add(o, "kind", json_object_new_string(
		filter_action_kind_name(r->action->kind)));
	for (size_t i = 0; i < r->filters->nfilters; i++)
		json_object_array_add(fl, filter_spec_json(&r->filters->filters[i]));
	json_object_object_add(o, "filters", fl);
	if (!filters_only) {
		char buf[INET6_ADDRSTRLEN] = "";
		struct json_object *auth = json_object_new_array();

		for (size_t i = 0; i < r->nauth; i++)
			json_object_array_add(auth, json_object_new_string(
				r->auth[i].kind == AUTH_PSK ? "psk" : "certificate"));
		json_object_object_add(o, "authentication", auth);
		if (r->has_tunnel)
			inet_ntop(r->tunnel.family, r->tunnel.bytes, buf, sizeof(buf));
		json_object_object_add(o, "tunnel", r->has_tunnel ?
				       json_object_new_string(buf) : NULL);
	}
	return o;
}

struct json_object *policy_json(const struct policy_file *pf)
{
	const struct policy *p = pf->assigned;
	struct json_object *o = json_object_new_object();
	struct json_object *rules = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "polling_interval", json_object_new_int64(p->polling_interval_s));
	json_object_object_add(o, "default_response", json_object_new_boolean(p->default_response));
	json_object_object_add(o, "ike_lifetime", json_object_new_int64(p->ike.lifetime_s));
	json_object_object_add(o, "master_key_pfs", json_object_new_boolean(p->ike.master_key_pfs));
	json_object_object_add(o, "qmpermm", json_object_new_int64(p->ike.qmpermm));
	for (size_t i = 0; i < p->nrules; i++)
		json_object_array_add(rules, rule_json(&p->rules[i], false));
	json_object_object_add(o, "rules", rules);
	return o;
}

struct json_object *configured_filters_json(const struct policy_file *pf)
{
	struct json_object *rules = json_object_new_array();

	for (size_t i = 0; i < pf->assigned->nrules; i++)
		json_object_array_add(rules, rule_json(&pf->assigned->rules[i], true));
	return rules;
}

static void print_rule_filters(const struct rule *r)
{
	printf("rule %s%s: filter list %s, action %s (%s)\n", r->name,
	       r->active ? "" : " (inactive)", r->filters->name, r->action->name,
	       filter_action_kind_name(r->action->kind));
	struct spec_text_widths w;

	measure_filters(r->filters, &w);
	printf("    %-*s %-*s %-*s %-*s %-*s\n", w.src, "SOURCE", w.dst, "DESTINATION",
	       w.proto, "PROTO", w.sport, "SRC-PORT", w.dport, "DST-PORT");
	for (size_t j = 0; j < r->filters->nfilters; j++)
		print_filter_spec(&r->filters->filters[j], "    ", &w);
}

void print_configured_filters(const struct policy_file *pf)
{
	printf("policy %s: filters as configured (see --specific for the enforced order)\n",
	       pf->assigned->name);
	for (size_t i = 0; i < pf->assigned->nrules; i++)
		print_rule_filters(&pf->assigned->rules[i]);
}

void print_policy_text(const struct policy_file *pf)
{
	const struct policy *p = pf->assigned;

	printf("policy %s%s%s\n", p->name, p->description ? ": " : "",
	       p->description ? p->description : "");
	printf("  polling interval %us, default response %s\n", p->polling_interval_s,
	       p->default_response ? "on" : "off");
	printf("  IKE: %zu proposals, lifetime %us, master-key PFS %s, qmpermm %u\n",
	       p->ike.nproposals, p->ike.lifetime_s, p->ike.master_key_pfs ? "yes" : "no",
	       p->ike.qmpermm);
	for (size_t i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		const struct filter_action *a = r->action;

		print_rule_filters(r);
		if (a->kind == FA_NEGOTIATE)
			printf("    negotiate: %zu security methods, inpass %s, soft %s, PFS %s\n",
			       a->nmethods, a->inpass ? "yes" : "no", a->soft ? "yes" : "no",
			       a->pfs ? "yes" : "no");
		for (size_t k = 0; k < r->nauth; k++)
			printf("    authentication %zu: %s %s\n", k + 1,
			       r->auth[k].kind == AUTH_PSK ? "psk" : "certificate",
			       r->auth[k].kind == AUTH_PSK ? r->auth[k].psk_id : r->auth[k].ca_file);
		if (r->has_tunnel) {
			char buf[INET6_ADDRSTRLEN];

			inet_ntop(r->tunnel.family, r->tunnel.bytes, buf, sizeof(buf));
			printf("    tunnel endpoint %s\n", buf);
		}
	}
}
