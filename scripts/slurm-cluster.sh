#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, for the tests and for trying the Slurm executor by hand.
#
#   scripts/slurm-cluster.sh install      installs slurmctld, slurmd, slurm-client and munge from Debian's
#                                         packages if they are missing (root; ~21 s)
#   scripts/slurm-cluster.sh start DIR    generates a config under DIR, starts munged (if not running),
#                                         slurmctld and slurmd, waits until the node is idle
#   scripts/slurm-cluster.sh stop DIR     cancels every job, waits for the queue to empty, stops the daemons
#                                         it started by the pids in DIR
#   scripts/slurm-cluster.sh status DIR   exit 0 if the cluster in DIR answers
#
# After `start`, `DIR/env` holds SLURM_CONF=DIR/slurm.conf: the client commands need it
# (`. DIR/env; sinfo`). See ../shared/SLURM-NOTES.md for why each setting is there.
set -euo pipefail

cmd=${1:-}
dir=${2:-}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "slurm-cluster: $1 needs root" >&2
    exit 1
  fi
}

have_slurm() {
  command -v slurmctld > /dev/null && command -v slurmd > /dev/null && command -v sbatch > /dev/null &&
    command -v munged > /dev/null
}

install_packages() {
  if have_slurm; then return 0; fi
  need_root install
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge > /dev/null
}

munge_up() {
  if pgrep -x munged > /dev/null; then return 0; fi
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey > /dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key --force > /dev/null
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- munged
}

start() {
  [ -n "$dir" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
  need_root start
  have_slurm || { echo "slurm-cluster: Slurm is not installed (run: $0 install)" >&2; exit 1; }
  mkdir -p "$dir"/{state,spool,log}
  dir=$(cd "$dir" && pwd)
  local host
  host=$(hostname -s)
  # A port pair of its own, so that clusters of parallel runs do not meet.
  local port=$((20000 + RANDOM % 20000))
  cat > "$dir/slurm.conf" <<EOF
ClusterName=mcpbg
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
KillWait=5
MinJobAge=3600
ReturnToService=2
InactiveLimit=0
MessageTimeout=10
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=16 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  echo "export SLURM_CONF=$dir/slurm.conf" > "$dir/env"
  munge_up
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -i -f "$dir/slurm.conf"
  slurmd -f "$dir/slurm.conf"
  # Waits for the node to come up: 0.5-1 s on an idle machine, several times that on a busy one; the
  # two minutes are a guard against a cluster that never comes up, not a guess at its speed.
  local until=$((SECONDS + 120))
  while [ $SECONDS -lt $until ]; do
    if [ "$(sinfo -h -N -o %t 2> /dev/null | head -1)" = idle ]; then
      echo "slurm-cluster: up in $dir (node $host, port $port)"
      return 0
    fi
    sleep 0.1
  done
  echo "slurm-cluster: the node did not become idle in 120 s; see $dir/log" >&2
  stop
  exit 1
}

stop() {
  [ -n "$dir" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
  [ -f "$dir/slurm.conf" ] || return 0
  export SLURM_CONF=$dir/slurm.conf
  # Jobs first: their processes and slurmstepd outlive slurmd.
  timeout 15 scancel --full --signal=KILL --quiet "--user=$(id -un)" 2> /dev/null || true
  timeout 15 scancel --quiet "--user=$(id -un)" 2> /dev/null || true
  for _ in $(seq 1 100); do
    [ -z "$(timeout 5 squeue -h -o %i 2> /dev/null)" ] && break
    sleep 0.1
  done
  local pid
  for f in slurmd.pid slurmctld.pid; do
    if [ -f "$dir/$f" ]; then
      pid=$(cat "$dir/$f")
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2> /dev/null || true
      rm -f "$dir/$f"
    fi
  done
  # What a job left: slurmstepd processes of this cluster's spool.
  pkill -9 -f "slurmstepd.*$dir" 2> /dev/null || true
}

status() {
  [ -n "$dir" ] || { echo "usage: $0 status DIR" >&2; exit 2; }
  [ -f "$dir/slurm.conf" ] || exit 1
  SLURM_CONF=$dir/slurm.conf timeout 10 sinfo -h > /dev/null 2>&1
}

case "$cmd" in
  install) install_packages ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 install | start DIR | stop DIR | status DIR" >&2
    exit 2
    ;;
esac
