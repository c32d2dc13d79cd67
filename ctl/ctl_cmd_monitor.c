// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_monitor.c - `ipsec-xdp monitor`: the live events of the
 * dataplane (dropped packets from the ring buffer ixdp_drop_events, policy
 * flips seen in the live bank) and of ipsec-xdpd (its "monitor" stream on
 * the control socket, include/ixdp_control.h), merged, one line each, until
 * SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ctl.h"
#include "dataplane/dataplane_dropev.h"

#define POLL_MS        250      /* how often the live bank is looked at */
#define DAEMON_LINE_MAX 65536

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct monitor {
	struct ctx *c;
	struct dp dp;
	bool have_dp;
	struct dp_dropev ev;
	uint64_t start_ns;      /* CLOCK_MONOTONIC at start: older events are stale */
	uint64_t shown, stale;
	uint32_t generation;    /* of the live bank last seen */
	int lock_fd;
	int dfd;                /* the daemon's stream, or -1 */
	char dbuf[DAEMON_LINE_MAX];
	size_t dlen;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "2026-12-05T19:09:45.123Z": the wall clock when the line is printed. */
static void now_text(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000) % 1000);
}

static void emit(struct monitor *m, struct json_object *o, const char *text)
{
	char ts[64];

	now_text(ts, sizeof(ts));
	if (m->c->json) {
		json_object_object_add(o, "time", json_object_new_string(ts));
		printf("%s\n", json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%s %s\n", ts, text);
	}
	json_object_put(o);
	fflush(stdout);
}

static void jadd_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void jadd_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static const char *proto_text(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 1:  return "icmp";
	case 6:  return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

/* The name of the rule whose filter dropped the packet, if that filter is
 * still the one in the live bank (a flip since may have replaced it). */
static bool rule_of(struct monitor *m, const struct ixdp_drop_event *e,
		    char *name, size_t len)
{
	struct ixdp_filter_info info;
	struct ixdp_bank b;
	uint32_t bank, slot = e->slot;

	/* ixdp_info is per slot; while the bank is still live with that
	 * generation, the slot still holds that filter */
	if (!m->have_dp || e->filter == IXDP_NO_FILTER || slot >= IXDP_MAX_SLOTS ||
	    dp_read_bank(&m->dp, &bank, &b) || bank != e->bank ||
	    b.generation != e->generation)
		return false;
	if (bpf_map_lookup_elem(m->dp.info_fd, &slot, &info))
		return false;
	snprintf(name, len, "%.*s", (int)sizeof(info.name), info.name);
	return true;
}

static int on_drop(void *ctx, const struct ixdp_drop_event *e)
{
	struct monitor *m = ctx;
	int af = e->fam == IXDP_FAM_V6 ? AF_INET6 : AF_INET;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[8], rule[40];
	char text[400], extra[80] = "";
	const char *proto = proto_text(e->proto, pbuf, sizeof(pbuf));
	const char *reason = e->reason < IXDP_DROP__MAX
		? drop_reason_name(e->reason) : "unknown";
	bool has_rule = rule_of(m, e, rule, sizeof(rule));
	struct json_object *o;

	if (e->ts_ns < m->start_ns) {   /* waited in the ring since before us */
		m->stale++;
		return 0;
	}
	m->shown++;
	inet_ntop(af, e->src, src, sizeof(src));
	inet_ntop(af, e->dst, dst, sizeof(dst));
	o = json_object_new_object();
	jadd_str(o, "source", "dataplane");
	jadd_str(o, "event", "drop");
	jadd_str(o, "reason", reason);
	jadd_str(o, "dir", e->dir == IXDP_DIR_IN ? "in" : "out");
	jadd_str(o, "proto", proto);
	jadd_str(o, "src", src);
	jadd_int(o, "sport", e->sport);
	jadd_str(o, "dst", dst);
	jadd_int(o, "dport", e->dport);
	if (e->filter == IXDP_NO_FILTER)
		json_object_object_add(o, "filter", NULL);
	else
		jadd_int(o, "filter", e->filter);
	jadd_str(o, "rule", has_rule ? rule : NULL);
	jadd_int(o, "suppressed", e->suppressed);
	jadd_int(o, "cpu", e->cpu);
	if (e->filter != IXDP_NO_FILTER)
		snprintf(extra, sizeof(extra), " filter %u rule %s", e->filter,
			 has_rule ? rule : "(replaced since)");
	snprintf(text, sizeof(text), "drop %s %s %s%s%s:%u -> %s%s%s:%u "
		 "reason %s%s", e->dir == IXDP_DIR_IN ? "in" : "out", proto,
		 af == AF_INET6 ? "[" : "", src, af == AF_INET6 ? "]" : "",
		 e->sport, af == AF_INET6 ? "[" : "", dst,
		 af == AF_INET6 ? "]" : "", e->dport, reason, extra);
	if (e->suppressed)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 " (+%u not shown)", e->suppressed);
	emit(m, o, text);
	return 0;
}

/* A policy flip (or a first policy) is a new generation of the live bank. */
static void check_policy(struct monitor *m, bool first)
{
	struct ixdp_bank b;
	uint32_t bank;
	struct json_object *o;
	char text[200];

	if (!m->have_dp || dp_read_bank(&m->dp, &bank, &b))
		return;
	if (first || b.generation == m->generation) {
		m->generation = b.generation;
		return;
	}
	m->generation = b.generation;
	o = json_object_new_object();
	jadd_str(o, "source", "dataplane");
	jadd_str(o, "event", "policy");
	json_object_object_add(o, "has_policy",
			       json_object_new_boolean(b.has_policy));
	jadd_int(o, "generation", b.generation);
	jadd_int(o, "filters", b.nfilters);
	if (b.has_policy)
		snprintf(text, sizeof(text), "policy applied: %u specific filters "
			 "(generation %u)", b.nfilters, b.generation);
	else
		snprintf(text, sizeof(text), "policy removed: the boot mode "
			 "rules apply (generation %u)", b.generation);
	emit(m, o, text);
}

/* ---- the daemon's stream ------------------------------------------------------ */

static const char *jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && v
		? json_object_get_string(v) : NULL;
}

/* Subscribe: EXIT_OK with m->dfd, else the reason in err. */
static int daemon_subscribe(struct monitor *m, char *err, size_t errlen)
{
	static const char req[] = "{\"cmd\":\"monitor\"}\n";
	struct json_object *o;
	char line[1024];
	size_t len = 0;
	int fd;

	if (daemon_connect(&fd, err, errlen) != EXIT_OK)
		return EXIT_FAIL;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto broken;
	/* The answer, byte by byte so nothing after it is read here. */
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, 1);

		if (n <= 0)
			goto broken;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	o = json_tokener_parse(line);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_get_boolean(json_object_object_get(o, "ok"))) {
		snprintf(err, errlen, "ipsec-xdpd refused the monitor request: %s",
			 o && jget(o, "error") ? jget(o, "error")
			 : "(an older daemon?)");
		json_object_put(o);
		close(fd);
		return EXIT_FAIL;
	}
	json_object_put(o);
	m->dfd = fd;
	return EXIT_OK;
broken:
	snprintf(err, errlen, "ipsec-xdpd closed the control connection");
	close(fd);
	return EXIT_FAIL;
}

static void daemon_event(struct monitor *m, const char *line)
{
	struct json_object *o = json_tokener_parse(line);
	const char *text;
	char buf[900];

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return;         /* not an event: ignored */
	}
	text = jget(o, "text");
	snprintf(buf, sizeof(buf), "ike %s %s", jget(o, "event") ?
		 jget(o, "event") : "event", text ? text : "");
	emit(m, o, buf);
}

/* Read what the daemon sent; false once the stream ended. */
static bool daemon_read(struct monitor *m)
{
	ssize_t n = read(m->dfd, m->dbuf + m->dlen, sizeof(m->dbuf) - 1 - m->dlen);
	char *nl;

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	m->dlen += (size_t)n;
	m->dbuf[m->dlen] = '\0';
	while ((nl = memchr(m->dbuf, '\n', m->dlen)) != NULL) {
		*nl = '\0';
		daemon_event(m, m->dbuf);
		m->dlen -= (size_t)(nl + 1 - m->dbuf);
		memmove(m->dbuf, nl + 1, m->dlen);
	}
	if (m->dlen == sizeof(m->dbuf) - 1)
		m->dlen = 0;    /* a line beyond any event's size: dropped */
	return true;
}

/* ---- the command ------------------------------------------------------------------ */

/* The ring buffer has one read position: a second reader would take events
 * from the first.  An flock on the pin root's maps/ directory (a pinned
 * map cannot be open()ed; the root itself is the writers' lock) keeps
 * monitors apart. */
static int lock_ring(struct monitor *m)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/maps", m->c->root);
	m->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->lock_fd < 0)
		return EXIT_OK; /* dp_dropev_open() says why */
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK)
		return fail(EXIT_FAIL, "another `ipsec-xdp monitor` reads the "
			    "dropped packets: one at a time");
	return EXIT_OK;
}

static void summary(struct monitor *m, const struct dp_dropev_totals *t0)
{
	struct dp_dropev_totals t1;
	struct json_object *o;
	char text[300];

	if (!m->have_dp || dp_dropev_totals(&m->ev, &t1))
		return;
	o = json_object_new_object();
	jadd_str(o, "source", "dataplane");
	jadd_str(o, "event", "summary");
	jadd_int(o, "drop_events", (int64_t)m->shown);
	jadd_int(o, "suppressed", (int64_t)(t1.suppressed - t0->suppressed));
	jadd_int(o, "lost", (int64_t)(t1.lost - t0->lost));
	snprintf(text, sizeof(text), "stopped: %" PRIu64 " drop events shown, "
		 "%" PRIu64 " drops not shown (rate limit), %" PRIu64
		 " lost (ring buffer full)", m->shown,
		 t1.suppressed - t0->suppressed, t1.lost - t0->lost);
	emit(m, o, text);
}

static void run(struct monitor *m)
{
	while (!stop_signal) {
		struct pollfd pf[2] = {
			{ .fd = m->have_dp ? dp_dropev_fd(&m->ev) : -1, .events = POLLIN },
			{ .fd = m->dfd, .events = POLLIN },
		};
		int n = poll(pf, 2, POLL_MS);

		if (n < 0 && errno != EINTR)
			break;
		if (m->have_dp)
			dp_dropev_process(&m->ev);
		if (m->dfd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !daemon_read(m)) {
			warn_msg("ipsec-xdpd closed the event stream (stopped?); "
				 "dataplane events only from now on");
			close(m->dfd);
			m->dfd = -1;
			if (!m->have_dp)
				break;
		}
		check_policy(m, false);
	}
}

int cmd_monitor(struct ctx *c, int argc, char **argv)
{
	struct monitor m = { .c = c, .lock_fd = -1, .dfd = -1 };
	struct dp_dropev_totals t0 = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[600], derr[400];
	int rc;

	if (argc > 1)
		return fail(EXIT_USAGE, "monitor takes no arguments");
	rc = lock_ring(&m);
	if (rc != EXIT_OK)
		return rc;
	m.start_ns = mono_ns();
	if (dp_open(&m.dp, c->root, err, sizeof(err)) == 0) {
		if (dp_dropev_open(&m.ev, c->root, on_drop, &m, err, sizeof(err))) {
			dp_close(&m.dp);
		} else {
			m.have_dp = true;
			dp_dropev_totals(&m.ev, &t0);
		}
	}
	if (daemon_subscribe(&m, derr, sizeof(derr)) != EXIT_OK) {
		if (!m.have_dp) {
			if (m.lock_fd >= 0)
				close(m.lock_fd);
			return fail(EXIT_NOT_LOADED, "nothing to monitor: %s; %s",
				    err, derr);
		}
		warn_msg("%s: dataplane events only", derr);
	}
	if (!m.have_dp)
		warn_msg("%s: IKE events only", err);
	sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: poll() returns */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	check_policy(&m, true);
	run(&m);
	if (m.have_dp)
		dp_dropev_process(&m.ev);       /* what was written before the signal */
	summary(&m, &t0);
	if (m.dfd >= 0)
		close(m.dfd);
	if (m.have_dp) {
		dp_dropev_close(&m.ev);
		dp_close(&m.dp);
	}
	if (m.lock_fd >= 0)
		close(m.lock_fd);
	return EXIT_OK;
}
