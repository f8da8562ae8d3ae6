/*
 * The Linux side of the capture process (included by shepherd.c; os-darwin.c is the macOS side). Each
 * function here is one question asked of the operating system or one facility it offers; what only
 * Linux has (a child subreaper, cgroups, clone3, close_range, prctl) stays in this file.
 *
 * Portable mode (MCP_BG_PORTABLE=1 in the environment) gives up what macOS lacks, so that the macOS
 * way of doing things is what runs and is tested here: no subreaper, no parent-death signal (the
 * spawner ends on EOF from its server instead), descriptors closed by walking /dev/fd, and kills that
 * find the job's processes by ancestry and MCP_BG_JOB_ID (cgroups are not offered: the server passes
 * none).
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

/* musl (the static release builds) has neither <linux/close_range.h> nor a close_range() wrapper:
   the flag and the system call are named here, and a kernel without it (ENOSYS) takes the /dev/fd path. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436 /* the same on every architecture */
#endif

/* Reads up to size-1 bytes of a small file (in /proc or a cgroup) into text, NUL-terminated;
   0 if it could not be read or was empty. */
static int read_text(const char *path, char *text, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, size - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  return 1;
}

static int os_portable(void) {
  const char *v = getenv("MCP_BG_PORTABLE");
  return v && strcmp(v, "1") == 0;
}

/* Facts about one process from /proc/PID/stat: its state letter, parent and start time (field 22:
   clock ticks since boot). 0, or -1 if there is no such process. `pid` is a number, or "self". */
static int os_proc_named(const char *pid, proc_info_t *out) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%.20s/stat", pid);
  if (!read_text(path, text, sizeof text)) return -1;
  char *p = strrchr(text, ')'); /* the name may hold spaces and parentheses */
  if (!p || !p[1] || !p[2]) return -1;
  out->state = p[2];
  out->ppid = (pid_t)atol(p + 4);
  for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
  if (!p) return -1;
  out->start = strtoull(p + 1, NULL, 10);
  out->pid = strcmp(pid, "self") == 0 ? getpid() : (pid_t)atol(pid);
  return 0;
}

static int os_proc(pid_t pid, proc_info_t *out) {
  char name[24];
  snprintf(name, sizeof name, "%ld", (long)pid);
  return os_proc_named(name, out);
}

/* Every process there is (at most max): one pass over /proc. */
/* The children of a process (/proc/PID/task/TID/children, one list per thread): how many were put
   in `out` (0 for a process that is gone), or -1 where the kernel keeps no such lists
   (CONFIG_PROC_CHILDREN off). */
static long os_children(pid_t pid, pid_t *out, size_t max) {
  static int kept = -1;
  char path[128];
  if (kept < 0) {
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
    kept = access(path, R_OK) == 0;
  }
  if (!kept) return -1;
  snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  long n = 0;
  struct dirent *e;
  static char text[65536];
  while ((e = readdir(d)) && (size_t)n < max) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%ld/task/%.20s/children", (long)pid, e->d_name);
    if (!read_text(path, text, sizeof text)) continue;
    for (char *p = text, *end; (size_t)n < max; p = end) {
      long child = strtol(p, &end, 10);
      if (end == p) break;
      out[n++] = (pid_t)child;
    }
  }
  closedir(d);
  return n;
}

static size_t os_process_table(proc_info_t *out, size_t max) {
  size_t n = 0;
  DIR *d = opendir("/proc");
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (os_proc_named(e->d_name, &out[n]) == 0) n++;
  }
  closedir(d);
  return n;
}

/* The value of NAME in the environment a process was started with (/proc/PID/environ), into out;
   1 if it has one, 0 if not (or it may not be read). */
static int os_env_value(pid_t pid, const char *name, char *out, size_t size) {
  static char env[128 * 1024];
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, env, sizeof env - 1);
  close(fd);
  if (n <= 0) return 0;
  env[n] = 0;
  return env_lookup(env, (size_t)n, name, out, size);
}

/* The command line a process was started with, its arguments NUL-separated, into out; its length,
   or -1. */
static long os_args(pid_t pid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, out, size);
  close(fd);
  return n < 0 ? -1 : (long)n;
}

/* A process's working directory, into out; 0, or -1. */
static int os_cwd(pid_t pid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/cwd", (long)pid);
  ssize_t n = readlink(path, out, size - 1);
  if (n < 0) return -1;
  out[n] = 0;
  return 0;
}

/* This boot's id (pids and start times name a process within one boot only); 0, or -1. */
static int os_boot_id(char *out, size_t size) {
  if (!read_text("/proc/sys/kernel/random/boot_id", out, size)) return -1;
  out[strcspn(out, "\n")] = 0;
  return out[0] ? 0 : -1;
}

/* The listening TCP sockets of one network namespace: socket inode and port (0A is LISTEN in
   /proc/PID/net/tcp and tcp6), kept for the namespaces met in one request (see os_ports_begin). */
typedef struct {
  char ns[64];
  size_t n;
  struct {
    unsigned long inode;
    int port;
  } * sockets;
} netns_t;
static netns_t netns_seen[16];
static size_t netns_count;

/* Forgets the sockets read for earlier requests: a request sees them as they are now. */
static void os_ports_begin(void) {
  for (size_t i = 0; i < netns_count; i++) free(netns_seen[i].sockets);
  netns_count = 0;
}

/* Reads the listening sockets of the namespace pid is in, appending to ns. */
static void read_listening(pid_t pid, netns_t *ns) {
  const char *files[] = {"tcp", "tcp6"};
  size_t cap = 0;
  for (int f = 0; f < 2; f++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/net/%s", (long)pid, files[f]);
    FILE *in = fopen(path, "re");
    if (!in) continue;
    char line[512];
    if (!fgets(line, sizeof line, in)) line[0] = 0; /* the heading */
    while (fgets(line, sizeof line, in)) {
      /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ... */
      char local[64], state[8];
      unsigned long inode;
      if (sscanf(line, "%*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, state, &inode) != 3) continue;
      if (strcmp(state, "0A") != 0) continue;
      char *colon = strrchr(local, ':');
      int port = colon ? (int)strtol(colon + 1, NULL, 16) : 0;
      if (port <= 0) continue;
      if (ns->n == cap) {
        cap = cap ? cap * 2 : 64;
        void *grown = realloc(ns->sockets, cap * sizeof ns->sockets[0]);
        if (!grown) break;
        ns->sockets = grown;
      }
      ns->sockets[ns->n].inode = inode;
      ns->sockets[ns->n].port = port;
      ns->n++;
    }
    fclose(in);
  }
}

/* The TCP ports a process listens on (at most max, each once): its open sockets matched against the
   listening sockets of its network namespace, read once per namespace and request. */
static int os_listening_ports(pid_t pid, int *ports, int max) {
  char path[96], ns_name[64];
  snprintf(path, sizeof path, "/proc/%ld/ns/net", (long)pid);
  ssize_t len = readlink(path, ns_name, sizeof ns_name - 1);
  if (len < 0) return 0;
  ns_name[len] = 0;
  netns_t *ns = NULL;
  for (size_t i = 0; i < netns_count && !ns; i++)
    if (strcmp(netns_seen[i].ns, ns_name) == 0) ns = &netns_seen[i];
  if (!ns) {
    if (netns_count == sizeof netns_seen / sizeof netns_seen[0]) os_ports_begin();
    ns = &netns_seen[netns_count++];
    memset(ns, 0, sizeof *ns);
    snprintf(ns->ns, sizeof ns->ns, "%s", ns_name);
    read_listening(pid, ns);
  }
  int found = 0;
  snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) && found < max) {
    char link[96], target[64];
    snprintf(link, sizeof link, "/proc/%ld/fd/%.20s", (long)pid, e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 8) continue;
    target[n] = 0;
    if (strncmp(target, "socket:[", 8) != 0) continue;
    unsigned long inode = strtoul(target + 8, NULL, 10);
    for (size_t i = 0; i < ns->n; i++) {
      if (ns->sockets[i].inode != inode) continue;
      int seen = 0;
      for (int k = 0; k < found; k++) seen |= ports[k] == ns->sockets[i].port;
      if (!seen) ports[found++] = ns->sockets[i].port;
      break;
    }
  }
  closedir(d);
  return found;
}

/* Orphans of the job are re-parented to this process: every process of the job stays a descendant
   (not in portable mode: macOS has nothing like it). */
static void os_become_subreaper(void) {
  if (!os_portable()) prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* SIGKILL to this process when its parent dies (the spawner, with its server); not in portable mode,
   where, as on macOS, EOF from the server is what ends it. */
static void os_die_with_parent(void) {
  if (!os_portable()) prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Not dumpable: a process of the same user without CAP_SYS_PTRACE cannot attach to it or read it. */
static void os_undumpable(void) { prctl(PR_SET_DUMPABLE, 0); }

/* Marks every descriptor from 3 up close-on-exec: close_range where the kernel has it (and not in
   portable mode), else a walk of /dev/fd, as on macOS. */
static void os_cloexec_from_3(void) {
  if (!os_portable() && syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  cloexec_walk();
}

/* A pipe, both ends close-on-exec (and non-blocking if asked); 0, or -1. */
static int os_pipe(int fds[2], int nonblock) { return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)); }

/* A larger pipe means fewer wake-ups for a job that floods. */
static void os_large_pipe(int fd) { fcntl(fd, F_SETPIPE_SZ, CHUNK); }

/* clone3's arguments (linux/sched.h, spelt out: not every libc's headers have them). */
struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* Forks the job's process, born in `cgroup` when there is one and the kernel allows (clone3 with
   CLONE_INTO_CGROUP, Linux 5.7+): moving a running process into a cgroup takes the kernel's
   cgroup-wide lock and waits out an RCU grace period, 10-30 ms a start here, where being born there
   costs nothing more than a fork. *joined says whether that happened; where it could not (an older
   kernel, a seccomp filter that refuses clone3, a cgroup this process may not write), the child is
   forked as usual and moves itself in before its exec (os_join_cgroup). */
static pid_t os_fork_job(const char *cgroup, int *joined) {
  *joined = 0;
  if (cgroup[0]) {
    int dir = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      struct clone3_args args;
      memset(&args, 0, sizeof args);
      args.flags = CLONE_INTO_CGROUP_FLAG;
      args.exit_signal = SIGCHLD;
      args.cgroup = (uint64_t)dir;
      long pid = syscall(SYS_clone3, &args, sizeof args);
      if (pid >= 0) {
        if (pid > 0) close(dir);
        *joined = 1;
        return (pid_t)pid;
      }
      close(dir);
    }
  }
  return fork();
}

/* Writes `text` to a cgroup's control file: 0, or -1 with errno set. */
static int cgroup_write(const char *cgroup, const char *file, const char *text) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", cgroup, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t w = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return w < 0 ? -1 : 0;
}

/* In the child, before its exec: into its cgroup before anything else runs, so that all it starts
   is born there. The shepherd checks afterwards whether this worked (os_cgroup_populated). */
static void os_join_cgroup(const char *cgroup) { cgroup_write(cgroup, "cgroup.procs", "0"); }

/* Whether a cgroup has processes in it (cgroup.events says "populated 1"). */
static int os_cgroup_populated(const char *cgroup) {
  char events[4200], text[256];
  snprintf(events, sizeof events, "%s/cgroup.events", cgroup);
  return read_text(events, text, sizeof text) && strstr(text, "populated 1") != NULL;
}

/* SIGKILL to every process of a cgroup at once (cgroup.kill, Linux 5.14+). */
static void os_cgroup_kill(const char *cgroup) { cgroup_write(cgroup, "cgroup.kill", "1"); }

/* Removes a cgroup and the cgroups a process of the job made below it, deepest first; waits a
   moment for the last processes to leave (they do so a little after they are reaped). */
static void os_cgroup_remove(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char sub[4200];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      os_cgroup_remove(sub);
    }
    closedir(d);
  }
  for (int i = 0; i < 100 && rmdir(path) < 0 && errno == EBUSY; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Copies the CPU time a job's cgroup counted into JOBDIR/usage/cpu.stat (`jobdir`: JOBDIR, opened
   before the job ran): read after the cgroup is gone. Through descriptors only, never following a
   symlink the job may have put there. The limits' figures stay in the server's own cgroups. */
static void os_cgroup_keep_usage(const char *cgroup, int jobdir) {
  char path[4300], text[4096];
  snprintf(path, sizeof path, "%s/cpu.stat", cgroup);
  if (jobdir < 0 || !read_text(path, text, sizeof text)) return;
  if (mkdirat(jobdir, "usage", 0755) < 0 && errno != EEXIST) return;
  int dir = openat(jobdir, "usage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  unlinkat(dir, "cpu.stat", 0);
  int fd = openat(dir, "cpu.stat", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
  }
  close(dir);
}

/* A job's sandbox and limits. */
#include "confine-linux.c"
