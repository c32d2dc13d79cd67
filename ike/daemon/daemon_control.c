// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_control.c - the control socket RUNDIR/ipsec-xdpd.sock (mode 0600): one
 * JSON request line in, one JSON reply line out, then the connection is
 * closed.  The vocabulary is include/ixdp_control.h.
 *
 * `initiate` answers when the negotiation it started has ended, so the
 * caller learns whether the IKE SA came up with the CHILD SA its rule
 * wants and, if not, why ("ok": false; an IKE SA that came up childless
 * stays).  It is not held back by the peer's backoff (backoff.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "daemon/daemon.h"
#include "daemon/daemon_show.h"
#include "daemon/daemon_metrics.h"
#include "daemon/daemon_agent.h"
#include "sa/sa_child.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "ixdp_control.h"
#include "kernel/kernel_monitor.h"

#define CTL_MAX_CONNS   64
#define CTL_READ_TIMEOUT_S 10
/* A monitor that reads slower than events come is cut off once this much
 * waits for it (it says the stream ended), not kept at the daemon's cost. */
#define CTL_MONITOR_BACKLOG (1024 * 1024)

struct ctl_conn {
	struct control *ctl;
	struct bufferevent *bev;
	uint64_t waiting;	/* serial of the `initiate` in progress */
	char peer[ADDR_STR_MAX];	/* its peer, for the answer */
	bool monitor;		/* receives the event stream */
	bool edit_held;		/* a filter edit's command has its turn */
	TAILQ_ENTRY(ctl_conn) link;
};

struct control {
	struct daemon *d;
	struct evconnlistener *lis;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	TAILQ_HEAD(, ctl_conn) conns;
	size_t nconns;
};

/* ---- replies ------------------------------------------------------------------ */

static void conn_free(struct ctl_conn *c)
{
	if (c->edit_held)
		dagent_edit_end(c->ctl->d);
	TAILQ_REMOVE(&c->ctl->conns, c, link);
	c->ctl->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

static void written(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);
}

/* Send o (released here) and close once it is out. */
static void reply(struct ctl_conn *c, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	c->waiting = 0;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, written, conn_event, c);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\n", text);
	json_object_put(o);
	bufferevent_enable(c->bev, EV_WRITE);
}

static struct json_object *ok_reply(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static void reply_error(struct ctl_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct ctl_conn *c, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char text[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(text));
	reply(c, o);
}

/* ---- show-sa ------------------------------------------------------------------- */

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static void sa_suite_json(struct json_object *o, const struct ikesa *sa)
{
	const struct ike_suite *s = &sa->keys.suite;

	if (!s->encr)
		return;
	add_str(o, "encr", ike_transform_name(IKEV2_XFORM_ENCR, s->encr));
	add_int(o, "key_bits", s->encr_key_bits);
	if (s->integ)
		add_str(o, "integ", ike_transform_name(IKEV2_XFORM_INTEG,
						       s->integ));
	add_str(o, "prf", ike_transform_name(IKEV2_XFORM_PRF, s->prf));
	add_str(o, "dh", ike_transform_name(IKEV2_XFORM_DH, s->dh));
}

static void sa_json(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct json_object *o = json_object_new_object();
	char buf[300];
	uint64_t now = daemon_now_ms(d);

	snprintf(buf, sizeof(buf), "%016" PRIx64, sa->ispi);
	add_str(o, "ispi", buf);
	snprintf(buf, sizeof(buf), "%016" PRIx64, sa->rspi);
	add_str(o, "rspi", buf);
	add_str(o, "state", ikesa_state_name(sa->state));
	add_str(o, "role", sa->initiator ? "initiator" : "responder");
	add_str(o, "local", addr_str(&sa->path.local, buf, sizeof(buf)));
	add_int(o, "local_port", addr_port(&sa->path.local));
	add_str(o, "peer", addr_str(&sa->path.peer, buf, sizeof(buf)));
	add_int(o, "peer_port", addr_port(&sa->path.peer));
	add_bool(o, "nat_t", sa->natt);
	add_bool(o, "nat_local", sa->nat_local);
	add_bool(o, "nat_peer", sa->nat_peer);
	add_str(o, "policy", sa->conf.policy);
	add_str(o, "rule", sa->conf.rule);
	add_str(o, "auth", sa->by_cert ? "certificate" : "psk");
	add_str(o, "psk_id", sa->psk_id);
	if (sa->local_id.len)
		add_str(o, "local_id", ident_str(&sa->local_id, buf, sizeof(buf)));
	if (sa->peer_id.len)
		add_str(o, "peer_id", ident_str(&sa->peer_id, buf, sizeof(buf)));
	sa_suite_json(o, sa);
	add_bool(o, "childless", sa->child == NULL);
	add_int(o, "age_s", (int64_t)((now - sa->created_ms) / 1000));
	if (sa->established_ms)
		add_int(o, "established_s",
			(int64_t)((now - sa->established_ms) / 1000));
	add_int(o, "lifetime_s", sa->conf.lifetime_s);
	add_int(o, "msgid_out", sa->req_next);
	add_int(o, "msgid_in", sa->peer_next);
	json_object_array_add(arg, o);
}

/* Each CHILD SA gets the kernel's counters and lifetimes of its two SAs. */
static void add_kernel_view(struct json_object *child_arr)
{
	struct monitor_kernel k;
	size_t i, n = json_object_array_length(child_arr);

	if (!n)
		return;
	monitor_kernel_read(&k);
	for (i = 0; i < n; i++)
		monitor_child_json(json_object_array_get_idx(child_arr, i), &k,
				   (uint64_t)time(NULL));
	monitor_kernel_free(&k);
}

static void cmd_show_sa(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *o = ok_reply(), *list = json_object_new_array();
	struct json_object *child_arr;

	ikesa_foreach(c->ctl->d, sa_json, list);
	json_object_object_add(o, "ike_sas", list);
	child_arr = json_object_new_array();
	child_sas_json(c->ctl->d, child_arr);
	add_kernel_view(child_arr);
	json_object_object_add(o, "child_sas", child_arr);
	reply(c, o);
}

/* ---- stats ------------------------------------------------------------------ */

static void add_child_count(struct daemon *d, struct ikesa *sa, void *arg)
{
	*(size_t *)arg += child_count(sa);
}

static size_t count_child_sas(struct daemon *d)
{
	size_t n = 0;

	ikesa_foreach(d, add_child_count, &n);
	return n;
}

/* The IKE counters (stats.h) and the kernel's (monitor.h). */
static void cmd_stats(struct ctl_conn *c, struct json_object *req)
{
	struct daemon *d = c->ctl->d;
	struct json_object *o = ok_reply(), *s = json_object_new_object();
	struct monitor_kernel k;
	size_t up, negotiating, i;

	ikesa_count(d, &up, &negotiating);
	add_int(s, "ike_sas_active", (int64_t)up);
	add_int(s, "negotiations_active", (int64_t)negotiating);
	add_int(s, "half_open_responder", (int64_t)ikesa_half_open_all(d));
	add_int(s, "child_sas_active", (int64_t)count_child_sas(d));
	/* the responder's IKE_SA_INIT key pairs (dh_reuse.h) */
	add_int(s, "dh_keys_generated", (int64_t)d->dh_reuse.made);
	add_int(s, "dh_keys_shared", (int64_t)d->dh_reuse.shared);
	for (i = 0; i < ST_COUNT; i++)
		add_int(s, stats_name((enum ike_stat)i), (int64_t)d->stats.v[i]);
	json_object_object_add(o, "stats", s);
	monitor_kernel_read(&k);
	json_object_object_add(o, "kernel", monitor_kernel_json(&k));
	monitor_kernel_free(&k);
	reply(c, o);
}

/* The IKE daemon's OpenMetrics families (daemon_metrics.h), which
 * `ipsec-xdp show stats --openmetrics` places in its exposition. */
static void cmd_metrics(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *o;
	struct om_buf b;

	om_init(&b);
	metrics_ike_write(c->ctl->d, &b);
	if (om_failed(&b)) {
		om_free(&b);
		reply_error(c, "out of memory");
		return;
	}
	o = ok_reply();
	add_str(o, "families", b.text ? b.text : "");
	om_free(&b);
	reply(c, o);
}

/* ---- initiate ------------------------------------------------------------------ */

static void reply_sa(struct ctl_conn *c, const struct ikesa *sa,
		     bool existing)
{
	struct json_object *o = ok_reply();
	char spis[40];

	snprintf(spis, sizeof(spis), "%016" PRIx64 ":%016" PRIx64, sa->ispi,
		 sa->rspi);
	add_str(o, "ike_sa", spis);
	if (existing) {
		add_bool(o, "existing", true);
		add_int(o, "child_sas", (int64_t)child_count(sa));
	}
	reply(c, o);
}

static const char *req_string(struct json_object *req, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void cmd_initiate(struct ctl_conn *c, struct json_object *req)
{
	struct daemon *d = c->ctl->d;
	const char *peer = req_string(req, "peer");
	struct sockaddr_storage ss;
	struct ikesa *sa;
	char err[400];
	uint64_t serial;

	if (!peer || addr_parse(peer, d->port, &ss)) {
		reply_error(c, "\"peer\" must be an IPv4 or IPv6 address");
		return;
	}
	sa = ikesa_find_peer(d, &ss);
	if (sa && sa->state == IKESA_ESTABLISHED) {
		reply_sa(c, sa, true);
		return;
	}
	if (sa && sa->initiator && ikesa_half_open_state(sa)) {
		serial = sa->serial;	/* under way: wait for it */
	} else if (exch_init_start(d, &ss, &serial, err, sizeof(err))) {
		reply_error(c, "%s", err);
		return;
	}
	c->waiting = serial;
	addr_str(&ss, c->peer, sizeof(c->peer));
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ);
}

/* The negotiation `initiate` started has ended. */
static void sa_outcome(struct daemon *d, uint64_t serial, bool ok,
		       const char *text)
{
	struct control *ctl = d->ctl;
	struct ctl_conn *c;
	struct json_object *o;

	TAILQ_FOREACH(c, &ctl->conns, link) {
		if (c->waiting != serial)
			continue;
		if (!ok) {
			reply_error(c, "negotiation with %s failed: %s",
				    c->peer, text);
			continue;
		}
		o = ok_reply();
		add_str(o, "ike_sa", text);
		reply(c, o);
	}
}

/* ---- sa-delete ------------------------------------------------------------------ */

static void delete_sa(struct daemon *d, struct ikesa *sa)
{
	if (ikesa_half_open_state(sa)) {
		sa->stopped = true;
		ikesa_fail(d, sa, ST_COUNT, "stopped by the administrator");
		return;
	}
	snprintf(sa->close_reason, sizeof(sa->close_reason),
		 "deleted by the administrator");
	ikesa_want(d, sa, true, false);
}

struct peer_match {
	struct sockaddr_storage peer;
	int n;
};

static void delete_if_peer(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct peer_match *m = arg;

	if (sa->state != IKESA_DELETING && addr_equal(&sa->path.peer, &m->peer)) {
		delete_sa(d, sa);
		m->n++;
	}
}

static int parse_spi(const char *text, uint64_t *spi)
{
	char *end;

	if (!strncmp(text, "0x", 2) || !strncmp(text, "0X", 2))
		text += 2;
	if (!*text || strlen(text) > 33)
		return -1;
	errno = 0;
	*spi = strtoull(text, &end, 16);
	if (errno || (*end && *end != ':') || end == text)
		return -1;
	return 0;
}

static void cmd_sa_delete(struct ctl_conn *c, struct json_object *req)
{
	struct daemon *d = c->ctl->d;
	const char *spi_text = req_string(req, "ike_sa");
	const char *peer = req_string(req, "peer");
	struct peer_match m = { .n = 0 };
	struct json_object *o;
	struct ikesa *sa;
	uint64_t spi;

	if (spi_text) {
		if (parse_spi(spi_text, &spi) || spi == 0) {
			reply_error(c, "\"ike_sa\" must be an SPI in hex");
			return;
		}
		sa = ikesa_find_spi(d, spi);
		if (sa && sa->state != IKESA_DELETING) {
			delete_sa(d, sa);
			m.n = 1;
		}
	} else if (peer) {
		if (addr_parse(peer, 0, &m.peer)) {
			reply_error(c, "\"peer\" must be an IPv4 or IPv6 address");
			return;
		}
		ikesa_foreach(d, delete_if_peer, &m);
	} else {
		reply_error(c, "sa-delete needs \"ike_sa\" or \"peer\"");
		return;
	}
	o = ok_reply();
	add_int(o, "deleted", m.n);
	reply(c, o);
}

/* ---- reload ------------------------------------------------------------------ */

static void cmd_reload(struct ctl_conn *c, struct json_object *req)
{
	char err[700];

	if (daemon_load(c->ctl->d, false, err, sizeof(err))) {
		log_warn("reload: %s", err);
		reply_error(c, "%s", err);
		return;
	}
	dagent_reloaded(c->ctl->d);
	reply(c, ok_reply());
}

/* ---- the policy agent (daemon_agent.h) --------------------------------------- */

static void cmd_agent_status(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *o = ok_reply();

	json_object_object_add(o, "agent", dagent_status_json(c->ctl->d));
	reply(c, o);
}

static void cmd_policy_arm(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *v, *o;
	char err[600];
	int64_t s;

	if (!json_object_object_get_ex(req, "seconds", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (s = json_object_get_int64(v)) < 1 || s > DAGENT_CONFIRM_MAX_S) {
		reply_error(c, "\"seconds\" must be a whole number from 1 to %d",
			    DAGENT_CONFIRM_MAX_S);
		return;
	}
	if (dagent_arm(c->ctl->d, (unsigned)s, err, sizeof(err))) {
		reply_error(c, "%s", err);
		return;
	}
	o = ok_reply();
	json_object_object_add(o, "agent", dagent_status_json(c->ctl->d));
	reply(c, o);
}

static void cmd_policy_confirm(struct ctl_conn *c, struct json_object *req)
{
	char err[300];

	if (dagent_confirm(c->ctl->d, err, sizeof(err))) {
		reply_error(c, "%s", err);
		return;
	}
	reply(c, ok_reply());
}

/* ---- filter-edit: `filter add|delete` (daemon_agent.h, dagent_edit) ------------ */

/* Nothing more is read from a held connection; reading on is how its end
 * (EOF, or the timeout) is seen. */
static void drain(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

/* Send o (released here) and keep the connection until the client ends
 * it, DAGENT_EDIT_HOLD_S at most. */
static void reply_and_hold(struct ctl_conn *c, struct json_object *o)
{
	struct timeval tv = { DAGENT_EDIT_HOLD_S, 0 };

	c->edit_held = true;
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_setcb(c->bev, drain, NULL, conn_event, c);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\n",
			    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void cmd_filter_edit(struct ctl_conn *c, struct json_object *req)
{
	const char *op = req_string(req, "op"), *list = req_string(req, "list");
	const char *filter = req_string(req, "filter");
	struct dagent_edit_out out;
	struct json_object *o;
	char why[800];

	if (!op || (strcmp(op, "add") && strcmp(op, "delete")) || !list || !filter) {
		reply_error(c, "malformed request: \"op\" (add or delete), "
			    "\"list\" and \"filter\" strings");
		return;
	}
	if (dagent_edit(c->ctl->d, !strcmp(op, "add"), list, filter, &out, why,
			sizeof(why))) {
		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(0));
		json_object_object_add(o, "declined", json_object_new_boolean(1));
		add_str(o, "error", why);
		reply(c, o);
		return;
	}
	o = ok_reply();
	add_str(o, "sha256", out.sha256);
	add_int(o, "specific_filters", (int64_t)out.nfilters);
	add_int(o, "index", (int64_t)out.index);
	reply_and_hold(c, o);
}

/* ---- monitor: the event stream --------------------------------------------- */

static void cmd_monitor(struct ctl_conn *c, struct json_object *req)
{
	struct json_object *o = ok_reply();

	c->monitor = true;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setcb(c->bev, drain, NULL, conn_event, c);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\n",
			    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* One event as JSON: its kind, the IKE SA's serial, peer, SPIs and role,
 * the rule, reason and CHILD SA SPIs named in the text, and the text. */
static struct json_object *event_json(const char *event, const struct ikesa *sa,
				      const char *text)
{
	static const char *const fields[][2] = {
		{ "rule", "rule" }, { "reason", "reason" },
		{ "spi-in", "spi_in" }, { "spi-out", "spi_out" },
		{ "policy", "policy" },
	};
	struct json_object *o = json_object_new_object();
	char v[400];

	add_str(o, "source", "ike");
	add_str(o, "event", event);
	if (sa) {
		add_int(o, "ike", (int64_t)sa->serial);
		add_str(o, "peer", addr_port_str(&sa->path.peer, v, sizeof(v)));
		snprintf(v, sizeof(v), "%016" PRIx64 ":%016" PRIx64, sa->ispi,
			 sa->rspi);
		add_str(o, "spi", v);
		add_str(o, "role", sa->initiator ? "initiator" : "responder");
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (log_field(text, fields[i][0], v, sizeof(v)))
			add_str(o, fields[i][1], v);
	add_str(o, "text", text);
	return o;
}

static void publish_event(struct daemon *d, const char *event,
			  const struct ikesa *sa, const char *text)
{
	struct control *ctl = d->ctl;
	struct ctl_conn *c, *next;
	struct json_object *o = NULL;
	const char *line = NULL;

	for (c = TAILQ_FIRST(&ctl->conns); c; c = next) {
		struct evbuffer *out;

		next = TAILQ_NEXT(c, link);
		if (!c->monitor)
			continue;
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > CTL_MONITOR_BACKLOG) {
			log_warn("control: a monitor reads too slowly; "
				 "its event stream is closed");
			conn_free(c);
			continue;
		}
		if (!o) {
			o = event_json(event, sa, text);
			line = json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		}
		evbuffer_add_printf(out, "%s\n", line);
	}
	json_object_put(o);
}

/* ---- requests ------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(struct ctl_conn *c, struct json_object *req);
} commands[] = {
	{ "show-sa", cmd_show_sa },
	{ "stats", cmd_stats },
	{ "metrics", cmd_metrics },
	{ "initiate", cmd_initiate },
	{ "sa-delete", cmd_sa_delete },
	{ "reload", cmd_reload },
	{ "monitor", cmd_monitor },
	{ "agent-status", cmd_agent_status },
	{ "policy-arm", cmd_policy_arm },
	{ "policy-confirm", cmd_policy_confirm },
	{ "filter-edit", cmd_filter_edit },
};

static void handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	enum json_tokener_error jerr = json_tokener_success;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req = NULL;
	const char *cmd;
	size_t i;

	if (tok) {
		req = json_tokener_parse_ex(tok, line, (int)len);
		jerr = json_tokener_get_error(tok);
		json_tokener_free(tok);
	}
	if (!req || jerr != json_tokener_success ||
	    !json_object_is_type(req, json_type_object)) {
		reply_error(c, "malformed request: %s", !tok ? "out of memory"
			    : jerr != json_tokener_success
			    ? json_tokener_error_desc(jerr)
			    : "not a JSON object");
		json_object_put(req);
		return;
	}
	cmd = req_string(req, "cmd");
	for (i = 0; cmd && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			commands[i].run(c, req);
			json_object_put(req);
			return;
		}
	}
	if (cmd)
		reply_error(c, "unknown command '%.64s'", cmd);
	else
		reply_error(c, "malformed request: no \"cmd\" string");
	json_object_put(req);
}

static void readable(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = 0;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);

	if (!line) {
		if (evbuffer_get_length(in) > IXDP_CONTROL_MAX_LINE)
			reply_error(c, "request longer than %d bytes",
				    IXDP_CONTROL_MAX_LINE);
		return;
	}
	bufferevent_disable(bev, EV_READ);	/* one request */
	if (len > IXDP_CONTROL_MAX_LINE)
		reply_error(c, "request longer than %d bytes",
			    IXDP_CONTROL_MAX_LINE);
	else
		handle_line(c, line, len);
	free(line);
}

static void accepted(struct evconnlistener *lis, evutil_socket_t fd,
		     struct sockaddr *sa, int socklen, void *arg)
{
	struct control *ctl = arg;
	struct timeval tv = { CTL_READ_TIMEOUT_S, 0 };
	struct ctl_conn *c;

	if (ctl->nconns >= CTL_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd,
					BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl->conns, c, link);
	ctl->nconns++;
	bufferevent_setcb(c->bev, readable, NULL, conn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* ---- the socket --------------------------------------------------------------- */

/* A socket file left by a daemon that is gone is removed; one that
 * answers means another daemon runs. */
static int claim_path(const struct sockaddr_un *un, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return 0;
	if (connect(fd, (const struct sockaddr *)un, sizeof(*un)) == 0) {
		snprintf(err, errlen, "another ipsec-xdpd answers on %s",
			 un->sun_path);
		rc = -1;
	} else if (errno == ECONNREFUSED) {
		unlink(un->sun_path);
	}
	close(fd);
	return rc;
}

static int make_socket(struct control *ctl, char *err, size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (mkdir(ctl->d->rundir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", ctl->d->rundir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/%s",
			     ctl->d->rundir, IXDP_CONTROL_SOCKET) >=
	    sizeof(un.sun_path)) {
		snprintf(err, errlen, "run directory path too long");
		return -1;
	}
	if (claim_path(&un, err, errlen))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&un, sizeof(un));
	umask(old);
	if (rc || chmod(un.sun_path, 0600) || listen(fd, 16)) {
		snprintf(err, errlen, "%s: %s", un.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(ctl->path, sizeof(ctl->path), "%s", un.sun_path);
	return fd;
}

int control_open(struct daemon *d, struct event_base *evb, char *err,
		 size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	int fd;

	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ctl->d = d;
	TAILQ_INIT(&ctl->conns);
	fd = make_socket(ctl, err, errlen);
	if (fd < 0) {
		free(ctl);
		return -1;
	}
	ctl->lis = evconnlistener_new(evb, accepted, ctl,
				      LEV_OPT_CLOSE_ON_FREE |
				      LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!ctl->lis) {
		close(fd);
		unlink(ctl->path);
		free(ctl);
		snprintf(err, errlen, "cannot listen on the control socket");
		return -1;
	}
	d->ctl = ctl;
	d->sa_outcome = sa_outcome;
	d->ike_event = publish_event;
	return 0;
}

void control_close(struct daemon *d)
{
	struct control *ctl = d->ctl;
	struct ctl_conn *c;

	if (!ctl)
		return;
	while ((c = TAILQ_FIRST(&ctl->conns)) != NULL)
		conn_free(c);
	evconnlistener_free(ctl->lis);
	unlink(ctl->path);
	free(ctl);
	d->ctl = NULL;
	d->sa_outcome = NULL;
	d->ike_event = NULL;
}
