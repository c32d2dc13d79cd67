/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sa_log.h - the daemon's log and the negotiation log (the seeds' Oakley
 * log).
 *
 * Lines go to stderr in the foreground, else to syslog (daemon facility).
 * Negotiation lines read
 *
 *   ike[7] established peer=10.0.0.2:500 spi=1a2b..:3c4d.. role=initiator ...
 *   ike[8] failed peer=... reason="authentication failed: ..."
 *
 * and are written when their level is at most ikelogging (CONFDIR/config):
 *   0  every negotiation's start and outcome with the reason, deletions,
 *      and every dropped message (rate limited)
 *   1  also what was chosen: proposals, identities, NAT detection,
 *      retransmissions, cookies
 *   2  also every IKE message sent and received (exchange, ID, payloads)
 * No secret (key, PSK, SKEYSEED, nonce) is ever written at any level.
 */
#ifndef IXDP_IKE_IKELOG_H
#define IXDP_IKE_IKELOG_H

#include <stdbool.h>
#include <syslog.h>

#include "sa/sa_engine.h"

/*
 * Under systemd (stderr is the journal's stream), daemon_main.c hands in
 * sd_journal_sendv: from then on each line goes to the journal as one
 * entry with its PRIORITY (so `journalctl -p err` works), MESSAGE without
 * the program name (the journal has it), and the fields the line names:
 * PEER (peer=), RULE (rule=), SPI (spi=), REASON (reason="...").  NULL:
 * back to stderr.
 */
struct iovec;
typedef int (*log_sendv_fn)(const struct iovec *iov, int n);
void log_journal(log_sendv_fn sendv);

/* The journal entry of one line: at most LOG_JOURNAL_FIELDS iovecs into
 * iov, their text in buf (LOG_JOURNAL_BUF bytes); how many.  Pure: the
 * unit tests check it. */
#define LOG_JOURNAL_FIELDS 7
#define LOG_JOURNAL_BUF    2048
int log_journal_fields(int prio, const char *line, char *buf,
		       struct iovec *iov);

/* Where lines go; debug: also LOG_DEBUG lines.  quiet: nothing (tests). */
void log_open(bool to_stderr, bool debug, bool quiet);
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* With an event loop, lines for stderr are written once the callbacks
 * that are ready have run, together (log_unbatch: flushed, written at once
 * from then on); log_flush writes what waits now. */
struct event_base;
int log_batch(struct event_base *base);
void log_unbatch(void);
void log_flush(void);
/* Every line (quiet or not) also goes to tap, NULL: none (the tests
 * read what an administrator would read). */
void log_tap(void (*tap)(int prio, const char *line, void *arg), void *arg);
#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

enum ikelog_level {
	IKELOG_OUTCOME  = 0,
	IKELOG_DETAIL   = 1,
	IKELOG_MESSAGES = 2,
};

/* A line about one negotiation: "ike[serial] <text> peer=... spi=...". */
void ikelog(struct daemon *d, enum ikelog_level level, const struct ikesa *sa,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* An event `ipsec-xdp monitor` shows (d->ike_event, whatever ikelogging
 * is): "started", "established", "failed", "rekeyed", "deleted" (of an
 * IKE SA), "sa-added", "sa-rekeyed", "sa-deleted", "sa-failed" (of a CHILD
 * SA), "policy"; also logged as ikelog at level 0. */
void ikelog_event(struct daemon *d, const char *event, const struct ikesa *sa,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The value of key=VALUE or key="VALUE" in a log line's text, into out
 * (at most len - 1 bytes): true if found. */
bool log_field(const char *text, const char *key, char *out, size_t len);

/* Count a dropped message under `reason` and log why (at most
 * DROP_LOG_PER_S lines a second; the rest are counted as suppressed).
 * hdr may be NULL (header unreadable). */
#define DROP_LOG_PER_S 20
void ike_drop(struct daemon *d, enum ike_stat reason,
	      const struct ike_dgram *dg, const struct ike_header *hdr,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One message in or out, at level 2. */
void ikelog_message(struct daemon *d, const struct ikesa *sa, bool out,
		    const struct ike_msg *msg);

const char *notify_name(uint16_t type);
const char *exchange_name(uint8_t exchange);

#endif /* IXDP_IKE_IKELOG_H */
