/*
 * shepherd: runs one job and captures its output, so that capture does not depend on the MCP server.
 *
 * usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SHELL COMMAND
 *        shepherd --warm CAP_BYTES DRAIN_MS SHELL   (the job arrives on stdin; see warm())
 * The server uses the --warm form, started ahead of need; the first form is for people and tests.
 *
 * The job runs as `SHELL -c COMMAND` in its own process group (a PTY job: its own session) with
 * MCP_BG_JOB_ID=JOB_ID in its environment; the shepherd itself does not carry that variable, so a
 * kill sweep that looks for it never hits the shepherd. The shepherd does not depend on the server
 * that started it: it lives in its own session and keeps capturing after that server is gone, so
 * a job survives a server crash and the next server (or the command line) finds it running.
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
 * Reports, each also kept in a file written atomically (tmp + rename):
 *  - "pid PID PID_START SHEPHERD_START" once the command is running (JOBDIR/pid holds
 *    "PID PID_START SHEPHERD_PID SHEPHERD_START"; the starts are /proc start times, so that a pid
 *    reused later is never taken for the job), or "error ERRNO TEXT" if it could not start;
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* musl (the static release builds) has neither <linux/close_range.h> nor a close_range() wrapper:
   the flag and the system call are named here, and a kernel without it (ENOSYS) takes the /proc path. */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436 /* the same on every architecture */
#endif

#define HEADER 64
#define CHUNK (1 << 20)

typedef struct {
  int fd;
  uint64_t cap;
  uint64_t written;
  uint64_t unstored;
} ring_t;

static int chld_pipe[2];
static volatile sig_atomic_t eof_wanted;
static unsigned char buf[CHUNK];

/* Wakes the poll loop when the child changes state. */
static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  ssize_t r = write(chld_pipe[1], "c", 1);
  (void)r;
  errno = saved;
}

/* Notes that end of input was asked for (SIGUSR2) and wakes the poll loop. */
static void on_eof_request(int sig) {
  (void)sig;
  eof_wanted = 1;
  on_sigchld(0);
}

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), or 0. */
static unsigned long long start_time(const char *pid) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  char *p = strrchr(text, ')'); /* the name may hold spaces and parentheses */
  if (!p) return 0;
  for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
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

static int ring_open(ring_t *r, const char *dir, const char *name, uint64_t cap) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  r->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (r->fd < 0) return -1;
  r->cap = cap;
  r->written = 0;
  r->unstored = 0;
  unsigned char h[HEADER];
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

static void say(const char *fmt, long a, long b, const char *text) {
  char line[512];
  int n = text ? snprintf(line, sizeof line, fmt, a, text) : snprintf(line, sizeof line, fmt, a, b);
  if (n > 0) {
    ssize_t r = write(STDOUT_FILENO, line, (size_t)n);
    (void)r;
  }
}

/* Writes JOBDIR/NAME atomically: readers see the whole line or no file. */
static void write_file(const char *dir, const char *name, const char *line) {
  char tmp[4096], path[4096];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  pwrite_all(fd, line, strlen(line), 0);
  close(fd);
  rename(tmp, path);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static char fifo_path[4096];

/* No more input: drop what was pending and close and remove the FIFO, so writers' writes fail too. */
static void stdin_gone(int *in_fd, int *in_target, int close_target, size_t *pending_off, size_t pending_len) {
  if (close_target && *in_target >= 0) {
    close(*in_target);
    *in_target = -1;
  }
  *pending_off = pending_len;
  if (*in_fd >= 0) {
    unlink(fifo_path);
    close(*in_fd);
    *in_fd = -1;
  }
}

/* Reads what is available from fd into the ring; returns 0 at end of stream, 1 otherwise. */
static int pump(int fd, ring_t *r) {
  for (int i = 0; i < 16; i++) {
    ssize_t n = read(fd, buf, CHUNK);
    if (n > 0) {
      ring_append(r, buf, (size_t)n);
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

static int run(const char *dir, const char *job_id, uint64_t cap, uint64_t drain_ms, int use_pty, int cols, int rows,
               const char *shell, const char *command);

/*
 * Warm mode: `shepherd --warm CAP_BYTES DRAIN_MS SHELL` starts ahead of need and waits for one job
 * on stdin: a line with a byte count, then that many bytes of NUL-terminated fields: JOBDIR,
 * JOB_ID, PTY, COLS, ROWS, CWD, COMMAND, then NAME=VALUE environment entries for the job. The
 * server thus pays for starting a process before a job is asked for, not while it waits. Stdin
 * carries nothing after the block (input goes through JOBDIR/stdin). EOF before a block: exit 0.
 */
static int warm(char **argv) {
  char line[32];
  size_t n = 0;
  for (;;) {
    if (n + 1 >= sizeof line || read_exact(STDIN_FILENO, line + n, 1) < 0) return 0;
    if (line[n] == '\n') break;
    n++;
  }
  line[n] = 0;
  size_t len = strtoull(line, NULL, 10);
  char *block = malloc(len + 1);
  if (!block || read_exact(STDIN_FILENO, block, len) < 0) return 1;
  block[len] = 0;
  const char *field[7];
  size_t at = 0;
  for (int i = 0; i < 7; i++) {
    if (at >= len) return 1;
    field[i] = block + at;
    at += strlen(block + at) + 1;
  }
  while (at < len) {
    char *entry = block + at;
    at += strlen(entry) + 1;
    char *eq = strchr(entry, '=');
    if (!eq) continue;
    *eq = 0;
    setenv(entry, eq + 1, 1);
  }
  if (chdir(field[5]) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  uint64_t cap = strtoull(argv[2], NULL, 10);
  return run(field[0], field[1], cap ? cap : 1, strtoull(argv[3], NULL, 10), field[2][0] == '1', atoi(field[3]),
             atoi(field[4]), argv[4], field[6]);
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--warm") == 0) return warm(argv);
  if (argc != 10) {
    fprintf(stderr, "usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SHELL COMMAND\n"
                    "       shepherd --warm CAP_BYTES DRAIN_MS SHELL\n");
    return 2;
  }
  uint64_t cap = strtoull(argv[3], NULL, 10);
  return run(argv[1], argv[2], cap ? cap : 1, strtoull(argv[4], NULL, 10), argv[5][0] == '1', atoi(argv[6]),
             atoi(argv[7]), argv[8], argv[9]);
}

static int run(const char *dir, const char *job_id, uint64_t cap, uint64_t drain_ms, int use_pty, int cols, int rows,
               const char *shell, const char *command) {

  signal(SIGPIPE, SIG_IGN);
  /* Nothing more comes on stdin, and the server's pipe must not be held once it is gone. */
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    close(devnull);
  }
  ring_t out, err;
  if (ring_open(&out, dir, "stdout", cap) < 0 || ring_open(&err, dir, "stderr", cap) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  snprintf(fifo_path, sizeof fifo_path, "%s/stdin", dir);
  unlink(fifo_path);
  int in_fd = -1;
  if (mkfifo(fifo_path, 0600) < 0 || (in_fd = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }

  int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1}, execp[2], master = -1;
  char *slave_name = NULL;
  if (use_pty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave_name = ptsname(master))) {
      say("error %ld %s\n", errno, 0, strerror(errno));
      return 1;
    }
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(master, TIOCSWINSZ, &ws);
  } else if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(inp, O_CLOEXEC) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  } else {
    /* A larger pipe means fewer wake-ups for a job that floods. */
    fcntl(outp[0], F_SETPIPE_SZ, CHUNK);
    fcntl(errp[0], F_SETPIPE_SZ, CHUNK);
  }
  if (pipe2(execp, O_CLOEXEC) < 0 || pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_eof_request;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);

  pid_t pid = fork();
  if (pid < 0) {
    say("error %ld %s\n", errno, 0, strerror(errno));
    return 1;
  }
  if (pid == 0) {
    /* The job starts clean: default signal dispositions, nothing blocked, no inherited descriptors
       but 0, 1 and 2 (the rest are marked close-on-exec; execp stays open until the exec). */
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    DIR *fds = syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0 ? NULL : opendir("/proc/self/fd");
    if (fds) {
      struct dirent *e;
      while ((e = readdir(fds))) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != dirfd(fds)) fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
      closedir(fds);
    }
    /* Its own process group, so that a kill reaches all of it; a PTY job also needs its own
       session to own the terminal. A pipe job stays in the shepherd's session: the scheduler then
       shares the CPU between the job and its reader as one group (autogroup), not as rivals. */
    if (use_pty) setsid();
    else setpgid(0, 0);
    if (use_pty) {
      int s = open(slave_name, O_RDWR);
      if (s < 0) goto failed;
      ioctl(s, TIOCSCTTY, 0);
      dup2(s, 0);
      dup2(s, 1);
      dup2(s, 2);
      if (s > 2) close(s);
    } else {
      dup2(inp[0], 0);
      dup2(outp[1], 1);
      dup2(errp[1], 2);
    }
    setenv("MCP_BG_JOB_ID", job_id, 1);
    execl(shell, shell, "-c", command, (char *)NULL);
  failed:;
    int e = errno;
    ssize_t r = write(execp[1], &e, sizeof e);
    (void)r;
    _exit(127);
  }

  close(execp[1]);
  if (!use_pty) {
    close(inp[0]);
    close(outp[1]);
    close(errp[1]);
  }
  int exec_errno = 0;
  ssize_t got;
  do got = read(execp[0], &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  close(execp[0]);
  if (got > 0) {
    char msg[4300];
    int m = snprintf(msg, sizeof msg, "mcp-bg-jobs: cannot run %s: %s\n", shell, strerror(exec_errno));
    if (m > 0) ring_append(use_pty ? &out : &err, (unsigned char *)msg, (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1);
    say("error %ld %s\n", exec_errno, 0, strerror(exec_errno));
  } else {
    /* Only once exec has happened: the pid is then the job's, in its own group, with its id set.
       It is not reaped yet, so its /proc entry is there even if it has already exited. */
    char pid_text[32], line[160];
    snprintf(pid_text, sizeof pid_text, "%ld", (long)pid);
    unsigned long long pid_start = start_time(pid_text), own_start = start_time("self");
    snprintf(line, sizeof line, "%ld %llu %ld %llu\n", (long)pid, pid_start, (long)getpid(), own_start);
    write_file(dir, "pid", line);
    snprintf(line, sizeof line, "pid %ld %llu %llu\n", (long)pid, pid_start, own_start);
    ssize_t r = write(STDOUT_FILENO, line, strlen(line));
    (void)r;
  }

  /* Input from the FIFO goes to in_target: the PTY, or the write end of the job's stdin pipe. */
  int in_target = use_pty ? master : inp[1];
  set_nonblock(in_target);
  if (!use_pty) {
    set_nonblock(outp[0]);
    set_nonblock(errp[0]);
  }

  static unsigned char pending[65536];
  size_t pending_len = 0, pending_off = 0;
  int out_open = 1, err_open = !use_pty, exited = 0, status = 0;
  uint64_t deadline = 0;
  /* Until the job has exited and its output is drained: a job that closed stdout and stderr is
     still watched (its input, its end). */
  while (!exited || out_open || err_open) {
    struct pollfd p[5];
    int n = 0, i_out = -1, i_err = -1, i_in = -1, i_tgt = -1, i_chld;
    i_chld = n;
    p[n++] = (struct pollfd){.fd = chld_pipe[0], .events = POLLIN};
    if (out_open) {
      i_out = n;
      p[n++] = (struct pollfd){.fd = use_pty ? master : outp[0], .events = POLLIN};
      if (use_pty && pending_len > pending_off) p[i_out].events |= POLLOUT;
    }
    if (err_open) {
      i_err = n;
      p[n++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
    }
    if (in_fd >= 0 && pending_len == pending_off && !exited) {
      i_in = n;
      p[n++] = (struct pollfd){.fd = in_fd, .events = POLLIN};
    }
    if (!use_pty && in_target >= 0) {
      /* Polled even with nothing to write: POLLERR says the job closed its stdin. */
      i_tgt = n;
      p[n++] = (struct pollfd){.fd = in_target, .events = pending_len > pending_off ? POLLOUT : 0};
    }
    int timeout = -1;
    if (exited) {
      uint64_t now = now_ms(CLOCK_MONOTONIC);
      if (now >= deadline) break;
      timeout = (int)(deadline - now < 20 ? deadline - now : 20);
    }
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
      if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
        exited = 1;
        deadline = now_ms(CLOCK_MONOTONIC) + drain_ms;
        /* An ended job takes no input. */
        stdin_gone(&in_fd, &in_target, !use_pty, &pending_off, pending_len);
      }
    }
    /* Before the output: by the time a reader sees what the job printed after closing its stdin,
       writers' writes already fail. */
    if (i_tgt >= 0 && in_target >= 0 && (p[i_tgt].revents & (POLLERR | POLLHUP)))
      stdin_gone(&in_fd, &in_target, 1, &pending_off, pending_len);
    if (i_out >= 0 && (p[i_out].revents & (POLLIN | POLLHUP | POLLERR)))
      out_open = pump(use_pty ? master : outp[0], &out);
    if (i_err >= 0 && (p[i_err].revents & (POLLIN | POLLHUP | POLLERR))) err_open = pump(errp[0], &err);
    if (i_in >= 0 && in_fd >= 0 && (p[i_in].revents & POLLIN)) {
      ssize_t r = read(in_fd, pending, sizeof pending);
      if (r > 0) {
        pending_len = (size_t)r;
        pending_off = 0;
      }
    }
    if (in_target >= 0 && (use_pty ? out_open : 1) && pending_len > pending_off) {
      ssize_t w = write(in_target, pending + pending_off, pending_len - pending_off);
      if (w > 0) pending_off += (size_t)w;
      else if (w < 0 && errno == EPIPE && !use_pty) stdin_gone(&in_fd, &in_target, 1, &pending_off, pending_len);
      else if (w < 0 && errno != EAGAIN && errno != EINTR) pending_off = pending_len;
    }
    /* End of input asked for: once the FIFO is empty and all of it has been passed on, close the
       job's stdin (a pipe job reads EOF; a PTY job is sent Ctrl-D by the server instead). */
    if (eof_wanted && in_fd >= 0 && pending_off == pending_len) {
      ssize_t r = read(in_fd, pending, sizeof pending);
      if (r > 0) {
        pending_len = (size_t)r;
        pending_off = 0;
      } else if (r < 0 && errno == EAGAIN) {
        stdin_gone(&in_fd, &in_target, !use_pty, &pending_off, pending_len);
      }
    }
  }
  if (!exited) waitpid(pid, &status, 0);
  stdin_gone(&in_fd, &in_target, !use_pty, &pending_off, pending_len);

  int code = -1, signo = 0;
  if (exec_errno) code = 127;
  else if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) signo = WTERMSIG(status);
  char line[128];
  snprintf(line, sizeof line, "%d %d %llu\n", code, signo, (unsigned long long)now_ms(CLOCK_REALTIME));
  write_file(dir, "exit", line);
  say("exit %ld %ld\n", code, signo, NULL);
  return 0;
}
