// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_hostwatch.c - the host's addresses, routes, resolvers and leases
 * watched, and the policy in force re-expanded when they change
 * (daemon_hostwatch.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <event2/event.h>

#include "daemon/daemon_hostwatch.h"
#include "daemon/daemon_agent.h"
#include "sa/sa_log.h"
/* lib/policy/policy.h has its own struct ike_proposal (message.h's name). */
#define ike_proposal lib_ike_proposal
#include "agent/agent.h"
#include "agent/agent_source.h"
#include "compile/compile_hostinfo.h"
#undef ike_proposal

#define HW_MAX_SOURCES 12
#define HW_FILE_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
			IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

struct hostwatch {
	struct daemon *d;
	int nl_fd, in_fd;
	struct event *nl_ev, *in_ev;
	struct event *check;	/* the debounce and retry timer */
	struct event *period;
	struct hostinfo_source src[HW_MAX_SOURCES];
	int wd[HW_MAX_SOURCES];	/* -1: not watched (no such directory yet) */
	size_t nsrc;
	struct host_info last;	/* the addresses of the last check done */
	bool have_last;
	unsigned failures;	/* checks failed in a row (logged once) */
};

static void arm_check(struct hostwatch *hw, unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(hw->check, &tv);
}

/* A change was seen: check once HOSTWATCH_DEBOUNCE_MS after the first
 * event of a burst (later events do not push the check back). */
static void changed(struct hostwatch *hw)
{
	if (!evtimer_pending(hw->check, NULL))
		arm_check(hw, HOSTWATCH_DEBOUNCE_MS);
}

/* ---- the check -------------------------------------------------------------------- */

static void report(struct hostwatch *hw, const struct host_info *now,
		   const struct agent_reexpand *r)
{
	char what[400];

	if (hw->have_last)
		host_info_describe_change(&hw->last, now, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "as the daemon started");
	switch (r->result) {
	case AGENT_REEXPAND_PUSHED:
		log_info("host addresses changed (%s): policy '%s' re-expanded, "
			 "%zu specific filters live", what, r->policy,
			 r->nfilters);
		break;
	case AGENT_REEXPAND_SAME:
		log_debug("host addresses changed (%s): the filters of policy "
			  "'%s' stay the same", what, r->policy);
		break;
	case AGENT_REEXPAND_IDLE:
		log_debug("host addresses changed (%s): no policy in force",
			  what);
		break;
	}
}

/* A failed check: what is in force stays, and it is tried again. */
static void failed(struct hostwatch *hw, const char *what, const char *err)
{
	if (hw->failures++ == 0)
		log_warn("host addresses: %s: %s (the filters in force stay; "
			 "tried again every %u ms)", what, err,
			 HOSTWATCH_RETRY_MS);
	arm_check(hw, HOSTWATCH_RETRY_MS);
}

/* The file of the policy in force into buf: the central policy's cache
 * while it is in force (daemon_source.h), else CONFDIR/policy.yaml. */
static const char *policy_in_force(struct daemon *d, char *buf, size_t len)
{
	if (d->central_in_force)
		source_path(dagent_statedir(d), "policy.yaml", buf, len);
	else
		agent_assigned_path(d->confdir, buf, len);
	return buf;
}

static void run_check(evutil_socket_t fd, short what, void *arg)
{
	struct hostwatch *hw = arg;
	struct agent_reexpand r;
	struct host_info now;
	char err[700], path[PATH_MAX];

	if (host_info_read(&now, err, sizeof(err))) {
		failed(hw, "cannot read them", err);
		return;
	}
	if (hw->have_last && host_info_equal(&hw->last, &now)) {
		host_info_free(&now);
		hw->failures = 0;
		return;
	}
	/* the policy in force: a central one's cache takes precedence */
	if (agent_reexpand_path(hw->d->confdir, policy_in_force(hw->d, path,
							       sizeof(path)),
				dp_pin_root(), &now, HOSTWATCH_LOCK_WAIT_MS, &r,
				err, sizeof(err))) {
		host_info_free(&now);
		failed(hw, "the policy in force was not re-expanded", err);
		return;
	}
	if (hw->failures)
		log_info("host addresses: checked again after %u failure%s",
			 hw->failures, hw->failures == 1 ? "" : "s");
	hw->failures = 0;
	report(hw, &now, &r);
	host_info_free(&hw->last);
	hw->last = now;
	hw->have_last = true;
}

static void on_period(evutil_socket_t fd, short what, void *arg)
{
	changed(arg);
}

/* ---- netlink: addresses and default routes ---------------------------------------- */

/* Does one message of the route groups change `me` or `gateway`?  Only
 * its fixed header is read, within len. */
static bool nl_message_matters(const struct nlmsghdr *h)
{
	const struct rtmsg *rt = NLMSG_DATA(h);

	switch (h->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return true;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		/* a default route (or one we cannot tell) */
		return h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)) ||
		       rt->rtm_dst_len == 0;
	default:
		return false;
	}
}

bool hostwatch_nl_drain(int fd, bool (*matters)(const struct nlmsghdr *h))
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	bool any = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost, so look again */
			any |= errno == ENOBUFS;
			break;
		}
		if ((size_t)n > sizeof(buf)) {	/* cut: look again */
			any = true;
			continue;
		}
		/* int: NLMSG_NEXT may take it below 0, which ends the walk */
		int len = (int)n;

		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		     NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			any |= matters(h);
	}
	return any;
}

static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct hostwatch *hw = arg;

	if (hostwatch_nl_drain(hw->nl_fd, nl_message_matters))
		changed(hw);
}

static int open_netlink(struct hostwatch *hw, struct event_base *evb)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			     RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
	};

	hw->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   NETLINK_ROUTE);
	if (hw->nl_fd < 0 || bind(hw->nl_fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	hw->nl_ev = event_new(evb, hw->nl_fd, EV_READ | EV_PERSIST, on_netlink, hw);
	return hw->nl_ev && !event_add(hw->nl_ev, NULL) ? 0 : -1;
}

/* ---- inotify: resolv.conf and the leases ------------------------------------------ */

/* Watch the directories not watched yet (they may have been made since). */
static void add_watches(struct hostwatch *hw)
{
	for (size_t i = 0; i < hw->nsrc; i++)
		if (hw->wd[i] < 0)
			hw->wd[i] = inotify_add_watch(hw->in_fd, hw->src[i].dir,
						      HW_FILE_EVENTS | IN_ONLYDIR);
}

/* Is this event about a file host_info_read() reads? */
static bool file_event_matters(struct hostwatch *hw,
			       const struct inotify_event *ev)
{
	bool matters = false;

	for (size_t i = 0; i < hw->nsrc; i++) {
		if (hw->wd[i] != ev->wd)
			continue;
		if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
			hw->wd[i] = -1;	/* the directory went */
			matters = true;
		} else if (!hw->src[i].name[0] || (ev->len &&
			   !strcmp(ev->name, hw->src[i].name))) {
			matters = true;
		}
	}
	return matters || (ev->mask & IN_Q_OVERFLOW);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct hostwatch *hw = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool matters = false;
	ssize_t n;

	while ((n = read(hw->in_fd, buf, sizeof(buf))) > 0) {
		size_t off = 0;

		while (off + sizeof(struct inotify_event) <= (size_t)n) {
			const struct inotify_event *ev =
				(const struct inotify_event *)(buf + off);

			if (ev->len > (size_t)n - off - sizeof(*ev))
				break;	/* never from the kernel; stop */
			matters |= file_event_matters(hw, ev);
			off += sizeof(*ev) + ev->len;
		}
	}
	if (matters) {
		add_watches(hw);
		changed(hw);
	}
}

static int open_inotify(struct hostwatch *hw, struct event_base *evb)
{
	hw->nsrc = hostinfo_sources(hw->src, HW_MAX_SOURCES);
	for (size_t i = 0; i < HW_MAX_SOURCES; i++)
		hw->wd[i] = -1;
	hw->in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (hw->in_fd < 0)
		return -1;
	add_watches(hw);
	hw->in_ev = event_new(evb, hw->in_fd, EV_READ | EV_PERSIST, on_inotify, hw);
	return hw->in_ev && !event_add(hw->in_ev, NULL) ? 0 : -1;
}

/* ---- open, close ------------------------------------------------------------------ */

struct hostwatch *hostwatch_open(struct daemon *d, struct event_base *evb)
{
	struct hostwatch *hw = calloc(1, sizeof(*hw));
	struct timeval period = { HOSTWATCH_PERIOD_S, 0 };

	if (!hw) {
		log_err("host addresses: out of memory: not watched");
		return NULL;
	}
	hw->d = d;
	hw->nl_fd = hw->in_fd = -1;
	hw->check = evtimer_new(evb, run_check, hw);
	hw->period = event_new(evb, -1, EV_PERSIST, on_period, hw);
	if (!hw->check || !hw->period || event_add(hw->period, &period)) {
		log_err("host addresses: out of memory: not watched");
		hostwatch_close(hw);
		return NULL;
	}
	if (open_netlink(hw, evb))
		log_warn("host addresses: no netlink events (%s): address and "
			 "route changes are seen every %d s only",
			 strerror(errno), HOSTWATCH_PERIOD_S);
	if (open_inotify(hw, evb))
		log_warn("host addresses: no inotify (%s): resolv.conf and "
			 "lease changes are seen every %d s only",
			 strerror(errno), HOSTWATCH_PERIOD_S);
	log_info("host addresses: watched (netlink, %s, lease directories); "
		 "the policy in force follows them", hw->src[0].name[0] ?
		 hw->src[0].name : "resolv.conf");
	arm_check(hw, 0);
	return hw;
}

void hostwatch_close(struct hostwatch *hw)
{
	if (!hw)
		return;
	if (hw->nl_ev)
		event_free(hw->nl_ev);
	if (hw->in_ev)
		event_free(hw->in_ev);
	if (hw->check)
		event_free(hw->check);
	if (hw->period)
		event_free(hw->period);
	if (hw->nl_fd >= 0)
		close(hw->nl_fd);
	if (hw->in_fd >= 0)
		close(hw->in_fd);
	host_info_free(&hw->last);
	free(hw);
}
