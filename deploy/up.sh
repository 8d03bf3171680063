#!/usr/bin/env bash
# A local production topology on this machine, processes on 127.0.0.1 standing in for hosts:
#
#   nginx (deploy/nginx/alliancecard.conf)  ->  app1, app2 (gunicorn -c deploy/gunicorn.conf.py)
#   PostgreSQL primary (initdb) + streaming replica (pg_basebackup -R, hot standby, read-only)
#   Redis (rate limits shared by the app instances)
#   worker-jobs  (alliance-server worker --kind jobs: the scheduler)
#   worker-outbox (alliance-server worker --kind outbox: SMS and webhook deliveries)
#
#   deploy/up.sh      # everything under $ALLIANCE_DEPLOY_DIR (default ./.deploy-local), ports chosen free
#   deploy/down.sh    # stops exactly what up.sh started
#
# The state directory holds the clusters' data, logs/, run/<name>.pid and run/<name>.port, bin/start-<name>
# (the command that starts each component again, e.g. after it was killed), the rendered nginx
# configuration, alliancecard.env (from deploy/alliancecard.env.example, with fresh keys) and seed.json
# (seed-demo's logins and terminal tokens). Running it again after down.sh reuses the data. The system's
# PostgreSQL on 5432 is never touched: the clusters are new ones on their own ports.
#
# Environment: ALLIANCE_DEPLOY_DIR, PYTHON (default python3), PG_BIN (default the newest
# /usr/lib/postgresql/*/bin), DEPLOY_ENV_EXTRA (a file of KEY=value lines appended to alliancecard.env,
# e.g. SMS_SENDER=http), APP_WORKERS / APP_THREADS (gunicorn per instance, default 2 / 4),
# OUTBOX_INTERVAL (default 0.5 s), JOBS_INTERVAL (default 60 s), DEPLOY_VERBOSE=1 (print each step's time).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${ALLIANCE_DEPLOY_DIR:-$PWD/.deploy-local}
PYTHON=${PYTHON:-python3}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
PG_OWNER=${PG_OWNER:-postgres}  # PostgreSQL refuses to run as root: as root, its processes run as this user
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

say() { printf 'up: %s\n' "$*" >&2; }
step() { [ -z "${DEPLOY_VERBOSE:-}" ] || say "$SECONDS s: $*"; }
die() { say "$*"; exit 1; }

alive() { [ -f "$STATE/run/$1.pid" ] && kill -0 "$(cat "$STATE/run/$1.pid")" 2>/dev/null; }

if [ -f "$STATE/run/up" ]; then
  for name in $(cat "$STATE/run/up"); do
    alive "$name" && die "already up in $STATE ($name is running); run deploy/down.sh first"
  done
  die "$STATE/run/up exists but nothing of it runs; run deploy/down.sh to clean up first"
fi

mkdir -p "$STATE"/{run,logs,bin,nginx}
STATE=$(cd "$STATE" && pwd)
chmod 755 "$STATE"
STARTED=()
trap 'if [ $? -ne 0 ]; then say "failed; stopping what was started"; ALLIANCE_DEPLOY_DIR="$STATE" "$ROOT/deploy/down.sh" || true; fi' EXIT

as_pg() {  # run a PostgreSQL binary as its owner when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_OWNER" -- "$@"; else "$@"; fi
}

port_of() { cat "$STATE/run/$1.port"; }

choose_ports() {  # a free port per name, kept across runs
  local missing=()
  for name in "$@"; do [ -f "$STATE/run/$name.port" ] || missing+=("$name"); done
  [ ${#missing[@]} -eq 0 ] && return
  local ports
  ports=$("$PYTHON" - "${#missing[@]}" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
)
  local i=0
  for port in $ports; do echo "$port" >"$STATE/run/${missing[$i]}.port"; i=$((i + 1)); done
}

wait_for() {  # name, seconds, command...: until the command succeeds, or fail naming the log
  local name=$1 seconds=$2
  shift 2
  for _ in $(seq $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -f "$STATE/run/$name.pid" ] && ! kill -0 "$(cat "$STATE/run/$name.pid")" 2>/dev/null; then
      tail -n 30 "$STATE/logs/$name.log" >&2 || true
      die "$name exited while starting (log: $STATE/logs/$name.log)"
    fi
    sleep 0.2
  done
  tail -n 30 "$STATE/logs/$name.log" >&2 || true
  die "$name not ready after $seconds s (log: $STATE/logs/$name.log)"
}

http_ok() {  # GET url answers 2xx
  "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"
}

ready_url() {  # /healthz where the app has it, else the OpenAPI document
  if http_ok "http://127.0.0.1:$1/healthz"; then return 0; fi
  http_ok "http://127.0.0.1:$1/api/v1/openapi.json"
}

write_starter() {  # name, command...: bin/start-<name> starts it in its own session, records its pid
  local name=$1
  shift
  {
    echo '#!/usr/bin/env bash'
    echo "# starts $name of the local topology (written by deploy/up.sh); its pid goes to run/$name.pid"
    echo 'set -euo pipefail'
    echo "cd $(printf '%q' "$ROOT")"
    echo "set -a; . $(printf '%q' "$STATE/alliancecard.env"); set +a"
    echo "export PYTHONPATH=$(printf '%q' "$PYTHONPATH")"
    printf 'setsid'
    printf ' %q' "$@"
    printf ' >>%q 2>&1 </dev/null &\n' "$STATE/logs/$name.log"
    echo "echo \$! >$(printf '%q' "$STATE/run/$name.pid")"
  } >"$STATE/bin/start-$name"
  chmod +x "$STATE/bin/start-$name"
}

start() {  # name: run bin/start-<name> and note it among what down.sh stops
  "$STATE/bin/start-$1"
  STARTED+=("$1")
  echo "${STARTED[*]}" >"$STATE/run/up"
}

choose_ports nginx app1 app2 pg-primary pg-replica redis

# --- environment: the shipped template with this topology's values and fresh keys (kept across runs)
step "environment"
if [ ! -f "$STATE/alliancecard.env" ]; then
  key() { head -c 32 /dev/urandom | base64; }
  {
    cat "$ROOT/deploy/alliancecard.env.example"
    echo
    echo "# --- the local topology (deploy/up.sh) ---"
    echo "DATABASE_URL=postgresql://postgres@127.0.0.1:$(port_of pg-primary)/alliance"
    echo "DATABASE_REPLICA_URL=postgresql://postgres@127.0.0.1:$(port_of pg-replica)/alliance"
    for name in SECRET_KEY PII_ENCRYPTION_KEY PII_HASH_KEY CARD_SIGNING_KEY CARD_MASTER_KEY CARD_READ_KEY \
      BENEFIT_SECRET_KEY; do
      echo "$name=$(key)"
    done
    echo "RATELIMIT_STORAGE_URI=redis://127.0.0.1:$(port_of redis)"
    echo "ALLIANCE_INSTANCE_DIR=$STATE/instance"
    echo "ALLIANCE_WORKERS=${APP_WORKERS:-2}"
    echo "ALLIANCE_THREADS=${APP_THREADS:-4}"
    echo "PUBLIC_BASE_URL=http://127.0.0.1:$(port_of nginx)"
    echo "SESSION_COOKIE_SECURE=0"
    echo "SMS_SENDER=log"
    if [ -n "${DEPLOY_ENV_EXTRA:-}" ]; then cat "$DEPLOY_ENV_EXTRA"; fi
  } >"$STATE/alliancecard.env"
  chmod 600 "$STATE/alliancecard.env"
  mkdir -p "$STATE/instance"
fi

# --- Redis
step "Redis"
write_starter redis redis-server --bind 127.0.0.1 --port "$(port_of redis)" --save '' --appendonly no \
  --dir "$STATE/run"
start redis
wait_for redis 10 redis-cli -p "$(port_of redis)" ping

# --- two app instances, the shipped gunicorn configuration on two ports: started first, they load the
# program while the database is made (they connect at their first request)
step "two app instances"
for name in app1 app2; do
  write_starter "$name" "$PYTHON" -m gunicorn -c "$ROOT/deploy/gunicorn.conf.py" --bind "127.0.0.1:$(port_of "$name")"
  start "$name"
done

# --- PostgreSQL primary: a new cluster on its own port, ready for streaming replication
step "PostgreSQL primary"
PRIMARY=$STATE/pg-primary
if [ ! -f "$PRIMARY/PG_VERSION" ]; then
  mkdir -p "$PRIMARY" && chmod 700 "$PRIMARY"
  [ "$(id -u)" = 0 ] && chown "$PG_OWNER" "$PRIMARY" "$STATE/logs"
  as_pg "$PG_BIN/initdb" -D "$PRIMARY" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$STATE/logs/initdb.log"
  cat >>"$PRIMARY/postgresql.conf" <<EOF
# --- the local topology (deploy/up.sh)
listen_addresses = '127.0.0.1'
port = $(port_of pg-primary)
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
wal_keep_size = '256MB'
hot_standby = on
max_connections = 200
EOF
fi
[ "$(id -u)" = 0 ] && chown "$PG_OWNER" "$STATE/logs"
pg_starter() {  # name, data directory: pg_ctl start, then the postmaster's pid
  local name=$1 data=$2
  cat >"$STATE/bin/start-$name" <<EOF
#!/usr/bin/env bash
# starts $name of the local topology (written by deploy/up.sh); its pid goes to run/$name.pid
set -euo pipefail
run() { if [ "\$(id -u)" = 0 ]; then runuser -u $PG_OWNER -- "\$@"; else "\$@"; fi; }
run $PG_BIN/pg_ctl start -w -t 60 -D $data -l $STATE/logs/$name.log >/dev/null
head -n1 $data/postmaster.pid >$STATE/run/$name.pid
EOF
  chmod +x "$STATE/bin/start-$name"
}
pg_starter pg-primary "$PRIMARY"
start pg-primary
psql_primary() { "$PG_BIN/psql" -h 127.0.0.1 -p "$(port_of pg-primary)" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_primary -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'alliance'")" = 0 ]; then
  psql_primary -d postgres -c "CREATE DATABASE alliance"
fi

# --- the streaming replica: a base backup of the primary that follows its WAL, read-only (taken while the
# schema is migrated: the replica replays the rest)
step "the streaming replica"
REPLICA=$STATE/pg-replica
BACKUP=
if [ ! -f "$REPLICA/PG_VERSION" ]; then
  mkdir -p "$REPLICA" && chmod 700 "$REPLICA"
  [ "$(id -u)" = 0 ] && chown "$PG_OWNER" "$REPLICA"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(port_of pg-primary)" -U postgres -D "$REPLICA" -R -X stream \
    -c fast --no-sync >"$STATE/logs/basebackup.log" 2>&1 &
  BACKUP=$!
fi

# --- schema and seed (on the primary; the replica follows)
step "schema and seed (on the primary; the replica follows)"
set -a; . "$STATE/alliancecard.env"; set +a
"$PYTHON" -m server.cli db upgrade >"$STATE/logs/migrate.log" 2>&1 || { cat "$STATE/logs/migrate.log" >&2; exit 1; }
if [ ! -f "$STATE/seed.json" ]; then
  "$PYTHON" -m server.cli seed-demo --json >"$STATE/seed.json.tmp" 2>"$STATE/logs/seed.log"
  mv "$STATE/seed.json.tmp" "$STATE/seed.json"
  chmod 600 "$STATE/seed.json"
fi
if [ -n "$BACKUP" ]; then
  wait "$BACKUP" || { cat "$STATE/logs/basebackup.log" >&2; die "pg_basebackup failed"; }
  echo "port = $(port_of pg-replica)" >>"$REPLICA/postgresql.conf"
fi
pg_starter pg-replica "$REPLICA"
start pg-replica
wait_for pg-replica 30 "$PG_BIN/psql" -h 127.0.0.1 -p "$(port_of pg-replica)" -U postgres -d alliance -qAt \
  -c "SELECT 1 WHERE pg_is_in_recovery()"
for name in app1 app2; do wait_for "$name" 90 ready_url "$(port_of "$name")"; done

# --- workers
step "workers"
write_starter worker-jobs "$PYTHON" -m server.cli worker --kind jobs --interval "${JOBS_INTERVAL:-60}"
start worker-jobs
write_starter worker-outbox "$PYTHON" -m server.cli worker --kind outbox --interval "${OUTBOX_INTERVAL:-0.5}"
start worker-outbox

# --- nginx: the shipped site, its upstream pointed at the two instances, listening on its own port
step "nginx"
sed -e "/^upstream alliancecard_app/,/^}/{/^    server /d}" \
  -e "s|^upstream alliancecard_app {|&\n    server 127.0.0.1:$(port_of app1) max_fails=1 fail_timeout=5s;\n    server 127.0.0.1:$(port_of app2) max_fails=1 fail_timeout=5s;|" \
  -e "s|^    listen 80;|    listen 127.0.0.1:$(port_of nginx);|" \
  -e "s|/var/log/nginx/|$STATE/logs/|" \
  "$ROOT/deploy/nginx/alliancecard.conf" >"$STATE/nginx/alliancecard.conf"
cat >"$STATE/nginx/nginx.conf" <<EOF
# the local topology's nginx (written by deploy/up.sh): Debian's defaults, paths in the state directory
daemon off;
worker_processes 2;
pid $STATE/run/nginx.master.pid;
error_log $STATE/logs/nginx.error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    client_body_temp_path $STATE/nginx/tmp/body;
    proxy_temp_path $STATE/nginx/tmp/proxy;
    fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
    uwsgi_temp_path $STATE/nginx/tmp/uwsgi;
    scgi_temp_path $STATE/nginx/tmp/scgi;
    sendfile on;
    keepalive_timeout 65;
    include $STATE/nginx/alliancecard.conf;
}
EOF
mkdir -p "$STATE/nginx/tmp"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -t -c "$STATE/nginx/nginx.conf" -p "$STATE/nginx" >"$STATE/logs/nginx-check.log" 2>&1 ||
  { cat "$STATE/logs/nginx-check.log" >&2; exit 1; }
write_starter nginx "$NGINX" -c "$STATE/nginx/nginx.conf" -p "$STATE/nginx"
start nginx
wait_for nginx 20 ready_url "$(port_of nginx)"

cat <<EOF
AllianceCard local topology is up ($STATE)
  nginx          http://127.0.0.1:$(port_of nginx)/   (API docs /api/v1/docs, console /console/)
  app instances  http://127.0.0.1:$(port_of app1)/  http://127.0.0.1:$(port_of app2)/
  PostgreSQL     primary 127.0.0.1:$(port_of pg-primary), replica 127.0.0.1:$(port_of pg-replica) (read-only), database alliance
  Redis          127.0.0.1:$(port_of redis)
  workers        worker-jobs, worker-outbox (logs in $STATE/logs)
  logins         $STATE/seed.json
Stop everything with: ALLIANCE_DEPLOY_DIR=$STATE deploy/down.sh
EOF
