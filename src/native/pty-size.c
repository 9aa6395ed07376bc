/*
 * A Node-API addon that sets a terminal's size on the pty master conmon holds, so that a resize
 * has taken effect when the API answers (Docker's shim resizes the console before it answers).
 * conmon's own way, a line on its ctl fifo, is applied a main-loop turn or two later: input the
 * client sends right after the resize could reach the process first (`read; stty size` saw the
 * old size). lib/pty-size.ts loads it; runtime/conmon-io.ts uses it.
 *
 *   pidfdOpen(pid)                       -> a pidfd (the caller closes it), or -errno
 *   setPtySize(pidfd, fd, rows, cols)    -> 0, or errno
 *
 * setPtySize copies the process's descriptor `fd` (pidfd_getfd, Linux 5.6) and sets the size only
 * if it is a pty master (the ptmx device, 5:2), so a descriptor that changed since the caller
 * looked is never touched. Both take the syscall numbers of the generic table where the libc
 * headers are older than the calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int int_args(napi_env env, napi_callback_info info, size_t want, int64_t *out) {
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -1;
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok) return -1;
  }
  return 0;
}

static napi_value int_result(napi_env env, int64_t v) {
  napi_value result;
  if (napi_create_int64(env, v, &result) != napi_ok) return NULL;
  return result;
}

static napi_value pidfd_open_js(napi_env env, napi_callback_info info) {
  int64_t a[1];
  if (int_args(env, info, 1, a) != 0 || a[0] <= 0) {
    napi_throw_type_error(env, NULL, "pidfdOpen(pid)");
    return NULL;
  }
  long fd = syscall(SYS_pidfd_open, (pid_t)a[0], 0);
  return int_result(env, fd < 0 ? -errno : fd);
}

static napi_value set_pty_size_js(napi_env env, napi_callback_info info) {
  int64_t a[4];
  if (int_args(env, info, 4, a) != 0 || a[0] < 0 || a[1] < 0 || a[2] < 0 || a[3] < 0) {
    napi_throw_type_error(env, NULL, "setPtySize(pidfd, fd, rows, cols)");
    return NULL;
  }
  long fd = syscall(SYS_pidfd_getfd, (int)a[0], (int)a[1], 0);
  if (fd < 0) return int_result(env, errno);
  int err = 0;
  struct stat st;
  if (fstat((int)fd, &st) != 0) {
    err = errno;
  } else if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
    err = ENOTTY;
  } else {
    struct winsize ws = { .ws_row = (unsigned short)a[2], .ws_col = (unsigned short)a[3] };
    if (ioctl((int)fd, TIOCSWINSZ, &ws) != 0) err = errno;
  }
  close((int)fd);
  return int_result(env, err);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "pidfdOpen", NAPI_AUTO_LENGTH, pidfd_open_js, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "pidfdOpen", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "setPtySize", NAPI_AUTO_LENGTH, set_pty_size_js, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "setPtySize", fn) != napi_ok) return NULL;
  return exports;
}
