/*
 * A job's confinement on Linux (included by os-linux.c): applied in the job's process between its
 * fork and its exec, so that every process of the job inherits it and none can lift it.
 *
 *  - limits: the job joins the cgroups its server made and wrote its limits into ("join DIR": a
 *    cgroup v1 folder of the memory, pids or cpu controller; a move costs the kernel an RCU grace
 *    period, ~10 ms, unless another move came just before). The v2 one is the job's own cgroup,
 *    which it was born in (clone3): "in DIR" checks that, and joins it only if not;
 *  - sandbox ("sandbox workspace|read-only", "write PATH" for each writable path): Landlock
 *    (Linux 5.13+) handles every right that writes to the file system, and grants them below the
 *    writable paths only; reading and running stay free. Device files that programs write to as a
 *    matter of course (/dev/null, the job's terminal, ...) stay writable; /dev/shm too. From ABI 2
 *    a link or rename may not move a file out of the hierarchy it came from; from ABI 3 truncation
 *    is a write; from ABI 6 the job can signal only its own processes. A Landlocked process cannot
 *    mount, pivot_root or ptrace a process outside its domain;
 *  - network ("network 0"): a seccomp filter refuses socket() for every family but AF_UNIX and
 *    AF_NETLINK (EACCES): no TCP, UDP or raw packets, to anywhere, loopback included. io_uring is
 *    refused too (it can make sockets); 32-bit programs cannot make sockets at all.
 * What was asked and could not be applied fails the start (the server said what it would apply,
 * from `shepherd --confine-probe`): a job never runs with less than it was told it has.
 */
#include <sys/stat.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444 /* the same on every architecture */
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* linux/landlock.h, spelt out: not every libc's headers have it. */
struct ll_ruleset_attr {
  uint64_t handled_access_fs, handled_access_net, scoped;
};
struct ll_path_beneath {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
#define LL_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_WRITE_FILE (1ULL << 1)
#define LL_REMOVE_DIR (1ULL << 4)
#define LL_REMOVE_FILE (1ULL << 5)
#define LL_MAKE_CHAR (1ULL << 6)
#define LL_MAKE_DIR (1ULL << 7)
#define LL_MAKE_REG (1ULL << 8)
#define LL_MAKE_SOCK (1ULL << 9)
#define LL_MAKE_FIFO (1ULL << 10)
#define LL_MAKE_BLOCK (1ULL << 11)
#define LL_MAKE_SYM (1ULL << 12)
#define LL_REFER (1ULL << 13)
#define LL_TRUNCATE (1ULL << 14)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* The Landlock ABI this kernel offers: 0 if none (not built in, or disabled at boot). */
static int os_landlock_abi(void) {
  long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_VERSION);
  return abi < 0 ? 0 : (int)abi;
}

/* Every right that writes to the file system, as far as this ABI knows them. */
static uint64_t write_rights(int abi) {
  uint64_t r = LL_WRITE_FILE | LL_REMOVE_DIR | LL_REMOVE_FILE | LL_MAKE_CHAR | LL_MAKE_DIR | LL_MAKE_REG |
               LL_MAKE_SOCK | LL_MAKE_FIFO | LL_MAKE_BLOCK | LL_MAKE_SYM;
  if (abi >= 2) r |= LL_REFER;
  if (abi >= 3) r |= LL_TRUNCATE;
  return r;
}

/* Grants `rights` below `path` (on a file: the rights that apply to a file). A path that does not
   exist is skipped; -1 on any other failure. */
static int allow_below(int ruleset, const char *path, uint64_t rights, int abi) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= LL_WRITE_FILE | (abi >= 3 ? LL_TRUNCATE : 0);
  struct ll_path_beneath rule = {.allowed_access = rights, .parent_fd = fd};
  long r = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : 0;
}

static int landlock_writes(char **writable, int n) {
  int abi = os_landlock_abi();
  if (abi < 1) {
    errno = ENOSYS;
    return -1;
  }
  uint64_t rights = write_rights(abi);
  struct ll_ruleset_attr attr = {.handled_access_fs = rights, .scoped = abi >= 6 ? LL_SCOPE_SIGNAL : 0};
  size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) return -1;
  static const char *const devices[] = {"/dev/null", "/dev/zero",    "/dev/full", "/dev/tty",
                                        "/dev/ptmx", "/dev/random", "/dev/urandom", "/dev/pts"};
  uint64_t file_rights = LL_WRITE_FILE | (abi >= 3 ? LL_TRUNCATE : 0);
  int failed = 0;
  for (size_t i = 0; i < sizeof devices / sizeof devices[0] && !failed; i++)
    failed = allow_below(ruleset, devices[i], file_rights, abi) < 0;
  if (!failed) failed = allow_below(ruleset, "/dev/shm", rights, abi) < 0;
  for (int i = 0; i < n && !failed; i++) failed = allow_below(ruleset, writable[i], rights, abi) < 0;
  if (!failed) failed = syscall(SYS_landlock_restrict_self, ruleset, 0) < 0;
  int e = errno;
  close(ruleset);
  errno = e;
  return failed ? -1 : 0;
}

/* linux/filter.h and linux/seccomp.h, spelt out. */
struct bpf_insn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
struct bpf_prog {
  unsigned short len;
  struct bpf_insn *filter;
};
#define LD_W_ABS 0x20
#define JEQ_K 0x15
#define RET_K 0x06
#define JA 0x05
#define AND_K 0x54
#define ALLOW 0x7fff0000U
#define REFUSE(e) (0x00050000U | (uint32_t)(e))
/* Syscall numbers: the native ABI, then its 32-bit compat one (i386 on x64, arm on arm64). */
#if defined(__x86_64__)
#define NATIVE_ARCH 0xC000003EU
#define COMPAT_ARCH 0x40000003U
static const uint32_t native_nr[] = {41 /* socket */, 101 /* ptrace */, 310, 311 /* process_vm_readv/writev */};
static const uint32_t compat_nr[] = {359 /* socket */, 102 /* socketcall */, 26 /* ptrace */, 347, 348};
#elif defined(__aarch64__)
#define NATIVE_ARCH 0xC00000B7U
#define COMPAT_ARCH 0x40000028U
static const uint32_t native_nr[] = {198 /* socket */, 117 /* ptrace */, 270, 271 /* process_vm_readv/writev */};
static const uint32_t compat_nr[] = {281 /* socket */, 281, 26 /* ptrace */, 376, 377};
#endif
#define NR_IO_URING_SETUP 425 /* the same on every architecture */
#define NR_PIDFD_GETFD 438

static int os_seccomp_available(void) {
#ifdef NATIVE_ARCH
  return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
#else
  return 0;
#endif
}

/* A BPF program being written: instructions appended, a jump's target patched once it is known. */
static struct bpf_insn prog_insn[64];
static unsigned short prog_len;
static unsigned short emit(uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
  prog_insn[prog_len] = (struct bpf_insn){code, jt, jf, k};
  return prog_len++;
}
static void refuse_nr(uint32_t nr, uint32_t ret) {
  emit(JEQ_K, 0, 1, nr);
  emit(RET_K, 0, 0, ret);
}

/* No sockets but Unix and netlink ones; and none taken from another process either: no pidfd_getfd,
   ptrace or process_vm_* (a process of the same user could otherwise be made to lend its socket or
   to run the job's code). io_uring is refused (it makes sockets of its own), x32 calls too. */
static int seccomp_no_network(void) {
#ifdef NATIVE_ARCH
  prog_len = 0;
  emit(LD_W_ABS, 0, 0, 4); /* arch */
  emit(JEQ_K, 1, 0, NATIVE_ARCH);
  unsigned short to_compat = emit(JA, 0, 0, 0);
  emit(LD_W_ABS, 0, 0, 0); /* nr */
#if defined(__x86_64__)
  emit(AND_K, 0, 0, 0x40000000); /* the x32 bit */
  emit(JEQ_K, 1, 0, 0);
  emit(RET_K, 0, 0, REFUSE(ENOSYS));
  emit(LD_W_ABS, 0, 0, 0);
#endif
  refuse_nr(NR_IO_URING_SETUP, REFUSE(ENOSYS));
  refuse_nr(NR_PIDFD_GETFD, REFUSE(EPERM));
  for (size_t i = 1; i < sizeof native_nr / sizeof native_nr[0]; i++) refuse_nr(native_nr[i], REFUSE(EPERM));
  emit(JEQ_K, 0, 4, native_nr[0]); /* socket: look at its family */
  emit(LD_W_ABS, 0, 0, 16);        /* args[0], low half */
  emit(JEQ_K, 2, 0, 1);            /* AF_UNIX */
  emit(JEQ_K, 1, 0, 16);           /* AF_NETLINK */
  emit(RET_K, 0, 0, REFUSE(EACCES));
  emit(RET_K, 0, 0, ALLOW);
  prog_insn[to_compat].k = (uint32_t)(prog_len - to_compat - 1);
  /* The compat ABI: its socket calls refused outright (socketcall hides the family). */
  unsigned short not_compat = emit(JEQ_K, 0, 0, COMPAT_ARCH);
  emit(LD_W_ABS, 0, 0, 0);
  refuse_nr(NR_IO_URING_SETUP, REFUSE(EACCES));
  refuse_nr(NR_PIDFD_GETFD, REFUSE(EPERM));
  for (size_t i = 0; i < sizeof compat_nr / sizeof compat_nr[0]; i++) refuse_nr(compat_nr[i], REFUSE(i < 2 ? EACCES : EPERM));
  unsigned short allow = emit(RET_K, 0, 0, ALLOW);
  prog_insn[not_compat].jf = (uint8_t)(allow - not_compat - 1);
  struct bpf_prog prog = {prog_len, prog_insn};
  return prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, &prog, 0, 0) < 0 ? -1 : 0;
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* A Landlock domain that restricts no file access (one right, granted everywhere) but is a domain:
   the kernel then lets no process of the job ptrace, or read the memory of, a process outside it. */
static int landlock_scope_only(void) {
  int abi = os_landlock_abi();
  if (abi < 1) return 0; /* the seccomp filter refuses ptrace and pidfd_getfd all the same */
  struct ll_ruleset_attr attr = {.handled_access_fs = LL_MAKE_BLOCK};
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(uint64_t), 0);
  if (ruleset < 0) return -1;
  int failed = allow_below(ruleset, "/", LL_MAKE_BLOCK, abi) < 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) < 0;
  int e = errno;
  close(ruleset);
  errno = e;
  return failed ? -1 : 0;
}

/* What `shepherd --confine-probe` prints: what this kernel lets a job be confined by. */
static void os_confine_probe(void) {
  printf("landlock %d\nseccomp %d\n", os_landlock_abi(), os_seccomp_available());
}

/* Moves this process into a cgroup: 0, or -1 with errno set. */
static int join_cgroup(const char *dir) {
  char pid[24];
  snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  return cgroup_write(dir, "cgroup.procs", pid);
}

/* Whether this process is in a cgroup (its cgroup.procs lists it). */
static int in_cgroup(const char *dir) {
  char procs[4200], text[4096], pid[24];
  snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  if (!read_text(procs, text, sizeof text)) return 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    if (strcmp(line, pid) == 0) return 1;
  return 0;
}

/* Which step of a confinement failed (1..4; 0: the exec itself), for the start's error. */
static int confine_step;
static const char *confine_step_text(int step) {
  static const char *const text[] = {"cannot run the shell", "cannot put the job under its limits: joining a cgroup failed",
                                     "cannot sandbox the job: no_new_privs", "cannot sandbox the job: Landlock",
                                     "cannot keep the job off the network: seccomp"};
  return step >= 0 && step <= 4 ? text[step] : "cannot start the job";
}

/* Applies a confinement (the lines described above) to this process: 0, or -1 with errno set and
   confine_step naming what failed. `spec` is the child's own copy, cut up in place. */
static int os_confine(char *spec) {
  char *writable[64];
  int n = 0, sandbox = 0, no_network = 0;
  char *save = NULL;
  for (char *line = strtok_r(spec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "join ", 5) == 0) {
      confine_step = 1;
      if (join_cgroup(line + 5) < 0) return -1;
    } else if (strncmp(line, "in ", 3) == 0) {
      confine_step = 1;
      if (!in_cgroup(line + 3) && join_cgroup(line + 3) < 0) return -1;
    } else if (strncmp(line, "sandbox ", 8) == 0) {
      sandbox = strcmp(line + 8, "off") != 0;
    } else if (strncmp(line, "write ", 6) == 0) {
      confine_step = 3;
      if (n >= 64) {
        errno = E2BIG; /* more writable paths than a job is given: refused, not dropped */
        return -1;
      }
      writable[n++] = line + 6;
    } else if (strcmp(line, "network 0") == 0) {
      no_network = 1;
    }
  }
  if (!sandbox && !no_network) return 0;
  confine_step = 2;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  confine_step = 3;
  if (sandbox && landlock_writes(writable, n) < 0) return -1;
  if (!sandbox && no_network && landlock_scope_only() < 0) return -1;
  confine_step = 4;
  if (no_network && seccomp_no_network() < 0) return -1;
  return 0;
}
