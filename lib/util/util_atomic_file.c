// SPDX-License-Identifier: GPL-2.0-only
/* util_atomic_file.c - see atomic_file.h. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util_atomic_file.h"
#include "util/util_errbuf.h"

/* The directory part of path ("." when there is none). */
static int dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return snprintf(dir, len, ".") >= (int)len ? -1 : 0;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

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

/* So that the rename itself survives a crash. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* Fill the temporary file and make it durable; closes fd.  gid: its
 * group, or (gid_t)-1 for the one it got. */
static int fill_temp(int fd, const char *tmp, const void *data, size_t len,
		     mode_t mode, gid_t gid, char *err, size_t errlen)
{
	if ((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid)) ||
	    fchmod(fd, mode) || write_all(fd, data, len) || fsync(fd)) {
		errbuf_set(err, errlen, "writing %s: %s", tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd))
		return errbuf_set(err, errlen, "writing %s: %s", tmp, strerror(errno));
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len,
		      mode_t mode, char *err, size_t errlen)
{
	return write_file_atomic_group(path, data, len, mode, (gid_t)-1, err,
				       errlen);
}

int write_file_atomic_group(const char *path, const void *data, size_t len,
			    mode_t mode, gid_t gid, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *base = strrchr(path, '/');
	int fd;

	base = base ? base + 1 : path;
	if (!*base || dir_of(path, dir, sizeof(dir)) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(tmp))
		return errbuf_set(err, errlen, "%s: not a usable file name", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(err, errlen, "creating a file in %s: %s", dir,
				  strerror(errno));
	if (fill_temp(fd, tmp, data, len, mode, gid, err, errlen)) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		errbuf_set(err, errlen, "renaming %s to %s: %s", tmp, path,
			   strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (sync_dir(dir))
		return errbuf_set(err, errlen, "%s written, but syncing %s failed: %s",
				  path, dir, strerror(errno));
	return 0;
}

int read_file_whole(const char *path, size_t max, char **data, size_t *len,
		    char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;
	struct stat st;
	char *buf;

	if (fd < 0)
		return errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errbuf_set(err, errlen, "%s: %s", path, S_ISREG(st.st_mode)
			   ? "larger than allowed" : "not a regular file");
		close(fd);
		return -1;
	}
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return errbuf_set(err, errlen, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, max + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && used + (size_t)n > max)) {
			errbuf_set(err, errlen, "%s: %s", path, n < 0 ? strerror(errno)
				   : "larger than allowed");
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return 0;
}

int make_dirs(const char *dir, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		snprintf(errbuf, errlen, "%s: path too long", dir);
		return -1;
	}
	for (char *p = path + 1; ; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			snprintf(errbuf, errlen, "creating %s: %s", path,
				 strerror(errno));
			return -1;
		}
		if (end)
			break;
		*p = '/';
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: not a directory", dir);
		return -1;
	}
	return 0;
}
