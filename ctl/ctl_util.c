// SPDX-License-Identifier: GPL-2.0-only
/* ctl_util.c - errors, JSON printing and small renderers for the command. */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* -j: the first error, printed as {"error":...,"exit":N} by json_finish. */
static struct {
	bool on;
	bool printed;		/* print_json wrote the command's result */
	bool have_error;
	char msg[16384];	/* the longest message: every limit a policy exceeds */
} json_err;

void json_errors(bool on)
{
	json_err.on = on;
}

int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("ipsec-xdp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (json_err.on && !json_err.have_error) {
		va_start(ap, fmt);
		vsnprintf(json_err.msg, sizeof(json_err.msg), fmt, ap);
		va_end(ap);
		json_err.have_error = true;
	}
	return code;
}

int json_finish(int rc)
{
	struct json_object *o;

	if (!json_err.on || rc == EXIT_OK || !json_err.have_error || json_err.printed)
		return rc;
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(json_err.msg));
	json_object_object_add(o, "exit", json_object_new_int(rc));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	fflush(stdout);
	return rc;
}

void warn_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("ipsec-xdp: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void print_json(struct json_object *o)
{
	json_err.printed = true;
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int open_dataplane(struct ctx *c, struct dp *dp)
{
	char err[256];

	if (!dp_is_loaded(c->root))
		return fail(EXIT_NOT_LOADED,
			    "the dataplane is not loaded (run `ipsec-xdp load IFACE`)");
	if (dp_open(dp, c->root, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s", err);
	return EXIT_OK;
}

int lock_writers(struct ctx *c, struct writer_lock *l)
{
	char err[600];

	if (writer_lock_acquire(l, c->confdir, c->root, lock_wait_ms(), err, sizeof(err)))
		return fail(EXIT_FAIL, "%s (IPSEC_XDP_LOCK_WAIT=SECONDS sets the wait)", err);
	return EXIT_OK;
}

int load_config(struct ctx *c, struct bootconf *conf)
{
	char err[512];

	if (bootconf_load(c->confdir, conf, err, sizeof(err)))
		return fail(EXIT_BAD_INPUT, "%s/config: %s", c->confdir, err);
	/* A state that could not be carried over is still read right (and
	 * the old key kept): a warning, so that reading never fails on it. */
	if (state_load(c->statedir, conf, err, sizeof(err)))
		warn_msg("%s", err);
	return EXIT_OK;
}

/* SSH_CONNECTION is "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT". */
static bool ssh_server_port(unsigned *port)
{
	const char *s = getenv("SSH_CONNECTION");
	char cip[64], sip[64];
	unsigned cport;

	return s && sscanf(s, "%63s %u %63s %u", cip, &cport, sip, port) == 4;
}

static bool exempts_inbound_tcp(const struct bootconf *conf, unsigned port)
{
	for (size_t i = 0; i < conf->nexempt; i++) {
		const struct ixdp_boot_exempt *e = &conf->exempt[i];

		if ((e->proto == 6 || e->proto == 0) && (e->dirs & IXDP_EXEMPT_IN) &&
		    (e->dport == 0 || e->dport == port) && e->sport == 0)
			return true;
	}
	return false;
}

void warn_if_ssh_cut(const struct bootconf *conf)
{
	enum ixdp_bootmode mode = bootconf_effective_mode(conf);
	unsigned port;

	if (!ssh_server_port(&port) || mode == IXDP_BOOT_PERMIT ||
	    exempts_inbound_tcp(conf, port))
		return;
	if (mode == IXDP_BOOT_BLOCK)
		warn_msg("boot mode 'block' drops this SSH session (TCP port %u) while no "
			 "policy is applied; exempt it first: ipsec-xdp set config "
			 "bootexemptions TCP:0:%u:inbound", port, port);
	else
		warn_msg("boot mode 'stateful' refuses new inbound SSH connections (TCP "
			 "port %u) while no policy is applied; to allow them: ipsec-xdp set "
			 "config bootexemptions TCP:0:%u:inbound", port, port);
}

const char *action_name(unsigned action)
{
	switch (action) {
	case IXDP_ACT_PERMIT:
		return "permit";
	case IXDP_ACT_BLOCK:
		return "block";
	case IXDP_ACT_NEGOTIATE:
		return "negotiate";
	default:
		return "?";
	}
}

const char *proto_name(unsigned proto, char *buf, size_t len)
{
	switch (proto) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 46: return "rsvp";
	case 50: return "esp";
	case 51: return "ah";
	case 58: return "icmpv6";
	case 132: return "sctp";
	case 136: return "udplite";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

void port_range_str(unsigned lo, unsigned hi, char *buf, size_t len)
{
	if ((lo == 0 && hi == 0) || (lo == 0 && hi == 65535))
		snprintf(buf, len, "any");
	else if (lo == hi)
		snprintf(buf, len, "%u", lo);
	else
		snprintf(buf, len, "%u-%u", lo, hi);
}
