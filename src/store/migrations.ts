/**
 * The schema, as numbered steps. A database's `user_version` says how many have been applied; a
 * start applies the rest in one transaction. Steps are only ever added, never edited.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: job records.
  `CREATE TABLE jobs (
     job_id TEXT PRIMARY KEY,
     command TEXT NOT NULL,
     name TEXT,
     cwd TEXT NOT NULL,
     pty INTEGER NOT NULL DEFAULT 0,
     status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'killed')),
     started_ms INTEGER NOT NULL,
     completed_ms INTEGER,
     exit_code INTEGER,
     signal TEXT,
     timed_out INTEGER NOT NULL DEFAULT 0,
     lost INTEGER NOT NULL DEFAULT 0,
     kill_requested INTEGER NOT NULL DEFAULT 0,
     pid INTEGER,
     pid_start INTEGER,
     shepherd_pid INTEGER,
     shepherd_start INTEGER,
     owner_pid INTEGER,
     owner_start INTEGER,
     keep INTEGER NOT NULL DEFAULT 0,
     deadline_ms INTEGER
   );
   CREATE INDEX jobs_by_start ON jobs (started_ms);
   CREATE INDEX jobs_by_status ON jobs (status, completed_ms);`,
  // 2: the boot a job's processes (and its owner) belong to: after a reboot, a pid and start time
  // may name another process.
  "ALTER TABLE jobs ADD COLUMN boot_id TEXT;",
  // 3: when a kill under way escalates to SIGKILL, so that another server can finish it if the one
  // that began it dies.
  "ALTER TABLE jobs ADD COLUMN kill_deadline_ms INTEGER;",
  // 4: the job's own cgroup, as its shepherd told the server that started it (not as a file in the
  // job's folder says: the job can write there).
  "ALTER TABLE jobs ADD COLUMN cgroup TEXT;",
  // 5: where a job runs (the executor: local or slurm), the executor's own name for it (a Slurm job
  // id) and the machine it runs on once known.
  `ALTER TABLE jobs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
   ALTER TABLE jobs ADD COLUMN executor_id TEXT;
   ALTER TABLE jobs ADD COLUMN node TEXT;`,
  // 6: MCP tasks (a wait run as a task): what was asked, how it stands, its answer, who runs it.
  `CREATE TABLE tasks (
     task_id TEXT PRIMARY KEY,
     session TEXT NOT NULL,
     tool TEXT NOT NULL,
     arguments TEXT NOT NULL,
     job_id TEXT,
     status TEXT NOT NULL CHECK (status IN ('working', 'completed', 'failed', 'cancelled')),
     status_message TEXT,
     result TEXT,
     created_ms INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL,
     ttl_ms INTEGER NOT NULL,
     owner_pid INTEGER,
     owner_start INTEGER,
     boot_id TEXT
   );
   CREATE INDEX tasks_by_session ON tasks (session, created_ms);
   CREATE INDEX tasks_by_status ON tasks (status);`,
  // 7: what confines a job (sandbox, network, limits, as enforced, JSON), what it used (JSON, at
  // its end) and the limit it ran into.
  `ALTER TABLE jobs ADD COLUMN confinement TEXT;
   ALTER TABLE jobs ADD COLUMN usage TEXT;
   ALTER TABLE jobs ADD COLUMN limit_hit TEXT;`,
  // 8: queued jobs (a new status: SQLite cannot change a CHECK, so the table is made again, rows and
  // rowids kept), what a job was asked to be (JSON: to start it later or again), its restarts, when
  // it starts again, how its last run ended (JSON), when it was ready, why it was never started.
  `CREATE TABLE jobs_8 (
     job_id TEXT PRIMARY KEY,
     command TEXT NOT NULL,
     name TEXT,
     cwd TEXT NOT NULL,
     pty INTEGER NOT NULL DEFAULT 0,
     status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'killed')),
     started_ms INTEGER NOT NULL,
     completed_ms INTEGER,
     exit_code INTEGER,
     signal TEXT,
     timed_out INTEGER NOT NULL DEFAULT 0,
     lost INTEGER NOT NULL DEFAULT 0,
     kill_requested INTEGER NOT NULL DEFAULT 0,
     pid INTEGER,
     pid_start INTEGER,
     shepherd_pid INTEGER,
     shepherd_start INTEGER,
     owner_pid INTEGER,
     owner_start INTEGER,
     keep INTEGER NOT NULL DEFAULT 0,
     deadline_ms INTEGER,
     boot_id TEXT,
     kill_deadline_ms INTEGER,
     cgroup TEXT,
     executor TEXT NOT NULL DEFAULT 'local',
     executor_id TEXT,
     node TEXT,
     confinement TEXT,
     usage TEXT,
     limit_hit TEXT,
     plan TEXT,
     restarts INTEGER NOT NULL DEFAULT 0,
     next_start_ms INTEGER,
     last_exit TEXT,
     ready_ms INTEGER,
     not_started TEXT
   );
   INSERT INTO jobs_8 (rowid, job_id, command, name, cwd, pty, status, started_ms, completed_ms, exit_code, signal, timed_out, lost, kill_requested, pid, pid_start, shepherd_pid, shepherd_start, owner_pid, owner_start, keep, deadline_ms, boot_id, kill_deadline_ms, cgroup, executor, executor_id, node, confinement, usage, limit_hit)
     SELECT rowid, job_id, command, name, cwd, pty, status, started_ms, completed_ms, exit_code, signal, timed_out, lost, kill_requested, pid, pid_start, shepherd_pid, shepherd_start, owner_pid, owner_start, keep, deadline_ms, boot_id, kill_deadline_ms, cgroup, executor, executor_id, node, confinement, usage, limit_hit FROM jobs;
   DROP TABLE jobs;
   ALTER TABLE jobs_8 RENAME TO jobs;
   CREATE INDEX jobs_by_start ON jobs (started_ms);
   CREATE INDEX jobs_by_status ON jobs (status, completed_ms);`,
];
