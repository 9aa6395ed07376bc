/**
 * `/proc/self/fd/<fd>`: the file behind an fd as a path the fs API accepts, and with `name`,
 * that name looked up in the directory behind it as openat(fd, name) would (the magic link goes
 * to the directory itself; only `name` is resolved). Valid on every thread of the process.
 */
export function fdPath(fh: { readonly fd: number }, name?: string): string {
  return name ? `/proc/self/fd/${fh.fd}/${name}` : `/proc/self/fd/${fh.fd}`;
}
