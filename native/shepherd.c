/*
 * shepherd: runs one job and captures its output, so that capture does not depend on the MCP server.
 *
 * usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SHELL COMMAND [CGROUPS [CONFINE]]
 *        shepherd --spawner   (started once by a server; jobs arrive on stdin: see spawner())
 *        shepherd --procs Q A (process questions, where the server does not read /proc: procs.c)
 *        shepherd --confine-probe (what a job can be confined by here: confine-linux.c)
 * A server starts its jobs through the spawner; the first form runs one job (people, tests, a
 * cluster's batch script) and passes SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 on to the job's
 * process group, capturing on until the job has ended (those it was started with ignored, it ignores:
 * a scheduler that signals the job's processes itself starts it so).
 * CGROUPS ("-" or absent: none) is a cgroup v2 directory this process may create cgroups in.
 * CONFINE (empty or absent: none) is the job's limits and sandbox, applied before its exec.
 *
 * The job runs as `SHELL -c COMMAND` in its own process group (a PTY job: its own session) with
 * MCP_BG_JOB_ID=JOB_ID in its environment; the shepherd itself does not carry that variable, so a
 * kill sweep that looks for it never hits the shepherd. The shepherd does not depend on the server
 * that started it: it lives in its own session and keeps capturing after that server is gone, so
 * a job survives a server crash and the next server (or the command line) finds it running.
 *
 * The job's whole process tree stays findable, whatever its processes do (leave the process group
 * with setsid, drop or change MCP_BG_JOB_ID, double-fork to become daemons):
 *  - the shepherd is a child subreaper (PR_SET_CHILD_SUBREAPER): a process of the job whose parent
 *    dies is re-parented to it, so every process of the job is a descendant of the shepherd, and
 *    the shepherd reaps them. After the job's main process has ended, the shepherd stays while any
 *    of them lives (it then holds no files open), so that they can still be found by ancestry;
 *  - with CGROUPS, the job runs in a cgroup of its own, CGROUPS/JOB_ID, which lists all its
 *    processes even if the shepherd is killed, and can kill them all at once (cgroup.kill). Its
 *    path is written to JOBDIR/cgroup once the job runs in it; the shepherd removes the cgroup
 *    when the last process is gone. Without it (no cgroup v2 that may be written), ancestry and
 *    MCP_BG_JOB_ID are what find the job's processes.
 *
 * Input: the job's stdin is a pipe (with PTY=1 a pseudo-terminal) that the shepherd feeds from the
 * FIFO JOBDIR/stdin, which any process may open for writing. The shepherd holds it open for
 * reading and writing, so writers may come and go. SIGUSR2 asks for end of input: once what was
 * written before it has been passed on, the job's stdin is closed. When the job closes its stdin,
 * or ends, the FIFO is closed and removed: writes then fail (EPIPE), opens too (ENOENT or ENXIO).
 *
 * Output goes into two ring files, JOBDIR/stdout and JOBDIR/stderr: a 64-byte header
 * ("BGRING01", capacity, bytes written so far, bytes being written up to, bytes that could not be
 * stored (disk full); little-endian u64s) then
 * CAP_BYTES of data; stream byte N lives at 64 + N % CAP. A write first raises "being written up
 * to", then writes the data, then raises "written": a reader that sees a count sees its data, and
 * knows which old bytes may be under overwrite. A file, unlike a pipe to the server, survives the
 * server: the job never gets SIGPIPE because its reader went away, and disk use stays at CAP_BYTES
 * per stream.
 *
 * Reports, each also kept in a file written atomically (tmp + rename). Room for both files is
 * taken before the job starts (a job that cannot have them does not start: "error ENOSPC ..."),
 * and every write is checked: a full disk never puts an empty or partial pid or exit file in place.
 *  - "pid PID PID_START SHEPHERD_PID SHEPHERD_START CGROUP" once the command is running (JOBDIR/pid holds
 *    "PID PID_START SHEPHERD_PID SHEPHERD_START"; the starts are /proc start times, so that a pid
 *    reused later is never taken for the job; CGROUP is the job's cgroup, or "-": the rest of the
 *    line), or "error ERRNO TEXT" if it could not start;
 *  - "exit CODE SIGNO" when it has ended (CODE -1 when killed by SIGNO); JOBDIR/exit holds
 *    "CODE SIGNO ENDED_MS". The end is taken from the job's exit, not from its pipes closing;
 *    remaining output is drained for at most DRAIN_MS.
 * The lines go to stdout, for the server that started it; the files are for everyone else.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HEADER 64
#define CHUNK (1 << 20)
/* How long the reader naps after reading output, while a job writes (see event_loop). */
#define FLOOD_NAP_NS 200000L

typedef struct {
  int fd;
  uint64_t cap;
  uint64_t written;
  uint64_t unstored;
} ring_t;

static int chld_pipe[2];
static volatile sig_atomic_t eof_wanted;
/* The server asked this shepherd to end its job (SIGTERM: see shield_from_job). */
static volatile sig_atomic_t stop_wanted;
static unsigned char buf[CHUNK];

/* Wakes the poll loop when the child changes state. */
static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  ssize_t r = write(chld_pipe[1], "c", 1);
  (void)r;
  errno = saved;
}

/* Plain mode (a person, or a cluster's batch script): the job's process group, to pass on the signals
   that ask the job to stop. A scheduler signals the batch script's process, which is this one. */
static volatile pid_t relay_group;

static void on_stop_request(int sig) {
  if (relay_group > 0) kill(-relay_group, sig);
}

/* Passes SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 on to the job's process group, and goes on
   capturing until the job has ended, so that its end (and the signal that ended it) is written down. */
static void relay_stop_signals(pid_t group) {
  relay_group = group;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_request;
  sa.sa_flags = SA_RESTART;
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    /* One it was started with ignored stays ignored (as nohup's): the batch script of a scheduler
       that signals the whole job itself (Slurm's scancel --batch) starts it so, and nothing is
       delivered twice. */
    struct sigaction old;
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

/* Notes that end of input was asked for (SIGUSR2) and wakes the poll loop. */
static void on_eof_request(int sig) {
  (void)sig;
  eof_wanted = 1;
  on_sigchld(0);
}

/* Notes that the job is to be ended (SIGTERM to a server's shepherd) and wakes the poll loop. */
static void on_stop_order(int sig) {
  (void)sig;
  /* A stop of many jobs at once (a server's stop) orders every shepherd within moments: the work
     each then does (a look at the processes, signals) yields to the one still giving the orders. */
  if (!stop_wanted) setpriority(PRIO_PROCESS, 0, 10);
  stop_wanted = 1;
  on_sigchld(0);
}

/* One process as the operating system tells of it: its state letter as Linux writes them (R, S, T,
   Z, ...), its parent, and its start time (Linux: clock ticks since boot; macOS: microseconds since
   the epoch), which with the pid names one process for good: a pid alone may be reused. */
typedef struct {
  pid_t pid, ppid;
  char state;
  unsigned long long start;
} proc_info_t;

/* The value of NAME in a block of NUL-separated NAME=VALUE entries, into out; 1 if it is there. */
static int env_lookup(const char *env, size_t len, const char *name, char *out, size_t size) {
  size_t name_len = strlen(name);
  for (size_t at = 0; at < len;) {
    const char *entry = env + at;
    size_t entry_len = strnlen(entry, len - at);
    if (entry_len > name_len && entry[name_len] == '=' && memcmp(entry, name, name_len) == 0) {
      size_t value_len = entry_len - name_len - 1;
      if (value_len >= size) value_len = size - 1;
      memcpy(out, entry + name_len + 1, value_len);
      out[value_len] = 0;
      return 1;
    }
    at += entry_len + 1;
  }
  return 0;
}

/* Marks every descriptor from 3 up close-on-exec, by walking /dev/fd (POSIX systems have it; Linux
   makes it /proc/self/fd), else every number up to the descriptor limit. */
static void cloexec_walk(void) {
  DIR *fds = opendir("/dev/fd");
  if (fds) {
    struct dirent *e;
    while ((e = readdir(fds))) {
      int fd = atoi(e->d_name);
      if (fd > 2 && fd != dirfd(fds)) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(fds);
    return;
  }
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* What each operating system offers, as small named functions (os_*): one file each. */
#if defined(__linux__)
#include "os-linux.c"
#elif defined(__APPLE__)
#include "os-darwin.c"
#else
#error "the capture process is written for Linux and macOS"
#endif

/* Start time of a process (see proc_info_t), or 0 if there is none. */
static unsigned long long start_time(pid_t pid) {
  proc_info_t p;
  return os_proc(pid, &p) == 0 ? p.start : 0;
}

static uint64_t now_ms(int clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes all of len bytes at off, retrying short writes; -1 if it could not (disk full, I/O error). */
static int pwrite_all(int fd, const void *data, size_t len, off_t off) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
    off += n;
  }
  return 0;
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Opens a ring. A first run starts it empty; a run after a restart (`go_on`) goes on where the last
   run's left it, if its header is one of a ring of the same capacity whose counts the file can hold
   (else it starts empty all the same). */
static int ring_open(ring_t *r, const char *dir, const char *name, uint64_t cap, int go_on) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  r->fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (go_on ? 0 : O_TRUNC), 0600);
  struct stat st;
  if (go_on && (r->fd < 0 || fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)) {
    /* Not the ring the last run left (the job may have put something else there: a link to another
       file, a FIFO): a new one, never written through what is there. */
    if (r->fd >= 0) close(r->fd);
    unlink(path);
    r->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    go_on = 0;
  }
  if (r->fd < 0) return -1;
  fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) & ~O_NONBLOCK);
  r->cap = cap;
  r->written = 0;
  r->unstored = 0;
  unsigned char h[HEADER];
  if (go_on && pread(r->fd, h, 40, 0) == 40 && memcmp(h, "BGRING01", 8) == 0 && get_u64(h + 8) == cap &&
      fstat(r->fd, &st) == 0) {
    uint64_t written = get_u64(h + 16);
    uint64_t held = (uint64_t)st.st_size > HEADER ? (uint64_t)st.st_size - HEADER : 0;
    if (written <= (1ULL << 53) && held >= (written < cap ? written : cap)) {
      r->written = written;
      r->unstored = get_u64(h + 32);
      /* A write the last run had under way when it ended is no write: the count says so again. */
      put_u64(h, written);
      pwrite_all(r->fd, h, 8, 24);
      return 0;
    }
  }
  if (go_on && ftruncate(r->fd, 0) < 0) return -1;
  memset(h, 0, sizeof h);
  memcpy(h, "BGRING01", 8);
  put_u64(h + 8, cap);
  pwrite_all(r->fd, h, sizeof h, 0);
  return 0;
}

/* Appends bytes to the ring, keeping only the newest cap bytes, then publishes the new count. */
static void ring_append(ring_t *r, const unsigned char *data, size_t len) {
  uint64_t total = r->written + len;
  if (len > r->cap) {
    data += len - r->cap;
    len = (size_t)r->cap;
  }
  uint64_t start = total - len;
  /* Say first how far this write will reach (bytes 24..31): a reader then knows which of the oldest
     bytes are being overwritten before the count at 16 says they are new. */
  unsigned char w[8];
  put_u64(w, total);
  pwrite_all(r->fd, w, 8, 24);
  size_t pos = (size_t)(start % r->cap);
  size_t first = len < r->cap - pos ? len : (size_t)(r->cap - pos);
  int failed = pwrite_all(r->fd, data, first, (off_t)(HEADER + pos)) < 0 ||
               (first < len && pwrite_all(r->fd, data + first, len - first, HEADER) < 0);
  if (failed) {
    /* Not stored (the disk is full): these bytes are dropped, never counted as written, and
       counted at 32 instead so that readers can say so. Only writes that grow the file can fail
       this way, so no older byte was spoilt. */
    r->unstored += len;
    put_u64(w, r->unstored);
    pwrite_all(r->fd, w, 8, 32);
    put_u64(w, r->written);
    pwrite_all(r->fd, w, 8, 24);
    return;
  }
  r->written = total;
  pwrite_all(r->fd, w, 8, 16);
}

/* A line of the shepherd's own in a ring, on a line of its own (after a newline if the last byte
   written was none). */
static void ring_mark(ring_t *r, const char *line) {
  unsigned char last = '\n';
  if (r->written > 0 && pread(r->fd, &last, 1, (off_t)(HEADER + (r->written - 1) % r->cap)) != 1) last = '\n';
  if (last != '\n') ring_append(r, (const unsigned char *)"\n", 1);
  ring_append(r, (const unsigned char *)line, strlen(line));
}

/* What starts each report line: empty for a shepherd run on its own, "JOB_ID " for one forked by a
   spawner (its reports share the spawner's pipe to the server). */
static char line_prefix[64];

static void say(const char *fmt, long a, long b, const char *text) {
  char line[600];
  int p = snprintf(line, sizeof line, "%s", line_prefix);
  int n = text ? snprintf(line + p, sizeof line - p, fmt, a, text) : snprintf(line + p, sizeof line - p, fmt, a, b);
  if (n > 0) {
    ssize_t r = write(STDOUT_FILENO, line, (size_t)(p + n) < sizeof line ? (size_t)(p + n) : sizeof line - 1);
    (void)r;
  }
}

/* Takes room for JOBDIR/NAME.tmp now (a block on disk, for a line of up to 128 bytes written
   later): a disk that fills up meanwhile cannot keep that line from being written. */
/* JOBDIR, opened before the job runs: what is written there once it runs is written through this
   and through descriptors opened before, never by a path the job could have put a symlink on (a
   sandboxed job may be able to write into its folder; this process is not sandboxed). */
static int jobdir_fd = -1;
static struct {
  char name[16];
  int fd;
} reserved[4];

static int reserve_file(const char *dir, const char *name) {
  char tmp[64], pad[128];
  if (jobdir_fd < 0) jobdir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (jobdir_fd < 0) return -1;
  snprintf(tmp, sizeof tmp, "%.40s.tmp", name);
  int fd = openat(jobdir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  memset(pad, ' ', sizeof pad);
  if (pwrite_all(fd, pad, sizeof pad, 0) < 0) {
    close(fd);
    unlinkat(jobdir_fd, tmp, 0);
    return -1;
  }
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
    if (reserved[i].name[0]) continue;
    snprintf(reserved[i].name, sizeof reserved[i].name, "%.15s", name);
    reserved[i].fd = fd;
    return 0;
  }
  close(fd);
  return 0;
}

/* Writes JOBDIR/NAME atomically: readers see the whole line or no file. The line goes into the
   room reserve_file took (the file is cut to its length, which takes no room); only once all of it
   is written is the file renamed into place. 0 on success. */
static int write_file(const char *dir, const char *name, const char *line) {
  char tmp[4096];
  int at = jobdir_fd >= 0 ? jobdir_fd : AT_FDCWD, fd = -1;
  if (at == AT_FDCWD) snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  else snprintf(tmp, sizeof tmp, "%.40s.tmp", name);
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0] && fd < 0; i++) {
    if (!reserved[i].name[0] || strcmp(reserved[i].name, name) != 0) continue;
    fd = reserved[i].fd;
    reserved[i].name[0] = 0;
  }
  if (fd < 0) fd = openat(at, tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t len = strlen(line);
  int failed = pwrite_all(fd, line, len, 0) < 0 || ftruncate(fd, (off_t)len) < 0;
  if (close(fd) < 0) failed = 1;
  char path[4096];
  if (at == AT_FDCWD) snprintf(path, sizeof path, "%s/%s", dir, name);
  else snprintf(path, sizeof path, "%s", name);
  /* What is renamed is what the name .tmp holds now: if the job swapped it, NAME is then its object
     (which readers open as regular files only), but nothing was written through it. */
  if (failed || renameat(at, tmp, at, path) < 0) {
    unlinkat(at, tmp, 0);
    return -1;
  }
  return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* What to run, and how (from the command line, or from a spawner's request block). */
typedef struct {
  const char *dir, *job_id, *shell, *command;
  const char *cgroups; /* a cgroup v2 directory to create the job's cgroup in, or NULL */
  const char *confine; /* the job's limits and sandbox (see confine-linux.c), or NULL */
  const char *banner;  /* a restart: the rings go on, this line first; NULL or "": a first run */
  uint64_t cap, drain_ms;
  int use_pty, cols, rows;
} spec_t;

/* A running job as the shepherd holds it. */
typedef struct {
  ring_t out, err;
  int fifo;      /* JOBDIR/stdin, read for input (-1 once input has ended) */
  int in_target; /* where input goes: the PTY, or the write end of the job's stdin pipe (-1: none) */
  int out_fd, err_fd; /* what the job's output is read from (err_fd -1 for a PTY job) */
  int child_in, child_out, child_err; /* the job's ends of its pipes, or -1 */
  int master;
  char slave_name[256];
  char cgroup[4096]; /* the job's cgroup, or "" */
  int cgroup_made;    /* made here (not by the server, for the job's limits): removed here at the end */
  pid_t pid;
  int exec_errno, exec_step, status; /* exec_step: which step failed (confine_step_text) */
  unsigned char pending[65536]; /* input read from the FIFO, not yet taken by the job */
  size_t pending_len, pending_off;
} job_t;

static char fifo_path[4096];

/* No more input: drop what was pending and close and remove the FIFO, so writers' writes fail too. */
static void stdin_gone(job_t *j, int close_target) {
  if (close_target && j->in_target >= 0) {
    close(j->in_target);
    j->in_target = -1;
  }
  j->pending_off = j->pending_len;
  if (j->fifo >= 0) {
    unlink(fifo_path);
    close(j->fifo);
    j->fifo = -1;
  }
}

/* Bytes the last pumps read (see event_loop: a job that floods is read in large batches). */
static size_t pumped;

/* Reads what is available from fd into the ring; returns 0 at end of stream, 1 otherwise. */
static int pump(int fd, ring_t *r) {
  for (int i = 0; i < 16; i++) {
    ssize_t n = read(fd, buf, CHUNK);
    if (n > 0) {
      ring_append(r, buf, (size_t)n);
      pumped += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
    return 0; /* EOF, or EIO on a PTY whose other side is gone */
  }
  return 1;
}

/* Reads exactly len bytes from fd (0 on success). */
static int read_exact(int fd, char *p, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Step 1: the job's files (rings, FIFO, room for pid and exit), its terminal or pipes, and the
   signals the event loop wakes on. -1 with errno set if any cannot be had. */
static int setup_io(const spec_t *s, job_t *j) {
  signal(SIGPIPE, SIG_IGN);
  /* Orphans of the job are re-parented here: every process of the job stays a descendant. */
  os_become_subreaper();
  /* Nothing more comes on stdin, and the server's pipe must not be held once it is gone. */
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    close(devnull);
  }
  j->fifo = j->in_target = j->master = j->child_in = j->child_out = j->child_err = j->err_fd = -1;
  int go_on = s->banner && s->banner[0];
  if (ring_open(&j->out, s->dir, "stdout", s->cap, go_on) < 0 || ring_open(&j->err, s->dir, "stderr", s->cap, go_on) < 0)
    return -1;
  if (go_on) {
    /* Between the runs: where one run's output ends and the next one's begins (in stderr too, if
       it has any), on a line of its own. */
    ring_mark(&j->out, s->banner);
    if (!s->use_pty && j->err.written > 0) ring_mark(&j->err, s->banner);
  }
  if (reserve_file(s->dir, "pid") < 0 || reserve_file(s->dir, "exit") < 0 ||
      (s->cgroups && reserve_file(s->dir, "cgroup") < 0))
    return -1;
  snprintf(fifo_path, sizeof fifo_path, "%s/stdin", s->dir);
  unlink(fifo_path);
  if (mkfifo(fifo_path, 0600) < 0 || (j->fifo = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) return -1;
  if (s->use_pty) {
    char *name;
    j->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (j->master >= 0) fcntl(j->master, F_SETFD, FD_CLOEXEC);
    if (j->master < 0 || grantpt(j->master) < 0 || unlockpt(j->master) < 0 || !(name = ptsname(j->master))) return -1;
    snprintf(j->slave_name, sizeof j->slave_name, "%s", name);
    struct winsize ws = {.ws_row = (unsigned short)s->rows, .ws_col = (unsigned short)s->cols};
    ioctl(j->master, TIOCSWINSZ, &ws);
    j->out_fd = j->in_target = j->master;
  } else {
    int outp[2], errp[2], inp[2];
    if (os_pipe(outp, 0) < 0 || os_pipe(errp, 0) < 0 || os_pipe(inp, 0) < 0) return -1;
    os_large_pipe(outp[0]);
    os_large_pipe(errp[0]);
    j->out_fd = outp[0];
    j->err_fd = errp[0];
    j->in_target = inp[1];
    j->child_in = inp[0];
    j->child_out = outp[1];
    j->child_err = errp[1];
  }
  if (os_pipe(chld_pipe, 1) < 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_eof_request;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  return 0;
}

/* In the child, before exec: a clean start (default signals, nothing blocked, no descriptors but
   0, 1 and 2), its own cgroup if there is one, its own process group (a PTY job: its own session,
   the terminal its controlling tty), MCP_BG_JOB_ID set. Returns only if it could not exec. */
static void exec_job(const spec_t *s, const job_t *j, int join_cgroup) {
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  os_cloexec_from_3();
  /* Only where it could not be born in its cgroup (see os_fork_job). */
  if (join_cgroup) os_join_cgroup(j->cgroup);
  /* A pipe job stays in the shepherd's session: the scheduler then shares the CPU between the job
     and its reader as one group (autogroup), not as rivals. */
  if (s->use_pty) {
    setsid();
    int t = open(j->slave_name, O_RDWR);
    if (t < 0) return;
    ioctl(t, TIOCSCTTY, 0);
    dup2(t, 0);
    dup2(t, 1);
    dup2(t, 2);
    if (t > 2) close(t);
  } else {
    setpgid(0, 0);
    dup2(j->child_in, 0);
    dup2(j->child_out, 1);
    dup2(j->child_err, 2);
  }
  setenv("MCP_BG_JOB_ID", s->job_id, 1);
  /* Last, so that the job's terminal could still be opened: its limits, its sandbox. */
  if (s->confine && s->confine[0]) {
    char *copy = strdup(s->confine);
    if (!copy || os_confine(copy) < 0) return;
  }
  confine_step = 0;
  execl(s->shell, s->shell, "-c", s->command, (char *)NULL);
}

/* Whether a confinement spec has the line KIND PATH. */
static int confine_names(const char *spec, const char *kind, const char *path) {
  size_t k = strlen(kind), p = strlen(path);
  for (const char *line = spec; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, kind, k) == 0 && strncmp(line + k, path, p) == 0 && (line[k + p] == '\n' || line[k + p] == 0))
      return 1;
  }
  return 0;
}

/* Step 2: starts the job, in a cgroup of its own when that can be had. j->pid is the job's pid;
   j->exec_errno says why the exec failed (the shell could not be run), 0 if it ran. -1 with
   errno set if there is no process at all. */
static int spawn(const spec_t *s, job_t *j) {
  j->cgroup[0] = 0;
  if (s->cgroups) {
    snprintf(j->cgroup, sizeof j->cgroup, "%s/%s", s->cgroups, s->job_id);
    /* One the server made for the job's limits ("in" it, says the spec) is never made here: were it
       gone (swept by another server a moment ago), one made here would hold no limits; the job's
       check that it is in it fails instead, and so does the start. */
    if (confine_names(s->confine, "in ", j->cgroup)) {
      j->cgroup_made = 0;
    } else {
      j->cgroup_made = mkdir(j->cgroup, 0755) == 0;
      if (!j->cgroup_made && errno != EEXIST) j->cgroup[0] = 0;
    }
  }
  int execp[2];
  if (os_pipe(execp, 0) < 0) return -1;
  int joined;
  j->pid = os_fork_job(j->cgroup, &joined);
  if (j->pid < 0) return -1;
  if (j->pid == 0) {
    exec_job(s, j, j->cgroup[0] && !joined);
    int failed[2] = {errno, confine_step};
    ssize_t r = write(execp[1], failed, sizeof failed);
    (void)r;
    _exit(127);
  }
  close(execp[1]);
  if (j->child_in >= 0) close(j->child_in);
  if (j->child_out >= 0) close(j->child_out);
  if (j->child_err >= 0) close(j->child_err);
  int failed[2] = {0, 0};
  ssize_t got;
  do got = read(execp[0], failed, sizeof failed);
  while (got < 0 && errno == EINTR);
  close(execp[0]);
  j->exec_errno = got > 0 ? failed[0] : 0;
  j->exec_step = got == (ssize_t)sizeof failed ? failed[1] : 0;
  /* Only a cgroup the job really went into is spoken of (not one this user may not write to, say).
     The job joined it before its exec: if it is empty now, the job did not, or has already ended
     leaving nothing behind; either way there is nothing in it to find. */
  if (j->cgroup[0] && (j->exec_errno || !os_cgroup_populated(j->cgroup))) {
    if (j->cgroup_made) rmdir(j->cgroup);
    j->cgroup[0] = 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/cgroup.tmp", s->dir);
    unlink(tmp);
  }
  return 0;
}

/* Step 3: tells that the job runs (its pid and start times, on stdout and in JOBDIR/pid; its
   cgroup in JOBDIR/cgroup), or why it could not. Only once exec has happened: the pid is then the
   job's, in its own group, with its id set. It is not reaped yet, so its /proc entry is there even
   if it has already exited. */
static void report_start(const spec_t *s, job_t *j) {
  if (j->exec_errno) {
    char msg[4300];
    char why[600];
    if (j->exec_step) snprintf(why, sizeof why, "%s: %s", confine_step_text(j->exec_step), strerror(j->exec_errno));
    else snprintf(why, sizeof why, "cannot run %.400s: %s", s->shell, strerror(j->exec_errno));
    int m = snprintf(msg, sizeof msg, "mcp-bg-jobs: %s\n", why);
    if (m > 0) ring_append(s->use_pty ? &j->out : &j->err, (unsigned char *)msg, (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1);
    say("error %ld %s\n", j->exec_errno, 0, j->exec_step ? why : strerror(j->exec_errno));
    return;
  }
  if (j->cgroup[0]) {
    /* Room for it was taken: this fails only on an I/O error. The server that started the job learns
       the cgroup from the report below either way, and the cgroup is removed at the end all the same. */
    char line[4200];
    snprintf(line, sizeof line, "%s\n", j->cgroup);
    write_file(s->dir, "cgroup", line);
  }
  char line[160];
  unsigned long long pid_start = start_time(j->pid), own_start = start_time(getpid());
  snprintf(line, sizeof line, "%ld %llu %ld %llu\n", (long)j->pid, pid_start, (long)getpid(), own_start);
  write_file(s->dir, "pid", line);
  char report[4400];
  snprintf(report, sizeof report, "%spid %ld %llu %ld %llu %s\n", line_prefix, (long)j->pid, pid_start, (long)getpid(),
           own_start, j->cgroup[0] ? j->cgroup : "-");
  ssize_t r = write(STDOUT_FILENO, report, strlen(report));
  (void)r;
}

/* Reaps every child that has ended (the job's own processes re-parented here among them); 1 once
   the job's main process is among them. */
static int reap(job_t *j) {
  int st, main_ended = 0;
  pid_t w;
  while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
    if (w == j->pid) {
      j->status = st;
      main_ended = 1;
    }
  }
  return main_ended;
}

/* SIGTERM to a server's shepherd is an order to end its job: SIGTERM to the job's process group now,
   after STOP_GRACE_MS SIGKILL to all of the job (see stop_job). A server gives it at its stop, so that
   the kill is carried out even if the server is killed right after (hosts send SIGKILL a moment after
   SIGTERM). The job can give it too ($PPID), and so ends itself, which it could do anyway. */
#define STOP_GRACE_MS 2000 /* the server's stop grace (SHUTDOWN_GRACE_MS in src/domain/defaults.ts) */
static void take_stop_orders(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_order;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
}

/* The job this process runs (for the kill that looks for its processes by MCP_BG_JOB_ID). */
static const char *own_job_id = "";

/* The live descendants of this process, found in one look at the process table, at most max of
   them. On Linux it is a subreaper: all of the job that is not in its own cgroup or process group
   ends up here. Where it cannot be one (macOS, portable mode), the processes that carry the job's
   MCP_BG_JOB_ID are taken too: an orphan that went to init keeps it unless it dropped it. */
static size_t descendants_by_table(pid_t *out, size_t max);

/* Whether a pid is among the first n of out. */
static int listed(const pid_t *out, size_t n, pid_t pid) {
  for (size_t i = 0; i < n; i++)
    if (out[i] == pid) return 1;
  return 0;
}

static size_t descendants(pid_t *out, size_t max) {
  /* From the children lists, walking only this shepherd's subtree (and init's children, for the
     orphans below): a thousand shepherds stopping at once each read a few files, not every process. */
  size_t found = 0;
  pid_t kids[4096];
  out[found++] = getpid();
  for (size_t i = 0; i < found && found < max; i++) {
    long n = os_children(out[i], kids, sizeof kids / sizeof kids[0]);
    if (n < 0) return descendants_by_table(out, max);
    for (long k = 0; k < n && found < max; k++) {
      proc_info_t p;
      if (os_proc(kids[k], &p) == 0 && p.state != 'Z') out[found++] = kids[k];
    }
  }
  if (os_portable() && own_job_id[0]) {
    /* Without a subreaper, a process of the job whose parent died is an orphan of init (launchd):
       only such orphans, born after this shepherd, can be its and out of its tree. */
    unsigned long long own_start = start_time(getpid());
    long n = os_children(1, kids, sizeof kids / sizeof kids[0]);
    for (long k = 0; k < n && found < max; k++) {
      proc_info_t p;
      char id[64];
      if (os_proc(kids[k], &p) != 0 || p.state == 'Z' || p.start < own_start) continue;
      if (!os_env_value(p.pid, "MCP_BG_JOB_ID", id, sizeof id) || strcmp(id, own_job_id) != 0) continue;
      if (!listed(out, found, p.pid)) out[found++] = p.pid;
    }
  }
  /* Drop this process itself (it was the root of the walk). */
  for (size_t i = 1; i < found; i++) out[i - 1] = out[i];
  return found - 1;
}

/* The same from the whole process table, where children lists cannot be had. */
static size_t descendants_by_table(pid_t *out, size_t max) {
  static proc_info_t all[32768];
  size_t n = os_process_table(all, sizeof all / sizeof all[0]), found = 0;
  out[found++] = getpid();
  for (size_t i = 0; i < found && found < max; i++) /* breadth first: out grows as it is walked */
    for (size_t k = 0; k < n && found < max; k++)
      if (all[k].ppid == out[i] && all[k].state != 'Z') out[found++] = all[k].pid;
  if (os_portable() && own_job_id[0]) {
    unsigned long long own_start = start_time(getpid());
    for (size_t k = 0; k < n && found < max; k++) {
      char id[64];
      if (all[k].state == 'Z' || all[k].pid == getpid() || all[k].ppid != 1 || all[k].start < own_start) continue;
      if (!os_env_value(all[k].pid, "MCP_BG_JOB_ID", id, sizeof id) || strcmp(id, own_job_id) != 0) continue;
      if (!listed(out, found, all[k].pid)) out[found++] = all[k].pid;
    }
  }
  /* Drop this process itself (it was the root of the walk). */
  for (size_t i = 1; i < found; i++) out[i - 1] = out[i];
  return found - 1;
}

/* Where a process whose parent dies leaves this one's tree (no subreaper: macOS, portable mode), the
   job's processes seen when the stop order came, named by pid and start time: they are signalled
   again at the deadline, found or not by a later look. */
static proc_info_t seen_at_stop[4096];
static size_t seen_count;

static void remember_descendants(void) {
  static pid_t found[4096];
  size_t n = descendants(found, sizeof found / sizeof found[0]);
  seen_count = 0;
  for (size_t i = 0; i < n && seen_count < sizeof seen_at_stop / sizeof seen_at_stop[0]; i++)
    if (os_proc(found[i], &seen_at_stop[seen_count]) == 0) seen_count++;
}

/* Sends sig to each process remembered at the stop order that is still the same process. */
static void signal_remembered(int sig) {
  for (size_t i = 0; i < seen_count; i++) {
    proc_info_t now;
    if (os_proc(seen_at_stop[i].pid, &now) == 0 && now.start == seen_at_stop[i].start && now.state != 'Z')
      kill(seen_at_stop[i].pid, sig);
  }
}

/* Whether any process remembered at the stop order is still the same process. */
static int remembered_alive(void) {
  for (size_t i = 0; i < seen_count; i++) {
    proc_info_t now;
    if (os_proc(seen_at_stop[i].pid, &now) == 0 && now.start == seen_at_stop[i].start && now.state != 'Z') return 1;
  }
  return 0;
}

/* Ends all of the job at once: its cgroup (cgroup.kill), its process group, and every descendant,
   each first stopped so that none forks another meanwhile, a few rounds. */
static void kill_all(const job_t *j) {
  if (j->cgroup[0]) os_cgroup_kill(j->cgroup);
  signal_remembered(SIGSTOP);
  static pid_t found[4096];
  /* Without a subreaper, what the group's end would orphan is stopped first. */
  if (!os_portable() && j->pid > 0) kill(-j->pid, SIGKILL);
  for (int round = 0; round < 5; round++) {
    size_t n = descendants(found, sizeof found / sizeof found[0]);
    for (size_t i = 0; i < n; i++) kill(found[i], SIGSTOP);
    if (j->pid > 0) kill(-j->pid, SIGKILL);
    signal_remembered(SIGKILL);
    for (size_t i = 0; i < n; i++) kill(found[i], SIGKILL);
    if (n == 0) break;
  }
}

/* The stop order's steps, as time goes: SIGTERM once, SIGKILL to all at the deadline. Returns how
   long until the next step is due (ms), or -1 when there is none. */
static long stop_job(job_t *j) {
  static uint64_t deadline;
  static int hard;
  if (!stop_wanted || hard) return -1;
  uint64_t now = now_ms(CLOCK_MONOTONIC);
  if (!deadline) {
    deadline = now + STOP_GRACE_MS;
    if (os_portable()) {
      /* Seen before any of them dies: a dying parent would orphan its children out of sight. */
      remember_descendants();
      signal_remembered(SIGTERM);
    }
    if (j->pid > 0) kill(-j->pid, SIGTERM);
  }
  if (now < deadline) return (long)(deadline - now);
  hard = 1;
  kill_all(j);
  return -1;
}

/* Step 4: copies output into the rings and input from the FIFO to the job, until the job's main
   process has ended and its output is drained (for at most drain_ms after the end: a background
   child that keeps the pipes open does not keep the job running). */
static void event_loop(const spec_t *s, job_t *j) {
  int out_open = 1, err_open = !s->use_pty, exited = j->exec_errno != 0;
  uint64_t deadline = exited ? now_ms(CLOCK_MONOTONIC) + s->drain_ms : 0;
  if (exited) stdin_gone(j, !s->use_pty);
  if (j->in_target >= 0) set_nonblock(j->in_target);
  set_nonblock(j->out_fd);
  if (j->err_fd >= 0) set_nonblock(j->err_fd);
  /* A job that closed stdout and stderr is still watched (its input, its end). */
  while (!exited || out_open || err_open) {
    struct pollfd p[5];
    int n = 0, i_out = -1, i_err = -1, i_in = -1, i_tgt = -1, i_chld;
    i_chld = n;
    p[n++] = (struct pollfd){.fd = chld_pipe[0], .events = POLLIN};
    if (out_open) {
      i_out = n;
      p[n++] = (struct pollfd){.fd = j->out_fd, .events = POLLIN};
      if (s->use_pty && j->pending_len > j->pending_off) p[i_out].events |= POLLOUT;
    }
    if (err_open) {
      i_err = n;
      p[n++] = (struct pollfd){.fd = j->err_fd, .events = POLLIN};
    }
    if (j->fifo >= 0 && j->pending_len == j->pending_off && !exited) {
      i_in = n;
      p[n++] = (struct pollfd){.fd = j->fifo, .events = POLLIN};
    }
    if (!s->use_pty && j->in_target >= 0) {
      /* Polled even with nothing to write: POLLERR says the job closed its stdin. */
      i_tgt = n;
      p[n++] = (struct pollfd){.fd = j->in_target, .events = j->pending_len > j->pending_off ? POLLOUT : 0};
    }
    int timeout = -1;
    if (exited) {
      uint64_t now = now_ms(CLOCK_MONOTONIC);
      if (now >= deadline) break;
      timeout = (int)(deadline - now < 20 ? deadline - now : 20);
    }
    long next_step = stop_job(j);
    if (next_step >= 0 && (timeout < 0 || next_step < timeout)) timeout = (int)next_step;
    /* Output came since the last poll: the job may be flooding. A short nap lets its writes pile up
       in the pipe (1 MB) instead of waking this process for each of them (4 KB each, for most
       programs): a flood is then read in batches of ~100 KB, at a tenth of the wakeups and system
       calls. Output that comes now and then is read as soon as it comes (the nap follows a read). */
    if (pumped > 0 && !exited) {
      struct timespec nap = {0, FLOOD_NAP_NS};
      nanosleep(&nap, NULL);
    }
    pumped = 0;
    int ready = poll(p, (nfds_t)n, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0 && exited) break; /* quiet after the exit: all it wrote before exiting is in */
    if (p[i_chld].revents) {
      char c[64];
      while (read(chld_pipe[0], c, sizeof c) > 0) {
      }
      if (reap(j) && !exited) {
        exited = 1;
        deadline = now_ms(CLOCK_MONOTONIC) + s->drain_ms;
        /* An ended job takes no input. */
        stdin_gone(j, !s->use_pty);
      }
    }
    /* Before the output: by the time a reader sees what the job printed after closing its stdin,
       writers' writes already fail. */
    if (i_tgt >= 0 && j->in_target >= 0 && (p[i_tgt].revents & (POLLERR | POLLHUP))) stdin_gone(j, 1);
    if (i_out >= 0 && (p[i_out].revents & (POLLIN | POLLHUP | POLLERR))) out_open = pump(j->out_fd, &j->out);
    if (i_err >= 0 && (p[i_err].revents & (POLLIN | POLLHUP | POLLERR))) err_open = pump(j->err_fd, &j->err);
    if (i_in >= 0 && j->fifo >= 0 && (p[i_in].revents & POLLIN)) {
      ssize_t r = read(j->fifo, j->pending, sizeof j->pending);
      if (r > 0) {
        j->pending_len = (size_t)r;
        j->pending_off = 0;
      }
    }
    if (j->in_target >= 0 && (s->use_pty ? out_open : 1) && j->pending_len > j->pending_off) {
      ssize_t w = write(j->in_target, j->pending + j->pending_off, j->pending_len - j->pending_off);
      if (w > 0) j->pending_off += (size_t)w;
      else if (w < 0 && errno == EPIPE && !s->use_pty) stdin_gone(j, 1);
      else if (w < 0 && errno != EAGAIN && errno != EINTR) j->pending_off = j->pending_len;
    }
    /* End of input asked for: once the FIFO is empty and all of it has been passed on, close the
       job's stdin (a pipe job reads EOF; a PTY job is sent Ctrl-D by the server instead). */
    if (eof_wanted && j->fifo >= 0 && j->pending_off == j->pending_len) {
      ssize_t r = read(j->fifo, j->pending, sizeof j->pending);
      if (r > 0) {
        j->pending_len = (size_t)r;
        j->pending_off = 0;
      } else if (r < 0 && errno == EAGAIN) {
        stdin_gone(j, !s->use_pty);
      }
    }
  }
  if (!exited) {
    while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR) {
    }
  }
  stdin_gone(j, !s->use_pty);
}

/* Step 5: tells how the job ended (on stdout and in JOBDIR/exit), then lets go of its files and
   of the server's pipe. */
static void report_exit(const spec_t *s, job_t *j) {
  int code = -1, signo = 0;
  if (j->exec_errno) code = 127;
  else if (WIFEXITED(j->status)) code = WEXITSTATUS(j->status);
  else if (WIFSIGNALED(j->status)) signo = WTERMSIG(j->status);
  char line[128];
  snprintf(line, sizeof line, "%d %d %llu\n", code, signo, (unsigned long long)now_ms(CLOCK_REALTIME));
  write_file(s->dir, "exit", line);
  say("exit %ld %ld\n", code, signo, NULL);
  close(j->out.fd);
  close(j->err.fd);
  if (j->out_fd >= 0) close(j->out_fd);
  if (j->err_fd >= 0) close(j->err_fd);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDOUT_FILENO);
    close(devnull);
  }
}

/* Step 6: stays while processes the job left behind live (they are its descendants, reaped here),
   then removes the job's cgroup (one it made), keeping what it says of the job's use of the machine
   in JOBDIR/usage (for its server, which may read it after the cgroup is gone). */
static void linger(const spec_t *s, job_t *j) {
  (void)s;
  /* A stop order carries on past the job's end: what it left gets SIGKILL at the deadline too. */
  /* Without a subreaper (portable mode) its orphans are no children of this process: those the stop
     order saw are waited for here, and killed at the deadline, all the same. */
  int left = 1;
  for (long wait = stop_job(j); wait >= 0; wait = stop_job(j)) {
    pid_t w = waitpid(-1, NULL, WNOHANG);
    if (w > 0) continue;
    if (w < 0 && errno == ECHILD) left = 0;
    if (!left && !remembered_alive()) break;
    struct timespec ts = {0, (wait < 20 ? wait : 20) * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  while (left) {
    pid_t w = waitpid(-1, NULL, 0);
    if (w < 0 && errno == ECHILD) left = 0;
  }
  if (j->cgroup[0] && j->cgroup_made) {
    os_cgroup_keep_usage(j->cgroup, jobdir_fd);
    os_cgroup_remove(j->cgroup);
  }
}

/* A server's shepherd (and its spawner) takes orders from the server only: on its pipe, its FIFO
   and SIGUSR2. The job it runs can name it ($PPID) but cannot end, stop or read it that way: the
   signals that would end or stop it are ignored (SIGKILL and SIGSTOP cannot be: a SIGKILLed
   shepherd's job is killed and ends lost, a stopped one is continued by its spawner at once and by
   any server that looks at or kills its job), and it is not dumpable, so a process of the same
   user that lacks CAP_SYS_PTRACE cannot attach to it or read its memory. The job's own signals
   are back to their defaults before its exec (exec_job). */
static void shield_from_job(void) {
  int sigs[] = {SIGHUP,    SIGINT,  SIGQUIT, SIGUSR1, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU, SIGVTALRM,
                SIGPROF,   SIGXCPU, SIGXFSZ, SIGPIPE, SIGTRAP, SIGSYS,  SIGABRT, SIGBUS};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_IGN);
  os_undumpable();
}


/* Runs one job, as named steps; a start that fails says "error ERRNO TEXT" and exits 1. */
static int run(const spec_t *s, int relay) {
  static job_t job;
  own_job_id = s->job_id;
  if (!relay) {
    shield_from_job();
    take_stop_orders();
  }
  if (setup_io(s, &job) < 0 || spawn(s, &job) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  if (relay) relay_stop_signals(job.pid);
  report_start(s, &job);
  event_loop(s, &job);
  report_exit(s, &job);
  linger(s, &job);
  return 0;
}

/* The cgroup directory argument: NULL for none ("-", empty or absent). */
static const char *cgroups_arg(const char *arg) { return arg && arg[0] && strcmp(arg, "-") != 0 ? arg : NULL; }

/* The fields of a spawner's request, in order (NUL-terminated each), then NAME=VALUE entries. */
enum {
  F_DIR,
  F_JOB_ID,
  F_CAP,
  F_DRAIN,
  F_PTY,
  F_COLS,
  F_ROWS,
  F_SHELL,
  F_CGROUPS,
  F_CONFINE,
  F_BANNER,
  F_CWD,
  F_COMMAND,
  N_FIELDS
};

/* Reads one request block from stdin: a line with a byte count, then that many bytes. NULL at EOF. */
static char *read_request(size_t *len) {
  char line[32];
  size_t n = 0;
  for (;;) {
    if (n + 1 >= sizeof line || read_exact(STDIN_FILENO, line + n, 1) < 0) return NULL;
    if (line[n] == '\n') break;
    n++;
  }
  line[n] = 0;
  *len = strtoull(line, NULL, 10);
  char *block = malloc(*len + 1);
  if (!block || read_exact(STDIN_FILENO, block, *len) < 0) return NULL;
  block[*len] = 0;
  return block;
}

/* In a child of the spawner: becomes the job's shepherd. It first writes down who it is
   (JOBDIR/shepherd: while it lives, the job is starting, whoever looks), then makes sure its
   spawner still lives: if the spawner (and so the server) died before that, nobody will record
   the job, and it does not start. */
static int shepherd_for(char *block, size_t len, pid_t spawner) {
  const char *field[N_FIELDS];
  size_t at = 0;
  for (int i = 0; i < N_FIELDS; i++) {
    if (at >= len) return 1;
    field[i] = block + at;
    at += strlen(block + at) + 1;
  }
  snprintf(line_prefix, sizeof line_prefix, "%.40s ", field[F_JOB_ID]);
  char who[96];
  snprintf(who, sizeof who, "%ld %llu\n", (long)getpid(), start_time(getpid()));
  if (write_file(field[F_DIR], "shepherd", who) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  if (getppid() != spawner) {
    char path[4200];
    snprintf(path, sizeof path, "%s/shepherd", field[F_DIR]);
    unlink(path);
    return 1;
  }
  while (at < len) {
    char *entry = block + at;
    at += strlen(entry) + 1;
    char *eq = strchr(entry, '=');
    if (!eq) continue;
    *eq = 0;
    setenv(entry, eq + 1, 1);
  }
  if (chdir(field[F_CWD]) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  uint64_t cap = strtoull(field[F_CAP], NULL, 10);
  spec_t s = {.dir = field[F_DIR],
              .job_id = field[F_JOB_ID],
              .cap = cap ? cap : 1,
              .drain_ms = strtoull(field[F_DRAIN], NULL, 10),
              .use_pty = field[F_PTY][0] == '1',
              .cols = atoi(field[F_COLS]),
              .rows = atoi(field[F_ROWS]),
              .shell = field[F_SHELL],
              .cgroups = cgroups_arg(field[F_CGROUPS]),
              .confine = field[F_CONFINE],
              .banner = field[F_BANNER],
              .command = field[F_COMMAND]};
  return run(&s, 0);
}

/* A shepherd the spawner forked, and the job it runs: to say which job's shepherd ended. */
static struct {
  pid_t pid;
  char job_id[48];
} kids[4096];

/* Reaps the shepherds that ended and says so, naming their jobs. A shepherd that was stopped
   (SIGSTOP from its job: `kill -STOP $PPID`) is continued at once: stopped, it would neither
   capture its job's output nor report its end. */
static void reap_shepherds(void) {
  pid_t w;
  int st;
  while ((w = waitpid(-1, &st, WNOHANG | WUNTRACED)) > 0) {
    if (WIFSTOPPED(st)) {
      kill(w, SIGCONT);
      continue;
    }
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
      if (kids[i].pid != w) continue;
      char line[80];
      int n = snprintf(line, sizeof line, "%s gone\n", kids[i].job_id);
      ssize_t r = write(STDOUT_FILENO, line, (size_t)n);
      (void)r;
      kids[i].pid = 0;
      break;
    }
  }
}

/*
 * Spawner mode: `shepherd --spawner` is started once by a server and forks a shepherd for each job
 * it is asked to run, so that starting a job never forks the server (a large process) while it
 * answers a request. Requests come on stdin, one block each: a line with a byte count, then that
 * many bytes of NUL-terminated fields: JOBDIR, JOB_ID, CAP_BYTES, DRAIN_MS, PTY, COLS, ROWS, SHELL,
 * CGROUPS ("-" for none), CWD, COMMAND, then NAME=VALUE entries added to the job's environment.
 * Each shepherd runs in a session of its own and writes its reports to the spawner's stdout, each
 * line starting with its job's id ("JOB_ID pid ...", "JOB_ID exit ...", "JOB_ID error ..."); when
 * a shepherd ends, the spawner says "JOB_ID gone" (a shepherd that was killed says nothing itself).
 * The spawner dies with the server (PR_SET_PDEATHSIG); its shepherds do not. EOF on stdin: exit 0.
 */
static int spawner(void) {
  pid_t server = getppid();
  os_die_with_parent();
  if (getppid() != server) return 0; /* the server died before the line above */
  shield_from_job();
  if (os_pipe(chld_pipe, 1) < 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  /* Told of shepherds that stop as well as of those that end (no SA_NOCLDSTOP): see reap_shepherds. */
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  pid_t self = getpid();
  for (;;) {
    struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = chld_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[1].revents) {
      char c[64];
      while (read(chld_pipe[0], c, sizeof c) > 0) {
      }
      reap_shepherds();
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    size_t len;
    char *block = read_request(&len);
    if (!block) return 0;
    const char *job_id = block + strnlen(block, len) + 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(chld_pipe[0]);
      close(chld_pipe[1]);
      signal(SIGCHLD, SIG_DFL);
      setsid();
      int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (devnull >= 0) dup2(devnull, STDIN_FILENO);
      _exit(shepherd_for(block, len, self));
    }
    if (pid > 0) {
      for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
        if (kids[i].pid != 0) continue;
        kids[i].pid = pid;
        snprintf(kids[i].job_id, sizeof kids[i].job_id, "%.40s", job_id);
        break;
      }
    } else {
      char line[600];
      int n = snprintf(line, sizeof line, "%.40s error %d %s\n", job_id, errno, strerror(errno));
      ssize_t r = write(STDOUT_FILENO, line, (size_t)n);
      (void)r;
    }
    free(block);
  }
}

#include "procs.c"

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--spawner") == 0) return spawner();
  if (argc >= 3 && strcmp(argv[1], "--mkfifo") == 0) return make_fifos(argc, argv);
  if (argc == 4 && strcmp(argv[1], "--procs") == 0) return answer_questions(argv[2], argv[3]);
  if (argc == 2 && strcmp(argv[1], "--confine-probe") == 0) {
    os_confine_probe();
    return 0;
  }
  if (argc < 10 || argc > 12) {
    fprintf(stderr, "usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SHELL COMMAND [CGROUPS [CONFINE]]\n"
                    "       shepherd --spawner   (jobs arrive on stdin; see spawner())\n"
                    "       shepherd --procs Q A (process questions; see procs.c)\n");
    return 2;
  }
  uint64_t cap = strtoull(argv[3], NULL, 10);
  spec_t s = {.dir = argv[1],
              .job_id = argv[2],
              .cap = cap ? cap : 1,
              .drain_ms = strtoull(argv[4], NULL, 10),
              .use_pty = argv[5][0] == '1',
              .cols = atoi(argv[6]),
              .rows = atoi(argv[7]),
              .shell = argv[8],
              .command = argv[9],
              .cgroups = cgroups_arg(argc > 10 ? argv[10] : NULL),
              .confine = argc > 11 ? argv[11] : NULL,
              .banner = NULL};
  return run(&s, 1);
}
