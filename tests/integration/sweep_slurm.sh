#!/usr/bin/env bash
# tempfail sweep --slurm on a real Slurm: a private one-node cluster on this machine (Debian's
# slurmctld, slurmd and munge, installed by scripts/install-deps.sh) under its own SLURM_CONF, munge
# key and socket, ports, state and spool directories, all in WORK_DIR; the sweep is submitted as a
# 4-task job array and a dependent merge job, and the merged sweep directory must hold the same
# tables, to the byte, as the same sweep run here without Slurm. Every daemon the test starts is
# stopped when it ends, also on failure; the machine's own munge and Slurm (if any) are not touched.
# Needs root (slurmd runs jobs as their user, and munged must own its key): skipped (77) otherwise.
# Usage: TEMPFAIL=path/to/tempfail sweep_slurm.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: a private Slurm cluster needs root (slurmd starts jobs as their user); run as root to test --slurm"
  exit 77
fi
for p in slurmctld slurmd munged sbatch squeue scontrol sinfo; do
  command -v "$p" >/dev/null || { echo "FAIL: $p is not installed (bash scripts/install-deps.sh installs it)"; exit 1; }
done
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
work=$(pwd)
. "$src/tests/integration/checks.bash"

t=$work/cluster
mkdir -p "$t/state" "$t/spool" "$t/munge"
chmod 755 "$t/munge" # munged wants its socket directory searchable by all
show_logs() {
  local f
  for f in "$t"/*.log "$work"/slurm/slurm/*.out "$work"/submit.out; do
    [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }
  done
}
# A process that runs: not gone, and not a zombie waiting for its reaper (daemons are reparented).
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) [ZX] ' "/proc/$1/stat" 2>/dev/null; }
stop_all() {
  local f pid
  for f in slurmd slurmctld munged; do
    [ -f "$t/$f.pid" ] || continue
    pid=$(cat "$t/$f.pid" 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for _ in $(seq 50); do
    local alive=0
    for f in slurmd slurmctld munged; do
      pid=$(cat "$t/$f.pid" 2>/dev/null) && alive "$pid" && alive=1
    done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for f in slurmd slurmctld munged; do
    pid=$(cat "$t/$f.pid" 2>/dev/null) && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  done
  # job steps slurmd started (slurmstepd) go with it
  pkill -KILL -f "slurmstepd.*$t" 2>/dev/null
  true
}
trap 'stop_all' EXIT

# Two free TCP ports on loopback, away from Slurm's defaults (6817, 6818).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return; }
  done
  return 1
}
ctld_port=$(free_port) && slurmd_port=$(free_port)
[ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$((ctld_port + 1))

# munge: a key of its own and a socket of its own.
dd if=/dev/urandom of="$t/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$t/munge/munge.key"
munged --force --socket="$t/munge/munge.socket" --key-file="$t/munge/munge.key" \
  --pid-file="$t/munged.pid" --log-file="$t/munged.log" --seed-file="$t/munge/munge.seed" ||
  { echo "FAIL: munged did not start"; show_logs; exit 1; }

node=tfnode
cpus=$(nproc)
export SLURM_CONF=$t/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=tempfailtest
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$t/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$t/state
SlurmdSpoolDir=$t/spool
SlurmctldPidFile=$t/slurmctld.pid
SlurmdPidFile=$t/slurmd.pid
SlurmctldLogFile=$t/slurmctld.log
SlurmdLogFile=$t/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SwitchType=switch/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
MailProg=/bin/true
MessageTimeout=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=tftest Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF" -i || { echo "FAIL: slurmctld did not start"; show_logs; exit 1; }
slurmd -f "$SLURM_CONF" -N "$node" || { echo "FAIL: slurmd did not start"; show_logs; exit 1; }
up=0
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  state=$(timeout 5 sinfo -h -n "$node" -o %t 2>/dev/null)
  case $state in idle*|mix*|alloc*) up=1; break ;; esac
  sleep 0.5
done
check "the one-node cluster comes up (sinfo: '$state')" test $up -eq 1
[ $up -eq 1 ] || { show_logs; checks_done sweep_slurm; exit 1; }

# The sweep, here and through Slurm.
args=(--set duration=30m --set 'mta.transports.orange.domains=[orange.test]'
      --vary mta.transports.orange.destination_concurrency_limit=1..4 -R 2 -q --summaries-only --no-plots)
"$tf" sweep "${args[@]}" -o local >local.out 2>&1
check "the local sweep exits 0" status_is $? 0
timeout 120 "$tf" sweep "${args[@]}" --slurm --slurm-shards 4 --slurm-setup 'echo "task on $(hostname)"' -o slurm \
  >submit.out 2>&1
st=$?
check "sweep --slurm submits (exit 0)" status_is $st 0
cat submit.out
array=$(sed -n 's/^submitted: job array \([0-9]*\) .*/\1/p' submit.out)
merge=$(sed -n 's/.*, merge job \([0-9]*\) after it.*/\1/p' submit.out)
check "a job array id and a merge job id are printed" test -n "$array" -a -n "$merge"
deadline=$((SECONDS + 300))
while [ -n "$merge" ] && [ $SECONDS -lt $deadline ]; do
  js=$(timeout 5 scontrol show job "$merge" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case $js in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  case $js in PENDING) r=$(timeout 5 scontrol show job "${merge:-0}" 2>/dev/null | sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p')
    [ "$r" = DependencyNeverSatisfied ] && break ;; esac
  sleep 0.5
done
check "the merge job completed (state: ${js:-none})" test "$js" = COMPLETED
check "the array had 4 tasks" test "$(timeout 5 scontrol show job "${array:-0}" 2>/dev/null | grep -c 'ArrayTaskId=')" -eq 4
for i in 0 1 2 3; do
  check "task $i wrote shard $i" test -s "slurm/shards/$i/sweep.json"
  check "task $i ran the setup line" has_text "slurm/slurm/shard-$i.out" "task on"
done
check "the merged sweep is complete" grep -q '"complete": true' slurm/sweep.json
for f in sweep.csv points.csv differences.csv; do
  check "through Slurm: the same $f as here" cmp local/$f slurm/$f
done
check "every run is in the merged sweep" test "$(ls -d slurm/runs/p*-r* 2>/dev/null | wc -l)" -eq 8
[ "$fails" -eq 0 ] || show_logs

pids=$(cat "$t"/slurmd.pid "$t"/slurmctld.pid "$t"/munged.pid 2>/dev/null)
stop_all
trap - EXIT
none_alive() { local p; for p in $pids; do alive "$p" && { echo "  $p still runs"; return 1; }; done; return 0; }
check "no daemon left running" none_alive
check "... three were started" test "$(echo $pids | wc -w)" -eq 3
checks_done sweep_slurm
