// The web page of mcp-bg-jobs: the live job list (/) and one job's page (/job/ID). Plain browser
// script, no framework: every text a job or its command supplies goes in as text (textContent,
// xterm's renderer), never as HTML. Live data comes over server-sent events; nothing is polled.

(() => {
  const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2"];
  const STATUSES = ["queued", "running", "completed", "failed", "killed"];
  /** Rows drawn at once (more than a screen holds), and then each frame. */
  const FIRST_ROWS = 60;
  const ROWS_A_FRAME = 250;
  /** Lines a job's terminal keeps (each costs the browser ~2 KB); Download has all that is kept. */
  const SCROLLBACK = 50000;

  const $ = (sel) => document.querySelector(sel);
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // 3725 s -> "1h 02m"; 64 s -> "1m 04s"; 9 s -> "9s".
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const two = (n) => String(n).padStart(2, "0");
    if (h > 0) return `${h}h ${two(m)}m`;
    if (m > 0) return `${m}m ${two(s % 60)}s`;
    return `${s}s`;
  }
  const runTime = (j) => duration((j.completed ? Date.parse(j.completed) : Date.now()) - Date.parse(j.started));
  const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const today = new Date().toDateString();
  const when = (iso) => {
    const d = new Date(iso);
    return (d.toDateString() === today ? timeOnly : dateAndTime).format(d);
  };
  // How it ended, and what it used (CPU time, peak memory) where its cgroup told it.
  const used = (j) =>
    [
      typeof j.cpu_seconds === "number" ? `CPU ${j.cpu_seconds.toFixed(1)} s` : "",
      typeof j.peak_memory_bytes === "number" ? `peak ${(j.peak_memory_bytes / 1048576).toFixed(0)} MB` : "",
    ]
      .filter(Boolean)
      .join(", ");
  // A queued job: what it waits for; a running one: its restarts and readiness, if it has them.
  const supervised = (j) =>
    [
      typeof j.restarts === "number" && j.restarts > 0 ? `restarted ${j.restarts}×` : "",
      j.ready === true ? "ready" : j.ready === false ? "not ready yet" : "",
    ]
      .filter(Boolean)
      .join(", ");
  const result = (j) => {
    if (j.status === "queued") return j.waiting ? `waiting: ${j.waiting}` : "queued";
    if (j.status === "running") return supervised(j);
    const u = used(j);
    return `${j.outcome || j.status}${u ? ` (${u})` : ""}`;
  };
  // Text a job supplies (its name, command, dir), shown as the command line shows it: the controls that
  // reorder or break text (U+202E shows what follows backwards) or that a terminal obeys are
  // shown escaped (`\u202e`, `\n`, `\e`), so that they are seen, not obeyed.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
  const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  const NAMED = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e" };
  const visible = (text) =>
    String(text).replace(CONTROLS, (c) => {
      const code = c.charCodeAt(0);
      return (
        NAMED[c] ||
        (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`)
      );
    });
  const label = (j) => visible(j.name || j.command);
  const badge = (status) => el("span", { class: `badge ${status}`, text: status });
  const ports = (j) => (j.ports && j.ports.length > 0 ? j.ports.join(", ") : "");

  function setConn(text, live) {
    const c = $("#conn");
    c.textContent = text;
    c.classList.toggle("live", !!live);
  }

  // The job list, live: a snapshot, then changes. `onJobs` hears every change.
  function followBoard(onJobs) {
    const jobs = new Map();
    let total = 0;
    const es = new EventSource("/api/events");
    es.addEventListener("open", () => setConn("live", true));
    es.addEventListener("error", () => setConn("reconnecting…", false));
    es.addEventListener("snapshot", (ev) => {
      const d = JSON.parse(ev.data);
      jobs.clear();
      for (const j of d.jobs) jobs.set(j.job_id, j);
      total = d.total;
      onJobs(jobs, total);
    });
    es.addEventListener("change", (ev) => {
      const d = JSON.parse(ev.data);
      for (const j of d.upsert) jobs.set(j.job_id, j);
      for (const id of d.remove) jobs.delete(id);
      total = d.total;
      onJobs(jobs, total);
    });
    return es;
  }

  // ---- The list -------------------------------------------------------------------------------

  function listPage() {
    document.title = "mcp-bg-jobs: jobs";
    const status = el("select", { "aria-label": "Status" }, el("option", { value: "", text: "All statuses" }));
    for (const s of STATUSES) status.append(el("option", { value: s, text: s }));
    const text = el("input", {
      type: "search",
      placeholder: "Filter: name, command, directory, id",
      "aria-label": "Filter",
    });
    const count = el("span", { class: "count" });
    const body = el("tbody");
    const table = el(
      "table",
      { class: "jobs" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["Status", "Job", "Directory", "Started", "Run time", "Result", "Server", "Ports"].map((h) =>
            el("th", { text: h }),
          ),
        ),
      ),
      body,
    );
    const empty = el("p", { class: "empty", text: "Loading jobs…" });
    $("#app").replaceChildren(el("div", { class: "toolbar" }, status, text, count), table, empty);

    let jobs = new Map();
    let total = 0;
    let draws = 0;
    let firstDrawn = false;
    const rows = new Map(); // job id -> { tr, key, run, job }

    function rowFor(j) {
      const key = JSON.stringify(j);
      let r = rows.get(j.job_id);
      if (r && r.key === key) return r;
      const what = el(
        "td",
        { class: "what", title: visible(j.command) },
        el("a", { href: `/job/${encodeURIComponent(j.job_id)}`, text: label(j) }),
        j.name ? el("span", { class: "cmd mono", text: `  ${visible(j.command)}` }) : null,
      );
      const run = el("td", { class: "run mono", text: runTime(j) });
      const tr = el(
        "tr",
        { "data-job": j.job_id, "data-status": j.status },
        el("td", {}, badge(j.status)),
        what,
        el("td", { class: "cwd mono", title: visible(j.cwd), text: visible(j.cwd) }),
        el("td", { title: j.started, text: when(j.started) }),
        run,
        el("td", { class: "result", text: result(j) }),
        el("td", { class: "mono", text: j.owner_pid ? `pid ${j.owner_pid}` : "" }),
        el("td", { class: "ports mono", text: ports(j) }),
      );
      r = { tr, key, run, job: j };
      rows.set(j.job_id, r);
      return r;
    }

    function render() {
      const want = status.value;
      const needle = text.value.trim().toLowerCase();
      const shown = [];
      for (const j of jobs.values()) {
        if (want && j.status !== want) continue;
        if (needle && ![j.name || "", j.command, j.cwd, j.job_id].some((s) => s.toLowerCase().includes(needle)))
          continue;
        shown.push(j);
      }
      shown.sort((a, b) => (a.started < b.started ? 1 : a.started > b.started ? -1 : a.job_id < b.job_id ? 1 : -1));
      for (const id of rows.keys()) if (!jobs.has(id)) rows.delete(id);
      count.textContent = `${shown.length} shown of ${total} job${total === 1 ? "" : "s"}`;
      empty.textContent =
        shown.length === 0 ? (total === 0 ? "No jobs on this state dir yet." : "No job matches.") : "";
      empty.hidden = shown.length > 0;
      // The first time, the first screenful at once and the rest a chunk a frame: a long list paints as
      // soon as a short one. Later, all at once (a person scrolled down stays where they are).
      const drawn = ++draws;
      if (firstDrawn) return body.replaceChildren(...shown.map((j) => rowFor(j).tr));
      firstDrawn = true;
      body.replaceChildren(...shown.slice(0, FIRST_ROWS).map((j) => rowFor(j).tr));
      const more = (from) => {
        if (drawn !== draws || from >= shown.length) return;
        body.append(...shown.slice(from, from + ROWS_A_FRAME).map((j) => rowFor(j).tr));
        requestAnimationFrame(() => more(from + ROWS_A_FRAME));
      };
      requestAnimationFrame(() => more(FIRST_ROWS));
    }

    status.addEventListener("change", render);
    text.addEventListener("input", render);
    followBoard((next, t) => {
      jobs = next;
      total = t;
      render();
      // When the first list has been painted (after the next frame), for the benchmark and the tests.
      if (!document.body.dataset.listShownAt)
        requestAnimationFrame(() =>
          setTimeout(() => (document.body.dataset.listShownAt = String(Math.round(performance.now())))),
        );
    });
    // Run times tick for running jobs.
    setInterval(() => {
      for (const r of rows.values()) if (r.job.status === "running") r.run.textContent = runTime(r.job);
    }, 1000);
  }

  // ---- One job --------------------------------------------------------------------------------

  function jobPage(id) {
    const app = $("#app");
    app.replaceChildren(el("p", { class: "empty", text: "Loading…" }));
    fetch(`/api/jobs/${encodeURIComponent(id)}`, { headers: { accept: "application/json" } })
      .then(async (r) => {
        const body = await r.json();
        if (!r.ok) throw new Error(body.error || r.statusText);
        showJob(body);
      })
      .catch((err) => app.replaceChildren(el("p", { class: "empty error", text: `Job ${id}: ${err.message}` })));
  }

  function showJob(first) {
    let job = first;
    document.title = `mcp-bg-jobs: ${label(job).slice(0, 60)}`;
    $("#where").textContent = job.job_id;
    const title = el("h1", { class: "mono", text: label(job) });
    const facts = el("dl", { class: "facts" });
    const killButton = el("button", { class: "danger", id: "kill", text: "Kill…", onclick: () => askKill() });
    const killNote = el("span", { class: "note", role: "status" });
    function renderHead() {
      const rows = [
        ["Status", badge(job.status)],
        ["Result", result(job) || (job.status === "queued" ? "queued" : "still running")],
        ["Command", el("code", { text: visible(job.command) })],
        ["Directory", el("code", { text: visible(job.cwd) })],
        ["Started", `${when(job.started)} (${job.started})`],
        ["Run time", el("span", { id: "runtime", text: runTime(job) })],
        ["Server", job.owner_pid ? `pid ${job.owner_pid}` : "none"],
        ["Ports", ports(job) || (job.status === "running" ? "none seen" : "")],
        ["Where", job.executor + (job.pty ? ", in a terminal (pty)" : "")],
        ["Job id", el("code", { text: job.job_id })],
      ];
      facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
      killButton.disabled = job.status !== "running" && job.status !== "queued";
    }
    renderHead();

    const tabs = el("div", { class: "toolbar tabs", role: "tablist" });
    const search = el("input", { type: "search", placeholder: "Search the output", "aria-label": "Search the output" });
    const follow = el("input", { type: "checkbox", checked: true, id: "follow" });
    const termBox = el("div", { class: "term", id: "terminal" });
    const note = el("p", { class: "note", id: "output-note" });
    const found = el("span", { class: "note", id: "found" });
    const save = el("a", { class: "button", id: "download", download: true, text: "Download" });
    const tools = el(
      "div",
      { class: "toolbar" },
      search,
      el("button", { text: "Next", onclick: () => find(false) }),
      el("button", { text: "Previous", onclick: () => find(true) }),
      found,
      el("button", { text: "Start", id: "to-start", onclick: () => term?.scrollToTop() }),
      el("button", { text: "End", id: "to-end", onclick: () => term?.scrollToBottom() }),
      el("label", {}, follow, " Follow"),
      save,
    );
    app.replaceChildren(
      el("section", { class: "job-head" }, title, facts, el("div", { class: "toolbar" }, killButton, killNote)),
      tabs,
      tools,
      note,
      el("div", { class: "term-wrap" }, termBox),
    );

    let term;
    let searcher;
    let output;
    function find(back) {
      if (!searcher || !search.value) return;
      const opts = { caseSensitive: false };
      const ok = back ? searcher.findPrevious(search.value, opts) : searcher.findNext(search.value, opts);
      found.textContent = ok ? "" : "not found";
    }
    search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") find(e.shiftKey);
    });

    function open(stream) {
      for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.stream === stream));
      save.href = `/api/jobs/${encodeURIComponent(job.job_id)}/raw?stream=${stream}`;
      save.title = `All of ${stream} that is kept, as a file`;
      if (output) output.close();
      if (term) term.dispose();
      termBox.replaceChildren();
      note.textContent = "";
      term = new window.Terminal({
        convertEol: !job.pty,
        scrollback: SCROLLBACK,
        disableStdin: true,
        cols: 132,
        rows: Math.max(12, Math.floor((window.innerHeight - 420) / 17)),
        fontSize: 13,
        theme: { background: "#1e1e1e" },
      });
      searcher = new window.SearchAddon.SearchAddon();
      term.loadAddon(searcher);
      term.open(termBox);
      window.mcpBgJobsTerminal = term; // for people debugging the page (and the tests)
      output = new EventSource(`/api/jobs/${encodeURIComponent(job.job_id)}/output?stream=${stream}`);
      output.addEventListener("skipped", (ev) => {
        const n = JSON.parse(ev.data);
        if (n > 0)
          note.textContent = `The first ${n.toLocaleString()} bytes are not shown here (the newest 2 MB are, at most ${SCROLLBACK.toLocaleString()} lines): Download has them.`;
      });
      output.addEventListener("data", (ev) => {
        term.write(JSON.parse(ev.data), () => {
          if (follow.checked) term.scrollToBottom();
        });
      });
      output.addEventListener("end", (ev) => {
        output.close();
        // The job has ended: its record comes with the end of its output.
        const ended = JSON.parse(ev.data);
        job = { ...job, ...ended, ports: [] };
        renderHead();
        term.write("", () => (document.body.dataset.outputEnded = stream));
      });
      // The job printed faster than this page read: the server's ring overwrote what the page had not
      // read yet. Said where it happened; what follows is the oldest output still kept.
      output.addEventListener("dropped", (ev) => {
        const n = JSON.parse(ev.data);
        term.write(
          `\r\n\x1b[2m[${n.toLocaleString()} bytes dropped here: the job printed faster than this page read]\x1b[0m\r\n`,
        );
      });
      output.addEventListener("error", () => {
        if (output.readyState === EventSource.CLOSED) return;
        output.close();
        note.textContent = "The output stream was cut: reload the page to follow it again.";
      });
    }
    for (const s of ["stdout", "stderr"]) {
      tabs.append(el("button", { role: "tab", "data-stream": s, text: s, onclick: () => open(s) }));
    }
    open("stdout");

    setConn("live", true);
    setInterval(() => {
      const rt = $("#runtime");
      if (rt && job.status === "running") rt.textContent = runTime(job);
    }, 1000);

    // Kill, after a confirmation that names the job and lets the signal and grace be chosen.
    const dialog = $("#kill-dialog");
    const signal = $("#kill-signal");
    if (signal.options.length === 0) for (const s of SIGNALS) signal.append(el("option", { value: s, text: s }));
    function askKill() {
      $("#kill-what").textContent = `${label(job)} (${job.job_id})`;
      dialog.returnValue = "";
      dialog.showModal();
    }
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "kill") return;
      const grace = Number($("#kill-grace").value);
      killButton.disabled = true;
      killNote.textContent = `Sending ${signal.value}…`;
      try {
        const r = await fetch(`/api/jobs/${encodeURIComponent(job.job_id)}/kill`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-mcp-bg-jobs": "ui" },
          body: JSON.stringify({ signal: signal.value, grace_seconds: grace }),
        });
        const body = await r.json();
        if (!r.ok) throw new Error(body.error || r.statusText);
        killNote.textContent =
          body.status === "killed"
            ? "Killed: the job and every process it started have ended."
            : `Already ended (${body.status}).`;
      } catch (err) {
        killNote.textContent = `Kill failed: ${err.message}`;
        killButton.disabled = job.status !== "running" && job.status !== "queued";
      }
    });
  }

  // The terminal renderer is loaded on a job's page only: the list paints sooner without it.
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = el("script", { src });
      s.addEventListener("load", resolve);
      s.addEventListener("error", () => reject(new Error(`cannot load ${src}`)));
      document.head.append(s);
    });
  }

  const path = location.pathname;
  if (path.startsWith("/job/")) {
    Promise.all([loadScript("/ui/xterm.js"), loadScript("/ui/addon-search.js")])
      .then(() => jobPage(decodeURIComponent(path.slice(5))))
      .catch((err) => $("#app").replaceChildren(el("p", { class: "empty error", text: err.message })));
  } else listPage();
})();
