/*
 * The macOS side of the capture process (included by shepherd.c; os-linux.c is the Linux side).
 * Cross-built here with Zig's C toolchain and checked as a binary (Mach-O, arch, signature,
 * libSystem only); NOT RUN on a Mac: every function below is unverified until someone does.
 *
 * What macOS lacks and how it is done instead: no child subreaper (an orphan of the job goes to
 * launchd and is found by its MCP_BG_JOB_ID, read with KERN_PROCARGS2, not by ancestry); no
 * parent-death signal (the spawner ends on EOF from its server); no cgroups, clone3 or close_range
 * (descriptors are closed by walking /dev/fd); process facts come from sysctl(KERN_PROC) and libproc.
 */
#include <arpa/inet.h>
#include <libproc.h>
#include <sys/proc_info.h>
#include <sys/sysctl.h>

static int os_portable(void) { return 1; }

/* kinfo_proc's state (p_stat) as the letters Linux uses. */
static char state_letter(int p_stat) {
  switch (p_stat) {
    case SIDL: return 'I';
    case SRUN: return 'R';
    case SSLEEP: return 'S';
    case SSTOP: return 'T';
    case SZOMB: return 'Z';
    default: return '?';
  }
}

static void fill(const struct kinfo_proc *kp, proc_info_t *out) {
  out->pid = kp->kp_proc.p_pid;
  out->ppid = kp->kp_eproc.e_ppid;
  out->state = state_letter(kp->kp_proc.p_stat);
  /* Microseconds since the epoch: with the pid, it names one process for good. */
  out->start = (unsigned long long)kp->kp_proc.p_starttime.tv_sec * 1000000ULL +
               (unsigned long long)kp->kp_proc.p_starttime.tv_usec;
}

/* Facts about one process (sysctl KERN_PROC_PID): 0, or -1 if there is no such process. */
static int os_proc(pid_t pid, proc_info_t *out) {
  struct kinfo_proc kp;
  size_t len = sizeof kp;
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, pid};
  memset(&kp, 0, sizeof kp);
  if (sysctl(mib, 4, &kp, &len, NULL, 0) < 0 || len == 0) return -1;
  fill(&kp, out);
  return 0;
}

/* Every process there is (at most max): sysctl KERN_PROC_ALL. */
/* The children of a process (libproc), or -1 if they cannot be listed. */
static long os_children(pid_t pid, pid_t *out, size_t max) {
  int n = proc_listchildpids(pid, out, (int)(max * sizeof(pid_t)));
  return n < 0 ? -1 : n;
}

static size_t os_process_table(proc_info_t *out, size_t max) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_ALL, 0};
  size_t len = 0;
  if (sysctl(mib, 4, NULL, &len, NULL, 0) < 0) return 0;
  len += len / 4; /* room for processes started meanwhile */
  struct kinfo_proc *all = malloc(len);
  if (!all) return 0;
  if (sysctl(mib, 4, all, &len, NULL, 0) < 0) {
    free(all);
    return 0;
  }
  size_t n = len / sizeof all[0], k = 0;
  for (size_t i = 0; i < n && k < max; i++) fill(&all[i], &out[k++]);
  free(all);
  return k;
}

/* The arguments and environment a process was started with (KERN_PROCARGS2: argc, the executable's
   path, padding, then argv and the environment, NUL-separated), malloc'd; NULL if they may not be
   read (another user's process). */
static char *procargs(pid_t pid, size_t *len) {
  int mib[3] = {CTL_KERN, KERN_ARGMAX, 0}, argmax = 0;
  size_t size = sizeof argmax;
  if (sysctl(mib, 2, &argmax, &size, NULL, 0) < 0 || argmax <= 0) return NULL;
  char *buf = malloc((size_t)argmax);
  if (!buf) return NULL;
  mib[1] = KERN_PROCARGS2;
  mib[2] = pid;
  size = (size_t)argmax;
  if (sysctl(mib, 3, buf, &size, NULL, 0) < 0 || size < sizeof(int)) {
    free(buf);
    return NULL;
  }
  *len = size;
  return buf;
}

/* Where argv starts in a KERN_PROCARGS2 block, and argc. */
static size_t args_start(const char *buf, size_t len, int *argc) {
  memcpy(argc, buf, sizeof *argc);
  size_t at = sizeof *argc;
  while (at < len && buf[at]) at++; /* the executable's path */
  while (at < len && !buf[at]) at++; /* its padding */
  return at;
}

static int os_env_value(pid_t pid, const char *name, char *out, size_t size) {
  size_t len;
  char *buf = procargs(pid, &len);
  if (!buf) return 0;
  int argc;
  size_t at = args_start(buf, len, &argc);
  for (int i = 0; i < argc && at < len; i++) at += strnlen(buf + at, len - at) + 1;
  int found = at < len && env_lookup(buf + at, len - at, name, out, size);
  free(buf);
  return found;
}

static long os_args(pid_t pid, char *out, size_t size) {
  size_t len;
  char *buf = procargs(pid, &len);
  if (!buf) return -1;
  int argc;
  size_t at = args_start(buf, len, &argc), from = at;
  for (int i = 0; i < argc && at < len; i++) at += strnlen(buf + at, len - at) + 1;
  size_t n = at - from < size ? at - from : size;
  memcpy(out, buf + from, n);
  free(buf);
  return (long)n;
}

static int os_cwd(pid_t pid, char *out, size_t size) {
  struct proc_vnodepathinfo vpi;
  if (proc_pidinfo(pid, PROC_PIDVNODEPATHINFO, 0, &vpi, sizeof vpi) != (int)sizeof vpi) return -1;
  snprintf(out, size, "%s", vpi.pvi_cdir.vip_path);
  return 0;
}

/* This boot's id: kern.bootsessionuuid. */
static int os_boot_id(char *out, size_t size) {
  size_t len = size;
  if (sysctlbyname("kern.bootsessionuuid", out, &len, NULL, 0) < 0 || len == 0) return -1;
  out[len < size ? len : size - 1] = 0;
  return 0;
}

static void os_ports_begin(void) {}

/* The TCP ports a process listens on (libproc: its socket descriptors in state LISTEN). */
static int os_listening_ports(pid_t pid, int *ports, int max) {
  int size = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, NULL, 0);
  if (size <= 0) return 0;
  struct proc_fdinfo *fds = malloc((size_t)size);
  if (!fds) return 0;
  size = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds, size);
  int found = 0;
  for (int i = 0; i < size / (int)sizeof fds[0] && found < max; i++) {
    if (fds[i].proc_fdtype != PROX_FDTYPE_SOCKET) continue;
    struct socket_fdinfo si;
    if (proc_pidfdinfo(pid, fds[i].proc_fd, PROC_PIDFDSOCKETINFO, &si, sizeof si) != (int)sizeof si) continue;
    if (si.psi.soi_kind != SOCKINFO_TCP || si.psi.soi_proto.pri_tcp.tcpsi_state != TSI_S_LISTEN) continue;
    int port = ntohs((uint16_t)si.psi.soi_proto.pri_tcp.tcpsi_ini.insi_lport);
    int seen = 0;
    for (int k = 0; k < found; k++) seen |= ports[k] == port;
    if (!seen && port > 0) ports[found++] = port;
  }
  free(fds);
  return found;
}

/* None of these exists on macOS (see the top of this file). Attaching to a shepherd: macOS lets a
   debugger attach only with the user's consent (taskgated, Developer Mode), which stands in for
   Linux's PR_SET_DUMPABLE here. */
static void os_become_subreaper(void) {}
static void os_die_with_parent(void) {}
static void os_undumpable(void) {}
static void os_cloexec_from_3(void) { cloexec_walk(); }

static int os_pipe(int fds[2], int nonblock) {
  if (pipe(fds) < 0) return -1;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    if (nonblock) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  return 0;
}

static void os_large_pipe(int fd) { (void)fd; }

/* No cgroups on macOS: the server passes none, and these are never reached with one. */
static pid_t os_fork_job(const char *cgroup, int *joined) {
  (void)cgroup;
  *joined = 0;
  return fork();
}
static void os_join_cgroup(const char *cgroup) { (void)cgroup; }
static int os_cgroup_populated(const char *cgroup) {
  (void)cgroup;
  return 0;
}
static void os_cgroup_kill(const char *cgroup) { (void)cgroup; }
static void os_cgroup_remove(const char *cgroup) { (void)cgroup; }
static void os_cgroup_keep_usage(const char *cgroup, int jobdir) {
  (void)cgroup;
  (void)jobdir;
}

/* Confinement (see confine-linux.c): not built for macOS yet. A sandbox-exec profile and setrlimit
   are the ways there; the server refuses a sandbox, a network ban or limits on macOS before anything
   starts, so a spec with any of them does not reach this. */
static int confine_step;
static const char *confine_step_text(int step) { return step ? "cannot confine the job on macOS" : "cannot run the shell"; }
static void os_confine_probe(void) { printf("landlock 0\nseccomp 0\n"); }
static int os_confine(char *spec) {
  if (spec[0] == 0) return 0;
  confine_step = 1;
  errno = ENOSYS;
  return -1;
}
