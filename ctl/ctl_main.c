// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_main.c - `ipsec-xdp`: global options and the command table.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "ctl.h"

#define VERSION "0.1"

static const struct command commands[] = {
	{ "load", cmd_load, "load IFACE...|--all [--xdp-mode auto|native|generic]",
	  "Attach the dataplane (XDP on ingress, TC on egress) to each interface.\n"
	  "Programs and maps are pinned under the BPF file system, so enforcement\n"
	  "outlives this command; nothing is attached if the pins would not last\n"
	  "(under `ip netns exec`: use nsenter --net=/run/netns/NAME, or set\n"
	  "IPSEC_XDP_BPFFS to a BPF file system mounted on the host). The boot\n"
	  "mode and exemptions of `set config` are pushed, and the assigned policy\n"
	  "(if any) is compiled and applied; a policy in force that none assigned\n"
	  "is removed. Pinned maps of another layout version are replaced.\n"
	  "Loading an interface that is already loaded replaces its programs.\n"
	  "  --all             every interface but loopback and xfrm ones (each one\n"
	  "                    left out is named; one that refuses the dataplane is\n"
	  "                    reported and the others loaded, exit status 1), and\n"
	  "                    record `loadinterfaces all`: a running ipsec-xdpd\n"
	  "                    attaches the dataplane to interfaces that appear\n"
	  "  --xdp-mode MODE   native (driver), generic (skb) or auto (default)\n" },
	{ "unload", cmd_unload, "unload [IFACE...]",
	  "Detach the dataplane (its links, and a tc filter of ours an earlier\n"
	  "version left) from the named interfaces; with none, from every\n"
	  "interface, and remove all pinned programs and maps (the traffic then\n"
	  "passes unfiltered). The configuration under /etc/ipsec-xdp stays.\n" },
	{ "status", cmd_status, "status",
	  "Show whether the dataplane is loaded, on which interfaces and in which\n"
	  "XDP mode, whether a policy or the boot mode rules, and the policy name.\n"
	  "With ipsec-xdpd running, also its policy agent: the policy in force (its\n"
	  "SHA-256, since when, from which file), the last result (an invalid\n"
	  "file's error with file:line:column, the policy in force staying), and a\n"
	  "policy waiting for `policy confirm` with its deadline.\n" },
	{ "policy", cmd_policy, "policy check FILE | apply [--confirm-within SECONDS] FILE | confirm | show | unassign",
	  "  check FILE    parse and compile FILE, print the result; change nothing\n"
	  "  apply FILE    compile FILE, swap it into the dataplane atomically and\n"
	  "                keep it as the assigned policy; an invalid FILE changes\n"
	  "                nothing (the policy in force stays in force)\n"
	  "    --confirm-within SECONDS  (1-86400) the policy stored before is\n"
	  "                kept (CONFDIR/policy.yaml.rollback) and ipsec-xdpd\n"
	  "                restores it (dataplane, IKE, the stored file) unless\n"
	  "                `policy confirm` comes within SECONDS, so a remote\n"
	  "                administrator cannot lock themselves out; refused when\n"
	  "                ipsec-xdpd is not running or one waits already\n"
	  "  confirm       keep the policy applied with --confirm-within\n"
	  "  show          the assigned policy: rules, filter lists and actions\n"
	  "  unassign      forget the assigned policy; the boot mode rules again\n"
	  "A running ipsec-xdpd also applies the stored copy (CONFDIR/policy.yaml)\n"
	  "by itself when it changes there (configuration management may write it\n"
	  "directly); `status` shows the outcome.\n" },
	{ "filter", cmd_filter, "filter add LIST FILTER | delete LIST FILTER",
	  "Change one filter of the assigned policy (CONFDIR/policy.yaml), as\n"
	  "netsh's `add|delete filter`, and apply it as `policy apply` does (atomic\n"
	  "swap, only the difference written). A running ipsec-xdpd makes the\n"
	  "change first, from the stored policy it holds read, then the command\n"
	  "edits and keeps the file; what the daemon declines, the command does\n"
	  "alone (and the daemon reloads). FILTER is one filter in the policy\n"
	  "file's syntax, a YAML mapping in quotes:\n"
	  "  '{src: me, dst: 10.1.2.3, protocol: tcp, dst-port: 5432}'\n"
	  "  add LIST FILTER     append FILTER to filter list LIST\n"
	  "  delete LIST FILTER  delete LIST's filter whose src, dst, protocol,\n"
	  "                      ports and mirrored equal FILTER's (not its\n"
	  "                      description)\n"
	  "The file is edited in place (comments and layout stay; the new filter\n"
	  "is the list's last line or item) and replaced atomically, under the\n"
	  "writers' lock. Refused, with nothing changed: an unknown LIST, a FILTER\n"
	  "that does not parse, adding a filter LIST has, deleting one it has not,\n"
	  "deleting a list's only filter, a result that is not a valid policy\n"
	  "(exit 3); no assigned policy, or a central one in force (exit 1).\n" },
	{ "show", cmd_show, "show filters [--specific] | stats [--openmetrics] | config | all | sa [PEER|RULE] | ikestats",
	  "  filters             the filters as configured in the assigned policy\n"
	  "  filters --specific  the expanded, weighted list the dataplane enforces,\n"
	  "                      in the order it is tried, with packet counters\n"
	  "  stats               the IP Security Monitor's statistics: main mode (IKE,\n"
	  "                      from ipsec-xdpd), quick mode (kernel ESP/AH: bad SPI,\n"
	  "                      not decrypted, replays, bytes secured), then the\n"
	  "                      dataplane's packet and drop counters\n"
	  "  stats --openmetrics the same counters in the OpenMetrics text format\n"
	  "                      (drops by reason, packets and bytes per rule and\n"
	  "                      direction, SAs, negotiations, peers), as\n"
	  "                      ipsec-xdpd --metrics-listen serves them\n"
	  "  config              boot mode, boot exemptions, ipsecexempt, ...\n"
	  "  all                 all of the above\n"
	  "  sa [PEER|RULE]      the IKE SAs of ipsec-xdpd and their CHILD SAs, with\n"
	  "                      the kernel's bytes, packets and lifetimes left; only\n"
	  "                      those of the peer address PEER or of the rule RULE\n"
	  "                      (none is an empty list; neither an address nor a\n"
	  "                      rule of the policy is an error)\n"
	  "  ikestats            every IKE counter of ipsec-xdpd by name\n" },
	{ "match", cmd_match, "match SRC DST PROTO [SPORT DPORT] [--in|--out] [--interface IFACE]",
	  "Tell which filter a packet hits and why: the verdict, the winning filter,\n"
	  "its weight, and the other filters that match it but weigh less. SRC or DST\n"
	  "may be `me`: this host's first address of the other's family (as the\n"
	  "policy's `me` expands; the one used is printed). PROTO is a name (tcp,\n"
	  "udp, icmp, icmpv6, ...) or a number; SPORT and DPORT numbers or service\n"
	  "names of /etc/services (ssh, https, ...). Uses the list the dataplane\n"
	  "enforces when loaded, else the assigned policy compiled for this host;\n"
	  "a negotiate filter's verdict follows its SA as the dataplane holds it.\n"
	  "  --in / --out   the packet's direction (default --out); matters for the\n"
	  "                 boot mode and for inpass\n"
	  "  --interface IFACE  the interface it passes: the filters of rules whose\n"
	  "                 connection-type or interfaces leave it out are absent\n"
	  "                 (default: only the rules of every interface)\n"
	  "Exit status: 0 the packet passes (permit, no filter, an exemption, ESP/AH,\n"
	  "negotiate with its SA up outbound, soft, or inpass inbound); 1 it is\n"
	  "dropped (block, negotiate without an SA, ...); 2 usage or other error.\n" },
	{ "set", cmd_set, "set config KEY VALUE",
	  "Change the persistent configuration (kept in /etc/ipsec-xdp/config) and\n"
	  "apply it at once: to a loaded dataplane, or (ikelogging, strongcrlcheck,\n"
	  "policysource*, loadinterfaces)\n"
	  "by a running ipsec-xdpd's reload; the message says which was done.\n"
	  "Waits for another writer ($IPSEC_XDP_LOCK_WAIT s, default 30). KEYs:\n"
	  "  bootmode permit|block|stateful\n"
	  "  bootexemptions LIST|none   LIST of PROTOCOL:SRCPORT:DSTPORT:DIRECTION,\n"
	  "                             e.g. TCP:0:3389:inbound ICMP:0:0:inbound;\n"
	  "                             each set replaces the whole list\n"
	  "  ipsecexempt 0|1|2|3        default exemptions (3: IKE only, the default)\n"
	  "  ikelogging 0|1|2           IKE log level for ipsec-xdpd\n"
	  "  strongcrlcheck 0|1|2       CRL checking: off, weak, strong\n"
	  "  policysource URL|none      a central policy: https://HOST/PATH, signed\n"
	  "                             (URL.sig), polled by ipsec-xdpd; it takes\n"
	  "                             precedence over the local policy\n"
	  "  policysourcekey PATH|none  the PEM public key that signs it (set first)\n"
	  "  policysourceca PATH|none   the server's CA (none: the system's CAs)\n"
	  "  loadinterfaces none|all|IFACE[,IFACE...]\n"
	  "                             interfaces ipsec-xdpd attaches the loaded\n"
	  "                             dataplane to, now and when they appear (all:\n"
	  "                             every one but loopback and xfrm interfaces;\n"
	  "                             none, the default: only `load` attaches)\n" },
	{ "sa", cmd_sa, "sa initiate PEER | delete PEER|SPI | show [PEER|RULE]",
	  "Ask the IKE daemon ipsec-xdpd (through its control socket in\n"
	  "$IPSEC_XDP_RUNDIR, default /run/ipsec-xdp):\n"
	  "  initiate PEER   negotiate an IKE SA with PEER (an address) and wait\n"
	  "                  for the outcome; the rule whose filters name PEER\n"
	  "                  gives the pre-shared key and proposals; exits 1\n"
	  "                  (with the reason) unless the IKE SA came up with\n"
	  "                  the CHILD SA that rule wants; not held back by\n"
	  "                  the peer's backoff after failures\n"
	  "  delete PEER|SPI delete the IKE SA(s) with PEER, or the one with that\n"
	  "                  SPI (16 hex digits), telling the peer\n"
	  "  show [PEER|RULE] the same as `show sa [PEER|RULE]`\n" },
	{ "monitor", cmd_monitor, "monitor",
	  "Print events as they happen, one line each (-j: one JSON object per\n"
	  "line), until Ctrl-C: packets the dataplane dropped, with the reason\n"
	  "and the rule (rate limited: at most 32 at once, then 100 a second,\n"
	  "per CPU; each event says how many were not shown), policy changes,\n"
	  "and, when ipsec-xdpd runs, its negotiations (started, established,\n"
	  "failed and why), SAs added, rekeyed and deleted.  On exit, a summary\n"
	  "of the drop events shown, suppressed and lost.  One monitor at a time\n"
	  "sees the dropped packets.\n" },
};

const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

bool wants_help(const struct command *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: ipsec-xdp %s\n\n%s", cmd->usage, cmd->help);
			return true;
		}
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ipsec-xdp [-j] COMMAND [ARGS]\n\n"
		   "IPsec policy enforcement with XDP/TC and kernel xfrm.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\nOptions:\n"
		   "  -j, --json     JSON output (errors: {\"error\":MESSAGE,\"exit\":N})\n"
		   "  -h, --help     this help; `ipsec-xdp COMMAND --help` for a command\n"
		   "  -V, --version  the version\n\n"
		   "Environment: IPSEC_XDP_CONFDIR (default /etc/ipsec-xdp),\n"
		   "IPSEC_XDP_STATEDIR (default /var/lib/ipsec-xdp),\n"
		   "IPSEC_XDP_BPFFS (default /sys/fs/bpf/ipsec-xdp). See ipsec-xdp(8).\n");
}

/* Take -j/--json from anywhere on the command line. */
static int strip_json_flag(struct ctx *c, int argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < argc; i++) {
		if (i > 0 && (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))) {
			c->json = true;
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

/*
 * A command that applies a big list (10000 filters: some 30 MiB of arrays,
 * keys and trees, each written once) spends much of its time faulting in
 * fresh pages, one fault per 4 KiB; on a virtual machine whose page faults
 * are hypervisor calls, a fifth of a `policy apply`.  So the heap is made
 * where transparent huge pages may back it (one fault per 2 MiB, where the
 * system's THP setting is "madvise" or "always"; elsewhere the advice is
 * ignored): grown HEAP_PAD at a time, never trimmed, and with the big
 * arrays in it rather than one mmap each.  The pad is address space, not
 * memory: pages are only made when touched.
 */
#define HEAP_PAD (64u << 20)
#define HUGE_PAGE (2u << 20)

static void heap_in_huge_pages(void)
{
	uintptr_t start, end;
	void *grow;

	/* 32 MiB: the most glibc takes as M_MMAP_THRESHOLD on 64 bits */
	if (!mallopt(M_MMAP_THRESHOLD, 32 << 20) || !mallopt(M_TOP_PAD, HEAP_PAD) ||
	    !mallopt(M_TRIM_THRESHOLD, 2 * HEAP_PAD))
		return;
	grow = malloc(HEAP_PAD / 4);    /* more than the heap has: it grows */
	if (!grow)
		return;
	start = ((uintptr_t)grow + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	end = (uintptr_t)sbrk(0) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
	free(grow);
}

int main(int argc, char **argv)
{
	struct ctx c = { .confdir = ixdp_confdir(), .statedir = ixdp_statedir(),
			 .root = dp_pin_root() };
	const struct command *cmd;

	heap_in_huge_pages();
	argc = strip_json_flag(&c, argc, argv);
	json_errors(c.json);
	if (argc < 2) {
		usage(stderr);
		return json_finish(fail(EXIT_USAGE, "no command given (see ipsec-xdp --help)"));
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("ipsec-xdp %s\n", VERSION);
		return EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return json_finish(fail(EXIT_USAGE, "unknown command '%s' (see ipsec-xdp --help)",
					argv[1]));
	if (wants_help(cmd, argc - 1, argv + 1))
		return EXIT_OK;
	return json_finish(cmd->run(&c, argc - 1, argv + 1));
}
