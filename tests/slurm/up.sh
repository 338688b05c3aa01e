#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for the tests of `hydra/launcher=slurm`.
#   bash tests/slurm/up.sh               install (Debian's slurm-wlm 22.05) if needed, start
#   bash tests/slurm/up.sh --accounting  the same with slurmdbd + MariaDB (sacct works)
#   bash tests/slurm/up.sh down          stop the daemons (the packages stay)
# Idempotent: a cluster that is already up (sinfo shows the node idle) is left as it is.
# The node is this machine as `slurmd -C` sees it, in partition `debug` (the default), with
# proctrack/linuxproc and task/none so no cgroup set-up is needed. Needs root and apt.
set -euo pipefail

ETC=/etc/slurm
STATE=/var/lib/slurm/xlprune
LOGS=/var/log/slurm

say() { echo "slurm: $*" >&2; }

stop() {  # stop <daemon>...: each one, and wait until it is gone
  for daemon in "$@"; do
    pkill -x "$daemon" 2>/dev/null || true
  done
  for daemon in "$@"; do
    for _ in $(seq 50); do
      pgrep -x "$daemon" >/dev/null || continue 2
      sleep 0.2
    done
    pkill -9 -x "$daemon" 2>/dev/null || true
  done
}
down() { stop slurmd slurmctld slurmdbd; say "down"; }

node_idle() { sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

if [ "${1:-}" = down ]; then
  down
  exit 0
fi
ACCOUNTING=0
[ "${1:-}" = --accounting ] && ACCOUNTING=1

if [ "$(id -u)" != 0 ]; then
  say "needs root (it installs Debian packages and starts daemons)"
  exit 1
fi

has_accounting() { grep -qs '^AccountingStorageType=accounting_storage/slurmdbd' "$ETC/slurm.conf"; }
if command -v sinfo >/dev/null && node_idle && [ "$(has_accounting && echo 1 || echo 0)" = $ACCOUNTING ] \
  && { [ $ACCOUNTING = 0 ] || pgrep -x slurmdbd >/dev/null; }; then
  say "already up: $(sinfo -h -o '%P %D %T')"
  exit 0
fi

packages=(slurmctld slurmd slurm-client munge)
[ $ACCOUNTING = 1 ] && packages+=(slurmdbd mariadb-server)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

mkdir -p "$STATE/ctld" "$STATE/d" "$LOGS" /run/munge
chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
  runuser -u munge -- munged
fi

node=$(slurmd -C | head -1)   # NodeName=<host> CPUs=... RealMemory=...
host=$(hostname -s)
memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
node=${node/RealMemory=$memory/RealMemory=$((memory * 9 / 10))}   # leave the OS its share

if [ $ACCOUNTING = 1 ]; then
  if ! pgrep -x mariadbd >/dev/null; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    (mysqld_safe >/dev/null 2>&1 &)
    for _ in $(seq 100); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$LOGS/slurmdbd.log
PidFile=/run/slurmdbd.pid
EOF
  chmod 600 "$ETC/slurmdbd.conf"
  pgrep -x slurmdbd >/dev/null || slurmdbd
  for _ in $(seq 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
  accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
else
  accounting="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

cat >"$ETC/slurm.conf.new" <<EOF
# written by xlprune's tests/slurm/up.sh: a one-node test cluster
ClusterName=xlprune
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MessageTimeout=10
KillWait=5
InactiveLimit=0
MinJobAge=30
$accounting
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
echo "# no cgroup plugin: proctrack/linuxproc and task/none" >"$ETC/cgroup.conf"

if [ $ACCOUNTING = 1 ]; then  # the cluster is known to slurmdbd before slurmctld starts
  sacctmgr -i add cluster xlprune >/dev/null 2>&1 || true
fi
if ! cmp -s "$ETC/slurm.conf.new" "$ETC/slurm.conf"; then
  # a new configuration (first start, accounting switched): daemons start afresh
  mv "$ETC/slurm.conf.new" "$ETC/slurm.conf"
  stop slurmd slurmctld
else
  rm -f "$ETC/slurm.conf.new"
fi
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 150); do
  if node_idle; then
    say "up: $(sinfo -h -o '%P %D %T %c CPUs %m MB')"
    exit 0
  fi
  sleep 0.2
done
say "the node did not come up in 30 s; see $LOGS/slurmctld.log and $LOGS/slurmd.log"
sinfo >&2 || true
exit 1
