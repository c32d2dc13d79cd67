// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_lock.c - see lockfile.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "util/util_errbuf.h"
#include "dataplane/dataplane_lock.h"

#define LOCK_WAIT_MAX_S 3600
#define POLL_MIN_MS 1
#define POLL_MAX_MS 25

unsigned lock_wait_ms(void)
{
	const char *s = getenv("IPSEC_XDP_LOCK_WAIT");
	char *end;
	long v;

	if (!s || !*s)
		return LOCK_WAIT_DEFAULT_S * 1000u;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > LOCK_WAIT_MAX_S)
		return LOCK_WAIT_DEFAULT_S * 1000u;
	return (unsigned)v * 1000u;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull +
	       (unsigned long long)ts.tv_nsec / 1000000ull;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* mkdir -p, mode 0755 for what is created. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

/* Read /proc/PID/cmdline as one line, argv[0] without its directory. */
static void describe_pid(int pid, char *buf, size_t len)
{
	char path[64], cmd[256];
	const char *start = cmd;
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "pid %d", pid);
		return;
	}
	cmd[n] = '\0';
	for (const char *p = cmd; *p; p++)
		if (*p == '/')
			start = p + 1;
	for (ssize_t i = 0; i < n - 1; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	snprintf(buf, len, "pid %d (%s)", pid, start);
}

/* The pid holding an flock on the inode (dev, ino), from /proc/locks;
 * 0 when none can be seen (another pid namespace, no /proc). */
static int holder_pid(dev_t dev, ino_t ino)
{
	FILE *fp = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;

	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp)) {
		char type[16], kind[16], mode[16];
		unsigned maj, min;
		unsigned long long i;
		int pid;

		if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%llu", type, kind,
			   mode, &pid, &maj, &min, &i) != 7)
			continue;
		if (!strcmp(type, "FLOCK") && maj == major(dev) &&
		    min == minor(dev) && i == (unsigned long long)ino && pid > 0)
			found = pid;
	}
	fclose(fp);
	return found;
}

void lock_holder(const char *dir, char *buf, size_t len)
{
	struct stat st;
	int pid = stat(dir, &st) ? 0 : holder_pid(st.st_dev, st.st_ino);

	if (pid > 0)
		describe_pid(pid, buf, len);
	else
		snprintf(buf, len, "another process");
}

/* Is fd still the directory at path?  (It may have been removed, or
 * removed and made again, while we waited.) */
static bool still_there(int fd, const char *dir)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(dir, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int busy_error(const char *dir, unsigned wait_ms, char *err, size_t errlen)
{
	char who[200];

	lock_holder(dir, who, sizeof(who));
	return errbuf_set(err, errlen, "%s is locked by %s, another writer; gave up "
			  "after %u.%03u s", dir, who, wait_ms / 1000, wait_ms % 1000);
}

/* One attempt: 1 locked (*fd), 0 busy (try again), LOCK_NO_DIR, -1 error. */
static int try_once(const char *dir, bool create, int *fd, char *err, size_t errlen)
{
	if (*fd < 0) {
		*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*fd < 0 && errno == ENOENT && create) {
			if (make_dirs(dir))
				return errbuf_set(err, errlen, "cannot create %s: %s",
						  dir, strerror(errno));
			*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		if (*fd < 0 && errno == ENOENT)
			return LOCK_NO_DIR;
		if (*fd < 0)
			return errbuf_set(err, errlen, "cannot open %s: %s", dir,
					  strerror(errno));
	}
	if (flock(*fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		return errbuf_set(err, errlen, "cannot lock %s: %s", dir, strerror(errno));
	}
	if (still_there(*fd, dir))
		return 1;
	close(*fd);     /* replaced meanwhile: lock the one there now */
	*fd = -1;
	return 0;
}

int lock_dir(const char *dir, bool create, unsigned wait_ms, char *err,
	     size_t errlen)
{
	unsigned long long start = now_ms();
	unsigned step = POLL_MIN_MS;
	int fd = -1;

	for (;;) {
		int r = try_once(dir, create, &fd, err, errlen);
		unsigned long long spent = now_ms() - start;

		if (r == 1)
			return fd;
		if (r < 0) {
			if (fd >= 0)
				close(fd);
			return r;
		}
		if (spent >= wait_ms) {
			if (fd >= 0)
				close(fd);
			return busy_error(dir, wait_ms, err, errlen);
		}
		sleep_ms((unsigned)(wait_ms - spent < step ? wait_ms - spent : step));
		if (step < POLL_MAX_MS)
			step *= 2;
	}
}

void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);  /* the flock goes with the last descriptor */
}

int writer_lock_acquire(struct writer_lock *l, const char *confdir,
			const char *root, unsigned wait_ms, char *err,
			size_t errlen)
{
	unsigned long long start = now_ms();
	unsigned long long spent;
	int fd;

	l->conf_fd = l->root_fd = -1;
	fd = lock_dir(confdir, true, wait_ms, err, errlen);
	if (fd < 0)
		return -1;
	l->conf_fd = fd;
	spent = now_ms() - start;
	fd = lock_dir(root, false, spent >= wait_ms ? 0 : (unsigned)(wait_ms - spent),
		      err, errlen);
	if (fd == -1) {
		writer_lock_release(l);
		return -1;
	}
	l->root_fd = fd < 0 ? -1 : fd;
	return 0;
}

void writer_lock_release(struct writer_lock *l)
{
	unlock_dir(l->root_fd);
	unlock_dir(l->conf_fd);
	l->root_fd = l->conf_fd = -1;
}
