// SPDX-License-Identifier: GPL-2.0-only
/* sa_log.c - the daemon's log and the negotiation log; see ikelog.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#include <event2/event.h>

#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"

static bool log_stderr = true, log_debug_on, log_quiet;

/* Lines for stderr wait here until the event loop has run the callbacks
 * that are ready (log_batch): one write() for a burst of datagrams instead
 * of one per line. */
static char pending[16384];
static size_t pending_len;
static struct event *flush_ev;
static uint64_t drop_window_ms;
static unsigned drop_lines, drop_suppressed;
static void (*tap_fn)(int prio, const char *line, void *arg);
static log_sendv_fn journal_sendv;
static void *tap_arg;

void log_tap(void (*tap)(int prio, const char *line, void *arg), void *arg)
{
	tap_fn = tap;
	tap_arg = arg;
}

void log_open(bool to_stderr, bool debug, bool quiet)
{
	log_flush();
	log_stderr = to_stderr;
	log_debug_on = debug;
	log_quiet = quiet;
	if (!to_stderr && !quiet)
		openlog("ipsec-xdpd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < pending_len) {
		n = write(STDERR_FILENO, pending + off, pending_len - off);
		if (n <= 0)
			break;	/* nowhere to log: the lines are lost */
		off += (size_t)n;
	}
	pending_len = 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	log_flush();
}

int log_batch(struct event_base *base)
{
	flush_ev = event_new(base, -1, 0, flush_cb, NULL);
	return flush_ev ? 0 : -1;
}

void log_unbatch(void)
{
	log_flush();
	if (flush_ev)
		event_free(flush_ev);
	flush_ev = NULL;
}

static void stderr_line(const char *line)
{
	static const char prefix[] = "ipsec-xdpd: ";
	size_t len = strnlen(line, 1023);
	bool first;

	/* a line is under 1024 bytes: it always fits after a flush */
	if (sizeof(pending) - pending_len < len + sizeof(prefix) + 1)
		log_flush();
	first = pending_len == 0;
	memcpy(pending + pending_len, prefix, sizeof(prefix) - 1);
	pending_len += sizeof(prefix) - 1;
	memcpy(pending + pending_len, line, len);
	pending_len += len;
	pending[pending_len++] = '\n';
	if (!flush_ev)
		log_flush();
	else if (first)	/* the first line waiting */
		event_active(flush_ev, 0, 0);
}

void log_journal(log_sendv_fn sendv)
{
	log_flush();
	journal_sendv = sendv;
}

/* "NAME=value" into buf at *off, as the next iovec; false if it does not
 * fit (the field is then left out). */
static bool journal_field(char *buf, size_t *off, struct iovec *iov, int *n,
			  const char *name, const char *value)
{
	size_t room = LOG_JOURNAL_BUF - *off;
	int len = snprintf(buf + *off, room, "%s=%s", name, value);

	if (len < 0 || (size_t)len >= room)
		return false;
	iov[*n].iov_base = buf + *off;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
	*off += (size_t)len + 1;
	return true;
}

int log_journal_fields(int prio, const char *line, char *buf,
		       struct iovec *iov)
{
	static const char *const fields[][2] = {
		{ "peer", "PEER" }, { "rule", "RULE" }, { "spi", "SPI" },
		{ "reason", "REASON" },
	};
	char prio_text[4], value[400];
	size_t off = 0;
	int n = 0;

	snprintf(prio_text, sizeof(prio_text), "%d", prio & 7);
	journal_field(buf, &off, iov, &n, "PRIORITY", prio_text);
	journal_field(buf, &off, iov, &n, "MESSAGE", line);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (log_field(line, fields[i][0], value, sizeof(value)))
			journal_field(buf, &off, iov, &n, fields[i][1], value);
	return n;
}

static void journal_line(int prio, const char *line)
{
	char buf[LOG_JOURNAL_BUF];
	struct iovec iov[LOG_JOURNAL_FIELDS];
	int n = log_journal_fields(prio, line, buf, iov);

	if (journal_sendv(iov, n) < 0)
		stderr_line(line);      /* the journal refused: keep the line */
}

/* Lines that would be written nowhere need not be formatted. */
static bool log_wanted(int prio)
{
	if (prio == LOG_DEBUG && !log_debug_on)
		return false;
	return !log_quiet || tap_fn;
}

/* A formatted line to the tap and to where lines go. */
static void emit(int prio, const char *line)
{
	if (tap_fn)
		tap_fn(prio, line, tap_arg);
	if (log_quiet)
		return;
	if (log_stderr && journal_sendv)
		journal_line(prio, line);
	else if (log_stderr)
		stderr_line(line);
	else
		syslog(prio, "%s", line);
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];

	if (!log_wanted(prio))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	emit(prio, line);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_quiet = false;
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	log_flush();
	abort();
}

/* ---- names ---------------------------------------------------------------- */

static const struct { uint16_t type; const char *name; } notifies[] = {
	{ IKEV2_N_UNSUPPORTED_CRITICAL_PAYLOAD, "UNSUPPORTED_CRITICAL_PAYLOAD" },
	{ IKEV2_N_INVALID_IKE_SPI, "INVALID_IKE_SPI" },
	{ IKEV2_N_INVALID_MAJOR_VERSION, "INVALID_MAJOR_VERSION" },
	{ IKEV2_N_INVALID_SYNTAX, "INVALID_SYNTAX" },
	{ IKEV2_N_INVALID_MESSAGE_ID, "INVALID_MESSAGE_ID" },
	{ IKEV2_N_INVALID_SPI, "INVALID_SPI" },
	{ IKEV2_N_NO_PROPOSAL_CHOSEN, "NO_PROPOSAL_CHOSEN" },
	{ IKEV2_N_INVALID_KE_PAYLOAD, "INVALID_KE_PAYLOAD" },
	{ IKEV2_N_AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED" },
	{ IKEV2_N_SINGLE_PAIR_REQUIRED, "SINGLE_PAIR_REQUIRED" },
	{ IKEV2_N_NO_ADDITIONAL_SAS, "NO_ADDITIONAL_SAS" },
	{ IKEV2_N_INTERNAL_ADDRESS_FAILURE, "INTERNAL_ADDRESS_FAILURE" },
	{ IKEV2_N_FAILED_CP_REQUIRED, "FAILED_CP_REQUIRED" },
	{ IKEV2_N_TS_UNACCEPTABLE, "TS_UNACCEPTABLE" },
	{ IKEV2_N_INVALID_SELECTORS, "INVALID_SELECTORS" },
	{ IKEV2_N_TEMPORARY_FAILURE, "TEMPORARY_FAILURE" },
	{ IKEV2_N_CHILD_SA_NOT_FOUND, "CHILD_SA_NOT_FOUND" },
	{ IKEV2_N_INITIAL_CONTACT, "INITIAL_CONTACT" },
	{ IKEV2_N_SET_WINDOW_SIZE, "SET_WINDOW_SIZE" },
	{ IKEV2_N_NAT_DETECTION_SOURCE_IP, "NAT_DETECTION_SOURCE_IP" },
	{ IKEV2_N_NAT_DETECTION_DESTINATION_IP, "NAT_DETECTION_DESTINATION_IP" },
	{ IKEV2_N_COOKIE, "COOKIE" },
	{ IKEV2_N_USE_TRANSPORT_MODE, "USE_TRANSPORT_MODE" },
	{ IKEV2_N_REKEY_SA, "REKEY_SA" },
	{ IKEV2_N_MOBIKE_SUPPORTED, "MOBIKE_SUPPORTED" },
	{ IKEV2_N_REDIRECT_SUPPORTED, "REDIRECT_SUPPORTED" },
	{ IKEV2_N_CHILDLESS_IKEV2_SUPPORTED, "CHILDLESS_IKEV2_SUPPORTED" },
	{ IKEV2_N_IKEV2_FRAGMENTATION_SUPPORTED, "IKEV2_FRAGMENTATION_SUPPORTED" },
	{ IKEV2_N_SIGNATURE_HASH_ALGORITHMS, "SIGNATURE_HASH_ALGORITHMS" },
};

const char *notify_name(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof(notifies) / sizeof(notifies[0]); i++)
		if (notifies[i].type == type)
			return notifies[i].name;
	return type <= IKEV2_N_ERROR_MAX ? "error notify" : "status notify";
}

const char *exchange_name(uint8_t exchange)
{
	switch (exchange) {
	case IKEV2_EXCH_IKE_SA_INIT:     return "IKE_SA_INIT";
	case IKEV2_EXCH_IKE_AUTH:        return "IKE_AUTH";
	case IKEV2_EXCH_CREATE_CHILD_SA: return "CREATE_CHILD_SA";
	case IKEV2_EXCH_INFORMATIONAL:   return "INFORMATIONAL";
	default:                         return "unknown exchange";
	}
}

/* ---- the negotiation log --------------------------------------------------- */

/* Formatted once, straight into the line (the text at most 639 bytes). */
void ikelog(struct daemon *d, enum ikelog_level level, const struct ikesa *sa,
	    const char *fmt, ...)
{
	char line[1024], peer[ADDR_STR_MAX + 8];
	size_t off;
	va_list ap;
	int n;

	if ((int)level > d->ikelogging || !log_wanted(LOG_INFO))
		return;
	if (sa)
		n = snprintf(line, sizeof(line), "ike[%" PRIu64 "] ", sa->serial);
	else
		n = snprintf(line, sizeof(line), "ike: ");
	off = n > 0 ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + off, 640, fmt, ap);
	va_end(ap);
	if (n > 0)
		off += (size_t)n < 640 ? (size_t)n : 639;
	if (sa)
		snprintf(line + off, sizeof(line) - off, " peer=%s spi=%016"
			 PRIx64 ":%016" PRIx64 " role=%s",
			 addr_port_str(&sa->path.peer, peer, sizeof(peer)),
			 sa->ispi, sa->rspi,
			 sa->initiator ? "initiator" : "responder");
	emit(LOG_INFO, line);
}

void ikelog_event(struct daemon *d, const char *event, const struct ikesa *sa,
		  const char *fmt, ...)
{
	char text[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (d->ike_event)
		d->ike_event(d, event, sa, text);
	ikelog(d, IKELOG_OUTCOME, sa, "%s", text);
}

bool log_field(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	const char *p = text;

	if (!len)
		return false;
	while ((p = strstr(p, key)) != NULL) {
		const char *v = p + klen;
		size_t n;

		/* a whole key: at the start or after a space, then '=' */
		if ((p != text && p[-1] != ' ') || *v != '=') {
			p = v;
			continue;
		}
		v++;
		if (*v == '"') {
			const char *end = strchr(++v, '"');

			n = end ? (size_t)(end - v) : strlen(v);
		} else {
			n = strcspn(v, " ");
		}
		if (n >= len)
			n = len - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* At most DROP_LOG_PER_S lines a second. */
static bool drop_log_allowed(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	if (now - drop_window_ms >= 1000 || now < drop_window_ms) {
		if (drop_suppressed)
			log_info("ike: %u more dropped messages not logged",
				 drop_suppressed);
		drop_window_ms = now;
		drop_lines = drop_suppressed = 0;
	}
	if (drop_lines >= DROP_LOG_PER_S) {
		drop_suppressed++;
		return false;
	}
	drop_lines++;
	return true;
}

void ike_drop(struct daemon *d, enum ike_stat reason,
	      const struct ike_dgram *dg, const struct ike_header *hdr,
	      const char *fmt, ...)
{
	char text[400], from[ADDR_STR_MAX + 8] = "-";
	va_list ap;

	d->stats.v[reason]++;
	if (!drop_log_allowed(d))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (dg)
		addr_port_str(&dg->path.peer, from, sizeof(from));
	if (hdr)
		log_info("ike: dropped %s %s %s id=%" PRIu32 " from %s "
			 "spi=%016" PRIx64 ":%016" PRIx64 ": %s",
			 exchange_name(hdr->exchange),
			 hdr->flags & IKEV2_FLAG_RESPONSE ? "response" : "request",
			 stats_name(reason), hdr->msgid, from, hdr->ispi,
			 hdr->rspi, text);
	else
		log_info("ike: dropped datagram %s from %s: %s",
			 stats_name(reason), from, text);
}

static const char *payload_name(uint8_t type)
{
	static const char *const n[] = {
		[IKEV2_PL_SA] = "SA", [IKEV2_PL_KE] = "KE",
		[IKEV2_PL_IDI] = "IDi", [IKEV2_PL_IDR] = "IDr",
		[IKEV2_PL_CERT] = "CERT", [IKEV2_PL_CERTREQ] = "CERTREQ",
		[IKEV2_PL_AUTH] = "AUTH", [IKEV2_PL_NONCE] = "NONCE",
		[IKEV2_PL_NOTIFY] = "N", [IKEV2_PL_DELETE] = "D",
		[IKEV2_PL_VENDOR] = "V", [IKEV2_PL_TSI] = "TSi",
		[IKEV2_PL_TSR] = "TSr", [IKEV2_PL_SK] = "SK",
		[IKEV2_PL_CP] = "CP", [IKEV2_PL_EAP] = "EAP",
		[IKEV2_PL_SKF] = "SKF",
	};

	if (type < sizeof(n) / sizeof(n[0]) && n[type])
		return n[type];
	return "?";
}

void ikelog_message(struct daemon *d, const struct ikesa *sa, bool out,
		    const struct ike_msg *msg)
{
	char list[400];
	size_t i, off = 0;

	if (d->ikelogging < IKELOG_MESSAGES)
		return;
	list[0] = '\0';
	for (i = 0; i < msg->npl && off < sizeof(list) - 48; i++) {
		const struct ike_payload *pl = &msg->pl[i];
		int n;

		if (pl->type == IKEV2_PL_NOTIFY && pl->len >= 4)
			n = snprintf(list + off, sizeof(list) - off, " N(%s)",
				     notify_name((uint16_t)(pl->body[2] << 8 |
							    pl->body[3])));
		else
			n = snprintf(list + off, sizeof(list) - off, " %s",
				     payload_name(pl->type));
		if (n > 0)
			off += (size_t)n;
	}
	ikelog(d, IKELOG_MESSAGES, sa, "%s %s %s id=%" PRIu32 ":%s",
	       out ? "sent" : "received", exchange_name(msg->hdr.exchange),
	       msg->hdr.flags & IKEV2_FLAG_RESPONSE ? "response" : "request",
	       msg->hdr.msgid, list);
}
