/* SPDX-License-Identifier: GPL-2.0-only */
/* ctl.h - what the `ipsec-xdp` command's parts share. */
#ifndef IXDP_CTL_H
#define IXDP_CTL_H

#include <stdbool.h>
#include <json-c/json.h>

#include "policy/policy_bootconf.h"
#include "policy/policy_state.h"
#include "dataplane/dataplane.h"
#include "dataplane/dataplane_lock.h"

/* Exit codes (documented in ipsec-xdp(8)). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* the operation failed */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_BAD_INPUT = 3,   /* invalid policy or configuration value */
	EXIT_NOT_LOADED = 4,  /* the dataplane is not loaded */
};

struct ctx {
	bool json;            /* -j: JSON on stdout */
	const char *confdir;  /* $IPSEC_XDP_CONFDIR or /etc/ipsec-xdp */
	const char *statedir; /* $IPSEC_XDP_STATEDIR or /var/lib/ipsec-xdp */
	const char *root;     /* $IPSEC_XDP_BPFFS or /sys/fs/bpf/ipsec-xdp */
	/* ipsec-xdpd pushed the change a filter edit makes (daemon_agent.h):
	 * an apply's push then checks that the dataplane enforces the list,
	 * and pushes only when it does not */
	bool pushed_by_daemon;
};

/* One command: `name`, its usage line and help text. */
struct command {
	const char *name;
	int (*run)(struct ctx *c, int argc, char **argv);
	const char *usage;
	const char *help;
};

int cmd_load(struct ctx *c, int argc, char **argv);
int cmd_unload(struct ctx *c, int argc, char **argv);
int cmd_status(struct ctx *c, int argc, char **argv);
int cmd_policy(struct ctx *c, int argc, char **argv);
int cmd_show(struct ctx *c, int argc, char **argv);
int cmd_match(struct ctx *c, int argc, char **argv);
int cmd_set(struct ctx *c, int argc, char **argv);
int cmd_sa(struct ctx *c, int argc, char **argv);       /* cmd_sa.c */
int cmd_monitor(struct ctx *c, int argc, char **argv);  /* cmd_monitor.c */
int cmd_show_ike(struct ctx *c, int argc, char **argv); /* show sa | ikestats */
int cmd_show_stats(struct ctx *c);                      /* cmd_stats.c */
int cmd_show_openmetrics(struct ctx *c);                /* cmd_stats.c */
int show_monitor_stats(struct ctx *c, struct json_object *out); /* cmd_stats.c */

/* The dataplane's counters (cmd_show.c): text, or members of out. */
int show_dataplane_stats(struct ctx *c, struct json_object *out);

/* One request to ipsec-xdpd ({"cmd":cmd}); the reply without "ok".
 * EXIT_OK, or EXIT_FAIL with the reason in err (nothing printed). */
int daemon_ask(const char *cmd, struct json_object **reply, char *err,
	       size_t errlen);

/* Connect to ipsec-xdpd's control socket: EXIT_OK with *fd, or
 * EXIT_FAIL with the reason in err. */
int daemon_connect(int *fd, char *err, size_t errlen);

/* The same for a request of the caller's (released here). */
int daemon_ask_req(struct json_object *req, struct json_object **reply,
		   char *err, size_t errlen);

/* The same, the reply read within timeout_s; an {"ok":false} reply is an
 * error too (its "error" in err).  fd: NULL, or where the connection goes
 * after an {"ok":true} reply (the caller closes it; else it is closed). */
int daemon_ask_keep(struct json_object *req, int timeout_s,
		    struct json_object **reply, int *fd, char *err,
		    size_t errlen);

/* The policy agent's part of `status` (ctl_cmd_policy.c): text, or the
 * member "agent" of o (null when ipsec-xdpd does not run). */
void status_agent(struct ctx *c, struct json_object *o);

/* Does ipsec-xdpd answer on its control socket? */
bool daemon_running(void);

/* Errors go to stderr as "ipsec-xdp: ..." and return the exit code; with
 * json_errors(true) (-j) the first one is also kept for json_finish. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void json_errors(bool on);

/* The command's exit code rc, after printing (-j, rc not 0) the error kept
 * by fail() as {"error":MESSAGE,"exit":rc} on stdout, one line, unless the
 * command printed its result with print_json already. */
int json_finish(int rc);
void warn_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True if argv has --help or -h: prints the command's help. */
bool wants_help(const struct command *cmd, int argc, char **argv);
const struct command *find_command(const char *name);

/* Print a JSON object to stdout (and release it). */
void print_json(struct json_object *o);

/* Open the pinned maps, or fail with EXIT_NOT_LOADED. */
int open_dataplane(struct ctx *c, struct dp *dp);

/* Become the one writer (lockfile.h: the configuration directory and the
 * pin root), or fail with EXIT_FAIL naming who holds the lock. */
int lock_writers(struct ctx *c, struct writer_lock *l);

/* Load the boot configuration and the state (policy_state.h), or fail
 * with EXIT_BAD_INPUT. */
int load_config(struct ctx *c, struct bootconf *conf);

/* Warn when the boot mode would cut the caller's own SSH session. */
void warn_if_ssh_cut(const struct bootconf *conf);

/* ctl_source.c: the central policy (docs/behaviour.md §8).  The policy
 * file in force into path: the central cache (true) when a policysource's
 * cached document checks, else CONFDIR/policy.yaml (false). */
bool ctl_policy_path(struct ctx *c, const struct bootconf *conf, char *path,
		     size_t len);
/* EXIT_OK, or EXIT_FAIL saying why `what` is refused while a central
 * policy is in force. */
int ctl_refuse_if_central(struct ctx *c, const char *what);
/* The policy source's lines of `status`, or its member of out (JSON). */
void source_status(struct ctx *c, const struct bootconf *conf,
		   struct json_object *out);

/* ctl_cmd_policy.c, shared with `filter add|delete` (ctl_cmd_filter.c). */
struct policy_file;
/* Under the writers' lock: compile len bytes of policy text (name in
 * errors; *pf, when not NULL, is that text parsed already), swap it into
 * the dataplane if loaded, keep it as the assigned policy; EXIT_BAD_INPUT
 * when it does not compile (nothing changed).  *pf is the caller's to free. */
int ctl_apply_text_locked(struct ctx *c, const char *name, const char *text,
			  size_t len, bool loaded, struct policy_file **pf,
			  struct filter_table *table, struct compile_diag *diag);
/* The steps of ctl_apply_text_locked(), for an apply that does more
 * between them (`filter add|delete`): open (the configuration read, the
 * dataplane opened when loaded); compile (the tree in force read as the
 * guide; -1 and err when it does not compile); push (EXIT_FAIL said when
 * the dataplane refuses: the policy in force is unchanged); keep (the
 * text stored as the assigned policy; -1 and err); done (closed, the
 * policy recorded as applied once).  close may come at any point. */
struct ctl_apply {
	struct bootconf conf;
	struct dp dp;
	bool loaded, closed;
	bool check_first;	/* ctx.pushed_by_daemon */
};
int ctl_apply_open(struct ctx *c, bool loaded, struct ctl_apply *a);
int ctl_apply_compile(struct ctl_apply *a, const char *name, const char *text,
		      size_t len, struct policy_file **pf, struct filter_table *table,
		      struct compile_diag *diag, char *err, size_t errlen);
int ctl_apply_push(struct ctl_apply *a, const struct filter_table *table);
int ctl_apply_keep(struct ctx *c, const char *text, size_t len,
		   char *err, size_t errlen);
int ctl_apply_done(struct ctx *c, struct ctl_apply *a);
void ctl_apply_close(struct ctl_apply *a);
/* A running ipsec-xdpd reads the assigned policy again: "reloaded",
 * "not running" or "reload failed" (warned). */
const char *ctl_reload_daemon(void);
void ctl_print_warnings(const struct compile_diag *diag);
struct json_object *ctl_warnings_json(const struct compile_diag *diag);

int cmd_filter(struct ctx *c, int argc, char **argv);	/* ctl_cmd_filter.c */

/* Render pieces of filters. */
const char *action_name(unsigned action);
const char *proto_name(unsigned proto, char *buf, size_t len);
void port_range_str(unsigned lo, unsigned hi, char *buf, size_t len);

#endif /* IXDP_CTL_H */
