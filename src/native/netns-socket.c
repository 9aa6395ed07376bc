/*
 * A Node-API addon with one function, bindInNetns(netnsPath, tcp, ip, port): a socket made and
 * bound inside another network namespace, returned as a descriptor the caller wraps (dgram's
 * bind({ fd }), net's listen({ fd })). A socket belongs to the namespace it was made in for good,
 * so the daemon can serve the embedded DNS at 127.0.0.11:53 inside a container whose only network
 * has no path to the host (macvlan, ipvlan), as dockerd does. setns(CLONE_NEWNET) moves the
 * calling thread alone; the thread goes back before the function returns, and a thread that
 * cannot go back aborts the process rather than serve from the container's namespace.
 * Built by scripts/bundle-daemon.mjs; lib/netns-socket.ts loads it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[4400];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* Made and bound in the namespace the thread is in; -1 with errno set. */
static int make_bound(int tcp, struct in_addr addr, int port) {
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr};
  if ((tcp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static napi_value bind_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return fail(env, "bindInNetns(netnsPath, tcp, ip, port)", EINVAL);
  char path[4096], ip[64];
  size_t len;
  bool tcp;
  int32_t port;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) return fail(env, "netns path", EINVAL);
  if (napi_get_value_bool(env, argv[1], &tcp) != napi_ok) return fail(env, "tcp", EINVAL);
  if (napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &len) != napi_ok) return fail(env, "ip", EINVAL);
  if (napi_get_value_int32(env, argv[3], &port) != napi_ok || port < 0 || port > 65535) return fail(env, "port", EINVAL);
  struct in_addr addr;
  if (inet_pton(AF_INET, ip, &addr) != 1) return fail(env, "ip", EINVAL);

  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return fail(env, "open /proc/thread-self/ns/net", errno);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    return fail(env, path, e);
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int e = errno;
    close(target);
    close(self);
    return fail(env, "setns", e);
  }
  int fd = make_bound(tcp, addr, port);
  int err = errno;
  if (setns(self, CLONE_NEWNET) < 0) abort();
  close(target);
  close(self);
  if (fd < 0) return fail(env, tcp ? "tcp socket" : "udp socket", err);
  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "bindInNetns", NAPI_AUTO_LENGTH, bind_in_netns, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "bindInNetns", fn) != napi_ok) return NULL;
  return exports;
}
