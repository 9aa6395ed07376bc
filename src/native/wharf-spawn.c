/*
 * wharf-spawn: wharfd's spawn helper. It starts the system tools the daemon runs to completion
 * (mount, umount, ip, iptables-restore, nsenter…) and the long-lived conmon processes, and
 * talks to the daemon over its stdin and stdout in the frames that src/lib/spawn-frames.ts
 * describes.
 *
 * Written in C for speed: posix_spawn starts a program with vfork semantics in about a
 * millisecond, whatever the size of the caller, and the mounts of a run are made here without
 * a program at all. Node's spawn forks (copying the page tables of
 * the process) and waits for the exec on its only thread: 6-9 ms per tool here, one tool at a
 * time, and several tools lie on the critical path of every `docker run`.
 *
 * Requests are served in order of arrival and never wait for each other. When the daemon goes
 * away (EOF on stdin), the tools already running are left to finish, then the helper exits.
 * Needs glibc 2.29 (posix_spawn_file_actions_addchdir_np) and Linux.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlink-links.h"

extern char **environ;

enum { MAX_PIPES = 16, MAX_FRAME = 256 << 20, READ_CHUNK = 64 << 10 };

struct buf {
	unsigned char *p;
	size_t len, cap;
};

/* A tool run to completion: its output is collected and sent with its exit status. */
struct job {
	struct job *next;
	uint32_t id;
	pid_t pid;
	int in, out, err; /* the helper's ends; -1 once closed */
	struct buf input;
	size_t input_off;
	struct buf out_buf, err_buf;
	int exited, status;
	int syscall; /* a forked copy of the helper that made one system call: its exit status is the errno */
};

static struct job *jobs;
static int daemon_gone;
/* Pipe ends of detached processes, kept until the daemon has opened its own (release request). */
static int held[1024];
static size_t n_held;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("wharf-spawn: out of memory\n", stderr);
		_exit(70);
	}
	return p;
}

static void buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void buf_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };
	buf_add(b, c, 4);
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void send_frame(struct buf *body)
{
	unsigned char len[4] = { body->len & 0xff, (body->len >> 8) & 0xff, (body->len >> 16) & 0xff, (body->len >> 24) & 0xff };
	struct buf f = { 0 };
	buf_add(&f, len, 4);
	buf_add(&f, body->p, body->len);
	size_t off = 0;
	while (!daemon_gone && off < f.len) {
		ssize_t n = write(1, f.p + off, f.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN) {
				struct pollfd w = { .fd = 1, .events = POLLOUT };
				poll(&w, 1, -1);
				continue;
			}
			daemon_gone = 1; /* EPIPE: nobody to answer */
			break;
		}
		off += (size_t)n;
	}
	buf_free(&f);
	buf_free(body);
}

static void reply_error(uint32_t id, int err)
{
	struct buf b = { 0 };
	buf_u32(&b, id);
	buf_add(&b, "e", 1);
	buf_u32(&b, (uint32_t)err);
	send_frame(&b);
}

static void reply_exit(struct job *j)
{
	if (j->syscall && WIFEXITED(j->status) && WEXITSTATUS(j->status)) {
		const char *msg = strerror(WEXITSTATUS(j->status));
		buf_add(&j->err_buf, msg, strlen(msg));
	}
	struct buf b = { 0 };
	buf_u32(&b, j->id);
	buf_add(&b, "x", 1);
	buf_u32(&b, WIFEXITED(j->status) ? (uint32_t)WEXITSTATUS(j->status) : UINT32_MAX);
	buf_u32(&b, WIFSIGNALED(j->status) ? (uint32_t)WTERMSIG(j->status) : 0);
	buf_u32(&b, (uint32_t)j->out_buf.len);
	buf_add(&b, j->out_buf.p, j->out_buf.len);
	buf_u32(&b, (uint32_t)j->err_buf.len);
	buf_add(&b, j->err_buf.p, j->err_buf.len);
	send_frame(&b);
}

/* ---- request parsing ---------------------------------------------------------------------- */

struct cursor {
	const unsigned char *p, *end;
	int err; /* 0, or the errno that the request gets */
};

static uint32_t get_u32(struct cursor *c)
{
	if (c->end - c->p < 4) {
		c->err = EPROTO;
		return 0;
	}
	uint32_t v = c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	return v;
}

/* A NUL-terminated copy; a string with a NUL inside fails the request (the daemon checks first). */
static char *get_str(struct cursor *c)
{
	uint32_t n = get_u32(c);
	if (c->err || (size_t)(c->end - c->p) < n) {
		c->err = EPROTO;
		return NULL;
	}
	if (memchr(c->p, 0, n))
		c->err = EINVAL;
	char *s = xrealloc(NULL, (size_t)n + 1);
	memcpy(s, c->p, n);
	s[n] = 0;
	c->p += n;
	return s;
}

/* A NULL-terminated vector of `count` strings. */
static char **get_strv(struct cursor *c, uint32_t count)
{
	/* Each string takes at least its 4-byte length: a larger count is a broken frame. */
	if (c->err || count > (size_t)(c->end - c->p) / 4) {
		c->err = c->err ? c->err : EPROTO;
		return NULL;
	}
	char **v = xrealloc(NULL, ((size_t)count + 1) * sizeof(char *));
	for (uint32_t i = 0; i < count; i++)
		v[i] = get_str(c);
	v[count] = NULL;
	return v;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **s = v; *s; s++)
		free(*s);
	free(v);
}

/* ---- spawning ----------------------------------------------------------------------------- */

/* Moves `fd` to at least `min`, so that the dup2 of one pipe end never lands on another. */
static int fd_at_least(int fd, int min)
{
	if (fd >= min)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, min);
	int saved = errno;
	close(fd);
	errno = saved;
	return moved;
}

static int make_pipe(int p[2], int min)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	p[0] = fd_at_least(p[0], min);
	p[1] = fd_at_least(p[1], min);
	if (p[0] < 0 || p[1] < 0) {
		int saved = errno;
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * The child starts with every signal at its default and none blocked (the helper ignores SIGPIPE
 * and blocks SIGCHLD), in `cwd` when one is given, in a session of its own when detached.
 */
static int spawn(pid_t *pid, const char *file, const char *cwd, char **argv, char **envp, posix_spawn_file_actions_t *fa, int detached)
{
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	/*
	 * Every bit, glibc's own signals (32, 33) too: sigfillset leaves them out, and for a signal
	 * outside this set posix_spawn makes them SIG_IGN in the child, which an exec keeps.
	 */
	memset(&all, 0xff, sizeof all);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (detached ? POSIX_SPAWN_SETSID : 0));
	if (cwd && *cwd)
		posix_spawn_file_actions_addchdir_np(fa, cwd);
	/* PATH is searched in the helper's environment, which is the daemon's. */
	int rc = posix_spawnp(pid, file, fa, &at, argv, envp ? envp : environ);
	posix_spawnattr_destroy(&at);
	return rc;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/*
 * As spawn() for a tool run to completion, but inside the network namespace bound at `netns`
 * (what `nsenter --net=<netns> <tool>` does, without the nsenter process): posix_spawn cannot
 * enter a namespace, so this is a fork of the helper (small: a fraction of a millisecond) that
 * joins it, sets its descriptors, signals and cwd, and execs. An error before or at the exec
 * comes back through a close-on-exec pipe, as posix_spawn reports it.
 */
static int spawn_in_netns(pid_t *pid, const char *netns, const char *file, const char *cwd, char **argv, int in, int out, int err)
{
	int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return errno;
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0) {
		int saved = errno;
		close(nsfd);
		return saved;
	}
	pid_t child = fork();
	if (child == 0) {
		int e = 0;
		if (setns(nsfd, CLONE_NEWNET) < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || (*cwd && chdir(cwd) < 0)) {
			e = errno;
		} else {
			sigset_t none;
			sigemptyset(&none);
			for (int sig = 1; sig < NSIG; sig++)
				signal(sig, SIG_DFL); /* SIGKILL, SIGSTOP and glibc's own refuse: an exec resets those */
			sigprocmask(SIG_SETMASK, &none, NULL);
			execvp(file, argv);
			e = errno;
		}
		while (write(report[1], &e, sizeof e) < 0 && errno == EINTR)
			;
		_exit(127);
	}
	int saved = errno;
	close(nsfd);
	close(report[1]);
	if (child < 0) {
		close(report[0]);
		return saved;
	}
	int e = 0;
	ssize_t n;
	while ((n = read(report[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (n == sizeof e) {
		waitpid(child, NULL, 0);
		return e;
	}
	*pid = child;
	return 0;
}

static struct job *add_job(uint32_t id, pid_t pid)
{
	struct job *j = xrealloc(NULL, sizeof *j);
	memset(j, 0, sizeof *j);
	j->id = id;
	j->pid = pid;
	j->in = j->out = j->err = -1;
	j->next = jobs;
	jobs = j;
	return j;
}

/* 'r': str file, str cwd, str netns ('' for the helper's own), u32 argc, str argv[argc], u32 n, input[n]. */
static void start_job(uint32_t id, struct cursor *c)
{
	char *file = get_str(c), *cwd = get_str(c), *netns = get_str(c);
	char **argv = get_strv(c, get_u32(c));
	uint32_t n = get_u32(c);
	if (!c->err && (size_t)(c->end - c->p) < n)
		c->err = EPROTO;
	if (c->err) {
		reply_error(id, c->err);
		goto out;
	}
	int in[2], out[2], err[2];
	if (make_pipe(in, 3) < 0) {
		reply_error(id, errno);
		goto out;
	}
	if (make_pipe(out, 3) < 0) {
		reply_error(id, errno);
		close(in[0]), close(in[1]);
		goto out;
	}
	if (make_pipe(err, 3) < 0) {
		reply_error(id, errno);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		goto out;
	}
	pid_t pid;
	int rc;
	if (*netns) {
		rc = spawn_in_netns(&pid, netns, file, cwd, argv, in[0], out[1], err[1]);
	} else {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, err[1], 2);
		rc = spawn(&pid, file, cwd, argv, NULL, &fa, 0);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(in[0]), close(out[1]), close(err[1]);
	if (rc) {
		close(in[1]), close(out[0]), close(err[0]);
		reply_error(id, rc);
		goto out;
	}
	struct job *j = add_job(id, pid);
	j->in = in[1];
	j->out = out[0];
	j->err = err[0];
	buf_add(&j->input, c->p, n);
	set_nonblock(j->in);
	if (!n) {
		close(j->in); /* no input: EOF at once */
		j->in = -1;
	}
out:
	free(file);
	free(cwd);
	free(netns);
	free_strv(argv);
}

/*
 * 'd': str file, str cwd, u32 argc, str argv[argc], u32 envc, str env[envc], u32 n, dirs[n].
 * Started in a session of its own, stdin and stdout on /dev/null, and a pipe on each fd from 2
 * on: 'r' when the daemon reads what the process writes, 'w' when it writes what the process
 * reads. Answered with the pid and the helper's ends of the pipes, which the daemon opens again
 * through /proc and then has the helper close (the release request).
 */
static void start_detached(uint32_t id, struct cursor *c)
{
	char *file = get_str(c), *cwd = get_str(c);
	char **argv = get_strv(c, get_u32(c));
	char **envp = get_strv(c, get_u32(c));
	uint32_t n = get_u32(c);
	if (!c->err && (n > MAX_PIPES || (size_t)(c->end - c->p) < n))
		c->err = EPROTO;
	/* Too many ends held at once means the daemon stopped releasing them: refuse. */
	if (!c->err && n_held + n > sizeof held / sizeof held[0])
		c->err = EMFILE;
	if (c->err) {
		reply_error(id, c->err);
		goto out;
	}
	int ends[MAX_PIPES], theirs[MAX_PIPES];
	uint32_t made = 0;
	for (; made < n; made++) {
		int p[2];
		if (make_pipe(p, 2 + (int)n) < 0)
			break;
		int reads = c->p[made] == 'r';
		ends[made] = reads ? p[0] : p[1];
		theirs[made] = reads ? p[1] : p[0];
	}
	if (made < n) {
		int saved = errno;
		for (uint32_t i = 0; i < made; i++)
			close(ends[i]), close(theirs[i]);
		reply_error(id, saved);
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!n)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (uint32_t i = 0; i < n; i++)
		posix_spawn_file_actions_adddup2(&fa, theirs[i], 2 + (int)i);
	pid_t pid;
	int rc = spawn(&pid, file, cwd, argv, envp, &fa, 1);
	posix_spawn_file_actions_destroy(&fa);
	for (uint32_t i = 0; i < n; i++)
		close(theirs[i]);
	if (rc) {
		for (uint32_t i = 0; i < n; i++)
			close(ends[i]);
		reply_error(id, rc);
		goto out;
	}
	struct buf b = { 0 };
	buf_u32(&b, id);
	buf_add(&b, "p", 1);
	buf_u32(&b, (uint32_t)pid);
	buf_u32(&b, n);
	for (uint32_t i = 0; i < n; i++) {
		buf_u32(&b, (uint32_t)ends[i]);
		held[n_held++] = ends[i];
	}
	send_frame(&b);
out:
	free(file);
	free(cwd);
	free_strv(argv);
	free_strv(envp);
}

/* In a forked child only: joins the network namespace at `netns` and writes `data` to `path`. */
static int write_in_netns(const char *netns, const char *path, const char *data)
{
	int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(data);
	return write(fd, data, len) == (ssize_t)len ? 0 : -1;
}

/*
 * 's': one system call in a forked copy of the helper (a fork of this small process costs a
 * fraction of a millisecond; util-linux's mount and umount take 5-9 ms here, mostly reading the
 * mount table), answered like a tool whose exit status is the errno and stderr its text:
 * - 'm' mount(2): str cwd (relative paths in the options), str source, str target, str fstype,
 *   str data, u32 flags;
 * - 'u' umount2(2): str target, u32 flags;
 * - 'n' a new network namespace bound onto the file str target (as `unshare --net=target`);
 * - 'w' str data written to the file str target (a sysctl) inside the network namespace bound at
 *   str netns;
 * - 'v' a container's veth pair (netlink-links.c): str netns, str ifname, str peer, str mac,
 *   u32 mtu, str bridge, str addr4, str addr6, str gw4, str gw6 ('' for none of the last four: an
 *   IPv6-only network's endpoint has no IPv4 address);
 * - 'k' the link str target deleted (rtnetlink, as `ip link del`).
 * The call runs in the child so that one that hangs (a busy or dead filesystem) holds up nothing,
 * nor one that waits on the kernel (a veth's deletion waits for RCU grace periods).
 */
static void start_syscall(uint32_t id, struct cursor *c)
{
	unsigned char op = c->p < c->end ? *c->p++ : 0;
	char *cwd = NULL, *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
	char *veth[9] = { 0 };
	uint32_t flags = 0;
	if (op == 'v') {
		for (int i = 0; i < 4; i++)
			veth[i] = get_str(c);
		flags = get_u32(c); /* the MTU */
		for (int i = 4; i < 9; i++)
			veth[i] = get_str(c);
	} else if (op == 'k') {
		target = get_str(c);
	} else if (op == 'm') {
		cwd = get_str(c), source = get_str(c), target = get_str(c), fstype = get_str(c), data = get_str(c);
		flags = get_u32(c);
	} else if (op == 'u') {
		target = get_str(c);
		flags = get_u32(c);
	} else if (op == 'n') {
		target = get_str(c);
	} else if (op == 'w') {
		source = get_str(c), target = get_str(c), data = get_str(c);
	} else {
		c->err = EPROTO;
	}
	if (c->err) {
		reply_error(id, c->err);
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		reply_error(id, errno);
		goto out;
	}
	if (pid == 0) {
		int rc;
		if (op == 'm')
			rc = *cwd && chdir(cwd) < 0 ? -1 : mount(*source ? source : NULL, target, fstype, flags, *data ? data : NULL);
		else if (op == 'u')
			rc = umount2(target, (int)flags);
		else if (op == 'n')
			rc = unshare(CLONE_NEWNET) < 0 ? -1 : mount("/proc/self/ns/net", target, NULL, MS_BIND, NULL);
		else if (op == 'v')
			rc = veth_setup(&(struct veth_request){ veth[0], veth[1], veth[2], veth[3], flags, veth[4], veth[5], veth[6], veth[7], veth[8] });
		else if (op == 'k')
			rc = link_delete(target);
		else
			rc = write_in_netns(source, target, data);
		_exit(rc < 0 ? errno : 0);
	}
	add_job(id, pid)->syscall = 1;
out:
	free(cwd);
	free(source);
	free(target);
	free(fstype);
	free(data);
	for (int i = 0; i < 9; i++)
		free(veth[i]);
}

/* 'c': u32 n, u32 fds[n]. Only ends this helper holds for the daemon are closed. */
static void release(struct cursor *c)
{
	uint32_t n = get_u32(c);
	for (uint32_t i = 0; i < n && !c->err; i++) {
		int fd = (int)get_u32(c);
		for (size_t k = 0; k < n_held; k++) {
			if (held[k] != fd)
				continue;
			close(fd);
			held[k] = held[--n_held];
			break;
		}
	}
}

static void release_all(void)
{
	while (n_held)
		close(held[--n_held]);
}

/* One request frame's body: u32 id, u8 kind, then the kind's fields. */
static void serve(const unsigned char *p, size_t len)
{
	struct cursor c = { p, p + len, 0 };
	uint32_t id = get_u32(&c);
	if (c.err || c.p == c.end) {
		fputs("wharf-spawn: a request without a kind\n", stderr);
		return;
	}
	unsigned char kind = *c.p++;
	if (kind == 'r')
		start_job(id, &c);
	else if (kind == 'd')
		start_detached(id, &c);
	else if (kind == 's')
		start_syscall(id, &c);
	else if (kind == 'c')
		release(&c);
	else
		reply_error(id, EPROTO);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void reap(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) > 0)
		;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		/* Not a job: a detached process's first process (conmon forks again and exits). */
		for (struct job *j = jobs; j; j = j->next) {
			if (j->pid == pid) {
				j->exited = 1;
				j->status = status;
				break;
			}
		}
	}
}

static void drain(int *fd, struct buf *into)
{
	unsigned char chunk[READ_CHUNK];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n > 0) {
		buf_add(into, chunk, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	close(*fd);
	*fd = -1;
}

static void feed(struct job *j)
{
	ssize_t n = write(j->in, j->input.p + j->input_off, j->input.len - j->input_off);
	if (n > 0)
		j->input_off += (size_t)n;
	else if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* Written whole, or the tool stopped reading (EPIPE): its exit status tells what happened. */
	if (n <= 0 || j->input_off == j->input.len) {
		close(j->in);
		j->in = -1;
		buf_free(&j->input);
	}
}

static void finish_jobs(void)
{
	for (struct job **pp = &jobs; *pp;) {
		struct job *j = *pp;
		if (!j->exited || j->out >= 0 || j->err >= 0) {
			pp = &j->next;
			continue;
		}
		if (j->in >= 0)
			close(j->in);
		reply_exit(j);
		*pp = j->next;
		buf_free(&j->input);
		buf_free(&j->out_buf);
		buf_free(&j->err_buf);
		free(j);
	}
}

/* Serves every complete frame in `in` and keeps the rest. */
static void serve_frames(struct buf *in)
{
	size_t off = 0;
	while (in->len - off >= 4) {
		const unsigned char *p = in->p + off;
		uint32_t len = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		if (len > MAX_FRAME) {
			fprintf(stderr, "wharf-spawn: a request of %u bytes: the stream is out of step\n", len);
			exit(2);
		}
		if (in->len - off - 4 < len)
			break;
		serve(p + 4, len);
		off += 4 + (size_t)len;
	}
	memmove(in->p, in->p + off, in->len - off);
	in->len -= off;
}

/* Descriptors the daemon inherited without close-on-exec (a shell's, a service manager's). */
static void close_inherited(void)
{
#ifdef SYS_close_range /* the system call, not glibc's wrapper: that one needs glibc 2.34 */
	if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
		return;
#endif
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close((int)fd);
}

int main(void)
{
	close_inherited();
	signal(SIGPIPE, SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("wharf-spawn: signalfd");
		return 1;
	}
	struct buf in = { 0 };
	int reading = 1;
	struct pollfd *fds = NULL;
	struct job **owner = NULL;
	size_t cap = 0;
	for (;;) {
		if (!reading && !jobs)
			return 0;
		size_t need = 2;
		for (struct job *j = jobs; j; j = j->next)
			need += 3;
		if (need > cap) {
			cap = need * 2;
			fds = xrealloc(fds, cap * sizeof *fds);
			owner = xrealloc(owner, cap * sizeof *owner);
		}
		size_t nfds = 0;
		fds[nfds] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		owner[nfds++] = NULL;
		if (reading) {
			fds[nfds] = (struct pollfd){ .fd = 0, .events = POLLIN };
			owner[nfds++] = NULL;
		}
		for (struct job *j = jobs; j; j = j->next) {
			if (j->out >= 0)
				fds[nfds] = (struct pollfd){ .fd = j->out, .events = POLLIN }, owner[nfds++] = j;
			if (j->err >= 0)
				fds[nfds] = (struct pollfd){ .fd = j->err, .events = POLLIN }, owner[nfds++] = j;
			if (j->in >= 0)
				fds[nfds] = (struct pollfd){ .fd = j->in, .events = POLLOUT }, owner[nfds++] = j;
		}
		if (poll(fds, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("wharf-spawn: poll");
			return 1;
		}
		for (size_t i = 0; i < nfds; i++) {
			if (!fds[i].revents)
				continue;
			struct job *j = owner[i];
			if (!j && fds[i].fd == sfd) {
				reap(sfd);
			} else if (!j) {
				unsigned char chunk[READ_CHUNK];
				ssize_t n = read(0, chunk, sizeof chunk);
				if (n > 0) {
					buf_add(&in, chunk, (size_t)n);
					serve_frames(&in);
				} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
					/* The daemon is gone: what runs finishes, nothing is answered. */
					reading = 0;
					daemon_gone = 1;
					release_all();
				}
			} else if (fds[i].fd == j->out) {
				drain(&j->out, &j->out_buf);
			} else if (fds[i].fd == j->err) {
				drain(&j->err, &j->err_buf);
			} else if (fds[i].fd == j->in) {
				feed(j);
			}
		}
		finish_jobs();
	}
}
