// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_main.c - ipsec-xdpd, the IKEv2 daemon: options, the event loop,
 * signals, a clean shutdown.
 *
 *   ipsec-xdpd [-f] [-d] [-C CONFDIR] [-R RUNDIR] [-p PORT] [--natt-port PORT]
 *              [--peer-port PORT] [--id FQDN] [--liveness S] ...
 *
 * SIGTERM/SIGINT: tell every peer (one Delete each) and stop.
 * SIGHUP: reload CONFDIR/config, the assigned policy and the secrets.
 * The assigned policy is also watched and applied when it changes
 * (daemon_agent.h).
 *
 * Under systemd (systemd/ipsec-xdpd.service, Type=notify) it says READY
 * once its sockets are open, RELOADING/READY around a reload and STOPPING;
 * sd_notify does nothing where NOTIFY_SOCKET is not set.  When its stderr
 * is the journal's stream ($JOURNAL_STREAM names it), lines go to the
 * journal with their priority and fields (sa_log.h log_journal).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "daemon/daemon.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_child.h"
#include "daemon/daemon_dplink.h"
#include "daemon/daemon_metrics.h"
#include "daemon/daemon_agent.h"
#include "daemon/daemon_hostwatch.h"
#include "daemon/daemon_autoload.h"
#include "daemon/daemon_keyholder.h"
#include "daemon/daemon_source.h"
#include "daemon/daemon_sandbox.h"
#include "agent/agent_source.h"
#include "util/util_atomic_file.h"

#define VERSION "0.1"

struct options {
	bool foreground, debug;
	bool metrics;			/* --metrics-listen given */
	struct sockaddr_storage metrics_addr;
	const char *user;		/* --user: the network process's */
	struct sandbox_user as;		/* ... looked up */
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipsec-xdpd [-f] [-d] [-C CONFDIR] [-R RUNDIR] [-p PORT] [--natt-port PORT]\n"
"                  [--metrics-listen ADDR:PORT] [-u USER] [OPTION...]\n"
"\n"
"The IKEv2 daemon of ipsec-xdp.\n"
"\n"
"  -f, --foreground       stay in the foreground, log to stderr\n"
"  -d, --debug            also debug lines\n"
"  -C, --confdir DIR      configuration (default $IPSEC_XDP_CONFDIR or\n"
"                         /etc/ipsec-xdp): config, policy.yaml, secrets\n"
"  -R, --rundir DIR       control socket directory (default\n"
"                         $IPSEC_XDP_RUNDIR or /run/ipsec-xdp)\n"
"  -p, --port PORT        IKE port (default 500)\n"
"      --natt-port PORT   NAT-T port (default 4500)\n"
"      --peer-port PORT   the peers' IKE port we initiate to (default:\n"
"                         the same as -p)\n"
"      --id FQDN          our identity (default: our IP address)\n"
"      --liveness SECONDS idle time before a liveness check (default 60,\n"
"                         0 = never)\n"
"      --cookie-threshold N  half-open negotiations before cookies are\n"
"                         asked for (default 100)\n"
"      --retransmit-ms MS first retransmission after MS (default 500),\n"
"                         doubling, 5 transmissions in all\n"
"      --natt-keepalive SECONDS  NAT-T keepalive period behind a NAT\n"
"                         (default 20, 0 = never)\n"
"      --metrics-listen ADDR:PORT  serve the statistics in the OpenMetrics\n"
"                         text format on http://ADDR:PORT/metrics (numeric\n"
"                         address, [IPv6]:PORT; off by default); plain\n"
"                         HTTP, no authentication: bind it to localhost\n"
"  -u, --user NAME        once started, the network process runs as user\n"
"                         NAME and its group (e.g. ipsec-xdp), which must\n"
"                         exist and not be root: it can then no longer\n"
"                         open the secrets or the private key (default:\n"
"                         it stays root; see ipsec-xdpd(8) SECURITY)\n"
"  -h, --help             this help\n"
"  -V, --version          the version\n");
}

static int number(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

enum { OPT_NATT = 256, OPT_PEER_PORT, OPT_ID, OPT_LIVENESS, OPT_COOKIE,
       OPT_RETX, OPT_KEEPALIVE, OPT_METRICS };

static int option(struct daemon *d, struct options *o, int c,
		  const char *arg)
{
	long v = 0;

	switch (c) {
	case 'f': o->foreground = true; return 0;
	case 'd': o->debug = true; d->debug = true; return 0;
	case 'C': snprintf(d->confdir, sizeof(d->confdir), "%s", arg); return 0;
	case 'R': snprintf(d->rundir, sizeof(d->rundir), "%s", arg); return 0;
	case 'u':
		if (!*arg)
			return -1;
		o->user = arg;
		return 0;
	case 'p':
		if (number(arg, 1, 65535, &v))
			return -1;
		d->port = (uint16_t)v;
		return 0;
	case OPT_NATT:
		if (number(arg, 1, 65535, &v))
			return -1;
		d->natt_port = (uint16_t)v;
		return 0;
	case OPT_PEER_PORT:
		if (number(arg, 1, 65535, &v))
			return -1;
		d->peer_port = (uint16_t)v;
		return 0;
	case OPT_ID:
		if (!*arg || strlen(arg) >= sizeof(d->local_fqdn))
			return -1;
		snprintf(d->local_fqdn, sizeof(d->local_fqdn), "%s", arg);
		return 0;
	case OPT_LIVENESS:
		if (number(arg, 0, 86400, &v))
			return -1;
		d->tun.liveness_s = (uint32_t)v;
		return 0;
	case OPT_COOKIE:
		if (number(arg, 0, 1000000, &v))
			return -1;
		d->tun.cookie_threshold = (uint32_t)v;
		return 0;
	case OPT_RETX:
		if (number(arg, 10, 60000, &v))
			return -1;
		d->tun.retransmit_base_ms = (uint32_t)v;
		return 0;
	case OPT_KEEPALIVE:
		if (number(arg, 0, 3600, &v))
			return -1;
		d->tun.natt_keepalive_s = (uint32_t)v;
		return 0;
	case OPT_METRICS: {
		char err[300];

		if (metrics_parse_listen(arg, &o->metrics_addr, err, sizeof(err))) {
			fprintf(stderr, "ipsec-xdpd: --metrics-listen: %s\n", err);
			return -1;
		}
		o->metrics = true;
		return 0;
	}
	default:
		return -1;
	}
}

/* --user NAME: an existing user other than root (fail closed: the
 * daemon does not start as root instead). */
static int lookup_user(const char *name, struct sandbox_user *u)
{
	struct passwd *pw;
	char err[256];

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		fprintf(stderr, "ipsec-xdpd: --user %s: %s\n", name, errno
			? strerror(errno) : "no such user (systemd-sysusers "
			"creates ipsec-xdp from ipsec-xdp.conf; see "
			"ipsec-xdpd(8) SECURITY)");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		fprintf(stderr, "ipsec-xdpd: --user %s: uid %u, gid %u: the "
			"user must be neither root nor in root's group (it "
			"would still open the secrets)\n", name,
			(unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
		return -1;
	}
	u->name = name;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (sandbox_user_possible(u, err, sizeof(err))) {
		fprintf(stderr, "ipsec-xdpd: --user %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static const char *long_name(const struct option *longs, int c)
{
	for (; longs->name; longs++)
		if (longs->val == c)
			return longs->name;
	return "?";
}

static int parse_options(struct daemon *d, struct options *o, int argc,
			 char **argv)
{
	static const struct option longs[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "confdir", required_argument, NULL, 'C' },
		{ "rundir", required_argument, NULL, 'R' },
		{ "port", required_argument, NULL, 'p' },
		{ "natt-port", required_argument, NULL, OPT_NATT },
		{ "peer-port", required_argument, NULL, OPT_PEER_PORT },
		{ "id", required_argument, NULL, OPT_ID },
		{ "liveness", required_argument, NULL, OPT_LIVENESS },
		{ "cookie-threshold", required_argument, NULL, OPT_COOKIE },
		{ "retransmit-ms", required_argument, NULL, OPT_RETX },
		{ "natt-keepalive", required_argument, NULL, OPT_KEEPALIVE },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "fdC:R:p:u:hV", longs, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'V') {
			printf("ipsec-xdpd %s\n", VERSION);
			exit(0);
		}
		if (option(d, o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "ipsec-xdpd: bad value '%s' for "
					"--%s\n", optarg ? optarg : "",
					long_name(longs, c));
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ipsec-xdpd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return -1;
	}
	if (o->user && lookup_user(o->user, &o->as))
		return -1;
	if (d->port == d->natt_port) {
		fprintf(stderr, "ipsec-xdpd: the IKE and NAT-T ports must "
			"differ\n");
		return -1;
	}
	return 0;
}

/* ---- signals ------------------------------------------------------------------ */

struct loop {
	struct daemon *d;
	struct event_base *evb;
	struct event *sig[3];
	struct metrics_http *metrics;	/* --metrics-listen */
	struct hostwatch *hw;	/* the host's addresses (daemon_hostwatch.h) */
	struct autoload *al;	/* interfaces that appear (daemon_autoload.h) */
};

/* The one loop, for d->reloaded. */
static struct loop *the_loop;

/* After a reload: the central source polled, the interfaces looked at
 * (loadinterfaces may have changed). */
static void on_reloaded(struct daemon *d)
{
	source_poll_now(d);
	autoload_check(the_loop ? the_loop->al : NULL);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;

	log_info("signal %d: stopping", (int)sig);
	sd_notify(0, "STOPPING=1");
	daemon_close_all(l->d, "ipsec-xdpd stopping");
	event_base_loopbreak(l->evb);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct loop *l = arg;
	char err[700];

	sd_notify(0, "RELOADING=1");
	if (daemon_load(l->d, false, err, sizeof(err))) {
		log_warn("reload: %s (what was in force stays)", err);
		sd_notifyf(0, "READY=1\nSTATUS=reload failed, what was in "
			   "force stays: %s", err);
		return;
	}
	dagent_reloaded(l->d);
	sd_notify(0, "READY=1\nSTATUS=policy reloaded");
}

static int add_signals(struct loop *l)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 3; i++) {
		l->sig[i] = evsignal_new(l->evb, sigs[i], sigs[i] == SIGHUP
					 ? on_reload : on_stop, l);
		if (!l->sig[i] || evsignal_add(l->sig[i], NULL))
			return -1;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

/* The daemon leaves the working directory when it goes to the
 * background: keep the directories absolute. */
static int make_absolute(char *dir, size_t len)
{
	char cwd[PATH_MAX], abs[PATH_MAX + 512];

	if (dir[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, dir) >= len)
		return -1;
	memcpy(dir, abs, strlen(abs) + 1);
	return 0;
}

static int start(struct daemon *d, struct loop *l, const struct options *o)
{
	char err[700] = "";

	/* the keys live in a process of their own (daemon_keyholder.h) */
	if (keyholder_start(d, sandbox_keyholder, err, sizeof(err)) ||
	    keyholder_watch(d, l->evb)) {
		log_err("%s", err[0] ? err : "key holder: cannot watch it");
		return -1;
	}
	if (daemon_load(d, true, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	child_use(d);	/* CHILD SAs (child.c); childless when it fails */
	if (net_open(d, l->evb, err, sizeof(err))) {
		log_err("cannot open the IKE sockets: %s", err);
		return -1;
	}
	dplink_open(d, l->evb);	/* need-SA events, bundles (dplink.h) */
	if (source_open(d, l->evb))	/* a central policy (daemon_source.h) */
		return -1;
	if (dagent_open(d, l->evb))	/* the assigned policy watched */
		return -1;
	source_start(d);		/* the central one takes precedence */
	d->reloaded = on_reloaded;
	l->hw = hostwatch_open(d, l->evb);
	l->al = autoload_open(d, l->evb);
	if (o->metrics &&
	    !(l->metrics = metrics_http_open(d, l->evb, &o->metrics_addr, err,
					     sizeof(err)))) {
		log_err("--metrics-listen: %s", err);
		return -1;
	}
	/* Last: a control socket in place means everything above is done
	 * (the dataplane linked, the policy in force), for whoever waits
	 * for it to appear. */
	if (control_open(d, l->evb, err, sizeof(err))) {
		log_err("control socket: %s", err);
		return -1;
	}
	if (add_signals(l)) {
		log_err("cannot catch signals");
		return -1;
	}
	d->send = net_send;
	return 0;
}

static void stop(struct daemon *d, struct loop *l)
{
	size_t i;

	metrics_http_close(l->metrics);
	source_close(d);
	dagent_close(d);	/* an unconfirmed policy is rolled back */
	hostwatch_close(l->hw);
	autoload_close(l->al);
	dplink_close(d);
	control_close(d);
	net_close(d);
	daemon_fini(d);
	keyholder_stop(d);
	for (i = 0; i < 3; i++)
		if (l->sig[i])
			event_free(l->sig[i]);
	log_unbatch();
	event_base_free(l->evb);
}

/* --user: a RUNDIR the daemon made (not systemd's RuntimeDirectory=,
 * removed at stop) becomes the user's, so that it removes its control
 * socket when it stops: a socket left behind would pass for a started
 * daemon.  Failing that (no CAP_CHOWN), a warning. */
static void give_rundir(const struct daemon *d, const struct sandbox_user *u)
{
	if (chown(d->rundir, u->uid, u->gid))
		log_warn("--user %s: %s stays root's (%s): the control socket "
			 "stays there when the daemon stops", u->name,
			 d->rundir, strerror(errno));
}

/* --user: the daemon's own writable state, STATEDIR/central (the central
 * policy's cache and state, which the network process fetches and writes
 * anyway), becomes the user's, made if missing: the directory and the files
 * in it.  STATEDIR itself and everything else there stay root's.  Failing
 * that, a warning (the writes then fail, each said). */
static void give_statedir(struct daemon *d, const struct sandbox_user *u)
{
	char dir[PATH_MAX], err[256] = "";
	const char *statedir = dagent_statedir(d);
	struct dirent *de;
	DIR *dp;

	source_path(statedir, "", dir, sizeof(dir));
	if (make_dirs(statedir, err, sizeof(err)) ||
	    (mkdir(dir, 0700) && errno != EEXIST)) {
		log_warn("--user %s: cannot create %s: %s", u->name, dir,
			 err[0] ? err : strerror(errno));
		return;
	}
	if (chown(dir, u->uid, u->gid) || !(dp = opendir(dir))) {
		log_warn("--user %s: %s stays root's (%s): the central policy's "
			 "cache and state cannot be written", u->name, dir,
			 strerror(errno));
		return;
	}
	while ((de = readdir(dp)))
		if (de->d_type == DT_REG &&
		    fchownat(dirfd(dp), de->d_name, u->uid, u->gid,
			     AT_SYMLINK_NOFOLLOW))
			log_warn("--user %s: %s/%s stays root's: %s", u->name,
				 dir, de->d_name, strerror(errno));
	closedir(dp);
}

/* Is stderr the journal's stream?  systemd sets JOURNAL_STREAM to its
 * "device:inode" (systemd.exec(5)); a redirected stderr no longer matches. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct options o = { .foreground = false };
	struct loop l = { &d, NULL, { NULL }, NULL, NULL, NULL };
	const char *rundir = getenv("IPSEC_XDP_RUNDIR");
	bool rundir_made;
	char err[256];
	int rc = 0;

	daemon_init(&d);
	if (rundir && *rundir)
		snprintf(d.rundir, sizeof(d.rundir), "%s", rundir);
	if (parse_options(&d, &o, argc, argv))
		return 2;
	if (make_absolute(d.confdir, sizeof(d.confdir)) ||
	    make_absolute(d.rundir, sizeof(d.rundir))) {
		fprintf(stderr, "ipsec-xdpd: directory path too long\n");
		return 2;
	}
	log_open(true, o.debug, false);
	if (stderr_is_journal())
		log_journal(sd_journal_sendv);
	l.evb = event_base_new();
	if (!l.evb || log_batch(l.evb)) {
		log_err("cannot create the event loop");
		return 1;
	}
	evtimer_ops_use(&d, l.evb);
	the_loop = &l;
	rundir_made = access(d.rundir, F_OK) != 0;
	if (start(&d, &l, &o)) {
		stop(&d, &l);
		return 1;
	}
	if (o.user && rundir_made)
		give_rundir(&d, &o.as);
	if (o.user)
		give_statedir(&d, &o.as);
	if (!o.foreground) {
		if (daemon(0, 0) || event_reinit(l.evb)) {
			log_err("cannot run in the background");
			stop(&d, &l);
			return 1;
		}
		log_open(false, o.debug, false);
	}
	/* from here on: only what it needs (daemon_sandbox.h) */
	if (sandbox_network(o.user ? &o.as : NULL, err, sizeof(err))) {
		log_err("%s", err);
		stop(&d, &l);
		return 1;
	}
	log_info("listening on UDP %u and %u, control socket in %s", d.port,
		 d.natt_port, d.rundir);
	sd_notifyf(0, "READY=1\nSTATUS=listening on UDP %u and %u", d.port,
		   d.natt_port);
	if (event_base_dispatch(l.evb) < 0)
		rc = 1;
	stop(&d, &l);
	log_info("stopped");
	return rc;
}
