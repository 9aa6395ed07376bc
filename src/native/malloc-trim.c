/*
 * A Node-API addon with one function, mallocTrim(): glibc's malloc_trim(0), which hands the pages
 * of freed memory back to the kernel. glibc keeps what a process frees for its next allocations
 * and returns only a free top of the heap; after a pull, the socket reads and the extraction
 * threads' buffers leave 80-100 MB free but resident below live data, and node has no call
 * that returns them. Built by scripts/bundle-daemon.mjs beside the bundle; lib/malloc-trim.ts
 * loads it. Without glibc (musl has no malloc_trim), mallocTrim() returns false.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value malloc_trim_js(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  if (napi_get_boolean(env, released != 0, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, malloc_trim_js, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "mallocTrim", fn) != napi_ok) return NULL;
  return exports;
}
