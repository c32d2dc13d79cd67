// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_metrics.c - see daemon_metrics.h.  The endpoint is libevent's
 * evhttp on the daemon's loop: one path, GET or HEAD, small headers, no
 * body, a timeout; it is bound only where --metrics-listen asks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "daemon/daemon_metrics.h"
/* lib/policy/policy.h and ike/wire/wire_message.h both define struct
 * ike_proposal (docs/layout.md); only dp_pin_root() is used here. */
#define ike_proposal lib_ike_proposal
#include "dataplane/dataplane.h"
#undef ike_proposal
#include "dataplane/dataplane_metrics.h"
#include "kernel/kernel_monitor.h"
#include "sa/sa_child.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_stats.h"
#include "wire/wire_addr.h"

#define HTTP_TIMEOUT_S     10
#define HTTP_MAX_HEADERS   8192

struct metrics_http {
	struct daemon *d;
	struct evhttp *http;
};

/* ---- the IKE families ------------------------------------------------------- */

static void gauge(struct om_buf *b, const char *name, const char *help,
		  uint64_t v)
{
	om_family(b, name, "gauge", NULL, help);
	om_sample(b, name, NULL, v);
}

static void counter(struct om_buf *b, const char *name, const char *help,
		    uint64_t v)
{
	char total[96];

	snprintf(total, sizeof(total), "%s_total", name);
	om_family(b, name, "counter", NULL, help);
	om_sample(b, total, NULL, v);
}

/* Each ST_* in [first, last] as one sample, label `label` = its name
 * without `prefix`. */
static void counter_by(struct om_buf *b, const struct daemon *d,
		       const char *name, const char *help, const char *label,
		       int first, int last, const char *prefix)
{
	char total[96];

	snprintf(total, sizeof(total), "%s_total", name);
	om_family(b, name, "counter", NULL, help);
	for (int i = first; i <= last; i++) {
		const char *s = stats_name((enum ike_stat)i);
		const char *l[] = { label, s, NULL };

		if (!strncmp(s, prefix, strlen(prefix)))
			l[1] = s + strlen(prefix);
		om_sample(b, total, l, d->stats.v[i]);
	}
}

/* One (peer, rule, state) and how many IKE SAs and CHILD SAs it has. */
struct peer_row {
	char peer[ADDR_STR_MAX], rule[64];
	const char *state;
	uint64_t sas, children;
};

struct peer_rows {
	struct peer_row *v;
	size_t n, cap;
	bool failed;
};

static void add_peer_row(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct peer_rows *r = arg;
	struct peer_row *p;

	if (r->failed || sa->state == IKESA_CLOSED)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct peer_row *v = realloc(r->v, cap * sizeof(*v));

		if (!v) {
			r->failed = true;
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	p = &r->v[r->n++];
	memset(p, 0, sizeof(*p));
	addr_str(&sa->path.peer, p->peer, sizeof(p->peer));
	snprintf(p->rule, sizeof(p->rule), "%s", sa->conf.rule);
	p->state = ikesa_state_name(sa->state);
	p->sas = 1;
	p->children = child_count(sa);
}

static int row_cmp(const void *a, const void *b)
{
	const struct peer_row *x = a, *y = b;
	int c = strcmp(x->peer, y->peer);

	if (!c)
		c = strcmp(x->rule, y->rule);
	return c ? c : strcmp(x->state, y->state);
}

/* Rows of the same peer, rule and state merged (one series each). */
static size_t merge_rows(struct peer_rows *r)
{
	size_t out = 0;

	qsort(r->v, r->n, sizeof(*r->v), row_cmp);
	for (size_t i = 0; i < r->n; i++) {
		if (out && !row_cmp(&r->v[out - 1], &r->v[i])) {
			r->v[out - 1].sas += r->v[i].sas;
			r->v[out - 1].children += r->v[i].children;
		} else {
			r->v[out++] = r->v[i];
		}
	}
	return out;
}

static void write_peers(struct daemon *d, struct om_buf *b)
{
	struct peer_rows r = { NULL, 0, 0, false };
	size_t n;

	ikesa_foreach(d, add_peer_row, &r);
	if (r.failed) {
		b->failed = true;
		free(r.v);
		return;
	}
	n = merge_rows(&r);
	om_family(b, "ipsec_xdp_ike_peer_sas", "gauge", NULL,
		  "IKE SAs with each peer, by the rule that applies and the SA's state.");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "peer", r.v[i].peer, "rule", r.v[i].rule,
				    "state", r.v[i].state, NULL };

		om_sample(b, "ipsec_xdp_ike_peer_sas", l, r.v[i].sas);
	}
	om_family(b, "ipsec_xdp_ike_peer_child_sas", "gauge", NULL,
		  "CHILD SAs on the IKE SAs with each peer, by rule and IKE SA state.");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "peer", r.v[i].peer, "rule", r.v[i].rule,
				    "state", r.v[i].state, NULL };

		om_sample(b, "ipsec_xdp_ike_peer_child_sas", l, r.v[i].children);
	}
	free(r.v);
}

static void write_backoff(struct daemon *d, struct om_buf *b)
{
	uint64_t now = daemon_now_ms(d);
	char peer[ADDR_STR_MAX];

	om_family(b, "ipsec_xdp_ike_peer_backoff_seconds", "gauge", "seconds",
		  "Time before traffic may start the next negotiation with a peer "
		  "after failures in a row (peers held back now).");
	for (size_t i = 0; i < d->backoff.n; i++) {
		const struct backoff_peer *p = &d->backoff.p[i];
		const char *l[] = { "peer", peer, NULL };

		if (p->until_ms <= now)
			continue;
		addr_str(&p->addr, peer, sizeof(peer));
		om_sample(b, "ipsec_xdp_ike_peer_backoff_seconds", l,
			  (p->until_ms - now + 999) / 1000);
	}
}

static void write_kernel(struct om_buf *b)
{
	struct monitor_kernel k;
	struct monitor_totals t;
	const struct { const char *proto; const struct monitor_flow *f; } fl[] = {
		{ "esp", &t.esp }, { "ah", &t.ah },
	};

	monitor_kernel_read(&k);
	if (!k.have_sa) {
		monitor_kernel_free(&k);
		return;		/* unreadable: left out, never shown as 0 */
	}
	monitor_totals(&k, &t);
	gauge(b, "ipsec_xdp_kernel_sas", "SAs in force in the kernel (xfrm).", t.sas);
	om_family(b, "ipsec_xdp_kernel_sa_bytes", "gauge", "bytes",
		  "Bytes carried by the kernel SAs in force, by protocol and "
		  "direction (an SA that is gone takes its bytes with it).");
	for (size_t i = 0; i < 2; i++) {
		const char *in[] = { "protocol", fl[i].proto, "direction", "in", NULL };
		const char *out[] = { "protocol", fl[i].proto, "direction", "out", NULL };

		om_sample(b, "ipsec_xdp_kernel_sa_bytes", in, fl[i].f->bytes_in);
		om_sample(b, "ipsec_xdp_kernel_sa_bytes", out, fl[i].f->bytes_out);
	}
	monitor_kernel_free(&k);
}

static void add_children(struct daemon *d, struct ikesa *sa, void *arg)
{
	*(uint64_t *)arg += child_count(sa);
}

void metrics_ike_write(struct daemon *d, struct om_buf *b)
{
	size_t up, negotiating;
	uint64_t children = 0;

	ikesa_count(d, &up, &negotiating);
	ikesa_foreach(d, add_children, &children);
	gauge(b, "ipsec_xdp_ike_sas", "IKE SAs established (up).", up);
	gauge(b, "ipsec_xdp_child_sas", "CHILD SAs on the IKE SAs.", children);
	gauge(b, "ipsec_xdp_ike_negotiations_active", "Negotiations in progress.",
	      negotiating);
	counter(b, "ipsec_xdp_ike_negotiations_started",
		"Negotiations started, either side.", d->stats.v[ST_NEG_TOTAL]);
	counter(b, "ipsec_xdp_ike_sas_established",
		"IKE SAs that came up.", d->stats.v[ST_IKE_SA_ESTABLISHED]);
	counter_by(b, d, "ipsec_xdp_ike_negotiations_failed",
		   "Negotiations that failed (no IKE SA, or not the CHILD SA the "
		   "rule wants), by reason.", "reason", ST_FAIL_FIRST,
		   ST_FAIL_LAST, "negotiations_failed_");
	counter_by(b, d, "ipsec_xdp_ike_dropped_messages",
		   "Received IKE messages not acted upon, by reason.", "reason",
		   ST_DROP_FIRST, ST_DROP_LAST, "drop_");
	counter(b, "ipsec_xdp_ike_rekeys",
		"IKE SAs rekeyed.", d->stats.v[ST_IKE_REKEYS]);
	counter(b, "ipsec_xdp_child_sa_rekeys",
		"CHILD SAs rekeyed.", d->stats.v[ST_CHILD_REKEYS]);
	write_peers(d, b);
	write_backoff(d, b);
	write_kernel(b);
}

/* ---- ADDR:PORT ---------------------------------------------------------------- */

int metrics_parse_listen(const char *arg, struct sockaddr_storage *ss,
			 char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	const char *colon, *host = arg;
	char addr[INET6_ADDRSTRLEN + 1], *end;
	size_t hlen;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			goto bad;
		host = arg + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || memchr(arg, ':', (size_t)(colon - arg)))
			goto bad;	/* IPv6 must be in brackets */
		hlen = (size_t)(colon - arg);
	}
	if (!hlen || hlen >= sizeof(addr))
		goto bad;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		goto bad;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1 && arg[0] != '[') {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 && arg[0] == '[') {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
bad:
	snprintf(err, errlen, "'%s' is not ADDR:PORT (a numeric IPv4 address or "
		 "[IPv6 address], and a port 1-65535, e.g. 127.0.0.1:9101 or "
		 "[::1]:9101)", arg);
	return -1;
}

/* ---- the endpoint -------------------------------------------------------------- */

static void send_text(struct evhttp_request *req, int code, const char *reason,
		      const char *type, const char *text)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	if (body)
		evbuffer_add(body, text, strlen(text));
	evhttp_send_reply(req, code, reason, body);
	if (body)
		evbuffer_free(body);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	struct om_buf ike, all;
	char err[300];

	om_init(&ike);
	om_init(&all);
	metrics_ike_write(m->d, &ike);
	if (om_failed(&ike) ||
	    dp_metrics_expose(&all, dp_pin_root(), ike.text ? ike.text : "", err,
			      sizeof(err)))
		send_text(req, HTTP_INTERNAL, "Internal Server Error",
			  "text/plain; charset=utf-8",
			  om_failed(&ike) ? "out of memory\n" : err);
	else
		send_text(req, HTTP_OK, "OK", OM_CONTENT_TYPE, all.text);
	om_free(&ike);
	om_free(&all);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	send_text(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8",
		  "only /metrics is served here\n");
}

static int listen_socket(const struct sockaddr_storage *ss, char *err,
			 size_t errlen)
{
	socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);
	char addr[ADDR_STR_MAX];
	int one = 1, fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 16)) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s",
			 addr_str(ss, addr, sizeof(addr)), addr_port(ss),
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct metrics_http *metrics_http_open(struct daemon *d, struct event_base *evb,
				       const struct sockaddr_storage *ss,
				       char *err, size_t errlen)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	int fd = -1;

	if (!m || !(m->http = evhttp_new(evb))) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->d = d;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, HTTP_TIMEOUT_S);
	evhttp_set_cb(m->http, "/metrics", on_metrics, m);
	evhttp_set_gencb(m->http, on_other, m);
	fd = listen_socket(ss, err, errlen);
	if (fd < 0 || !evhttp_accept_socket_with_handle(m->http, fd)) {
		if (fd >= 0) {
			close(fd);
			snprintf(err, errlen, "cannot serve HTTP on the metrics socket");
		}
		evhttp_free(m->http);
		free(m);
		return NULL;
	}
	return m;
}

void metrics_http_close(struct metrics_http *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
