/** A minimal busybox rootfs for runtime tests and benchmarks (busybox-static, passwd with root and nobody). */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'true', 'false', 'id', 'ls', 'stty', 'ps', 'grep', 'wc', 'head'];

export async function makeBusyboxRootfs(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/nobody']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  execFileSync('chmod', ['755', join(rootfs, 'bin/busybox')]);
  for (const a of APPLETS) await symlink('busybox', join(rootfs, 'bin', a));
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/false\n');
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n');
  return rootfs;
}
