# shellcheck shell=bash
# Helpers shared by every service of scripts/services: output and failure, pids
# and ports, starting and stopping daemons, generated files, the lock, packages.
# Sourced by scripts/services, which defines the settings.

now_us() { local t=${EPOCHREALTIME//[.,]/}; printf '%s' "$t"; }
since() { # start_us -> "1.2s"
  local d=$(( $(now_us) - $1 ))
  printf '%d.%ds' $((d / 1000000)) $((d / 100000 % 10))
}
# Progress output must never abort a half-done start (e.g. 'up | head -1').
trap '' PIPE
say() { printf '%s\n' "$*" 2>/dev/null || true; }
warn() { printf '%s: warning: %s\n' "$SELF" "$*" >&2; }
die() { printf '%s: %s\n' "$SELF" "$*" >&2; exit 1; }

# fail SERVICE LOGFILE MESSAGE: name the service and show the end of its log.
fail() {
  local svc=$1 logf=$2; shift 2
  {
    printf '%s: %s failed: %s\n' "$SELF" "$svc" "$*"
    if [[ -n $logf && -f $logf ]]; then
      printf '%s: last lines of %s:\n' "$SELF" "$logf"
      tail -n 40 "$logf" | sed 's/^/    /'
    elif [[ -n $logf ]]; then
      printf '%s: (log %s does not exist)\n' "$SELF" "$logf"
    fi
  } >&2
  exit 1
}

read_pid() { # file -> pid or nothing
  local p=''
  [[ -f $1 ]] && read -r p 2>/dev/null <"$1" || true
  [[ $p =~ ^[0-9]+$ ]] && printf '%s' "$p"
  return 0
}

# pid_matches PID MARKER: the process exists, is not a zombie, and its command
# line contains MARKER (guards against pid reuse).
pid_matches() {
  local pid=$1 marker=$2 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ -n $cmd && $cmd == *"$marker"* ]]
}

# pid_alive PID: the process exists and is not a zombie (no identity check).
pid_alive() {
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_holder() { # port -> description of the listener, if any
  ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1 | sed 's/  */ /g' || true
}

require_port_free() { # service logfile port...
  local svc=$1 logf=$2 p; shift 2
  for p in "$@"; do
    if port_open "$p"; then
      fail "$svc" "" "port $p on 127.0.0.1 is already in use by something this script did not start: $(port_holder "$p")"
    fi
  done
}

# stop_pid NAME PID MARKER [SIGNAL]: signal, wait up to 20 s, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 marker=$3 sig=${4:-TERM} i
  pid_matches "$pid" "$marker" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    pid_matches "$pid" "$marker" || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) did not stop within 20s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_matches "$pid" "$marker" || return 0
    sleep 0.1
  done
}

# spawn LOGFILE CMD...: start a daemon in its own session, detached from our
# stdio and from the lock fd. Sets SPAWNED_PID.
spawn() {
  local logf=$1; shift
  setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
  SPAWNED_PID=$!
}

# replace_if_changed FILE CONTENT: returns 0 if the file was (re)written.
replace_if_changed() {
  local f=$1 content=$2
  if [[ -f $f ]] && [[ "$(<"$f")" == "$content" ]]; then return 1; fi
  printf '%s\n' "$content" >"$f.tmp"
  mv -f "$f.tmp" "$f"
  return 0
}

LOCK_HELD=0
take_lock() {
  ((LOCK_HELD)) && return 0
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 600 9 || die "another '$SELF' is still running (lock $STATE_DIR/.lock)"
  LOCK_HELD=1
}

# Debian's headless-capable Chromium and its WebDriver: the dashboard's browser tests drive them (no test tool may
# download a browser of its own here).
have_browser() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }

# promtool, from Debian's prometheus package (its daemon is never started): the tests check deploy/prometheus's alert rules.
have_promtool() { [[ -x /usr/bin/promtool ]]; }

# Installs the Debian packages of every service that is missing (have_* of each service file), and the tests' tools. The
# browser comes with its recommended packages (its fonts among them), as it was tested; the rest without.
ensure_packages() {
  local need=() browser=()
  have_zookeeper || need+=(zookeeper)
  have_rabbitmq || need+=(rabbitmq-server)
  have_postgres || need+=(postgresql)
  have_promtool || need+=(prometheus)
  have_browser || browser+=(chromium chromium-driver)
  ((${#need[@]} + ${#browser[@]})) || return 0
  local all=("${need[@]}" "${browser[@]}")
  [[ $(id -u) == 0 ]] || die "missing packages (${all[*]}) and not root; install them with: sudo apt-get install ${all[*]}"
  local t0 log=$STATE_DIR/apt.log policy=/usr/sbin/policy-rc.d made_policy=0
  t0=$(now_us)
  say "install: ${all[*]} (apt-get; log $log)"
  # Keep the packaged daemons from starting with their default config: we run our own instances.
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  local rc=0
  {
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q &&
      { ((${#need[@]} == 0)) || apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}"; } &&
      { ((${#browser[@]} == 0)) || apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${browser[@]}"; }
  } >>"$log" 2>&1 </dev/null 9>&- || rc=$?
  ((made_policy)) && rm -f "$policy"
  ((rc == 0)) || fail install "$log" "apt-get install ${all[*]} exited $rc"
  have_zookeeper || fail install "$log" "zookeeper installed but /usr/share/java/zookeeper.jar or java is missing"
  have_rabbitmq || fail install "$log" "rabbitmq-server installed but /usr/lib/rabbitmq/bin/rabbitmq-server is missing"
  have_postgres || fail install "$log" "postgresql installed but no server binary found"
  have_browser || fail install "$log" "chromium and chromium-driver installed but /usr/bin/chromium or /usr/bin/chromedriver is missing"
  have_promtool || fail install "$log" "prometheus installed but /usr/bin/promtool is missing"
  say "install: done in $(since "$t0")"
}
