/*
 * Process questions, for a server that does not read /proc itself (macOS, and portable mode on
 * Linux): one small resident process per asking thread answers them from what the operating system
 * offers (os-*.c), so that no question costs a fork, and none parses `ps` or `lsof`.
 *
 *   shepherd --mkfifo PATH...   makes FIFOs (mode 0600) and exits: Node cannot make one
 *   shepherd --procs Q A        reads questions from the FIFO Q, one line each, and answers each with
 *                               one line on the FIFO A; ends at EOF on Q (its server is gone).
 *                               "-" for both: stdin and stdout
 *
 * Questions and answers (items separated by spaces):
 *   stat PID...                  PID:STATE:PPID:START for each, PID:- for a process that is not there
 *   scan TABLE IDS SKIP          TABLE 1: every process as PID:STATE:PPID:START; and each process whose
 *                                MCP_BG_JOB_ID is one of IDS (comma-separated, "-": none) as PID=ID,
 *                                the environments of SKIP (comma-separated pids, "-": none) not read
 *   ports PID...                 PID:PORT,PORT... for each process that listens on TCP ports
 *   boot                         this boot's id, or -
 *   cwd PID / args PID           the working directory / the NUL-separated arguments, hex, or -
 * Anything else is answered "error ...".
 */

/* An answer as it grows. */
typedef struct {
  char *text;
  size_t len, cap;
} answer_t;

static void put(answer_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(answer_t *a, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(a->text + a->len, a->cap - a->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < a->cap - a->len) {
      a->len += (size_t)n;
      return;
    }
    size_t cap = a->cap * 2 + (size_t)n + 64;
    char *grown = realloc(a->text, cap);
    if (!grown) return;
    a->text = grown;
    a->cap = cap;
  }
}

static void put_hex(answer_t *a, const unsigned char *data, size_t len) {
  for (size_t i = 0; i < len; i++) put(a, "%02x", data[i]);
}

static int by_pid(const void *x, const void *y) {
  pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;
  return (a > b) - (a < b);
}

/* The items of a comma-separated list, in place. */
static size_t split_commas(char *list, char **items, size_t max) {
  size_t n = 0;
  if (!list || strcmp(list, "-") == 0) return 0;
  for (char *item = strtok(list, ","); item && n < max; item = strtok(NULL, ",")) items[n++] = item;
  return n;
}

static void ask_stat(answer_t *a, char *args) {
  for (char *p = strtok(args, " "); p; p = strtok(NULL, " ")) {
    proc_info_t info;
    if (os_proc((pid_t)atol(p), &info) == 0)
      put(a, "%s%ld:%c:%ld:%llu", a->len ? " " : "", (long)info.pid, info.state, (long)info.ppid, info.start);
    else
      put(a, "%s%ld:-", a->len ? " " : "", atol(p));
  }
}

static void ask_scan(answer_t *a, char *args) {
  static proc_info_t all[65536];
  static char *ids[4096];
  static pid_t skip[65536];
  char *with_table = strtok(args, " "), *id_list = strtok(NULL, " "), *skip_list = strtok(NULL, " ");
  size_t n_ids = split_commas(id_list, ids, sizeof ids / sizeof ids[0]);
  size_t n_skip = 0;
  if (skip_list && strcmp(skip_list, "-") != 0) {
    for (char *p = strtok(skip_list, ","); p && n_skip < sizeof skip / sizeof skip[0]; p = strtok(NULL, ","))
      skip[n_skip++] = (pid_t)atol(p);
    qsort(skip, n_skip, sizeof skip[0], by_pid);
  }
  size_t n = os_process_table(all, sizeof all / sizeof all[0]);
  for (size_t i = 0; i < n; i++) {
    if (with_table && with_table[0] == '1')
      put(a, "%s%ld:%c:%ld:%llu", a->len ? " " : "", (long)all[i].pid, all[i].state, (long)all[i].ppid,
          all[i].start);
    if (n_ids == 0 || all[i].state == 'Z' || bsearch(&all[i].pid, skip, n_skip, sizeof skip[0], by_pid)) continue;
    char id[64];
    if (!os_env_value(all[i].pid, "MCP_BG_JOB_ID", id, sizeof id)) continue;
    for (size_t k = 0; k < n_ids; k++) {
      if (strcmp(ids[k], id) != 0) continue;
      put(a, "%s%ld=%s", a->len ? " " : "", (long)all[i].pid, id);
      break;
    }
  }
}

static void ask_ports(answer_t *a, char *args) {
  os_ports_begin();
  for (char *p = strtok(args, " "); p; p = strtok(NULL, " ")) {
    int ports[1024];
    int n = os_listening_ports((pid_t)atol(p), ports, (int)(sizeof ports / sizeof ports[0]));
    if (n <= 0) continue;
    put(a, "%s%ld:", a->len ? " " : "", atol(p));
    for (int i = 0; i < n; i++) put(a, "%s%d", i ? "," : "", ports[i]);
  }
}

static void answer(answer_t *a, char *line) {
  char *rest = strchr(line, ' ');
  if (rest) *rest++ = 0;
  else rest = line + strlen(line);
  if (strcmp(line, "stat") == 0) ask_stat(a, rest);
  else if (strcmp(line, "scan") == 0) ask_scan(a, rest);
  else if (strcmp(line, "ports") == 0) ask_ports(a, rest);
  else if (strcmp(line, "boot") == 0) {
    char id[128];
    put(a, "%s", os_boot_id(id, sizeof id) == 0 ? id : "-");
  } else if (strcmp(line, "cwd") == 0) {
    static char dir[4096];
    if (os_cwd((pid_t)atol(rest), dir, sizeof dir) == 0 && dir[0]) put_hex(a, (unsigned char *)dir, strlen(dir));
    else put(a, "-");
  } else if (strcmp(line, "args") == 0) {
    static char args[256 * 1024];
    long n = os_args((pid_t)atol(rest), args, sizeof args);
    if (n > 0) put_hex(a, (unsigned char *)args, (size_t)n);
    else put(a, "-");
  } else {
    put(a, "error unknown question %.40s", line);
  }
}

static int make_fifos(int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    if (mkfifo(argv[i], 0600) < 0 && errno != EEXIST) {
      fprintf(stderr, "mcp-bg-jobs: cannot make %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
  }
  return 0;
}

static int answer_questions(const char *q_path, const char *a_path) {
  signal(SIGPIPE, SIG_IGN);
  os_die_with_parent();
  shield_from_job();
  int q = strcmp(q_path, "-") == 0 ? STDIN_FILENO : open(q_path, O_RDONLY | O_CLOEXEC);
  if (q < 0) return 1;
  int out = strcmp(a_path, "-") == 0 ? STDOUT_FILENO : open(a_path, O_WRONLY | O_CLOEXEC);
  if (out < 0) return 1;
  size_t cap = 65536, len = 0;
  char *in = malloc(cap);
  answer_t a = {malloc(65536), 0, 65536};
  if (!in || !a.text) return 1;
  for (;;) {
    if (len == cap) {
      char *grown = realloc(in, cap * 2);
      if (!grown) return 1;
      in = grown;
      cap *= 2;
    }
    ssize_t n = read(q, in + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0; /* the server is gone */
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(in, '\n', len))) {
      *nl = 0;
      a.len = 0;
      answer(&a, in);
      put(&a, "\n");
      for (size_t off = 0; off < a.len;) {
        ssize_t w = write(out, a.text + off, a.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        off += (size_t)w;
      }
      size_t used = (size_t)(nl - in) + 1;
      memmove(in, nl + 1, len - used);
      len -= used;
    }
  }
}
