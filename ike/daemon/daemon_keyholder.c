// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_keyholder.c - the key holder (daemon_keyholder.h): its serving
 * loop, and the network process's client of it (d->keys).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>

#include "daemon/daemon_keyholder.h"
#include "agent/agent_rollback.h"
#include "sa/sa_engine.h"
#include "sa/sa_keys.h"
#include "sa/sa_log.h"
#include "wire/wire_cert.h"
#include "wire/wire_crypto.h"
#include "wire/wire_keymsg.h"
#include "wire/wire_secrets.h"
#include "wire/wire_signature.h"

/* A reply the key holder has not sent within this is taken as its death. */
#define KH_REPLY_MS 20000

/* ---- the key holder ----------------------------------------------------------- */

static size_t reply_failed(struct keymsg *r, uint8_t status, const char *why,
			   uint8_t *out, size_t cap)
{
	r->status = status;
	r->data = (const uint8_t *)why;
	r->data_len = why ? strnlen(why, 512) : 0;
	return keymsg_encode(r, out, cap);
}

static size_t answer_reload(const char *confdir, struct secrets **s,
			    struct keymsg *r, uint8_t *out, size_t cap)
{
	char err[700];
	struct secrets *n;

	if (secrets_load(confdir, &n, err, sizeof(err)))
		return reply_failed(r, KM_ST_FAILED, err, out, cap);
	secrets_free(*s);
	*s = n;
	r->u32 = (uint32_t)n->n;
	r->method = n->host != NULL;
	return keymsg_encode(r, out, cap);
}

static size_t answer_ids(const struct secrets *s, uint32_t from,
			 struct keymsg *r, uint8_t *out, size_t cap)
{
	static uint8_t list[KM_DATA_MAX];
	size_t i, len = 0, n = s ? s->n : 0;

	for (i = from; i < n; i++)
		if (!keymsg_add_id(list, sizeof(list), &len, s->v[i].id))
			break;
	r->u32 = (uint32_t)n;
	r->method = i < n;	/* more follow */
	if (i < n && i == from)	/* an id too long to send at all */
		return reply_failed(r, KM_ST_FAILED, "an id too long", out,
				    cap);
	r->data = list;
	r->data_len = len;
	return keymsg_encode(r, out, cap);
}

static size_t answer_cert(const struct secrets *s, uint32_t i,
			  struct keymsg *r, uint8_t *out, size_t cap)
{
	if (!s || !s->host || !cert_host_der(s->host, i, &r->data,
					       &r->data_len))
		return reply_failed(r, KM_ST_NONE, NULL, out, cap);
	return keymsg_encode(r, out, cap);
}

/* KM_ROLLBACK, KM_ROLLBACK_DROP: only what the command kept in confdir
 * (agent_rollback.h), named by nothing the network process sends. */
static size_t answer_rollback(const char *confdir, bool drop,
			      struct keymsg *r, uint8_t *out, size_t cap)
{
	char err[700];
	bool had = false;
	int rc;

	rc = drop ? agent_rollback_drop(confdir, err, sizeof(err))
		  : agent_rollback_restore(confdir, &had, err, sizeof(err));
	if (rc == AGENT_ROLLBACK_NOTHING && !drop)
		return reply_failed(r, KM_ST_NONE, NULL, out, cap);
	if (rc)
		return reply_failed(r, KM_ST_FAILED, err, out, cap);
	r->u32 = had;
	return keymsg_encode(r, out, cap);
}

size_t keyholder_answer(const char *confdir, struct secrets **s,
			const struct keymsg *q, uint8_t *out, size_t cap)
{
	uint8_t buf[SIG_AUTH_MAX];
	struct keymsg r = { .type = q->type | KM_REPLY, .seq = q->seq };
	const char *why = NULL;
	size_t len = 0, n;

	switch (q->type) {
	case KM_RELOAD:
		return answer_reload(confdir, s, &r, out, cap);
	case KM_IDS:
		return answer_ids(*s, q->u32, &r, out, cap);
	case KM_HOST_CERT:
		return answer_cert(*s, q->u32, &r, out, cap);
	case KM_PSK_MAC:
		if (keys_psk_mac(*s, q->id, q->prf, q->data, q->data_len, buf,
				 &len, &why))
			return reply_failed(&r, KM_ST_FAILED, why, out, cap);
		break;
	case KM_PSK_VERIFY:
		switch (keys_psk_verify(*s, q->id, q->prf, q->data,
					q->data_len, q->data2, q->data2_len)) {
		case KEYS_MATCH:    r.status = KM_ST_OK; break;
		case KEYS_MISMATCH: r.status = KM_ST_MISMATCH; break;
		default:            r.status = KM_ST_NONE; break;
		}
		return keymsg_encode(&r, out, cap);
	case KM_ROLLBACK:
	case KM_ROLLBACK_DROP:
		return answer_rollback(confdir, q->type == KM_ROLLBACK_DROP, &r,
				       out, cap);
	case KM_SIGN:
		if (keys_sign(*s, q->u32, q->data, q->data_len, &r.method, buf,
			      &len, &why))
			return reply_failed(&r, KM_ST_FAILED, why, out, cap);
		break;
	default:	/* a reply sent to us */
		r.type = (q->type & ~KM_REPLY) | KM_REPLY;
		return reply_failed(&r, KM_ST_REFUSED, "not a request", out,
				    cap);
	}
	r.data = buf;
	r.data_len = len;
	n = keymsg_encode(&r, out, cap);
	ike_wipe(buf, sizeof(buf));
	return n;
}

int keyholder_serve(int fd, const char *confdir)
{
	static uint8_t in[KM_MSG_MAX + 1], out[KM_MSG_MAX];
	struct secrets *s = NULL;
	struct keymsg q;
	const char *why;
	ssize_t n;
	size_t len;
	int rc = -1;

	for (;;) {
		n = recv(fd, in, sizeof(in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			rc = 0;		/* the network process is gone */
		if (n <= 0 || keymsg_decode(in, (size_t)n, &q, &why) ||
		    (q.type & KM_REPLY))
			break;
		len = keyholder_answer(confdir, &s, &q, out, sizeof(out));
		ike_wipe(in, (size_t)n);
		if (!len || send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
			break;
		ike_wipe(out, len);
	}
	secrets_free(s);
	return rc;
}

/* ---- the network process's side ------------------------------------------------ */

struct keyholder {
	int fd;
	pid_t pid;
	uint32_t seq;
	struct event *ev;
	uint8_t buf[KM_MSG_MAX + 1];
};

static struct keyholder *kh_of(const struct daemon *d)
{
	return d->keyholder;
}

/* Fail closed: without the key holder nothing authenticates. */
static void kh_gone(const char *what)
{
	log_err("key holder: %s; stopping (nothing authenticates without it)",
		what);
	log_unbatch();
	exit(1);
}

/* Send q, wait for its reply into r (pointing into kh->buf). */
static void kh_call(struct keyholder *kh, struct keymsg *q, struct keymsg *r)
{
	static uint8_t out[KM_MSG_MAX];
	struct pollfd p = { .fd = kh->fd, .events = POLLIN };
	const char *why;
	size_t len;
	ssize_t n;
	int rc;

	q->seq = ++kh->seq;
	len = keymsg_encode(q, out, sizeof(out));
	if (!len)
		kh_gone("a request out of bounds");
	if (send(kh->fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
		kh_gone("cannot send to it");
	ike_wipe(out, len);
	do
		rc = poll(&p, 1, KH_REPLY_MS);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		kh_gone(rc == 0 ? "no answer" : "cannot wait for it");
	do
		n = recv(kh->fd, kh->buf, sizeof(kh->buf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		kh_gone("it is gone");
	if (keymsg_decode(kh->buf, (size_t)n, r, &why))
		kh_gone(why);
	if (r->type != (q->type | KM_REPLY) || r->seq != q->seq)
		kh_gone("an answer out of turn");
}

static int kh_psk_mac(struct daemon *d, const char *id, uint16_t prf,
		      const uint8_t *octets, size_t len, uint8_t *out,
		      size_t *out_len, const char **why)
{
	struct keymsg q = { .type = KM_PSK_MAC, .prf = prf, .data = octets,
			    .data_len = len }, r;

	*why = "<SignedOctets> too long for the key holder";
	if (len > KM_DATA_MAX || strlen(id) > KM_ID_MAX)
		return -1;
	snprintf(q.id, sizeof(q.id), "%s", id);
	kh_call(kh_of(d), &q, &r);
	*why = "the key holder could not compute it";
	if (r.status != KM_ST_OK || !r.data_len ||
	    r.data_len > IKE_PRF_MAX_LEN)
		return -1;
	memcpy(out, r.data, r.data_len);
	*out_len = r.data_len;
	ike_wipe(kh_of(d)->buf, sizeof(kh_of(d)->buf));
	return 0;
}

static enum keys_verdict kh_psk_verify(struct daemon *d, const char *id,
				       uint16_t prf, const uint8_t *octets,
				       size_t len, const uint8_t *auth,
				       size_t auth_len)
{
	struct keymsg q = { .type = KM_PSK_VERIFY, .prf = prf, .data = octets,
			    .data_len = len, .data2 = auth,
			    .data2_len = auth_len }, r;

	if (len > KM_DATA_MAX || strlen(id) > KM_ID_MAX)
		return KEYS_NO_KEY;
	if (auth_len > KM_DATA2_MAX)
		return KEYS_MISMATCH;
	snprintf(q.id, sizeof(q.id), "%s", id);
	kh_call(kh_of(d), &q, &r);
	return r.status == KM_ST_OK ? KEYS_MATCH
	       : r.status == KM_ST_MISMATCH ? KEYS_MISMATCH : KEYS_NO_KEY;
}

static int kh_sign(struct daemon *d, unsigned peer_hashes,
		   const uint8_t *octets, size_t len, uint8_t *method,
		   uint8_t *out, size_t *out_len, const char **why)
{
	struct keymsg q = { .type = KM_SIGN, .u32 = peer_hashes,
			    .data = octets, .data_len = len }, r;

	*why = "<SignedOctets> too long for the key holder";
	if (len > KM_DATA_MAX)
		return -1;
	kh_call(kh_of(d), &q, &r);
	*why = "the key holder could not sign";
	if (r.status != KM_ST_OK || !r.data_len || r.data_len > SIG_AUTH_MAX)
		return -1;
	memcpy(out, r.data, r.data_len);
	*out_len = r.data_len;
	*method = r.method;
	return 0;
}

static const struct key_ops kh_ops = {
	.psk_mac = kh_psk_mac,
	.psk_verify = kh_psk_verify,
	.sign = kh_sign,
};

/* ---- the public view: ids and certificates --------------------------------------- */

static int add_id(struct secrets *s, const char *id)
{
	struct secret *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	s->v = v;
	v[s->n].key = NULL;
	v[s->n].len = 0;
	v[s->n].id = strdup(id);
	if (!v[s->n].id)
		return -1;
	s->n++;
	return 0;
}

static int fetch_ids(struct keyholder *kh, uint32_t total, struct secrets *s,
		     char *err, size_t errlen)
{
	char id[KM_ID_MAX + 1];
	struct keymsg q = { .type = KM_IDS }, r;
	size_t off;
	int more = 1, got;

	while (more && s->n < total) {
		q.u32 = (uint32_t)s->n;
		kh_call(kh, &q, &r);
		if (r.status != KM_ST_OK || r.u32 != total)
			goto bad;
		for (off = 0; (got = keymsg_next_id(r.data, r.data_len, &off,
						    id)) == 1;)
			if (add_id(s, id)) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
		if (got < 0 || (r.method && s->n == q.u32))
			goto bad;
		more = r.method;
	}
	if (s->n == total)
		return 0;
bad:
	snprintf(err, errlen, "the key holder's list of ids is malformed");
	return -1;
}

static int fetch_host(struct keyholder *kh, struct secrets *s, char *err,
		      size_t errlen)
{
	uint8_t *der[CERT_MAX_CHAIN] = { NULL };
	size_t len[CERT_MAX_CHAIN], n = 0, i;
	struct keymsg q = { .type = KM_HOST_CERT }, r;
	int rc = -1;

	for (;;) {
		q.u32 = (uint32_t)n;
		kh_call(kh, &q, &r);
		if (r.status != KM_ST_OK || n == CERT_MAX_CHAIN)
			break;
		der[n] = malloc(r.data_len ? r.data_len : 1);
		if (!der[n])
			break;
		memcpy(der[n], r.data, r.data_len);
		len[n++] = r.data_len;
	}
	if (r.status == KM_ST_NONE)
		rc = cert_host_public((const uint8_t *const *)der, len, n,
				      &s->host, err, errlen);
	else
		snprintf(err, errlen, "the key holder's certificates are "
			 "malformed");
	for (i = 0; i < n; i++)
		free(der[i]);
	return rc;
}

int keyholder_reload(struct daemon *d, char *err, size_t errlen)
{
	struct keyholder *kh = kh_of(d);
	struct keymsg q = { .type = KM_RELOAD }, r;
	struct secrets *s;

	kh_call(kh, &q, &r);
	if (r.status != KM_ST_OK) {
		snprintf(err, errlen, "%.*s", (int)r.data_len,
			 r.data ? (const char *)r.data : "the key holder failed");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || fetch_ids(kh, r.u32, s, err, errlen) ||
	    (r.method && fetch_host(kh, s, err, errlen))) {
		if (!s)
			snprintf(err, errlen, "out of memory");
		secrets_free(s);
		return -1;
	}
	secrets_free(d->secrets);
	d->secrets = s;
	return 0;
}

int keyholder_rollback(struct daemon *d, bool drop, bool *had_policy,
		       char *err, size_t errlen)
{
	struct keymsg q = { .type = drop ? KM_ROLLBACK_DROP : KM_ROLLBACK }, r;

	if (!kh_of(d)) {
		snprintf(err, errlen, "no key holder runs");
		return -1;
	}
	kh_call(kh_of(d), &q, &r);
	if (r.status == KM_ST_NONE)
		return KEYHOLDER_NOTHING_KEPT;
	if (r.status != KM_ST_OK) {
		snprintf(err, errlen, "%.*s", (int)r.data_len, r.data
			 ? (const char *)r.data : "the key holder failed");
		return -1;
	}
	if (had_policy)
		*had_policy = r.u32 != 0;
	return 0;
}

/* ---- start, watch, stop ------------------------------------------------------- */

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	kh_gone("it closed its end or spoke out of turn");
}

int keyholder_start(struct daemon *d,
		    int (*confine)(char *err, size_t errlen), char *err,
		    size_t errlen)
{
	struct keyholder *kh;
	int sv[2], rc;

	kh = calloc(1, sizeof(*kh));
	if (!kh || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "key holder: %s", kh ? strerror(errno)
			 : "out of memory");
		free(kh);
		return -1;
	}
	kh->pid = fork();
	if (kh->pid < 0) {
		snprintf(err, errlen, "key holder: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(kh);
		return -1;
	}
	if (kh->pid == 0) {
		close(sv[0]);
		/* no core dump of the keys, no ptrace by a same-uid process */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		prctl(PR_SET_NAME, "ipsec-xdpd-keys", 0, 0, 0);
		if (confine && confine(err, errlen)) {
			log_err("key holder: %s", err);
			_exit(1);
		}
		rc = keyholder_serve(sv[1], d->confdir);
		_exit(rc ? 1 : 0);
	}
	close(sv[1]);
	kh->fd = sv[0];
	d->keyholder = kh;
	d->keys = &kh_ops;
	return 0;
}

int keyholder_watch(struct daemon *d, struct event_base *evb)
{
	struct keyholder *kh = kh_of(d);

	kh->ev = event_new(evb, kh->fd, EV_READ | EV_PERSIST, on_readable, kh);
	return kh->ev && !event_add(kh->ev, NULL) ? 0 : -1;
}

pid_t keyholder_pid(const struct daemon *d)
{
	return kh_of(d) ? kh_of(d)->pid : -1;
}

void keyholder_stop(struct daemon *d)
{
	struct keyholder *kh = kh_of(d);

	if (!kh)
		return;
	if (kh->ev)
		event_free(kh->ev);
	close(kh->fd);
	while (waitpid(kh->pid, NULL, 0) < 0 && errno == EINTR)
		;
	ike_wipe(kh->buf, sizeof(kh->buf));
	free(kh);
	d->keyholder = NULL;
	d->keys = NULL;
}
