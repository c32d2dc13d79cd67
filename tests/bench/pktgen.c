// SPDX-License-Identifier: GPL-2.0-only
/*
 * pktgen.c - a small packet generator for the packet-rate benchmark.
 *
 *   pktgen -i IFACE -f FRAMES [-d SECONDS] [-c FIRST_CPU] [-t THREADS] [-b BATCH]
 *          [-m af_packet|live] [-r REPEAT] [-o]
 *
 * FRAMES holds precomputed Ethernet frames, one a line in hex (as written
 * by `filters frames`).  Each thread, pinned to its own CPU, sends them
 * round-robin until SECONDS have passed or SIGINT / SIGTERM.  Prints one
 * JSON line: frames sent, errors, seconds, rate.
 *
 * -m af_packet (default): through its own AF_PACKET socket with
 * PACKET_QDISC_BYPASS, BATCH frames per sendmmsg() call.  The sender
 * builds an skb per frame, veth hands that skb to the peer.
 *
 * -m live: in the kernel, with no skb on the sending side.  A small XDP
 * program is run by bpf_prog_test_run_opts() with
 * BPF_F_TEST_XDP_LIVE_FRAMES (REPEAT repetitions per call, BATCH frames
 * per batch): per repetition it writes the next frame (round-robin, from
 * an array map) into the test frame with bpf_xdp_store_bytes(), trims it
 * to that frame's length and returns bpf_redirect(IFACE).  The frames
 * leave as xdp_frames through IFACE's ndo_xdp_xmit; on a veth they land
 * in the peer's NAPI ring (the peer needs NAPI: an XDP program or GRO on),
 * where the peer's XDP program sees them before any skb exists, or, with
 * no XDP program, they become skbs for the peer's stack.  All of it runs
 * on the calling thread's CPU (the peer's NAPI poll too, when the batch
 * re-enables bottom halves).  `sent` counts the repetitions of completed
 * test runs (a signal ends the current one early; SECONDS is checked
 * between runs), frames that the veth ring refused not subtracted: the
 * receiver's counters are the measurement.
 *
 * -o (af_packet, one thread): send every frame once, in order, then exit
 * (1 when not all were sent within SECONDS): for the benchmark's checks of
 * nftables' verdicts (tests/bench/run.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#define MAX_FRAME 2048

struct frame {
	unsigned char *data;
	size_t len;
};

static struct frame *frames;
static size_t nframes;
static int ifindex;
static int batch = 64;
static atomic_int stop;
static int live;                /* -m live */
static unsigned int repeat = 1000000;
static int live_prog = -1;
static int once;                /* -o */

struct worker {
	pthread_t th;
	int cpu;
	unsigned long long sent, errors;
	size_t start;
	int err;
};

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int load_frames(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, fcap = 0;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "pktgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		unsigned char buf[MAX_FRAME];
		size_t len = 0;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (n % 2 || n / 2 > MAX_FRAME) {
			fprintf(stderr, "pktgen: %s: bad frame line\n", path);
			goto fail;
		}
		for (ssize_t i = 0; i < n; i += 2) {
			int hi = hexval(line[i]), lo = hexval(line[i + 1]);

			if (hi < 0 || lo < 0) {
				fprintf(stderr, "pktgen: %s: not hex\n", path);
				goto fail;
			}
			buf[len++] = (unsigned char)(hi << 4 | lo);
		}
		if (nframes == fcap) {
			size_t nc = fcap ? 2 * fcap : 256;
			struct frame *nf = realloc(frames, nc * sizeof(*nf));

			if (!nf)
				goto fail;
			frames = nf;
			fcap = nc;
		}
		frames[nframes].data = malloc(len);
		if (!frames[nframes].data)
			goto fail;
		memcpy(frames[nframes].data, buf, len);
		frames[nframes].len = len;
		nframes++;
	}
	free(line);
	fclose(f);
	if (!nframes) {
		fprintf(stderr, "pktgen: %s: no frames\n", path);
		return -1;
	}
	return 0;
fail:
	free(line);
	fclose(f);
	return -1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t nmsg = nframes + (size_t)batch, pos = w->start % nframes;
	struct mmsghdr *msgs = calloc(nmsg, sizeof(*msgs));
	struct iovec *iov = calloc(nmsg, sizeof(*iov));
	struct sockaddr_ll sll;
	cpu_set_t set;
	int fd, one = 1, sndbuf = 4 << 20;

	if (!msgs || !iov) {
		w->err = ENOMEM;
		goto out;
	}
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* protocol 0: this socket receives nothing */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		w->err = errno;
		goto out;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		w->err = errno;
		close(fd);
		goto out;
	}
	/* msgs[i] sends frame i % nframes: any window of `batch` is contiguous */
	for (size_t i = 0; i < nmsg; i++) {
		iov[i].iov_base = frames[i % nframes].data;
		iov[i].iov_len = frames[i % nframes].len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t want = (size_t)batch;
		int n;

		if (once && w->sent + want > nframes)
			want = nframes - w->sent;
		if (!want) {
			atomic_store(&stop, 1);     /* -o: every frame sent */
			break;
		}
		n = sendmmsg(fd, &msgs[pos], (unsigned)want, 0);

		if (n <= 0) {
			w->errors++;
			if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				w->err = errno;
				break;
			}
			continue;
		}
		w->sent += (unsigned)n;
		pos = (pos + (size_t)n) % nframes;
	}
	close(fd);
out:
	free(msgs);
	free(iov);
	return NULL;
}


/* ---- -m live: an XDP program built from raw instructions ---------------- */

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	struct bpf_insn i;

	memset(&i, 0, sizeof(i));
	i.code = code;
	i.dst_reg = dst & 0xf;
	i.src_reg = src & 0xf;
	i.off = off;
	i.imm = imm;
	return i;
}

#define MOV_R(d, s)        insn(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_K(d, k)        insn(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define ALU_K(op, d, k)    insn(BPF_ALU64 | (op) | BPF_K, d, 0, 0, k)
#define LDX(sz, d, s, o)   insn(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o)   insn(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define ST_K(sz, d, o, k)  insn(BPF_ST | BPF_MEM | (sz), d, 0, o, k)
#define CALL(fn)           insn(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define JNE_K(d, k, o)     insn(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, k)
#define JEQ_K(d, k, o)     insn(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, k)
#define EXIT()             insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * Maps: "state" (array of one u64: the round-robin counter) and "frames"
 * (array of nframes slots: u32 length, u32 pad, the frame zero-padded to
 * maxlen bytes).  The program, per repetition:
 *   i = state[0]++ % nframes;  slot = frames[i];
 *   bpf_xdp_store_bytes(ctx, 0, slot->data, maxlen);
 *   bpf_xdp_adjust_tail(ctx, slot->len - maxlen);
 *   return bpf_redirect(ifindex, 0);
 * (XDP_DROP if anything fails.)
 */
static int live_setup(size_t maxlen)
{
	struct bpf_insn p[64];
	int n = 0, state, fmap, fd, drop_at[8], nd = 0;
	size_t slot = 8 + ((maxlen + 7) & ~(size_t)7);
	unsigned char *val = calloc(1, slot);
	__u32 k = 0;
	__u64 zero = 0;
	char log[8192];
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 0);

	if (!val)
		return -1;
	state = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pg_state", 4, 8, 1, NULL);
	fmap = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pg_frames", 4, (__u32)slot,
			      (__u32)nframes, NULL);
	if (state < 0 || fmap < 0) {
		fprintf(stderr, "pktgen: bpf_map_create: %s\n", strerror(errno));
		return -1;
	}
	bpf_map_update_elem(state, &k, &zero, BPF_ANY);
	for (k = 0; k < nframes; k++) {
		__u32 len = (__u32)frames[k].len;

		memset(val, 0, slot);
		memcpy(val, &len, 4);
		memcpy(val + 8, frames[k].data, frames[k].len);
		if (bpf_map_update_elem(fmap, &k, val, BPF_ANY)) {
			fprintf(stderr, "pktgen: frames map: %s\n", strerror(errno));
			return -1;
		}
	}
	free(val);

	p[n++] = MOV_R(6, 1);                           /* r6 = ctx */
	p[n++] = ST_K(BPF_W, 10, -4, 0);                /* key = 0 */
	p[n++] = MOV_R(2, 10);
	p[n++] = ALU_K(BPF_ADD, 2, -4);
	p[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, state);
	p[n++] = insn(0, 0, 0, 0, 0);
	p[n++] = CALL(BPF_FUNC_map_lookup_elem);
	drop_at[nd++] = n;
	p[n++] = JEQ_K(0, 0, 0);                        /* !state: drop */
	p[n++] = LDX(BPF_DW, 7, 0, 0);                  /* r7 = counter */
	p[n++] = MOV_R(1, 7);
	p[n++] = ALU_K(BPF_ADD, 1, 1);
	p[n++] = STX(BPF_DW, 0, 1, 0);                  /* counter + 1 */
	p[n++] = ALU_K(BPF_MOD, 7, (__s32)nframes);
	p[n++] = STX(BPF_W, 10, 7, -4);                 /* key = i */
	p[n++] = MOV_R(2, 10);
	p[n++] = ALU_K(BPF_ADD, 2, -4);
	p[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, fmap);
	p[n++] = insn(0, 0, 0, 0, 0);
	p[n++] = CALL(BPF_FUNC_map_lookup_elem);
	drop_at[nd++] = n;
	p[n++] = JEQ_K(0, 0, 0);
	p[n++] = MOV_R(8, 0);                           /* r8 = slot */
	p[n++] = MOV_R(1, 6);
	p[n++] = MOV_K(2, 0);
	p[n++] = MOV_R(3, 8);
	p[n++] = ALU_K(BPF_ADD, 3, 8);
	p[n++] = MOV_K(4, (__s32)maxlen);
	p[n++] = CALL(BPF_FUNC_xdp_store_bytes);
	drop_at[nd++] = n;
	p[n++] = JNE_K(0, 0, 0);
	p[n++] = LDX(BPF_W, 2, 8, 0);                   /* r2 = len */
	p[n++] = ALU_K(BPF_SUB, 2, (__s32)maxlen);
	p[n++] = MOV_R(1, 6);
	p[n++] = CALL(BPF_FUNC_xdp_adjust_tail);
	drop_at[nd++] = n;
	p[n++] = JNE_K(0, 0, 0);
	p[n++] = MOV_K(1, ifindex);
	p[n++] = MOV_K(2, 0);
	p[n++] = CALL(BPF_FUNC_redirect);
	p[n++] = EXIT();
	for (int j = 0; j < nd; j++)
		p[drop_at[j]].off = (__s16)(n - drop_at[j] - 1);
	p[n++] = MOV_K(0, XDP_DROP);
	p[n++] = EXIT();

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "pg_live", "GPL", p, (size_t)n, &lo);
	if (fd < 0) {
		lo.log_level = 1;
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "pg_live", "GPL", p, (size_t)n, &lo);
		fprintf(stderr, "pktgen: loading the live-frames program: %s\n%s\n",
			strerror(errno), log);
		return -1;
	}
	close(state);   /* the program holds the maps */
	close(fmap);
	return fd;
}

static void *work_live(void *arg)
{
	struct worker *w = arg;
	size_t maxlen = 0;
	unsigned char buf[MAX_FRAME];
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (size_t i = 0; i < nframes; i++)
		if (frames[i].len > maxlen)
			maxlen = frames[i].len;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, frames[0].data, frames[0].len);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
			    .data_size_in = (__u32)maxlen, .repeat = repeat,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = (__u32)batch);

		if (bpf_prog_test_run_opts(live_prog, &o)) {
			if (errno == EINTR)
				break;  /* a signal: stop */
			w->errors++;
			w->err = errno;
			break;
		}
		w->sent += repeat;
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: pktgen -i IFACE -f FRAMES [-d SECONDS] [-c FIRST_CPU] "
		"[-t THREADS] [-b BATCH] [-m af_packet|live] [-r REPEAT] [-o]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *path = NULL;
	double secs = 3, t0, t1;
	int threads = 1, first_cpu = 0, opt;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long sent = 0, errors = 0;
	struct worker *w;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "i:f:d:c:t:b:m:r:o")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'f': path = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'c': first_cpu = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'm':
			if (!strcmp(optarg, "live"))
				live = 1;
			else if (strcmp(optarg, "af_packet"))
				usage();
			break;
		case 'r': repeat = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': once = 1; break;
		default: usage();
		}
	}
	if (!ifname || !path || secs <= 0 || threads < 1 || threads > 64 ||
	    batch < 1 || batch > 1024 || repeat < 1 || (live && batch > 256) ||
	    (once && (live || threads != 1)))
		usage();
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "pktgen: no interface %s\n", ifname);
		return 1;
	}
	if (load_frames(path))
		return 1;
	if (live) {
		size_t maxlen = 0;

		for (size_t i = 0; i < nframes; i++)
			if (frames[i].len > maxlen)
				maxlen = frames[i].len;
		live_prog = live_setup(maxlen);
		if (live_prog < 0)
			return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	w = calloc((size_t)threads, sizeof(*w));
	if (!w)
		return 1;
	t0 = now();
	for (int i = 0; i < threads; i++) {
		w[i].cpu = (int)((first_cpu + i) % (ncpu > 0 ? ncpu : 1));
		w[i].start = (size_t)i * nframes / (size_t)threads;
		if (pthread_create(&w[i].th, NULL, live ? work_live : work, &w[i])) {
			fprintf(stderr, "pktgen: pthread_create failed\n");
			return 1;
		}
	}
	while (!atomic_load(&stop) && now() - t0 < secs)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		sent += w[i].sent;
		errors += w[i].errors;
		if (w[i].err)
			fprintf(stderr, "pktgen: thread %d: %s\n", i, strerror(w[i].err));
	}
	t1 = now();
	printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,"
	       "\"frames\":%zu,\"threads\":%d,\"batch\":%d,\"source\":\"%s\"}\n",
	       sent, errors, t1 - t0, sent / (t1 - t0), nframes, threads, batch,
	       live ? "xdp-live-frames" : "af_packet");
	for (int i = 0; i < threads; i++)
		if (w[i].err)
			return 1;
	if (once && sent != nframes) {
		fprintf(stderr, "pktgen: -o: sent %llu of %zu frames in %.1f s\n",
			sent, nframes, secs);
		return 1;
	}
	return 0;
}
