// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_source.c - see daemon_source.h.  One poll is two GETs in turn:
 * the document (conditional: If-None-Match / If-Modified-Since with the
 * validators of the document in force), then, when it came back with 200,
 * its signature at URL.sig.  libcurl runs them through its multi
 * interface: it tells us which sockets to watch and when to time out
 * (socket_cb, curl_timeout_cb) and we turn those into libevent events, so the
 * loop keeps serving IKE while a server is slow.
 *
 * What libcurl is told: https only (no redirect to anything else, none
 * followed), the server's certificate checked against policysourceca (or
 * the system's CAs) with its host name, at most SOURCE_DOC_MAX bytes, 30
 * seconds a transfer; it logs nothing (no CURLOPT_VERBOSE), and the URL
 * carries no credentials (bootconf_check_url).
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <event2/event.h>

/* lib/policy/policy.h has its own struct ike_proposal (message.h's name),
 * as in daemon_dplink.c. */
#define ike_proposal lib_ike_proposal
#include "agent/agent.h"
#include "agent/agent_source.h"
#include "util/util_atomic_file.h"
#undef ike_proposal
#include "daemon/daemon.h"
#include "daemon/daemon_source.h"
#include "daemon/daemon_agent.h"
#include "sa/sa_log.h"

#define FETCH_TIMEOUT_S   30
#define CONNECT_TIMEOUT_S 10

struct fetch {
	CURL *easy;
	struct curl_slist *headers;
	char *buf;
	size_t len, max;	/* max: SOURCE_DOC_MAX, or SOURCE_SIG_MAX */
	bool too_big;
	long status;
	char etag[SOURCE_TAG_MAX], last_modified[SOURCE_TAG_MAX];
	char error[CURL_ERROR_SIZE];
};

struct source {
	struct daemon *d;
	struct event_base *evb;
	CURLM *multi;
	struct event *curl_timer, *poll_timer;
	struct fetch doc, sig;
	bool polling, reverting;
	bool retry;		/* the writers' lock was busy: poll again soon */
	char *first_doc;	/* the verified cache, until source_start */
	size_t first_len;
	struct bootconf conf;
	struct source_state st;
	char statedir[PATH_MAX];
	char cache[PATH_MAX];	/* STATEDIR/central/policy.yaml */
};

static struct source src;	/* one daemon a process */

/* ---- libcurl on libevent -------------------------------------------------------- */

static void check_done(struct source *s);

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;
	int running, flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
			     (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(s->multi, fd, flags, &running);
	check_done(s);
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;
	int running;

	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(s);
}

/* libcurl: watch fd for what (CURL_POLL_*), or stop watching it. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct source *s = userp;
	struct event *ev = socketp;
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
		     (what & CURL_POLL_OUT ? EV_WRITE : 0);

	if (ev) {
		event_free(ev);
		curl_multi_assign(s->multi, fd, NULL);
	}
	if (what == CURL_POLL_REMOVE)
		return 0;
	ev = event_new(s->evb, fd, kind, on_socket, s);
	if (!ev || event_add(ev, NULL)) {
		if (ev)
			event_free(ev);
		return -1;
	}
	curl_multi_assign(s->multi, fd, ev);
	return 0;
}

/* libcurl: call back after ms (-1: no timeout wanted). */
static int curl_timeout_cb(CURLM *multi, long ms, void *userp)
{
	struct source *s = userp;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		return evtimer_del(s->curl_timer);
	return evtimer_add(s->curl_timer, &tv);
}

/* ---- one GET ------------------------------------------------------------------ */

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t add = size * n;
	char *nb;

	if (add > f->max - f->len) {
		f->too_big = true;
		return 0;	/* stops the transfer */
	}
	nb = realloc(f->buf, f->len + add + 1);
	if (!nb)
		return 0;
	f->buf = nb;
	memcpy(f->buf + f->len, data, add);
	f->len += add;
	f->buf[f->len] = '\0';
	return add;
}

/* "Name: value\r\n": the value without blanks around it. */
static bool header_value(const char *line, size_t len, const char *name,
			 const char **v, size_t *vlen)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	*v = line + nl + 1;
	*vlen = len - nl - 1;
	while (*vlen && (**v == ' ' || **v == '\t'))
		(*v)++, (*vlen)--;
	while (*vlen && ((*v)[*vlen - 1] == '\r' || (*v)[*vlen - 1] == '\n' ||
			 (*v)[*vlen - 1] == ' '))
		(*vlen)--;
	return true;
}

static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	const char *v;
	size_t vlen;

	if (header_value(line, size * n, "ETag", &v, &vlen))
		source_tag_copy(f->etag, v, vlen);
	else if (header_value(line, size * n, "Last-Modified", &v, &vlen))
		source_tag_copy(f->last_modified, v, vlen);
	return size * n;
}

static void fetch_reset(struct source *s, struct fetch *f)
{
	if (f->easy) {
		curl_multi_remove_handle(s->multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->headers);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

static int add_header(struct fetch *f, const char *name, const char *value)
{
	char line[SOURCE_TAG_MAX + 32];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if (!(l = curl_slist_append(f->headers, line)))
		return -1;
	f->headers = l;
	return 0;
}

/* Start GET url; conditional on the validators of the document in force. */
static int fetch_start(struct source *s, struct fetch *f, const char *url,
		       bool conditional)
{
	CURL *e;

	fetch_reset(s, f);
	f->max = f == &s->sig ? SOURCE_SIG_MAX : SOURCE_DOC_MAX;
	if (!(e = f->easy = curl_easy_init()))
		return -1;
	if (conditional && s->st.etag[0] && add_header(f, "If-None-Match", s->st.etag))
		return -1;
	if (conditional && s->st.last_modified[0] &&
	    add_header(f, "If-Modified-Since", s->st.last_modified))
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->conf.policysourceca[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, s->conf.policysourceca);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)FETCH_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	return curl_multi_add_handle(s->multi, e) == CURLM_OK ? 0 : -1;
}

/* ---- what a poll leads to ----------------------------------------------------- */

static void save_state(struct source *s)
{
	char err[300];

	s->st.pid = (int)getpid();
	if (source_state_write(s->statedir, &s->st, err, sizeof(err)))
		log_warn("central policy: %s", err);
}

static void schedule(struct source *s)
{
	struct timeval tv = { s->st.interval_s ? s->st.interval_s
			      : SOURCE_POLL_DEFAULT_S, 0 };

	if (s->retry) {		/* after DAGENT_RETRY_MS */
		tv.tv_sec = 0;
		tv.tv_usec = DAGENT_RETRY_MS * 1000;
		s->retry = false;
	}
	evtimer_add(s->poll_timer, &tv);
}

static void poll_end(struct source *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The outcome: kept in the state file, next poll scheduled. */
static void poll_end(struct source *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->st.result, sizeof(s->st.result), fmt, ap);
	va_end(ap);
	s->polling = false;
	fetch_reset(s, &s->doc);
	fetch_reset(s, &s->sig);
	save_state(s);
	schedule(s);
}

/* Put a verified document in force through the policy agent (it is
 * compiled there: an invalid one changes nothing).  0, DAGENT_BUSY, or -1
 * with err. */
static int enforce(struct source *s, const char *text, size_t len,
		   const char *label, char *err, size_t errlen)
{
	int rc;

	rc = dagent_apply(s->d, text, len, label, 0, err, errlen);
	if (rc)
		return rc;
	s->d->central_in_force = true;
	s->st.interval_s = dagent_polling_s(s->d);
	return 0;
}

/* A cached document (verified) in force.  0 when it is. */
static int enforce_cached_doc(struct source *s, const char *doc, size_t len)
{
	char err[8192], label[BOOTCONF_URL_MAX + 16];
	int rc;

	snprintf(label, sizeof(label), "%s (cached)", s->conf.policysource);
	rc = enforce(s, doc, len, label, err, sizeof(err));
	if (rc) {
		log_err("central policy: the cached policy is not in force: %s",
			rc == DAGENT_BUSY ? "the writers' lock is held" : err);
		return -1;
	}
	s->st.in_force = true;
	return 0;
}

/* The cache, checked again (source_cache_load), in force.  0 when it is. */
static int enforce_cache(struct source *s)
{
	char err[8192], *doc;
	size_t len;
	int rc;

	rc = source_cache_load(s->statedir, &s->conf, &doc, &len, err,
			       sizeof(err));
	if (rc < 0)
		log_err("central policy: the cache is refused: %s", err);
	if (rc)
		return -1;
	rc = enforce_cached_doc(s, doc, len);
	free(doc);
	return rc;
}

/* The source cannot be reached: the cache, if nothing is in force yet. */
static void unreachable(struct source *s, const char *why)
{
	if (!s->st.in_force)
		enforce_cache(s);
	s->st.cache_in_use = s->st.in_force;
	log_warn("central policy: %s unreachable: %s; %s", s->conf.policysource,
		 why, s->st.in_force ? "the cached policy stays in force"
		 : s->d->central_in_force ? "the previous source's policy stays "
		 "in force" : "no cached policy: the local policy stays in force");
	poll_end(s, "unreachable: %s", why);
}

static bool same_as_cache(struct source *s)
{
	char *text = NULL, err[300];
	size_t len = 0;
	bool same;

	if (!s->st.in_force ||
	    read_file_whole(s->cache, SOURCE_DOC_MAX, &text, &len, err, sizeof(err)))
		return false;
	same = len == s->doc.len && !memcmp(text, s->doc.buf, len);
	free(text);
	return same;
}

/* A verified document: put in force, then kept as the cache. */
static void take(struct source *s)
{
	char err[8192];
	int rc;

	rc = enforce(s, s->doc.buf, s->doc.len, s->conf.policysource, err,
		     sizeof(err));
	if (rc == DAGENT_BUSY) {	/* `ipsec-xdp` at work: soon again */
		s->retry = true;
		poll_end(s, "waiting for the writers' lock");
		return;
	}
	if (rc) {
		log_err("central policy from %s refused: %s (what was in force "
			"stays)", s->conf.policysource, err);
		poll_end(s, "refused: %.250s", err);
		return;
	}
	snprintf(s->st.url, sizeof(s->st.url), "%s", s->conf.policysource);
	if (source_cache_store(s->statedir, s->doc.buf, s->doc.len, s->sig.buf,
			       s->sig.len, err, sizeof(err)))
		log_err("central policy: in force but not cached: %s", err);
	memcpy(s->st.etag, s->doc.etag, sizeof(s->st.etag));
	memcpy(s->st.last_modified, s->doc.last_modified, sizeof(s->st.last_modified));
	s->st.changed = s->st.fetched;
	s->st.in_force = true;
	s->st.cache_in_use = false;
	log_info("central policy from %s in force (polled every %u s)",
		 s->conf.policysource, s->st.interval_s);
	poll_end(s, "new policy in force");
}

static void doc_done(struct source *s, CURLcode res)
{
	char url[BOOTCONF_URL_MAX + 8];

	if (s->doc.too_big || res == CURLE_FILESIZE_EXCEEDED) {
		log_err("central policy from %s refused: over %u bytes",
			s->conf.policysource, SOURCE_DOC_MAX);
		poll_end(s, "refused: the document is over %u bytes", SOURCE_DOC_MAX);
		return;
	}
	if (res != CURLE_OK)
		return unreachable(s, s->doc.error[0] ? s->doc.error : curl_easy_strerror(res));
	s->st.fetched = (int64_t)time(NULL);
	if (s->doc.status == 304 && s->st.in_force) {
		s->st.cache_in_use = false;
		return poll_end(s, "unchanged (304)");
	}
	if (s->doc.status != 200) {
		char why[64];

		snprintf(why, sizeof(why), "HTTP status %ld", s->doc.status);
		return unreachable(s, why);
	}
	if (same_as_cache(s)) {
		s->st.cache_in_use = false;
		memcpy(s->st.etag, s->doc.etag, sizeof(s->st.etag));
		memcpy(s->st.last_modified, s->doc.last_modified, sizeof(s->st.last_modified));
		return poll_end(s, "unchanged");
	}
	snprintf(url, sizeof(url), "%s.sig", s->conf.policysource);
	if (fetch_start(s, &s->sig, url, false))
		return poll_end(s, "out of memory");
}

static void sig_done(struct source *s, CURLcode res)
{
	char err[600];

	char why[64];

	if (s->sig.too_big || res == CURLE_FILESIZE_EXCEEDED)
		snprintf(why, sizeof(why), "over %u bytes", SOURCE_SIG_MAX);
	else if (res != CURLE_OK)
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
	else if (s->sig.status != 200)
		snprintf(why, sizeof(why), "HTTP status %ld", s->sig.status);
	if (s->sig.too_big || res != CURLE_OK || s->sig.status != 200) {
		log_err("central policy from %s refused: its signature %s.sig: "
			"%s (what was in force stays)", s->conf.policysource,
			s->conf.policysource, why);
		return poll_end(s, "refused: no signature (%s.sig: %s)",
				s->conf.policysource, why);
	}
	if (source_verify(s->conf.policysourcekey, s->doc.buf, s->doc.len,
			  s->sig.buf, s->sig.len, err, sizeof(err))) {
		log_err("central policy from %s refused: %s (what was in force "
			"stays)", s->conf.policysource, err);
		return poll_end(s, "refused: %s", err);
	}
	take(s);
}

static void check_done(struct source *s)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left))) {
		struct fetch *f = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &f->status);
		if (f == &s->doc)
			doc_done(s, m->data.result);
		else
			sig_done(s, m->data.result);
		return;	/* the handles may be gone: one at a time */
	}
}

/* ---- polls -------------------------------------------------------------------- */

/* The source was removed: the local policy again (none stored: the
 * boot mode). */
static void revert(struct source *s)
{
	char path[PATH_MAX], err[8192];
	int rc = 0;

	s->d->central_in_force = false;
	s->st.in_force = s->st.cache_in_use = false;
	agent_assigned_path(s->d->confdir, path, sizeof(path));
	if (access(path, F_OK))
		rc = dagent_unassign(s->d, err, sizeof(err));
	else
		dagent_reloaded(s->d);	/* the local file, put in force */
	if (rc)
		log_err("central policy removed, but the boot mode is not "
			"restored: %s", rc == DAGENT_BUSY ? "the writers' "
			"lock is held" : err);
	else
		log_info("central policy removed: the local policy is in force");
	snprintf(s->st.result, sizeof(s->st.result), "the source was removed");
}

static void poll_start(struct source *s)
{
	char err[600];

	if (s->polling)
		return;
	if (bootconf_load(s->d->confdir, &s->conf, err, sizeof(err))) {
		log_warn("central policy: %s/config: %s", s->d->confdir, err);
		return schedule(s);
	}
	if (!s->conf.policysource[0]) {
		if (s->d->central_in_force && !s->reverting) {
			s->reverting = true;
			revert(s);
			s->reverting = false;
			save_state(s);
		}
		return;
	}
	if (strcmp(s->st.url, s->conf.policysource))
		s->st.in_force = s->st.cache_in_use = false;
	s->polling = true;
	s->st.polled = (int64_t)time(NULL);
	if (fetch_start(s, &s->doc, s->conf.policysource, s->st.in_force))
		poll_end(s, "out of memory");
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	poll_start(arg);
}

void source_poll_now(struct daemon *d)
{
	if (src.d != d || src.reverting || src.polling)
		return;
	evtimer_del(src.poll_timer);
	poll_start(&src);
}

/* A usable cache claims precedence before the policy agent starts
 * (daemon_main.c opens this first): the agent then leaves the local file
 * alone, and source_start() puts the cache in force. */
static void cache_claim(struct source *s)
{
	char err[8192];
	int rc;

	if (bootconf_load(s->d->confdir, &s->conf, err, sizeof(err)) ||
	    !s->conf.policysource[0])
		return;
	rc = source_cache_load(s->statedir, &s->conf, &s->first_doc,
			       &s->first_len, err, sizeof(err));
	if (rc < 0)
		log_err("central policy: the cache is refused: %s", err);
	s->d->central_in_force = rc == 0;
}

void source_start(struct daemon *d)
{
	struct source *s = &src;

	if (s->d != d)
		return;
	if (s->first_doc) {
		if (enforce_cached_doc(s, s->first_doc, s->first_len) == 0) {
			log_info("central policy: the cached policy from %s is "
				 "in force", s->conf.policysource);
		} else {
			d->central_in_force = false;
			dagent_reloaded(d);	/* the local policy, then */
		}
		free(s->first_doc);
		s->first_doc = NULL;
	}
	poll_start(s);
}

int source_open(struct daemon *d, struct event_base *evb)
{
	struct source *s = &src;
	char err[300];

	memset(s, 0, sizeof(*s));
	s->d = d;
	s->evb = evb;
	snprintf(s->statedir, sizeof(s->statedir), "%s", dagent_statedir(d));
	source_path(s->statedir, "policy.yaml", s->cache, sizeof(s->cache));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) ||
	    !(s->multi = curl_multi_init()) ||
	    !(s->curl_timer = evtimer_new(evb, on_curl_timer, s)) ||
	    !(s->poll_timer = evtimer_new(evb, on_poll, s))) {
		log_err("central policy: cannot start libcurl");
		return -1;
	}
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timeout_cb);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	if (source_state_read(s->statedir, &s->st, err, sizeof(err)) < 0)
		log_warn("central policy: %s", err);
	s->st.in_force = s->st.cache_in_use = false;
	s->st.result[0] = '\0';
	cache_claim(s);
	return 0;
}

void source_close(struct daemon *d)
{
	struct source *s = &src;

	if (s->d != d)
		return;
	fetch_reset(s, &s->doc);
	fetch_reset(s, &s->sig);
	free(s->first_doc);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	if (s->curl_timer)
		event_free(s->curl_timer);
	if (s->poll_timer)
		event_free(s->poll_timer);
	curl_global_cleanup();
	memset(s, 0, sizeof(*s));
}
