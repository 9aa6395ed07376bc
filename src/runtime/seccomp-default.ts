/**
 * Wharf's default seccomp profile and the conversion of Docker-format profiles
 * (`--security-opt seccomp=<json>`) to the OCI form runc reads.
 *
 * Intent (as Docker's): deny by default with EPERM, allow what ordinary programs use, and
 * open the dangerous calls (kernel modules, kexec, mount, namespaces, bpf, perf, ptrace,
 * clock setting...) only when the container holds the capability that already guards them.
 * The keyring calls stay blocked: the kernel keyring is not namespaced.
 * runc skips syscall names the running kernel/arch does not know, so one list serves all arches.
 */
import { release } from 'node:os';
import { systemError } from '../lib/errors.js';
import type { OciSeccomp } from './oci-spec.js';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** When a rule applies: capabilities, arches, and (minKernel, "major.minor") the running kernel. */
interface RuleFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  names?: string[];
  /** Profiles written before `names`: one syscall (moby still reads it). */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
  /** The rule applies only when the container has all these capabilities / runs on these arches / kernels. */
  includes?: RuleFilter;
  /** The rule does not apply when the container has any of these capabilities / runs on these arches / kernels. */
  excludes?: RuleFilter;
}

/** Docker's seccomp profile file format (the subset Wharf understands). */
export interface SeccompProfile {
  /** Empty, with no syscalls listed: no seccomp at all (moby's setupSeccomp). */
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  syscalls?: SeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;

/** Namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

const ALWAYS_ALLOWED: string[] = [
  // files and descriptors
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'open', 'openat', 'openat2', 'close', 'close_range', 'creat', 'lseek', '_llseek',
  'dup', 'dup2', 'dup3', 'pipe', 'pipe2', 'fcntl', 'fcntl64', 'flock', 'ioctl',
  'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'truncate', 'truncate64', 'ftruncate', 'ftruncate64',
  'fallocate', 'fadvise64', 'fadvise64_64', 'arm_fadvise64_64', 'readahead',
  'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range',
  'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'newfstatat', 'fstatat64', 'statx',
  'statfs', 'statfs64', 'fstatfs', 'fstatfs64', 'ustat', 'sysfs',
  'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents', 'getdents64', 'getcwd',
  'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2',
  'link', 'linkat', 'symlink', 'symlinkat', 'unlink', 'unlinkat',
  'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32',
  'umask', 'utime', 'utimes', 'utimensat', 'utimensat_time64', 'futimesat', 'mknod', 'mknodat',
  'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr',
  'listxattr', 'llistxattr', 'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
  'memfd_create', 'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
  'io_setup', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_submit', 'io_cancel',
  // polling and event descriptors
  'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
  'eventfd', 'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_settime64',
  'timerfd_gettime', 'timerfd_gettime64',
  // memory
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'pkey_mprotect', 'pkey_alloc', 'pkey_free',
  'madvise', 'mincore', 'mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall', 'msync', 'remap_file_pages', 'membarrier',
  // processes, threads, identity
  'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'waitpid',
  'kill', 'tkill', 'tgkill', 'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid',
  'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32',
  'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32',
  'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'getresuid', 'getresuid32', 'getresgid', 'getresgid32',
  'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'getgroups', 'getgroups32', 'setgroups', 'setgroups32',
  'capget', 'capset', 'prctl', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq',
  'futex', 'futex_time64', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue',
  'get_thread_area', 'set_thread_area', 'set_tls', 'cacheflush', 'breakpoint', 'riscv_flush_icache',
  'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam',
  'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
  'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_getattr', 'sched_setattr',
  'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set', 'getcpu',
  'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times', 'uname', 'sysinfo',
  'pidfd_open', 'pidfd_send_signal', 'seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
  'sethostname', 'setdomainname',
  // signals and time
  'restart_syscall', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigpending',
  'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo',
  'sigaltstack', 'signal', 'sigreturn', 'sigprocmask', 'sigsuspend', 'sigpending', 'pause', 'alarm',
  'nanosleep', 'clock_nanosleep', 'clock_nanosleep_time64', 'clock_gettime', 'clock_gettime64',
  'clock_getres', 'clock_getres_time64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex', 'gettimeofday', 'time',
  'getitimer', 'setitimer', 'timer_create', 'timer_settime', 'timer_settime64', 'timer_gettime', 'timer_gettime64',
  'timer_getoverrun', 'timer_delete', 'getrandom',
  // IPC (namespaced)
  'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64',
  'mq_notify', 'mq_getsetattr', 'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop',
  'semtimedop_time64', 'semctl', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'ipc',
  // sockets
  'socket', 'socketpair', 'bind', 'connect', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername',
  'sendto', 'recvfrom', 'send', 'recv', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'recvmmsg_time64',
  'setsockopt', 'getsockopt', 'shutdown', 'socketcall',
];

/** Calls opened by a capability the container holds (the kernel checks the same capability). */
const BY_CAPABILITY: Array<[cap: string, names: string[]]> = [
  ['CAP_SYS_ADMIN', [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
    'mount', 'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'quotactl',
    'quotactl_fd', 'setns', 'syslog', 'umount', 'umount2', 'unshare', 'pivot_root', 'swapon', 'swapoff',
    'userfaultfd',
  ]],
  ['CAP_SYS_BOOT', ['reboot', 'kexec_load', 'kexec_file_load']],
  ['CAP_SYS_CHROOT', ['chroot']],
  ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
  ['CAP_SYS_PACCT', ['acct']],
  ['CAP_SYS_PTRACE', ['ptrace', 'kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev']],
  ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
  ['CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages']],
  ['CAP_SYSLOG', ['syslog']],
  ['CAP_BPF', ['bpf']],
  ['CAP_PERFMON', ['perf_event_open']],
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
];

/** personality(2) personas that change nothing dangerous: LINUX, LINUX32, UNAME26 (+32), and the query. */
const SAFE_PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: EPERM,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_RISCV64' },
    { architecture: 'SCMP_ARCH_PPC64LE' },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
  ],
  syscalls: [
    { names: ALWAYS_ALLOWED, action: 'SCMP_ACT_ALLOW' },
    ...SAFE_PERSONAS.map((p) => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }],
    })),
    // Without CAP_SYS_ADMIN, clone may not create namespaces...
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
    // ...and clone3 (whose flags seccomp cannot inspect) reports ENOSYS so libc falls back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    ...BY_CAPABILITY.map(([cap, names]) => ({ names, action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } })),
  ],
};

const NODE_ARCH_TO_SECCOMP: Record<string, string> = {
  x64: 'SCMP_ARCH_X86_64',
  ia32: 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  riscv64: 'SCMP_ARCH_RISCV64',
  ppc64: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
};

/** Go-style arch names, as Docker profiles spell them in includes/excludes. */
const NODE_ARCH_TO_GO: Record<string, string> = {
  x64: 'amd64', ia32: 'x86', arm64: 'arm64', arm: 'arm', riscv64: 'riscv64', ppc64: 'ppc64le', s390x: 's390x',
};

/** Whether the running kernel is at least `min` ("major.minor"), as moby's kernelGreaterEqualThan. */
function kernelAtLeast(min: string, kernel: string): boolean {
  const parse = (v: string, what: string) => {
    const m = /^(\d+)\.(\d+)/.exec(v);
    if (!m) throw systemError(`${what} ${JSON.stringify(v)}`);
    return [Number(m[1]), Number(m[2])] as const;
  };
  const [wantMajor, wantMinor] = parse(min, 'invalid kernel version:');
  const [major, minor] = parse(kernel, 'failed to parse kernel version');
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * Turns a Docker-format profile into the OCI `linux.seccomp` for a container holding `caps`,
 * on the host arch (`arch` as Node's process.arch), as moby's setupSeccomp: undefined for a
 * profile with neither a default action nor syscalls (no seccomp); a rule's `name` is one syscall
 * (with `names` too it is an error, as both `architectures` and `archMap` are); includes and
 * excludes filter by capabilities, arch and kernel.
 */
export function seccompToOci(profile: SeccompProfile, caps: string[], arch: string = process.arch, kernel: string = release()): OciSeccomp | undefined {
  if (!profile.defaultAction && !profile.syscalls?.length) return undefined;
  if (profile.architectures?.length && profile.archMap?.length) {
    throw systemError("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const seccompArch = NODE_ARCH_TO_SECCOMP[arch];
  const goArch = NODE_ARCH_TO_GO[arch] ?? arch;
  let architectures: string[] | undefined = profile.architectures;
  if (profile.archMap && seccompArch) {
    const entry = profile.archMap.find((a) => a.architecture === seccompArch);
    if (entry) architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  const have = new Set(caps);
  const syscalls: NonNullable<OciSeccomp['syscalls']> = [];
  for (const rule of profile.syscalls ?? []) {
    let names = rule.names ?? [];
    if (rule.name) {
      if (names.length) throw systemError("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
      names = [rule.name];
    }
    const ex = rule.excludes;
    if (ex?.arches?.includes(goArch)) continue;
    if (ex?.caps?.some((c) => have.has(c))) continue;
    if (ex?.minKernel && kernelAtLeast(ex.minKernel, kernel)) continue;
    const inc = rule.includes;
    if (inc?.arches?.length && !inc.arches.includes(goArch)) continue;
    if (inc?.caps?.length && !inc.caps.every((c) => have.has(c))) continue;
    if (inc?.minKernel && !kernelAtLeast(inc.minKernel, kernel)) continue;
    const out: NonNullable<OciSeccomp['syscalls']>[number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args?.length) out.args = rule.args.map((a) => ({ ...a, valueTwo: a.valueTwo ?? 0 }));
    syscalls.push(out);
  }
  const result: OciSeccomp = { defaultAction: profile.defaultAction, syscalls };
  if (profile.defaultErrnoRet !== undefined) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures?.length) result.architectures = architectures;
  return result;
}
