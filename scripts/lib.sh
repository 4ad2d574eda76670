# shellcheck shell=bash
# Shared helpers for quicfleet's scripts. Source it; the caller sets `set -euo pipefail`.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   find_java_home                      # exports JAVA_HOME (a JDK >= 21) and puts its bin first on PATH
#   java $(jvm_flags) -cp ... Main      # the JVM argument files every quicfleet JVM runs with
#
# Sets QUICFLEET_ROOT (the repository root) when sourced.

# The oldest Java feature release quicfleet runs on (virtual threads).
QUICFLEET_MIN_JAVA=21

# Prints a message to stderr, prefixed with the running script's name.
log() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Prints a message to stderr and exits 1. Exits the calling script, not just a subshell: do not call it in $(...).
die() {
  log "error: $*"
  exit 1
}

# Prints the repository root, found from this file's location (scripts/lib.sh), with symlinks resolved.
quicfleet_root() {
  local self
  self=$(readlink -f "${BASH_SOURCE[0]}")
  (cd "$(dirname "$self")/.." && pwd -P)
}

QUICFLEET_ROOT="$(quicfleet_root)"

# Prints the Java feature version (17, 21, 25, ...) of the Java home $1, or nothing if it has no usable java.
# Reads the home's `release` file when there is one (no JVM start), else asks `java -version`.
java_feature_version() {
  local home=$1 version=''
  [[ -x $home/bin/java ]] || return 0
  if [[ -r $home/release ]]; then
    version=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$home/release")
  fi
  if [[ -z $version ]]; then
    version=$("$home/bin/java" -version 2>&1 | sed -n 's/^.* version "\([^"]*\)".*$/\1/p' | head -n 1) || true
  fi
  version=${version#1.} # 1.8.0_402 -> 8.0_402
  version=${version%%[!0-9]*}
  [[ -n $version ]] && printf '%s\n' "$version"
  return 0
}

# Describes why Java home $1 does or does not qualify; used for the "no JDK found" message.
_describe_java_home() {
  local home=$1 feature
  feature=$(java_feature_version "$home")
  if [[ -z $feature ]]; then
    printf '%s: no usable bin/java' "$home"
  elif [[ ! -x $home/bin/javac ]]; then
    printf '%s: Java %s, but no bin/javac (a JRE; a full JDK is needed)' "$home" "$feature"
  elif ((feature < QUICFLEET_MIN_JAVA)); then
    printf '%s: Java %s (too old)' "$home" "$feature"
  else
    printf '%s: Java %s' "$home" "$feature"
  fi
}

# True if Java home $1 is a full JDK (has javac) of feature version >= QUICFLEET_MIN_JAVA.
_is_usable_jdk() {
  local feature
  feature=$(java_feature_version "$1")
  [[ -n $feature && -x $1/bin/javac ]] && ((feature >= QUICFLEET_MIN_JAVA))
}

# Selects a JDK >= 21: $JAVA_HOME if it qualifies, else the JDK of `java` on PATH, else the newest
# qualifying JDK under /usr/lib/jvm. Exports JAVA_HOME, puts $JAVA_HOME/bin first on PATH and sets
# QUICFLEET_JAVA_FEATURE. If none qualifies, says what it found and how to fix it, and exits 1.
find_java_home() {
  local -a seen=()
  local -A visited=()
  local candidate path_java best='' best_feature=0 feature

  if [[ -n ${JAVA_HOME:-} ]]; then
    candidate=$(readlink -f "$JAVA_HOME" || printf '%s' "$JAVA_HOME")
    if _is_usable_jdk "$candidate"; then
      _use_java_home "$candidate"
      return 0
    fi
    seen+=("JAVA_HOME=$(_describe_java_home "$JAVA_HOME")")
    log "ignoring ${seen[-1]}"
  fi

  if path_java=$(command -v java); then
    candidate=$(readlink -f "$path_java")
    candidate=${candidate%/bin/java}
    candidate=${candidate%/jre} # Java 8 layout: <jdk>/jre/bin/java
    if _is_usable_jdk "$candidate"; then
      _use_java_home "$candidate"
      return 0
    fi
    seen+=("java on PATH ($path_java) -> $(_describe_java_home "$candidate")")
    visited[$candidate]=1
  fi

  for candidate in /usr/lib/jvm/*; do
    [[ -d $candidate ]] || continue
    candidate=$(readlink -f "$candidate")
    [[ -n ${visited[$candidate]:-} ]] && continue
    visited[$candidate]=1
    if _is_usable_jdk "$candidate"; then
      feature=$(java_feature_version "$candidate")
      if ((feature > best_feature)); then
        best=$candidate
        best_feature=$feature
      fi
    else
      seen+=("$(_describe_java_home "$candidate")")
    fi
  done
  if [[ -n $best ]]; then
    _use_java_home "$best"
    return 0
  fi

  log "error: quicfleet needs a JDK $QUICFLEET_MIN_JAVA or newer (with javac); none was found."
  if ((${#seen[@]} == 0)); then
    log "  looked at JAVA_HOME, java on PATH and /usr/lib/jvm/*: no Java at all"
  else
    log "  looked at JAVA_HOME, java on PATH and /usr/lib/jvm/*; found:"
    local line
    for line in "${seen[@]}"; do
      log "    $line"
    done
  fi
  log "  fix: install a JDK $QUICFLEET_MIN_JAVA or newer (Debian 12 ships only OpenJDK 17; e.g. Temurin from"
  log "       https://adoptium.net), or point JAVA_HOME at one."
  exit 1
}

_use_java_home() {
  export JAVA_HOME=$1
  QUICFLEET_JAVA_FEATURE=$(java_feature_version "$1")
  case ":$PATH:" in
    ":$JAVA_HOME/bin:"*) ;; # already first
    *) export PATH="$JAVA_HOME/bin:$PATH" ;;
  esac
}

# Prints the JVM argument-file arguments, one per line, for the JDK chosen by find_java_home (called here
# if it has not run yet): base.options always, jdk23.options on JDK 23 and newer (older launchers reject
# its flags). Keep this in step with the jdk23 profile in pom.xml.
jvm_flags() {
  [[ -n ${QUICFLEET_JAVA_FEATURE:-} ]] || find_java_home
  printf '%s\n' "@$QUICFLEET_ROOT/scripts/jvm/base.options"
  if ((QUICFLEET_JAVA_FEATURE >= 23)); then
    printf '%s\n' "@$QUICFLEET_ROOT/scripts/jvm/jdk23.options"
  fi
}

# Builds the project (skipping tests) when the worker or supervisor jar is missing or older than any source or
# pom, so `./scripts/worker` and `./scripts/supervisor` work on a fresh clone and after every edit.
# Quiet unless it has to build.
ensure_built() {
  local jar oldest=""
  for jar in "$QUICFLEET_ROOT/worker/target/quicfleet-worker.jar" \
      "$QUICFLEET_ROOT/supervisor/target/quicfleet-supervisor.jar"; do
    if [[ ! -f $jar ]]; then
      oldest=""
      break
    fi
    if [[ -z $oldest || $jar -ot $oldest ]]; then
      oldest=$jar
    fi
  done
  if [[ -n $oldest ]] && [[ -z $(find "$QUICFLEET_ROOT" -path '*/target' -prune -o -path '*/.git' -prune -o \
      \( -path '*/src/main/*' -type f -o -name 'pom.xml' \) -newer "$oldest" -print -quit) ]]; then
    return 0
  fi
  log "building quicfleet (first run, or sources changed) ..."
  if ((QUICFLEET_JAVA_FEATURE >= 23)); then
    export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
  fi
  (cd "$QUICFLEET_ROOT" && ./mvnw -B -q -DskipTests package) >&2 || die "build failed (see the Maven output above)"
  # The jar plugin leaves a jar whose content did not change as it was (a change in another module, say): without
  # this, every later start would see a source newer than the jar and build again.
  touch "$QUICFLEET_ROOT/worker/target/quicfleet-worker.jar" "$QUICFLEET_ROOT/supervisor/target/quicfleet-supervisor.jar"
}

# JDK 25+: makes the worker's AOT cache (JEP 483/514: classes loaded and linked, method profiles) next to its jar,
# worker/target/quicfleet-worker.aot, once per build: a training run serves a few requests and exits. The supervisor
# starts workers with it when it is newer than the jar, which halves a worker's start (respawn) time. Best effort:
# on any failure the workers simply start without it.
ensure_worker_aot() {
  ((QUICFLEET_JAVA_FEATURE >= 25)) || return 0
  local jar="$QUICFLEET_ROOT/worker/target/quicfleet-worker.jar"
  local aot="${jar%.jar}.aot"
  [[ -f $aot && ! $aot -ot $jar ]] && return 0
  log "training the worker's AOT cache (once per build, about 20 s) ..."
  local work pid port i
  work=$(mktemp -d "${TMPDIR:-/tmp}/quicfleet-aot.XXXXXX")
  local flags_list
  mapfile -t flags_list <<<"$(jvm_flags)"
  "$JAVA_HOME/bin/java" "${flags_list[@]}" -XX:AOTCacheOutput="$work/worker.aot" -jar "$jar" --address 127.0.0.1 \
    --port 0 --state-dir "$work/state" >"$work/out" 2>"$work/err" &
  pid=$!
  for ((i = 0; i < 600; i++)); do grep -q '^ready' "$work/out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/^ready: .*:\([0-9]*\) transport.*/\1/p' "$work/out")
  if [[ -n $port ]]; then
    for ((i = 0; i < 20; i++)); do
      curl -sk -o /dev/null "https://127.0.0.1:$port/whoami" || true
      curl -sk -o /dev/null --http1.1 "https://127.0.0.1:$port/" || true
      if command -v gtlsclient >/dev/null; then
        timeout 5 gtlsclient -q --exit-on-all-streams-close 127.0.0.1 "$port" "https://localhost:$port/whoami" \
          >/dev/null 2>&1 || true
      fi
    done
  fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ -s $work/worker.aot ]]; then
    mv "$work/worker.aot" "$aot"
  else
    log "warning: no AOT cache made (workers start without it): $(tail -1 "$work/err")"
  fi
  rm -rf "$work"
}

# Builds the client (h3, h3load) when its jar is missing or older than a source or pom of the client or of what it
# is built with. Packages only that part of the reactor (no install). Quiet unless it has to build.
ensure_client_built() {
  local jar="$QUICFLEET_ROOT/client/target/quicfleet-client.jar"
  if [[ -f $jar ]] && [[ -z $(find "$QUICFLEET_ROOT/pom.xml" "$QUICFLEET_ROOT/client" "$QUICFLEET_ROOT/transport" \
      -path '*/target' -prune -o \( -path '*/src/main/*' -type f -o -name 'pom.xml' \) -newer "$jar" -print -quit) ]]; then
    return 0
  fi
  log "building the quicfleet client (first run, or sources changed) ..."
  if ((QUICFLEET_JAVA_FEATURE >= 23)); then
    export MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
  fi
  (cd "$QUICFLEET_ROOT" && ./mvnw -B -q -DskipTests package -pl client -am) >&2 \
    || die "build failed (see the Maven output above)"
  touch "$jar" # as in ensure_built: an unchanged jar is not rewritten
}
