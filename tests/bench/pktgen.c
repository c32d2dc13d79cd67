// SPDX-License-Identifier: GPL-2.0-only
/*
 * pktgen.c - a small packet generator for the packet-rate benchmark.
 *
 *   pktgen -i IFACE -f FRAMES [-d SECONDS] [-c FIRST_CPU] [-t THREADS] [-b BATCH]
 *
 * FRAMES holds precomputed Ethernet frames, one a line in hex (as written
 * by `filters frames`).  Each thread, pinned to its own CPU, sends them
 * round-robin through its own AF_PACKET socket with PACKET_QDISC_BYPASS,
 * BATCH frames per sendmmsg() call, until SECONDS have passed or SIGINT /
 * SIGTERM.  Prints one JSON line: frames sent, errors, seconds, rate.
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
		int n = sendmmsg(fd, &msgs[pos], (unsigned)batch, 0);

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: pktgen -i IFACE -f FRAMES [-d SECONDS] [-c FIRST_CPU] "
		"[-t THREADS] [-b BATCH]\n");
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

	while ((opt = getopt(argc, argv, "i:f:d:c:t:b:")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'f': path = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'c': first_cpu = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		default: usage();
		}
	}
	if (!ifname || !path || secs <= 0 || threads < 1 || threads > 64 ||
	    batch < 1 || batch > 1024)
		usage();
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "pktgen: no interface %s\n", ifname);
		return 1;
	}
	if (load_frames(path))
		return 1;
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
		if (pthread_create(&w[i].th, NULL, work, &w[i])) {
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
	       "\"frames\":%zu,\"threads\":%d,\"batch\":%d}\n",
	       sent, errors, t1 - t0, sent / (t1 - t0), nframes, threads, batch);
	for (int i = 0; i < threads; i++)
		if (w[i].err)
			return 1;
	return 0;
}
