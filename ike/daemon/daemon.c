// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon.c - the daemon's state without its event loop: setting it up,
 * loading the configuration, policy and secrets, shutting the IKE SAs.
 * daemon_main.c adds the loop, daemon_net.c and daemon_control.c; the
 * timers are in sa/sa_engine.c, the addresses in wire/wire_addr.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/daemon_keyholder.h"
#include "policy/policy_bootconf.h"
#include "sa/sa_child.h"
#include "sa/sa_child_policy.h"
#include "sa/sa_log.h"
#include "sa/sa_ikesa.h"
#include "sa/sa_exchange.h"
#include "ixdp_control.h"
#include "wire/wire_secrets.h"

/* The environment variable name, if set to a number in min..max, into
 * *out; otherwise *out is kept (a warning when set but wrong).  For the
 * settings that tests shorten (ipsec-xdpd(8), ENVIRONMENT). */
static void tunable_from_env(const char *name, long min, long max,
			     uint32_t *out)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return;
	n = strtol(v, &end, 10);
	if (*end || n < min || n > max) {
		log_warn("%s=%s is not %ld to %ld: %u kept", name, v, min, max,
			 *out);
		return;
	}
	*out = (uint32_t)n;
}

void daemon_init(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->confdir, sizeof(d->confdir), "%s", ixdp_confdir());
	snprintf(d->rundir, sizeof(d->rundir), "%s", IXDP_RUNDIR_DEFAULT);
	d->port = IKEV2_UDP_PORT;
	d->natt_port = IKEV2_UDP_PORT_NATT;
	ike_tunables_default(&d->tun);
	/* seconds; 0: never */
	tunable_from_env("IPSEC_XDPD_CHILD_IDLE", 0, 86400,
			 &d->tun.child_idle_s);
	/* bytes of an IP datagram */
	tunable_from_env("IPSEC_XDPD_FRAGMENT_SIZE", FRAGMENT_SIZE_MIN, 65535,
			 &d->tun.fragment_size);
	/* ms the responder's IKE_SA_INIT D-H value is shared; 0: never */
	tunable_from_env("IPSEC_XDPD_DH_REUSE_MS", 0, 60000,
			 &d->tun.dh_reuse_ms);
	d->sas = ikesa_table_new();
	if (!d->sas)
		fatal("out of memory for the IKE SA table");
	ikesa_register_exchange(d, &exch_init_ops);
	ikesa_register_exchange(d, &exch_auth_ops);
	ikesa_register_exchange(d, &exch_create_ops);
	ikesa_register_exchange(d, &exch_info_ops);
	d->source_addr = daemon_source_addr_route;
}

static int load_config(struct daemon *d, char *err, size_t errlen)
{
	struct bootconf conf;
	char why[512];

	if (bootconf_load(d->confdir, &conf, why, sizeof(why))) {
		snprintf(err, errlen, "%.200s/config: %.300s", d->confdir, why);
		return -1;
	}
	d->ikelogging = conf.ikelogging;
	d->strongcrlcheck = conf.strongcrlcheck;
	return 0;
}

static int load_secrets(struct daemon *d, char *err, size_t errlen)
{
	struct secrets *s;

	if (d->keyholder)	/* ids and certificates only (daemon_keyholder.h) */
		return keyholder_reload(d, err, errlen);
	if (secrets_load(d->confdir, &s, err, errlen))
		return -1;
	secrets_free(d->secrets);
	d->secrets = s;
	return 0;
}

/* ---- a new policy: the CHILD SAs of changed rules go ---------------------------- */

/* Has rule a (old) changed into b (same name) in a way that its CHILD SAs
 * cannot stay: how they are negotiated (methods with their lifetimes,
 * filters, tunnel endpoint, PFS) or the rest of its filter action (soft,
 * inpass), for which the dataplane too gives the rule a new id and drops
 * its bundles (docs/behaviour.md §4: SAs of a filter whose action changed are
 * deleted).  chp_rules_load() zeroes each rule and filter before filling
 * it, so memcmp sees no stray padding. */
static bool rule_differs(const struct chp_rule *a, bool a_inpass,
			 const struct chp_rule *b, bool b_inpass)
{
	return a->tunnel != b->tunnel ||
	       (a->tunnel && (a->tunnel_family != b->tunnel_family ||
			      memcmp(a->tunnel_addr, b->tunnel_addr, 16))) ||
	       a->nm != b->nm || memcmp(a->m, b->m, a->nm * sizeof(a->m[0])) ||
	       a->nf != b->nf || memcmp(a->f, b->f, a->nf * sizeof(a->f[0])) ||
	       a->pfs != b->pfs || a->pfs_group != b->pfs_group ||
	       a->soft != b->soft || a->soft_timeout_s != b->soft_timeout_s ||
	       a_inpass != b_inpass;
}

static const struct chp_rule *rule_named(const struct chp_rule *r, size_t n,
					 const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return &r[i];
	return NULL;
}

struct rule_change {
	const struct peer_policy *pold, *pnew;
	struct chp_rules old, new;
	size_t deleted;			/* CHILD SAs sent away */
};

/* Why a CHILD SA of `rule` cannot stay under the new policy; NULL: it
 * stays (its rule is unchanged, wherever it now is in the order, or it
 * predates the old policy too and the new one still has it). */
static const char *child_stale(const struct rule_change *rc,
			       const char *rule)
{
	const struct chp_rule *o = rule_named(rc->old.v, rc->old.n, rule);
	const struct chp_rule *n = rule_named(rc->new.v, rc->new.n, rule);

	if (!n)
		return "its rule is no longer in the policy";
	if (o && rule_differs(o, peer_rule_inpass(rc->pold, rule), n,
			      peer_rule_inpass(rc->pnew, rule)))
		return "its rule changed";
	return NULL;
}

static void drop_stale_children(struct daemon *d, struct ikesa *sa, void *arg)
{
	struct rule_change *rc = arg;
	struct child_sa *c;
	const char *why;
	size_t i;

	if (sa->state != IKESA_ESTABLISHED)
		return;		/* its CHILD SAs go with it */
	/* one on its way: it goes once made */
	if (exch_create_rule_in_flight(sa) &&
	    (why = child_stale(rc, exch_create_rule_in_flight(sa))) != NULL)
		exch_create_rule_gone(sa, why);
	/* a dying CHILD SA stays in the list until the peer answers */
	for (i = 0; (c = child_at(sa, i)) != NULL; i++) {
		if (c->dying || !(why = child_stale(rc, c->rule)))
			continue;
		ikelog(d, IKELOG_OUTCOME, sa, "policy reloaded: deleting "
		       "CHILD SA spi-in=%08" PRIx32 " of rule %s: %s", c->spi_in,
		       c->rule, why);
		exch_create_delete_child(d, sa, c->spi_in, why);
		rc->deleted++;
	}
}

/* old was in force, d->policy now is: delete (Delete to the peer, then
 * the kernel's SAs and policies) the CHILD SAs negotiated for a rule that
 * is gone or changed (rule_differs). */
static void policy_changed(struct daemon *d, const struct peer_policy *old)
{
	struct rule_change rc = { .pold = old, .pnew = d->policy };

	if (!d->child)
		return;
	if (chp_rules_load(old, &rc.old) ||
	    chp_rules_load(d->policy, &rc.new)) {
		log_err("reload: out of memory: CHILD SAs of changed rules kept");
	} else {
		ikesa_foreach(d, drop_stale_children, &rc);
		if (rc.deleted)
			log_info("reload: %zu CHILD SA%s of changed or deleted "
				 "rules deleted", rc.deleted,
				 rc.deleted == 1 ? "" : "s");
	}
	chp_rules_free(&rc.old);
	chp_rules_free(&rc.new);
}

void daemon_set_policy(struct daemon *d, struct peer_policy *pp)
{
	struct peer_policy *old = d->policy;

	d->policy = pp;
	policy_changed(d, old);
	peer_policy_free(old);
}

static int load_policy(struct daemon *d, char *err, size_t errlen)
{
	struct peer_policy *pp;

	if (d->central_in_force)	/* it takes precedence: kept */
		return 0;
	if (peer_policy_load(d->confdir, &pp, err, errlen))
		return -1;
	daemon_set_policy(d, pp);
	return 0;
}

int daemon_load(struct daemon *d, bool initial, char *err, size_t errlen)
{
	char why[600];
	int rc = 0;

	err[0] = '\0';
	if (load_config(d, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		rc = -1;
	}
	if (load_secrets(d, why, sizeof(why))) {
		if (!rc)
			snprintf(err, errlen, "%s", why);
		rc = -1;
	}
	if (load_policy(d, why, sizeof(why))) {
		if (!rc)
			snprintf(err, errlen, "assigned policy: %s", why);
		rc = -1;
	}
	if (rc == 0 && !initial)
		ikelog_event(d, "policy", NULL, "policy reloaded: policy=%s",
			     d->policy ? peer_policy_name(d->policy) : "(none)");
	if (rc == 0 && !initial && d->reloaded)
		d->reloaded(d);
	if (rc == 0)
		log_info("%s: policy '%s', %zu pre-shared key%s, ikelogging %d",
			 initial ? "started" : "reloaded",
			 d->policy ? peer_policy_name(d->policy) : "(none)",
			 d->secrets->n, d->secrets->n == 1 ? "" : "s",
			 d->ikelogging);
	return rc;
}

/* One Delete, not waited for, then gone. */
static void close_one(struct daemon *d, struct ikesa *sa, void *arg)
{
	const char *reason = arg;
	struct ike_delete del = { .protocol = IKEV2_PROTO_IKE };
	uint8_t buf[64];
	struct ike_builder b;
	size_t n = 0;

	if (sa->state == IKESA_ESTABLISHED && !sa->req_out) {
		ike_build_chain(&b, buf, sizeof(buf));
		ike_add_delete(&b, &del);
		if (ike_build_finish(&b, &n) == IKE_MSG_OK)
			ikesa_request(d, sa, IKEV2_EXCH_INFORMATIONAL, b.first,
				      buf, n, false);
	}
	sa->stopped = true;
	ikesa_close(d, sa, "%s", reason);
}

void daemon_close_all(struct daemon *d, const char *reason)
{
	ikesa_foreach(d, close_one, (void *)reason);
}

void daemon_fini(struct daemon *d)
{
	ikesa_table_free(d);
	dh_reuse_clear(&d->dh_reuse);
	backoff_free(&d->backoff);
	secrets_free(d->secrets);
	d->secrets = NULL;
	peer_policy_free(d->policy);
	d->policy = NULL;
	ike_wipe(&d->cookie, sizeof(d->cookie));
}

/* The kernel's choice of source address: connect a UDP socket (nothing is
 * sent) and ask it. */
int daemon_source_addr_route(struct daemon *d,
			     const struct sockaddr_storage *peer,
			     struct sockaddr_storage *local)
{
	socklen_t len = sizeof(*local);
	int fd = socket(peer->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	memset(local, 0, sizeof(*local));
	if (connect(fd, (const struct sockaddr *)peer, addr_len(peer)) == 0 &&
	    getsockname(fd, (struct sockaddr *)local, &len) == 0)
		rc = 0;
	close(fd);
	return rc;
}
