// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_autoload.c - the loaded dataplane given to interfaces as they
 * appear (daemon_autoload.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <event2/event.h>
#include <bpf/libbpf.h>

#include "daemon/daemon_autoload.h"
#include "daemon/daemon_hostwatch.h"
#include "sa/sa_log.h"
/* lib/policy/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "dataplane/dataplane_autoload.h"
#include "dataplane/dataplane_lock.h"
#undef ike_proposal

#define AUTOLOAD_MAX_SAID 256

struct autoload {
	struct daemon *d;
	int nl_fd;
	struct event *nl_ev;
	struct event *pass;		/* the debounce and retry timer */
	/* interfaces already logged, so that a pass repeats nothing:
	 * said[i] is an ifindex, negative for one "all" leaves out */
	int said[AUTOLOAD_MAX_SAID];
	size_t nsaid;
	bool said_unloaded;		/* "not loaded" logged */
	bool conf_bad;			/* a malformed configuration logged */
	bool lock_logged;
	struct bootconf conf;		/* the last configuration read */
};

static void arm_pass(struct autoload *al, unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(al->pass, &tv);
}

void autoload_check(struct autoload *al)
{
	if (al && !evtimer_pending(al->pass, NULL))
		arm_pass(al, AUTOLOAD_DEBOUNCE_MS);
}

/* ---- what was said ------------------------------------------------------------------ */

static bool said(const struct autoload *al, int key)
{
	for (size_t i = 0; i < al->nsaid; i++)
		if (al->said[i] == key)
			return true;
	return false;
}

static void say(struct autoload *al, int key)
{
	if (!said(al, key) && al->nsaid < AUTOLOAD_MAX_SAID)
		al->said[al->nsaid++] = key;
}

static void unsay(struct autoload *al, int key)
{
	for (size_t i = 0; i < al->nsaid; i++)
		if (al->said[i] == key) {
			al->said[i] = al->said[--al->nsaid];
			return;
		}
}

/* Forget the interfaces that went: a new one may reuse nothing of them. */
static void forget_gone(struct autoload *al, const struct dp_netif *v, size_t n)
{
	for (size_t i = 0; i < al->nsaid;) {
		int idx = al->said[i] < 0 ? -al->said[i] : al->said[i];
		bool here = false;

		for (size_t j = 0; j < n && !here; j++)
			here = v[j].ifindex == idx;
		if (here)
			i++;
		else
			al->said[i] = al->said[--al->nsaid];
	}
}

/* ---- the pass ------------------------------------------------------------------------ */

static void attach_one(struct autoload *al, const char *root, const struct dp_netif *i)
{
	char err[1024];
	bool attached;

	if (dp_autoload_iface(root, i->name, &attached, err, sizeof(err))) {
		if (!said(al, i->ifindex))
			log_err("dataplane: %s (loadinterfaces) could not be attached: %s; "
				"its traffic is not filtered (tried again at the next "
				"interface change)", i->name, err);
		else
			log_debug("loadinterfaces: %s still cannot be attached: %s", i->name, err);
		say(al, i->ifindex);
		return;
	}
	if (attached)
		log_info("dataplane attached to %s (loadinterfaces %s): XDP and TC egress "
			 "checked on the interface", i->name,
			 al->conf.loadifs == BOOTCONF_LOAD_ALL ? "all" : "names it");
	else if (said(al, i->ifindex))
		log_info("dataplane attached to %s now", i->name);
	else
		log_debug("loadinterfaces: %s runs the pinned programs now", i->name);
	unsay(al, i->ifindex);
}

static void excluded_one(struct autoload *al, const struct dp_netif *i)
{
	const char *why = dp_autoload_excluded(i);

	if (al->conf.loadifs != BOOTCONF_LOAD_ALL || !why || said(al, -i->ifindex))
		return;
	log_info("loadinterfaces: all leaves %s out: %s", i->name, why);
	say(al, -i->ifindex);
}

/* Under the writers' lock: the stale pins, then the covered interfaces. */
static int pass_locked(struct autoload *al, const char *root)
{
	struct dp_netif *v;
	char note[1024], err[512];
	size_t n;

	if (dp_tidy_links(root, note, sizeof(note)))
		log_info("loadinterfaces: link pins of interfaces gone or renamed tidied (%s)", note);
	if (al->conf.loadifs == BOOTCONF_LOAD_NONE)
		return 0;
	if (dp_netifs_read(&v, &n, err, sizeof(err))) {
		log_warn("loadinterfaces: %s (tried again in %u ms)", err, AUTOLOAD_RETRY_MS);
		return -1;
	}
	forget_gone(al, v, n);
	for (size_t i = 0; i < n; i++) {
		if (dp_autoload_covers(&al->conf, &v[i]))
			attach_one(al, root, &v[i]);
		else
			excluded_one(al, &v[i]);
	}
	free(v);
	return 0;
}

static void run_pass(evutil_socket_t fd, short what, void *arg)
{
	struct autoload *al = arg;
	const char *root = dp_pin_root();
	struct writer_lock lock;
	struct bootconf conf;
	char err[700];
	unsigned abi = 0;
	int rc;

	if (bootconf_load(al->d->confdir, &conf, err, sizeof(err))) {
		if (!al->conf_bad)
			log_warn("loadinterfaces: %s (the last configuration read stays)", err);
		al->conf_bad = true;
	} else {
		al->conf = conf;
		al->conf_bad = false;
	}
	rc = dp_pinned_abi(root, &abi);
	if (rc || abi != IXDP_ABI_VERSION) {
		if (al->conf.loadifs != BOOTCONF_LOAD_NONE && !al->said_unloaded) {
			if (rc && rc != -ENOENT)	/* --user: out of its reach */
				log_warn("loadinterfaces: cannot open %s/maps/ixdp_state: "
					 "%s: nothing is attached (ipsec-xdpd(8) SECURITY)",
					 root, strerror(-rc));
			else
				log_info("loadinterfaces: no dataplane of this version is "
					 "loaded under %s (`ipsec-xdp load` loads it): nothing "
					 "is attached until then", root);
			al->said_unloaded = true;
		}
		return;
	}
	al->said_unloaded = false;
	if (writer_lock_acquire(&lock, al->d->confdir, root, AUTOLOAD_LOCK_WAIT_MS, err,
				sizeof(err))) {
		if (!al->lock_logged)
			log_debug("loadinterfaces: %s (interfaces looked at again in %u ms)", err,
				  AUTOLOAD_RETRY_MS);
		al->lock_logged = true;
		arm_pass(al, AUTOLOAD_RETRY_MS);
		return;
	}
	al->lock_logged = false;
	/* looking for a legacy tc filter of ours is no error: the reasons
	 * that matter come back in err */
	libbpf_print_fn_t print = libbpf_set_print(NULL);

	if (pass_locked(al, root))
		arm_pass(al, AUTOLOAD_RETRY_MS);
	libbpf_set_print(print);
	writer_lock_release(&lock);
}

/* ---- netlink: links ------------------------------------------------------------------ */

static bool link_event(const struct nlmsghdr *h)
{
	return h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK;
}

static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct autoload *al = arg;

	if (hostwatch_nl_drain(al->nl_fd, link_event))
		autoload_check(al);
}

struct autoload *autoload_open(struct daemon *d, struct event_base *evb)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	struct autoload *al = calloc(1, sizeof(*al));

	if (!al || !(al->pass = evtimer_new(evb, run_pass, al))) {
		log_err("loadinterfaces: out of memory: interfaces that appear are not attached");
		free(al);
		return NULL;
	}
	al->d = d;
	bootconf_defaults(&al->conf);
	al->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (al->nl_fd < 0 || bind(al->nl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    !(al->nl_ev = event_new(evb, al->nl_fd, EV_READ | EV_PERSIST, on_netlink, al)) ||
	    event_add(al->nl_ev, NULL))
		log_warn("loadinterfaces: no netlink link events (%s): interfaces that "
			 "appear get the dataplane only at a reload", strerror(errno));
	arm_pass(al, 0);
	return al;
}

void autoload_close(struct autoload *al)
{
	if (!al)
		return;
	if (al->nl_ev)
		event_free(al->nl_ev);
	if (al->pass)
		event_free(al->pass);
	if (al->nl_fd >= 0)
		close(al->nl_fd);
	free(al);
}
