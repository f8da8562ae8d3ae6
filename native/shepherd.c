/*
 * shepherd: runs one job and captures its output, so that capture does not depend on the MCP server.
 *
 * usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SERVER_PID GRACE_MS SHELL COMMAND
 *        shepherd --warm CAP_BYTES DRAIN_MS SERVER_PID GRACE_MS SHELL   (the job arrives on stdin; see warm())
 * The server uses the --warm form, started ahead of need; the first form is for people and tests.
 *
 * The job runs as `SHELL -c COMMAND` in its own process group (a PTY job: its own session) with
 * MCP_BG_JOB_ID=JOB_ID in its environment; the shepherd itself does not carry that variable, so a
 * kill sweep that looks for it never hits the shepherd. The job's stdin is the shepherd's stdin
 * is a pipe, or with PTY=1 a pseudo-terminal, that the shepherd feeds from its own stdin (from the
 * server). When the job closes its stdin, the shepherd closes its own, so the server's next write
 * fails with EPIPE instead of vanishing.
 *
 * Output goes into two ring files, JOBDIR/stdout and JOBDIR/stderr: a 64-byte header
 * ("BGRING01", capacity, bytes written so far, bytes being written up to; little-endian u64s) then
 * CAP_BYTES of data; stream byte N lives at 64 + N % CAP. A write first raises "being written up
 * to", then writes the data, then raises "written": a reader that sees a count sees its data, and
 * knows which old bytes may be under overwrite. A file, unlike a pipe to the server, survives the server: the job never gets
 * SIGPIPE because its reader went away, and disk use stays at CAP_BYTES per stream.
 *
 * Protocol on stdout (one line each): "pid N" once the command is running, or "error ERRNO TEXT"
 * if it could not start; then "exit CODE SIGNO" when it has ended (CODE -1 when killed by SIGNO).
 * The same end is written atomically to JOBDIR/exit as "CODE SIGNO ENDED_MS". The end is taken from
 * the job's exit, not from its pipes closing; remaining output is drained for at most DRAIN_MS.
 *
 * With SERVER_PID > 0 the job does not outlive that server, however it ends (even SIGKILL): when
 * the server dies, the shepherd sends SIGTERM to the job's group and to every process carrying its
 * MCP_BG_JOB_ID, and SIGKILL to what is left after GRACE_MS. SERVER_PID 0 lets the job live on.
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
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HEADER 64
#define CHUNK (1 << 20)

typedef struct {
  int fd;
  uint64_t cap;
  uint64_t written;
} ring_t;

static int chld_pipe[2];
static volatile sig_atomic_t orphaned;
static unsigned char buf[CHUNK];

/* Wakes the poll loop when the child changes state. */
static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  ssize_t r = write(chld_pipe[1], "c", 1);
  (void)r;
  errno = saved;
}

/* Notes that the server died (PR_SET_PDEATHSIG) and wakes the poll loop. */
static void on_server_death(int sig) {
  (void)sig;
  orphaned = 1;
  on_sigchld(0);
}

/* Sends sig to every process (but this one) whose environment carries MCP_BG_JOB_ID=job_id; returns how many. */
static int signal_job_processes(const char *job_id, int sig) {
  char want[256];
  int wn = snprintf(want, sizeof want, "MCP_BG_JOB_ID=%s", job_id);
  if (wn <= 0 || (size_t)wn >= sizeof want) return 0;
  DIR *d = opendir("/proc");
  if (!d) return 0;
  static char *env = NULL;
  static size_t env_cap = 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t p = (pid_t)atoi(e->d_name);
    if (p == getpid()) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    /* The whole environment, however large: the id may sit past a 100 KB variable. */
    ssize_t n = 0, got;
    for (;;) {
      if ((size_t)n + 1 >= env_cap) {
        size_t cap = env_cap ? env_cap * 2 : 1 << 16;
        char *grown = realloc(env, cap);
        if (!grown) break;
        env = grown;
        env_cap = cap;
      }
      got = read(fd, env + n, env_cap - 1 - (size_t)n);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      n += got;
    }
    close(fd);
    if (n <= 0 || !env) continue;
    env[n] = 0;
    for (ssize_t i = 0; i + wn <= n; i += (ssize_t)strlen(env + i) + 1) {
      if (memcmp(env + i, want, (size_t)wn) == 0 && env[i + wn] == 0) {
        kill(p, sig);
        count++;
        break;
      }
    }
  }
  closedir(d);
  return count;
}

static uint64_t now_ms(int clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes all of len bytes at off, retrying short writes; gives up silently on errors (disk full). */
static void pwrite_all(int fd, const void *data, size_t len, off_t off) {
  const unsigned char *p = data;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
    off += n;
  }
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
  pwrite_all(r->fd, data, first, (off_t)(HEADER + pos));
  if (first < len) pwrite_all(r->fd, data + first, len - first, HEADER);
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

static void write_exit_file(const char *dir, int code, int signo) {
  char tmp[4096], path[4096], line[128];
  snprintf(tmp, sizeof tmp, "%s/exit.tmp", dir);
  snprintf(path, sizeof path, "%s/exit", dir);
  int n = snprintf(line, sizeof line, "%d %d %llu\n", code, signo,
                   (unsigned long long)now_ms(CLOCK_REALTIME));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  pwrite_all(fd, line, (size_t)n, 0);
  close(fd);
  rename(tmp, path);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The job closed its stdin: drop what was pending and close ours, so the server's writes fail too. */
static void stdin_gone(int *in_fd, int *in_target, size_t *pending_off, size_t pending_len) {
  close(*in_target);
  *in_target = -1;
  *pending_off = pending_len;
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    close(devnull);
  }
  *in_fd = -1;
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
               pid_t server, uint64_t grace_ms, const char *shell, const char *command);

/*
 * Warm mode: `shepherd --warm CAP_BYTES DRAIN_MS SERVER_PID GRACE_MS SHELL` starts ahead of need and
 * waits for one job on stdin: a line with a byte count, then that many bytes of NUL-terminated
 * fields: JOBDIR, JOB_ID, PTY, COLS, ROWS, CWD, COMMAND, then NAME=VALUE environment entries for the
 * job. The server thus pays for starting a process before a job is asked for, not while it waits.
 * After the block, stdin carries the job's input as in the plain mode. EOF before a block: exit 0.
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
             atoi(field[4]), (pid_t)atoi(argv[4]), strtoull(argv[5], NULL, 10), argv[6], field[6]);
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "--warm") == 0) return warm(argv);
  if (argc != 12) {
    fprintf(stderr, "usage: shepherd JOBDIR JOB_ID CAP_BYTES DRAIN_MS PTY COLS ROWS SERVER_PID GRACE_MS SHELL COMMAND\n"
                    "       shepherd --warm CAP_BYTES DRAIN_MS SERVER_PID GRACE_MS SHELL\n");
    return 2;
  }
  uint64_t cap = strtoull(argv[3], NULL, 10);
  return run(argv[1], argv[2], cap ? cap : 1, strtoull(argv[4], NULL, 10), argv[5][0] == '1', atoi(argv[6]),
             atoi(argv[7]), (pid_t)atoi(argv[8]), strtoull(argv[9], NULL, 10), argv[10], argv[11]);
}

static int run(const char *dir, const char *job_id, uint64_t cap, uint64_t drain_ms, int use_pty, int cols, int rows,
               pid_t server, uint64_t grace_ms, const char *shell, const char *command) {

  signal(SIGPIPE, SIG_IGN);
  ring_t out, err;
  if (ring_open(&out, dir, "stdout", cap) < 0 || ring_open(&err, dir, "stderr", cap) < 0) {
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
  if (server > 0) {
    sa.sa_handler = on_server_death;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != server) orphaned = 1; /* it died before we could ask to be told */
  }

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
    prctl(PR_SET_PDEATHSIG, 0);
    DIR *fds = close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0 ? NULL : opendir("/proc/self/fd");
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
    /* Only once exec has happened: the pid is then the job's, in its own group, with its id set. */
    say("pid %ld\n", pid, 0, NULL);
  }

  /* Input from the server goes to in_target: the PTY, or the write end of the job's stdin pipe. */
  int in_fd = STDIN_FILENO, in_target = use_pty ? master : inp[1];
  set_nonblock(in_fd);
  set_nonblock(in_target);
  if (!use_pty) {
    set_nonblock(outp[0]);
    set_nonblock(errp[0]);
  }

  static unsigned char pending[65536];
  size_t pending_len = 0, pending_off = 0;
  int out_open = 1, err_open = !use_pty, exited = 0, status = 0;
  uint64_t deadline = 0, kill_at = 0;
  int terminating = 0;
  /* Until the job has exited and its output is drained: a job that closed stdout and stderr is
     still watched (its server's death, its input). */
  while (!exited || out_open || err_open) {
    if (orphaned && !terminating) {
      /* The server is gone: end the job as kill_job would. */
      terminating = 1;
      kill(-pid, SIGTERM);
      signal_job_processes(job_id, SIGTERM);
      kill_at = now_ms(CLOCK_MONOTONIC) + grace_ms;
    }
    if (kill_at && now_ms(CLOCK_MONOTONIC) >= kill_at) {
      kill(-pid, SIGKILL);
      signal_job_processes(job_id, SIGKILL);
      kill_at = 0;
    }
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
    if (kill_at) {
      uint64_t now = now_ms(CLOCK_MONOTONIC);
      timeout = kill_at > now ? (int)(kill_at - now) : 0;
    }
    if (exited) {
      uint64_t now = now_ms(CLOCK_MONOTONIC);
      if (now >= deadline) break;
      int drain = (int)(deadline - now < 20 ? deadline - now : 20);
      if (timeout < 0 || drain < timeout) timeout = drain;
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
      }
    }
    /* Before the output: by the time a reader sees what the job printed after closing its stdin,
       the server's writes already fail. */
    if (i_tgt >= 0 && (p[i_tgt].revents & (POLLERR | POLLHUP))) stdin_gone(&in_fd, &in_target, &pending_off, pending_len);
    if (i_out >= 0 && (p[i_out].revents & (POLLIN | POLLHUP | POLLERR)))
      out_open = pump(use_pty ? master : outp[0], &out);
    if (i_err >= 0 && (p[i_err].revents & (POLLIN | POLLHUP | POLLERR))) err_open = pump(errp[0], &err);
    if (i_in >= 0 && (p[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(in_fd, pending, sizeof pending);
      if (r > 0) {
        pending_len = (size_t)r;
        pending_off = 0;
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        /* The server closed its end (end of input): pass it on to a pipe job. */
        in_fd = -1;
        if (!use_pty && in_target >= 0) {
          close(in_target);
          in_target = -1;
        }
      }
    }
    if (in_target >= 0 && (use_pty ? out_open : 1) && pending_len > pending_off) {
      ssize_t w = write(in_target, pending + pending_off, pending_len - pending_off);
      if (w > 0) pending_off += (size_t)w;
      else if (w < 0 && errno == EPIPE && !use_pty) stdin_gone(&in_fd, &in_target, &pending_off, pending_len);
      else if (w < 0 && errno != EAGAIN && errno != EINTR) pending_off = pending_len;
    }
  }
  if (!exited) waitpid(pid, &status, 0);
  if (terminating) {
    /* Escapees that ignore SIGTERM get the rest of the grace, then SIGKILL. */
    while (kill_at && now_ms(CLOCK_MONOTONIC) < kill_at && signal_job_processes(job_id, 0) > 0) usleep(50000);
    kill(-pid, SIGKILL);
    for (int round = 0; round < 100 && signal_job_processes(job_id, SIGKILL) > 0; round++) usleep(10000);
  }

  int code = -1, signo = 0;
  if (exec_errno) code = 127;
  else if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) signo = WTERMSIG(status);
  write_exit_file(dir, code, signo);
  say("exit %ld %ld\n", code, signo, NULL);
  return 0;
}
