// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_atomic_file.c - write_file_atomic (content, mode, replacement, no
 * temporary left, errors), read_file_whole (limits), and the writers' lock
 * (lock_dir: exclusion, the bounded wait, the holder named, a directory
 * that is gone), in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

#include "util/util_atomic_file.h"
#include "dataplane/dataplane_lock.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ixdp-atomic.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	remove_tree(dir);
	return 0;
}

static void path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* How many entries the directory holds ("." and ".." aside). */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void assert_content(const char *path, const char *want)
{
	char *text, err[256];
	size_t len;

	assert_int_equal(read_file_whole(path, 1 << 20, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(text, want);
	free(text);
}

static void test_write_creates_with_mode(void **state)
{
	char path[128], err[256];
	struct stat st;

	path_of("config", path, sizeof(path));
	umask(077);
	assert_int_equal(write_file_atomic(path, "a = 1\n", 6, 0644, err, sizeof(err)), 0);
	assert_content(path, "a = 1\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);     /* not the umask's */
	assert_int_equal(entries(), 1);                 /* no temporary left */
}

static void test_write_replaces(void **state)
{
	char path[128], err[256];
	struct stat before, after;

	path_of("policy.yaml", path, sizeof(path));
	assert_int_equal(write_file_atomic(path, "old, longer text\n", 17, 0600, err,
					   sizeof(err)), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(write_file_atomic(path, "new\n", 4, 0600, err, sizeof(err)), 0);
	assert_content(path, "new\n");
	assert_int_equal(stat(path, &after), 0);
	/* a new inode renamed over the old one, not the old one rewritten */
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(entries(), 1);
}

static void test_write_empty(void **state)
{
	char path[128], err[256];
	struct stat st;

	path_of("empty", path, sizeof(path));
	assert_int_equal(write_file_atomic(path, "", 0, 0600, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_write_errors(void **state)
{
	char path[128], err[256] = "";

	/* no such directory: an error naming it, nothing created */
	snprintf(path, sizeof(path), "%s/missing/config", dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing"));
	/* the target is a directory: the rename fails, the old one stays, and
	 * the temporary file is removed */
	path_of("adir", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(write_file_atomic(path, "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "renaming"));
	assert_int_equal(entries(), 1);
	/* a path that names no file */
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a usable file name"));
}

static void test_read_limits(void **state)
{
	char path[128], err[256], *text;
	size_t len;

	path_of("f", path, sizeof(path));
	assert_int_equal(write_file_atomic(path, "12345678", 8, 0600, err, sizeof(err)), 0);
	assert_int_equal(read_file_whole(path, 8, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 8);
	free(text);
	assert_int_equal(read_file_whole(path, 7, &text, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than allowed"));
	assert_int_equal(read_file_whole(dir, 8, &text, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	path_of("none", path, sizeof(path));
	assert_int_equal(read_file_whole(path, 8, &text, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

/* A child that holds an flock on the directory until told (a byte on a
 * pipe); returns once it holds it. */
static pid_t hold_in_child(const char *d, int *release_fd)
{
	int ready[2], go[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(d, O_RDONLY | O_DIRECTORY);

		if (fd < 0 || flock(fd, LOCK_EX))
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*release_fd = go[1];
	return pid;
}

static void test_lock_excludes_and_names_holder(void **state)
{
	char err[512], want[64];
	int release, fd, status;
	pid_t pid = hold_in_child(dir, &release);

	assert_int_equal(lock_dir(dir, false, 50, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is locked by"));
	snprintf(want, sizeof(want), "pid %d (", (int)pid);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "gave up after 0.050 s"));
	assert_int_equal(write(release, "g", 1), 1);
	close(release);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = lock_dir(dir, false, 1000, err, sizeof(err));
	assert_true(fd >= 0);
	unlock_dir(fd);
}

static void test_lock_missing_dir(void **state)
{
	char path[128], err[256];
	struct stat st;
	int fd;

	path_of("a/b", path, sizeof(path));
	assert_int_equal(lock_dir(path, false, 10, err, sizeof(err)), LOCK_NO_DIR);
	fd = lock_dir(path, true, 10, err, sizeof(err));        /* made, then locked */
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	unlock_dir(fd);
}

static void test_writer_lock_pair(void **state)
{
	char conf[128], root[128], err[512];
	struct writer_lock a, b;
	int release, status;
	pid_t pid;

	path_of("conf", conf, sizeof(conf));
	path_of("root", root, sizeof(root));
	/* no pin root yet: the configuration directory alone */
	assert_int_equal(writer_lock_acquire(&a, conf, root, 10, err, sizeof(err)), 0);
	assert_true(a.conf_fd >= 0);
	assert_int_equal(a.root_fd, -1);
	assert_int_equal(writer_lock_acquire(&b, conf, root, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, conf));
	writer_lock_release(&a);
	writer_lock_release(&a);        /* twice is harmless */
	/* the pin root held elsewhere: nothing stays held after the failure */
	assert_int_equal(mkdir(root, 0700), 0);
	pid = hold_in_child(root, &release);
	assert_int_equal(writer_lock_acquire(&a, conf, root, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, root));
	assert_int_equal(a.conf_fd, -1);
	b.conf_fd = lock_dir(conf, false, 0, err, sizeof(err));
	assert_true(b.conf_fd >= 0);
	unlock_dir(b.conf_fd);
	assert_int_equal(write(release, "g", 1), 1);
	close(release);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(writer_lock_acquire(&a, conf, root, 1000, err, sizeof(err)), 0);
	assert_true(a.conf_fd >= 0 && a.root_fd >= 0);
	writer_lock_release(&a);
}

static void test_lock_wait_from_env(void **state)
{
	setenv("IPSEC_XDP_LOCK_WAIT", "2", 1);
	assert_int_equal(lock_wait_ms(), 2000);
	setenv("IPSEC_XDP_LOCK_WAIT", "0", 1);
	assert_int_equal(lock_wait_ms(), 0);
	setenv("IPSEC_XDP_LOCK_WAIT", "soon", 1);
	assert_int_equal(lock_wait_ms(), LOCK_WAIT_DEFAULT_S * 1000);
	setenv("IPSEC_XDP_LOCK_WAIT", "99999", 1);
	assert_int_equal(lock_wait_ms(), LOCK_WAIT_DEFAULT_S * 1000);
	unsetenv("IPSEC_XDP_LOCK_WAIT");
	assert_int_equal(lock_wait_ms(), LOCK_WAIT_DEFAULT_S * 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_creates_with_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_excludes_and_names_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_lock_pair, setup, teardown),
		cmocka_unit_test(test_lock_wait_from_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
