// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_sa.c - the IKE side of the command, through the daemon's control
 * socket (include/ixdp_control.h):
 *
 *   ipsec-xdp show sa [PEER|RULE]
 *                               IKE SAs and CHILD SAs of ipsec-xdpd (those
 *                               of one peer address or rule), the CHILD
 *                               SAs with the kernel's counters
 *   ipsec-xdp show ikestats     the IKE counters alone, flat (`show stats`,
 *                               cmd_stats.c, shows them in the monitor's
 *                               layout)
 *   ipsec-xdp sa initiate PEER  negotiate an IKE SA with PEER, wait for it;
 *                               non-zero unless it came up with the CHILD
 *                               SA its rule wants (or one was up already)
 *   ipsec-xdp sa delete PEER|SPI
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"
#include "policy/policy.h"
#include "ixdp_control.h"

#define REPLY_MAX        (64u << 20)
#define TIMEOUT_S        10
#define INITIATE_TIMEOUT_S 60	/* the daemon gives up after about 16 s */

/* ---- the control socket ------------------------------------------------------ */

static struct json_object *request(const char *cmd)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static const char *rundir(void)
{
	const char *r = getenv("IPSEC_XDP_RUNDIR");

	return r && *r ? r : IXDP_RUNDIR_DEFAULT;
}

int daemon_connect(int *fd_out, char *err, size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/%s",
			     rundir(), IXDP_CONTROL_SOCKET) >= sizeof(un.sun_path)) {
		snprintf(err, errlen, "run directory path too long: %s", rundir());
		return EXIT_FAIL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0) {
		*fd_out = fd;
		return EXIT_OK;
	}
	close(fd);
	if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
		snprintf(err, errlen, "ipsec-xdpd is not running (no control "
			 "socket %s)", un.sun_path);
	else if (errno == EACCES || errno == EPERM)
		snprintf(err, errlen, "%s: permission denied (root only)",
			 un.sun_path);
	else
		snprintf(err, errlen, "%s: %s", un.sun_path, strerror(errno));
	return EXIT_FAIL;
}

bool daemon_running(void)
{
	char err[300];
	int fd;

	if (daemon_connect(&fd, err, sizeof(err)) != EXIT_OK)
		return false;
	close(fd);
	return true;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line, without the newline, into a malloc'd string. */
static int read_line(int fd, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -1;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *b = cap >= REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				return -1;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n))
			break;
	}
	buf[len] = '\0';
	if (!strchr(buf, '\n')) {
		free(buf);
		return -1;
	}
	*strchr(buf, '\n') = '\0';
	*out = buf;
	return 0;
}

/* *reply, a reply line parsed: kept without "ok" when it is {"ok":true},
 * else released, and err says why. */
static int reply_ok(struct json_object **reply, char *err, size_t errlen)
{
	struct json_object *ok, *msg;

	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		snprintf(err, errlen, "ipsec-xdpd answered something that is "
			 "not a JSON object");
		return EXIT_FAIL;
	}
	if (!json_object_object_get_ex(*reply, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		msg = NULL;
		json_object_object_get_ex(*reply, "error", &msg);
		snprintf(err, errlen, "%s", msg ? json_object_get_string(msg)
						: "ipsec-xdpd refused");
		json_object_put(*reply);
		return EXIT_FAIL;
	}
	json_object_object_del(*reply, "ok");
	return EXIT_OK;
}

/* Send req (released), read the reply: see ctl.h. */
int daemon_ask_keep(struct json_object *req, int timeout_s,
		    struct json_object **reply, int *keep, char *err,
		    size_t errlen)
{
	struct timeval tv = { timeout_s, 0 };
	const char *text = json_object_to_json_string_ext(req,
						JSON_C_TO_STRING_PLAIN);
	char *line = NULL;
	int fd = -1, rc;

	rc = daemon_connect(&fd, err, errlen);
	if (rc != EXIT_OK) {
		json_object_put(req);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1)) {
		snprintf(err, errlen, "cannot talk to ipsec-xdpd: %s",
			 strerror(errno));
		rc = EXIT_FAIL;
	} else if (read_line(fd, &line)) {
		snprintf(err, errlen, "no answer from ipsec-xdpd%s",
			 errno == EAGAIN ? " (timed out)" : "");
		rc = EXIT_FAIL;
	}
	json_object_put(req);
	if (rc != EXIT_OK) {
		close(fd);
		return rc;
	}
	*reply = json_tokener_parse(line);
	free(line);
	rc = reply_ok(reply, err, errlen);
	if (rc == EXIT_OK && keep)
		*keep = fd;
	else
		close(fd);
	return rc;
}

static int ask_quiet(struct json_object *req, int timeout_s,
		     struct json_object **reply, char *err, size_t errlen)
{
	return daemon_ask_keep(req, timeout_s, reply, NULL, err, errlen);
}

static int ask(struct json_object *req, int timeout_s,
	       struct json_object **reply)
{
	char err[700];
	int rc = ask_quiet(req, timeout_s, reply, err, sizeof(err));

	return rc == EXIT_OK ? rc : fail(rc, "%s", err);
}

int daemon_ask(const char *cmd, struct json_object **reply, char *err,
	       size_t errlen)
{
	return ask_quiet(request(cmd), TIMEOUT_S, reply, err, errlen);
}

int daemon_ask_req(struct json_object *req, struct json_object **reply,
		   char *err, size_t errlen)
{
	return ask_quiet(req, TIMEOUT_S, reply, err, errlen);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
						    : "";
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v)
						    : 0;
}

static bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_get_boolean(v);
}

/* ---- show sa ------------------------------------------------------------------ */

static void print_ike_sa(struct json_object *sa)
{
	const char *integ = jstr(sa, "integ");

	printf("  %s[%" PRId64 "]  %s  %s  rule %s (%s%s%s)\n",
	       jstr(sa, "peer"), jint(sa, "peer_port"), jstr(sa, "state"),
	       jstr(sa, "role"), jstr(sa, "rule"), jstr(sa, "auth"),
	       *jstr(sa, "psk_id") ? " " : "", jstr(sa, "psk_id"));
	printf("      spi %s:%s", jstr(sa, "ispi"), jstr(sa, "rspi"));
	if (*jstr(sa, "encr"))
		printf("  %s/%" PRId64 "%s%s %s %s", jstr(sa, "encr"),
		       jint(sa, "key_bits"), *integ ? " " : "", integ,
		       jstr(sa, "prf"), jstr(sa, "dh"));
	printf("\n      local %s[%" PRId64 "]", jstr(sa, "local"),
	       jint(sa, "local_port"));
	if (*jstr(sa, "local_id"))
		printf(" id %s", jstr(sa, "local_id"));
	if (*jstr(sa, "peer_id"))
		printf("  peer id %s", jstr(sa, "peer_id"));
	printf("\n      age %" PRId64 " s  lifetime %" PRId64 " s%s%s\n",
	       jint(sa, "age_s"), jint(sa, "lifetime_s"),
	       jbool(sa, "nat_t") ? "  NAT-T" : "",
	       jbool(sa, "childless") ? "  childless" : "");
}

/* "in:  1200 bytes  10 packets  hard 3600 s (3550 left) soft 3240 s ..." */
static void print_child_dir(const char *dir, struct json_object *k)
{
	struct json_object *life;

	printf("      %-4s %" PRId64 " bytes  %" PRId64 " packets", dir,
	       jint(k, "bytes"), jint(k, "packets"));
	if (json_object_object_get_ex(k, "lifetime", &life)) {
		if (jint(life, "hard_s"))
			printf("  hard %" PRId64 " s (%" PRId64 " left)",
			       jint(life, "hard_s"), jint(life, "hard_left_s"));
		if (jint(life, "soft_s"))
			printf("  soft %" PRId64 " s (%" PRId64 " left)",
			       jint(life, "soft_s"), jint(life, "soft_left_s"));
		if (jint(life, "hard_kb"))
			printf("  hard %" PRId64 " KB (%" PRId64 " left)",
			       jint(life, "hard_kb"), jint(life, "hard_left_kb"));
		if (jint(life, "soft_kb"))
			printf("  soft %" PRId64 " KB (%" PRId64 " left)",
			       jint(life, "soft_kb"), jint(life, "soft_left_kb"));
	}
	if (jint(k, "integrity_failed") || jint(k, "replay"))
		printf("  ICV failures %" PRId64 "  replays %" PRId64,
		       jint(k, "integrity_failed"), jint(k, "replay"));
	putchar('\n');
}

static void print_child_sa(struct json_object *ch)
{
	struct json_object *k;

	printf("  %s  %s %s  %s <-> %s%s\n", jstr(ch, "rule"),
	       jstr(ch, "protocol"), jstr(ch, "mode"), jstr(ch, "local"),
	       jstr(ch, "peer"), jbool(ch, "udp_encap") ? "  UDP-encap" : "");
	printf("      %s/%" PRId64 " integ %s  spi in %s out %s  IKE SA %s\n",
	       jstr(ch, "encr"), jint(ch, "encr_key_bits"), jstr(ch, "integ"),
	       jstr(ch, "spi_in"), jstr(ch, "spi_out"), jstr(ch, "ike_ispi"));
	printf("      %s === %s  age %" PRId64 " s  lifetime %" PRId64 " s %"
	       PRId64 " KB\n", jstr(ch, "local_ts"), jstr(ch, "remote_ts"),
	       jint(ch, "age_s"), jint(ch, "lifetime_s"), jint(ch, "lifetime_kb"));
	if (json_object_object_get_ex(ch, "in", &k))
		print_child_dir("in:", k);
	if (json_object_object_get_ex(ch, "out", &k))
		print_child_dir("out:", k);
	if (!json_object_object_get_ex(ch, "in", &k) &&
	    !json_object_object_get_ex(ch, "out", &k))
		printf("      (the kernel has no SA with these SPIs)\n");
}

/* Which SAs `show sa ARG` shows: those of a peer address, or of a rule. */
struct sa_select {
	const char *arg;        /* NULL: every SA */
	bool by_peer;
	int af;
	unsigned char peer[16];
};

static bool same_address(const struct sa_select *sel, const char *text)
{
	unsigned char buf[16];

	return inet_pton(sel->af, text, buf) == 1 &&
	       !memcmp(buf, sel->peer, sel->af == AF_INET ? 4 : 16);
}

static bool sa_selected(const struct sa_select *sel, struct json_object *sa)
{
	if (!sel->arg)
		return true;
	if (sel->by_peer)
		return same_address(sel, jstr(sa, "peer"));
	return !strcmp(jstr(sa, "rule"), sel->arg);
}

/* Keep the selected members of reply's array `key` (absent: left alone). */
static void select_sas(struct json_object *reply, const char *key,
		       const struct sa_select *sel)
{
	struct json_object *list, *kept;

	if (!sel->arg || !json_object_object_get_ex(reply, key, &list) ||
	    !json_object_is_type(list, json_type_array))
		return;
	kept = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *sa = json_object_array_get_idx(list, i);

		if (sa_selected(sel, sa))
			json_object_array_add(kept, json_object_get(sa));
	}
	json_object_object_add(reply, key, kept);
}

/* Is name a rule of the assigned policy (CONFDIR/policy.yaml)? */
static bool policy_has_rule(struct ctx *c, const char *name)
{
	struct policy_error perr;
	struct policy_file *pf;
	char path[PATH_MAX];
	bool found = false;

	agent_assigned_path(c->confdir, path, sizeof(path));
	memset(&perr, 0, sizeof(perr));
	if (access(path, F_OK) || policy_parse_file(path, &pf, &perr))
		return false;
	for (size_t i = 0; i < pf->assigned->nrules; i++)
		if (!strcmp(pf->assigned->rules[i].name, name))
			found = true;
	policy_file_free(pf);
	return found;
}

/* Does any SA of reply's array `key` belong to the rule name? */
static bool reply_has_rule(struct json_object *reply, const char *key,
			   const char *name)
{
	struct json_object *list;

	if (!json_object_object_get_ex(reply, key, &list) ||
	    !json_object_is_type(list, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(jstr(json_object_array_get_idx(list, i), "rule"), name))
			return true;
	return false;
}

/* arg: an address, or a rule of the policy or of a live SA; else EXIT_USAGE. */
static int sa_select_init(struct ctx *c, const char *arg, struct json_object *reply,
			  struct sa_select *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->arg = arg;
	if (!arg)
		return EXIT_OK;
	if (inet_pton(AF_INET, arg, sel->peer) == 1 ||
	    inet_pton(AF_INET6, arg, sel->peer) == 1) {
		sel->by_peer = true;
		sel->af = strchr(arg, ':') ? AF_INET6 : AF_INET;
		return EXIT_OK;
	}
	if (policy_has_rule(c, arg) || reply_has_rule(reply, "ike_sas", arg) ||
	    reply_has_rule(reply, "child_sas", arg))
		return EXIT_OK;
	return fail(EXIT_USAGE, "show sa: '%s' is neither an IPv4 or IPv6 address nor "
		    "a rule of the policy (see ipsec-xdp policy show)", arg);
}

static int show_sa(struct ctx *c, const char *arg)
{
	struct json_object *reply, *list, *child;
	struct sa_select sel;
	size_t i, n;
	int rc = ask(request("show-sa"), TIMEOUT_S, &reply);

	if (rc != EXIT_OK)
		return rc;
	if ((rc = sa_select_init(c, arg, reply, &sel)) != EXIT_OK) {
		json_object_put(reply);
		return rc;
	}
	select_sas(reply, "ike_sas", &sel);
	select_sas(reply, "child_sas", &sel);
	if (c->json) {
		if (arg)
			json_object_object_add(reply, "selected", json_object_new_string(arg));
		print_json(reply);
		return EXIT_OK;
	}
	if (!json_object_object_get_ex(reply, "ike_sas", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		json_object_put(reply);
		return fail(EXIT_FAIL, "ipsec-xdpd answered without \"ike_sas\"");
	}
	n = json_object_array_length(list);
	if (arg)
		printf("%s %s\n", sel.by_peer ? "peer" : "rule", arg);
	printf("IKE SAs: %zu\n", n);
	for (i = 0; i < n; i++)
		print_ike_sa(json_object_array_get_idx(list, i));
	if (json_object_object_get_ex(reply, "child_sas", &child) &&
	    json_object_is_type(child, json_type_array)) {
		n = json_object_array_length(child);
		printf("CHILD SAs: %zu\n", n);
		for (i = 0; i < n; i++)
			print_child_sa(json_object_array_get_idx(child, i));
	}
	json_object_put(reply);
	return EXIT_OK;
}

/* ---- show ikestats --------------------------------------------------------------- */

static int show_ikestats(struct ctx *c)
{
	struct json_object *reply, *stats;
	int rc = ask(request("stats"), TIMEOUT_S, &reply);

	if (rc != EXIT_OK)
		return rc;
	if (c->json) {
		print_json(reply);
		return EXIT_OK;
	}
	if (!json_object_object_get_ex(reply, "stats", &stats) ||
	    !json_object_is_type(stats, json_type_object)) {
		json_object_put(reply);
		return fail(EXIT_FAIL, "ipsec-xdpd answered without \"stats\"");
	}
	printf("IKE statistics\n");
	{
		int w = 1;      /* the longest name: counters are added over time */

		json_object_object_foreach(stats, k, v0) {
			(void)v0;
			if ((int)strlen(k) > w)
				w = (int)strlen(k);
		}
		json_object_object_foreach(stats, key, val)
			printf("  %-*s %" PRId64 "\n", w, key, json_object_get_int64(val));
	}
	json_object_put(reply);
	return EXIT_OK;
}

int cmd_show_ike(struct ctx *c, int argc, char **argv)
{
	if ((argc == 1 || argc == 2) && !strcmp(argv[0], "sa"))
		return show_sa(c, argc == 2 ? argv[1] : NULL);
	if (argc == 1 && !strcmp(argv[0], "ikestats"))
		return show_ikestats(c);
	return fail(EXIT_USAGE, "usage: ipsec-xdp show sa [PEER|RULE] | ikestats");
}

/* ---- sa initiate / delete ----------------------------------------------------------- */

static bool is_address(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool is_spi(const char *s)
{
	size_t n = 0;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	for (; s[n] && s[n] != ':'; n++)
		if (!strchr("0123456789abcdefABCDEF", s[n]))
			return false;
	return n > 0 && n <= 16;
}

/* The negotiation failed (no IKE SA, or one without the CHILD SA its rule
 * wants: the daemon's reason says which): EXIT_FAIL. */
static int sa_initiate(struct ctx *c, const char *peer)
{
	struct json_object *req = request("initiate"), *reply;
	char err[700];
	int rc;

	if (!is_address(peer)) {
		json_object_put(req);
		return fail(EXIT_USAGE, "'%s' is not an IPv4 or IPv6 address",
			    peer);
	}
	json_object_object_add(req, "peer", json_object_new_string(peer));
	rc = ask_quiet(req, INITIATE_TIMEOUT_S, &reply, err, sizeof(err));
	if (rc != EXIT_OK)	/* -j: the error object (json_finish) */
		return fail(rc, "%s", err);
	if (c->json) {
		json_object_object_add(reply, "peer",
				       json_object_new_string(peer));
		print_json(reply);
		return EXIT_OK;
	}
	printf("IKE SA with %s %s: %s%s\n", peer, jbool(reply, "existing")
	       ? "already established" : "established", jstr(reply, "ike_sa"),
	       jbool(reply, "existing") && !jint(reply, "child_sas")
	       ? " (no CHILD SA)" : "");
	json_object_put(reply);
	return EXIT_OK;
}

static int sa_delete(struct ctx *c, const char *what)
{
	struct json_object *req = request("sa-delete"), *reply;
	int64_t n;
	int rc;

	if (is_address(what)) {
		json_object_object_add(req, "peer", json_object_new_string(what));
	} else if (is_spi(what)) {
		json_object_object_add(req, "ike_sa", json_object_new_string(what));
	} else {
		json_object_put(req);
		return fail(EXIT_USAGE, "'%s' is neither an address nor an "
			    "IKE SPI (16 hex digits)", what);
	}
	rc = ask(req, TIMEOUT_S, &reply);
	if (rc != EXIT_OK)
		return rc;
	n = jint(reply, "deleted");
	if (!n) {
		json_object_put(reply);
		return fail(EXIT_FAIL, "no IKE SA matches %s", what);
	}
	if (c->json) {
		print_json(reply);
		return EXIT_OK;
	}
	json_object_put(reply);
	printf("deleting %" PRId64 " IKE SA%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

int cmd_sa(struct ctx *c, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "initiate"))
		return sa_initiate(c, argv[2]);
	if (argc == 3 && !strcmp(argv[1], "delete"))
		return sa_delete(c, argv[2]);
	if ((argc == 2 || argc == 3) && !strcmp(argv[1], "show"))
		return show_sa(c, argc == 3 ? argv[2] : NULL);
	return fail(EXIT_USAGE, "usage: ipsec-xdp sa initiate PEER | delete "
		    "PEER|SPI | show [PEER|RULE]");
}
