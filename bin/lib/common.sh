# shellcheck shell=bash
# Shared by bin/producer, bin/worker, bin/control, bin/dashboard, bin/workers, bin/demo, bin/test and .ci/run;
# sourced, never run.
#
# Finding Java (conveyor_find_java): the first that is 21 or newer of
#   1. $JAVA_HOME
#   2. the `java` on PATH
#   3. the newest under /usr/lib/jvm, /opt/java, /usr/java, /Library/Java/JavaVirtualMachines
#      (CONVEYOR_JAVA_DIRS overrides that list)
# Finding the jars (conveyor_jar): $CONVEYOR_JAR_DIR/<program>.jar when CONVEYOR_JAR_DIR is set
# (the Docker image), else the shaded <repo>/<program>/target/<program>-all.jar, built with Maven
# when it is missing (or when CONVEYOR_REBUILD=1).
#
# It never builds inside a Maven build (MAVEN_PROJECTBASEDIR set, e.g. a test running a launcher)
# nor with CONVEYOR_NO_BUILD=1: a missing jar is then an error.
#
# Class-data sharing (conveyor_cds_opts): the JVM maps the classes of an earlier start from an
# archive instead of loading and verifying them again. The archive is <program>-<key>.jsa, the key
# naming the jar (path) and the JVM (home, runtime version), so another JDK gets an archive of its
# own; an archive older than its jar (a rebuild) is removed and made anew. It lives in
# $CONVEYOR_CDS_DIR, else next to the jar (target/), else in ${XDG_CACHE_HOME:-~/.cache}/conveyor:
# the first writable one, where the JVM creates it on the first run (-XX:+AutoCreateSharedArchive,
# written at exit) and refreshes it when it no longer fits; one made by a run that did not reach its
# work is made again by the next run. A directory that cannot be written but
# holds the archive (the Docker image's) is read only; without either, the program runs without
# one. CONVEYOR_CDS=0 turns it off.
#
# On JDK 25 and later the ahead-of-time cache takes the dynamic archive's place (conveyor_aot_opts),
# in the same directory, unless CONVEYOR_AOT=0.
#
# Environment: JAVA_HOME, CONVEYOR_JAVA_DIRS, CONVEYOR_JAVA_OPTS (extra JVM flags, word-split),
# CONVEYOR_JAR_DIR, CONVEYOR_REBUILD, CONVEYOR_NO_BUILD, CONVEYOR_CDS, CONVEYOR_CDS_DIR, CONVEYOR_AOT.

CONVEYOR_MIN_JAVA=21

# The repository's root with symlinks resolved (it names the class-data archives). Found by going
# there and back rather than in a subshell: every process a launcher forks costs milliseconds before
# the program starts (docs/benchmarks.md). A working directory that cannot be gone back to (removed,
# not searchable) is left alone: the subshell then.
conveyor_find_root() {
  local here=$PWD back=${OLDPWD:-}
  if [[ -d $here && -x $here ]] && CDPATH='' cd -P -- "${BASH_SOURCE[0]%/*}/../.." 2>/dev/null; then
    CONVEYOR_ROOT=$PWD
    if ! cd -- "$here" 2>/dev/null; then
      conveyor_err "cannot return to the working directory $here"
      exit 1
    fi
    OLDPWD=$back
  else
    CONVEYOR_ROOT=$(CDPATH='' cd -P -- "${BASH_SOURCE[0]%/*}/../.." && pwd)
  fi
}

conveyor_err() {
  printf 'conveyor: %s\n' "$*" >&2
}

conveyor_find_root

# Prints $1 with the password of every URI in it replaced by ****: what any script prints about a
# broker goes through here (the programs themselves mask the same way, Redaction.java).
conveyor_mask_uri() {
  printf '%s\n' "$1" | sed -E 's#([A-Za-z][A-Za-z0-9+.-]*://[^:/@[:space:]]*:)[^@[:space:]]*@#\1****@#g'
}

# Sets CONVEYOR_URI_HOST and CONVEYOR_URI_PORT from the AMQP URI $1 (the first one of a
# comma-separated list); the port defaults to 5672, 5671 for amqps.
conveyor_uri_host_port() {
  local uri=${1%%,*} rest host port=""
  rest=${uri#*://}
  rest=${rest##*@}
  rest=${rest%%[/?#]*}
  if [[ $rest == \[* ]]; then # [::1]:5672
    host=${rest%%]*}
    host=${host#[}
    rest=${rest#*]}
    [[ $rest == :* ]] && port=${rest#:}
  elif [[ $rest == *:* ]]; then
    host=${rest%:*}
    port=${rest##*:}
  else
    host=$rest
  fi
  if [[ -z $port ]]; then
    port=5672
    [[ ${uri,,} == amqps://* ]] && port=5671
  fi
  # shellcheck disable=SC2034 # read by the scripts that call this
  CONVEYOR_URI_HOST=${host:-localhost} CONVEYOR_URI_PORT=$port
}

# Whether host $1 is this machine.
conveyor_is_local_host() {
  case ${1,,} in
    localhost | 127.* | ::1 | "$(hostname 2>/dev/null)") return 0 ;;
    *) return 1 ;;
  esac
}

# Whether something accepts TCP connections on host $1, port $2 (within 2 s).
conveyor_port_open() {
  # shellcheck disable=SC2016 # expanded by the inner shell, which gets host and port as $1, $2
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Runs "$@" as root: directly when root, else through `sudo -n` (never prompts).
conveyor_as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    return 1
  fi
}

# Reads JAVA_VERSION and JAVA_RUNTIME_VERSION from the `release` file of the Java home $1 into
# CONVEYOR_RELEASE_VERSION and CONVEYOR_RELEASE_RUNTIME (empty when missing), in bash alone: the
# launchers run before every program start, and each process they fork costs milliseconds.
conveyor_java_release() {
  local key value
  CONVEYOR_RELEASE_VERSION="" CONVEYOR_RELEASE_RUNTIME=""
  [[ -r $1/release ]] || return 0
  while IFS='=' read -r key value; do
    value=${value#\"} value=${value%%\"*}
    case $key in
      JAVA_VERSION) [[ -n $CONVEYOR_RELEASE_VERSION ]] || CONVEYOR_RELEASE_VERSION=$value ;;
      JAVA_RUNTIME_VERSION) [[ -n $CONVEYOR_RELEASE_RUNTIME ]] || CONVEYOR_RELEASE_RUNTIME=$value ;;
    esac
  done <"$1/release"
}

# Sets CONVEYOR_JAVA_MAJOR to the major version of the Java installation at $1 (a home directory);
# returns 1 when there is none to be told. Reads the `release` file when there is one, so that no
# JVM has to start, and sets a variable rather than printing, so that callers need no subshell:
# every process a launcher starts delays the program (docs/benchmarks.md).
conveyor_java_major() {
  local home=$1 version=""
  CONVEYOR_JAVA_MAJOR=""
  [[ -x $home/bin/java ]] || return 1
  conveyor_java_release "$home"
  version=$CONVEYOR_RELEASE_VERSION
  if [[ -z $version ]]; then
    version=$("$home/bin/java" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
  fi
  [[ -n $version ]] || return 1
  version=${version#1.} # 1.8.0_392 -> 8.0_392
  version=${version%%[!0-9]*}
  [[ -n $version ]] || return 1
  CONVEYOR_JAVA_MAJOR=$version
}

# Sets CONVEYOR_PATH_JAVA_HOME to the home directory of the `java` on PATH, following symlinks
# (/usr/bin/java -> /usr/lib/jvm/…); returns 1 when there is none. Looks through PATH itself, so
# that only a symlink costs a process (readlink).
conveyor_path_java_home() {
  local java="" dir dirs
  CONVEYOR_PATH_JAVA_HOME=""
  IFS=: read -r -a dirs <<<"${PATH:-}"
  for dir in ${dirs[@]+"${dirs[@]}"}; do
    [[ -n $dir ]] || dir=.
    if [[ -f $dir/java && -x $dir/java ]]; then
      java=$dir/java
      break
    fi
  done
  [[ -n $java ]] || return 1
  if [[ -L $java ]]; then
    java=$(readlink -f -- "$java" 2>/dev/null) || return 1
  fi
  [[ $java == /* ]] || java=$PWD/$java # a relative entry in PATH
  java=${java%/*}                       # …/bin
  CONVEYOR_PATH_JAVA_HOME=${java%/*}
}

# Whether $1 is a usable Java home: version >= 21 and, when $2 is "jdk", has javac. Leaves its
# major version in CONVEYOR_JAVA_MAJOR.
conveyor_java_ok() {
  local home=$1 need=${2:-jre}
  conveyor_java_major "$home" || return 1
  ((CONVEYOR_JAVA_MAJOR >= CONVEYOR_MIN_JAVA)) || return 1
  [[ $need != jdk || -x $home/bin/javac ]]
}

# Finds Java 21+ and sets CONVEYOR_JAVA_HOME and CONVEYOR_JAVA. $1 = "jdk" when javac is needed.
# Exits 2 with one line when there is none.
conveyor_find_java() {
  local need=${1:-jre} home best="" best_major=0 major dir
  local dirs=${CONVEYOR_JAVA_DIRS:-/usr/lib/jvm /opt/java /usr/java /Library/Java/JavaVirtualMachines}
  if [[ -n ${JAVA_HOME:-} ]] && conveyor_java_ok "$JAVA_HOME" "$need"; then
    best=$JAVA_HOME
  elif conveyor_path_java_home && conveyor_java_ok "$CONVEYOR_PATH_JAVA_HOME" "$need"; then
    best=$CONVEYOR_PATH_JAVA_HOME
  else
    for dir in $dirs; do
      for home in "$dir"/* "$dir"/*/Contents/Home; do
        [[ -d $home ]] || continue
        conveyor_java_ok "$home" "$need" || continue
        major=$CONVEYOR_JAVA_MAJOR
        if ((major > best_major)); then
          best=$home
          best_major=$major
        fi
      done
    done
  fi
  if [[ -z $best ]]; then
    local what="Java $CONVEYOR_MIN_JAVA or newer"
    [[ $need == jdk ]] && what="JDK $CONVEYOR_MIN_JAVA or newer (with javac)"
    conveyor_err "no $what found (looked at JAVA_HOME, java on PATH, ${dirs// /, }); install one or set JAVA_HOME"
    exit 2
  fi
  CONVEYOR_JAVA_HOME=$best
  CONVEYOR_JAVA=$best/bin/java
}

# Flags that keep Maven (its bundled libraries) quiet on JDK 24+; unknown to older JVMs.
conveyor_maven_opts() {
  local major
  conveyor_java_major "$1" || return 0
  major=$CONVEYOR_JAVA_MAJOR
  if ((major >= 24)) && [[ ${MAVEN_OPTS:-} != *sun-misc-unsafe-memory-access* ]]; then
    MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
  fi
  export MAVEN_OPTS
}

# Builds every program jar with `mvn -q -DskipTests package` at the repository root. Maven's
# output goes to stderr so that a program's stdout stays clean. Several launchers started at once
# build once: the build holds a lock and re-checks the jar afterwards.
conveyor_build() {
  local program=$1
  if ! command -v mvn >/dev/null 2>&1; then
    conveyor_err "the $program jar is missing and Maven (mvn) is not installed to build it; install Maven, or run 'mvn -DskipTests package' where it is"
    exit 2
  fi
  (
    if command -v flock >/dev/null 2>&1; then
      exec 9>"${TMPDIR:-/tmp}/conveyor-build-$(printf '%s' "$CONVEYOR_ROOT" | cksum | cut -d' ' -f1).lock"
      flock 9
    fi
    conveyor_built_jar "$program"
    if [[ -n $CONVEYOR_BUILT_JAR && ${CONVEYOR_REBUILD:-0} != 1 ]]; then
      exit 0 # built by another launcher while we waited
    fi
    conveyor_find_java jdk
    conveyor_maven_opts "$CONVEYOR_JAVA_HOME"
    conveyor_err "building the jars (mvn -B -q -DskipTests package with JAVA_HOME=$CONVEYOR_JAVA_HOME)…"
    cd "$CONVEYOR_ROOT" && JAVA_HOME=$CONVEYOR_JAVA_HOME mvn -B -q -DskipTests package 1>&2
  ) || {
    local rc=$?
    ((rc == 2)) && exit 2
    conveyor_err "build failed; see the Maven output above"
    exit 1
  }
  conveyor_built_jar "$program"
  if [[ -z $CONVEYOR_BUILT_JAR ]]; then
    conveyor_err "the build did not produce $program/target/$program-all.jar"
    exit 1
  fi
}

# Sets CONVEYOR_JAR to the runnable jar of program $1, building it first when needed. A variable,
# not output, so that callers need no subshell.
conveyor_jar() {
  local program=$1 jar
  if [[ -n ${CONVEYOR_JAR_DIR:-} ]]; then
    jar=$CONVEYOR_JAR_DIR/$program.jar
    if [[ ! -f $jar ]]; then
      conveyor_err "$jar not found (CONVEYOR_JAR_DIR=$CONVEYOR_JAR_DIR)"
      exit 2
    fi
  else
    conveyor_built_jar "$program"
    jar=$CONVEYOR_BUILT_JAR
    # Never build from inside a Maven build (a test that runs a launcher): a nested reactor build
    # would rewrite the jars under the running tests. Maven's launcher exports MAVEN_PROJECTBASEDIR.
    local may_build=1
    [[ ${CONVEYOR_NO_BUILD:-0} == 1 || -n ${MAVEN_PROJECTBASEDIR:-} ]] && may_build=0
    if [[ -z $jar ]] && ((!may_build)); then
      conveyor_err "no $program jar in $CONVEYOR_ROOT/$program/target and no build from here (inside a Maven build, or CONVEYOR_NO_BUILD=1); run 'mvn -DskipTests package' first"
      exit 2
    fi
    if [[ -z $jar ]] || { ((may_build)) && [[ ${CONVEYOR_REBUILD:-0} == 1 ]]; }; then
      conveyor_build "$program" >&2
      conveyor_built_jar "$program"
      jar=$CONVEYOR_BUILT_JAR
    fi
  fi
  CONVEYOR_JAR=$jar
}

# Sets CONVEYOR_BUILT_JAR to the runnable jar of program $1, <repo>/$1/target/<program>-all.jar;
# empty when there is none. The build replaces that file by a rename (the parent POM), so programs
# running from it keep working across a rebuild.
conveyor_built_jar() {
  local jar=$CONVEYOR_ROOT/$1/target/$1-all.jar
  CONVEYOR_BUILT_JAR=""
  [[ ! -f $jar ]] || CONVEYOR_BUILT_JAR=$jar
}

# Sets CONVEYOR_HASH to a 32-bit hash (djb2) of $1, in bash alone.
conveyor_hash() {
  local s=$1 h=5381 i c
  for ((i = 0; i < ${#s}; i++)); do
    printf -v c '%d' "'${s:i:1}"
    h=$(((h * 33 + c) & 0xFFFFFFFF))
  done
  CONVEYOR_HASH=$h
}

# Sets CONVEYOR_CDS_FILE to the archive file of program $1 with jar $2 for the JVM in
# CONVEYOR_JAVA_HOME, in directory $3. The key names the jar's path and the JVM; a rebuilt jar is
# told by being newer than its archive (conveyor_stale), which the shell tests without a process.
conveyor_cds_file() {
  local program=$1 jar=$2 dir=$3
  conveyor_java_release "$CONVEYOR_JAVA_HOME"
  [[ -n $CONVEYOR_RELEASE_RUNTIME || -n $CONVEYOR_RELEASE_VERSION ]] || return 1
  conveyor_hash "$jar|$CONVEYOR_JAVA_HOME|$CONVEYOR_RELEASE_RUNTIME|$CONVEYOR_RELEASE_VERSION"
  CONVEYOR_CDS_FILE=$dir/$program-$CONVEYOR_HASH.jsa
}

# Whether the archive or cache $2 exists but was made before jar $1 was last built: it no longer
# fits the jar (the JVM would refuse to map it).
conveyor_stale() {
  [[ -e $2 && $1 -nt $2 ]]
}

# Sets the array CONVEYOR_CDS_OPTS to the JVM flags that use (and, where it may, create) the
# class-data-sharing archive of program $1 with jar $2 run with arguments $3…; empty when there is
# none to be had. The JVM's own CDS messages are silenced: they go to stdout, which the producer's
# callers parse. The archive holds the classes of the run that created it, so a run that only prints
# help or the version (which loads few of them) uses an archive but does not create one.
conveyor_cds_opts() {
  local program=$1 jar=$2 dir file old arg create=1
  shift 2
  CONVEYOR_CDS_OPTS=()
  for arg in "$@"; do
    case $arg in
      -h | --help | help | -V | --version) create=0 ;;
    esac
  done
  [[ ${CONVEYOR_CDS:-1} != 0 ]] || return 0
  # Flags given by hand win: an archive of their own, or CDS turned off.
  [[ " ${CONVEYOR_JAVA_OPTS:-} " != *" -XX:SharedArchiveFile="* ]] || return 0
  [[ " ${CONVEYOR_JAVA_OPTS:-} " != *" -Xshare:off "* ]] || return 0
  [[ " ${CONVEYOR_JAVA_OPTS:-} " != *" -XX:AOTCache="* && " ${CONVEYOR_JAVA_OPTS:-} " != *" -XX:AOTMode="* ]] || return 0
  local dirs=()
  if [[ -n ${CONVEYOR_CDS_DIR:-} ]]; then
    dirs=("$CONVEYOR_CDS_DIR")
  else
    dirs=("${jar%/*}")
    [[ -n ${HOME:-} || -n ${XDG_CACHE_HOME:-} ]] && dirs+=("${XDG_CACHE_HOME:-$HOME/.cache}/conveyor")
  fi
  for dir in "${dirs[@]}"; do
    conveyor_cds_file "$program" "$jar" "$dir" || return 0
    file=$CONVEYOR_CDS_FILE
    if ((create)) && { [[ -d $dir && -w $dir ]] || { [[ ! -e $dir ]] && mkdir -p -- "$dir" 2>/dev/null; }; }; then
      if [[ ! -e $file ]] || conveyor_stale "$jar" "$file"; then
        # Archives of earlier builds of this jar are of no further use; neither are a record or a
        # lock older than the jar (a recorder's lock is younger: the jar was there when it began).
        for old in "$dir/$program"-*.jsa "$dir/$program"-*.jsa.trained "$dir/$program"-*.aot "$dir/$program"-*.aot.*.tmp "$dir/$program"-*.aotconf "$dir/$program"-*.aotlock; do
          [[ -e $old && $old -ot $jar ]] && rm -rf -- "$old" 2>/dev/null
        done
      fi
      if conveyor_aot_opts "$jar" "$file"; then
        return 0
      fi
      if [[ ! -e $file || -w $file ]]; then
        # The JVM keeps the archive its first run made, whatever that run did. One made by a run
        # that did not reach its work (refused its flags, found no broker) holds little of what the
        # program runs: this run makes it again. A run that did its work says so by creating
        # $file.trained (Cli.workDone), as for the ahead-of-time cache.
        if [[ -e $file && ! -e $file.trained ]]; then
          rm -f -- "$file"
        fi
        CONVEYOR_CDS_OPTS=(-XX:+AutoCreateSharedArchive "-XX:SharedArchiveFile=$file" '-Xlog:cds*=off'
          "-Dconveyor.aot.trained=$file.trained")
        return 0
      fi
    fi
    # Read only: the JVM would fail writing a refreshed archive at exit, so it only maps this one.
    if [[ -f ${file%.jsa}.aot && -r ${file%.jsa}.aot ]] && ! conveyor_stale "$jar" "${file%.jsa}.aot" && conveyor_aot_supported; then
      CONVEYOR_CDS_OPTS=("-XX:AOTCache=${file%.jsa}.aot" '-Xlog:aot*=off' '-Xlog:cds*=off')
      return 0
    fi
    if [[ -f $file && -r $file ]]; then
      CONVEYOR_CDS_OPTS=("-XX:SharedArchiveFile=$file" '-Xlog:cds*=off')
      return 0
    fi
  done
}

# Sets the array CONVEYOR_PROGRAM_OPTS to the JVM flags program $1 runs with by default; they come
# before CONVEYOR_JAVA_OPTS, whose flags win (a collector chosen there replaces ours: the JVM
# refuses two). control and producer are commands that act and exit: the quick (C1) compiler alone
# (C2's compiles would take CPU from the broker they wait on, often on the same machine), the
# serial collector (one busy thread, a small heap) and, for control, no perf-data file take tens
# of milliseconds off a command and a second or two of CPU off a large publish
# (docs/benchmarks.md). The worker starts with a small heap (0.25 % of the memory instead of the
# JVM's 1/64: 61 MiB on a 24 GiB host) that grows as its tasks need: the collector's own tables
# follow the heap's committed size, and an idle worker's RSS with it. A heap flag given in
# CONVEYOR_JAVA_OPTS wins; the JVM keeps the initial size at or below the maximum.
# Every program calls constructors and methods through reflection natively: since JDK 18 the JVM
# otherwise builds each reflective call from method handles, spinning classes the AOT cache cannot
# keep, and a start's first JSON messages (Jackson makes records through their constructors) paid
# that again in every run; a reflective call costs no more once warm (docs/benchmarks.md).
conveyor_program_opts() {
  local opt given gc_given=0 defaults=(-Djdk.reflect.useNativeAccessorOnly=true)
  case $1 in
    control) defaults+=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData) ;;
    producer) defaults+=(-XX:TieredStopAtLevel=1 -XX:+UseSerialGC) ;;
    worker) defaults+=(-XX:InitialRAMPercentage=0.25) ;;
  esac
  # shellcheck disable=SC2086 # CONVEYOR_JAVA_OPTS is a list of flags, split on purpose
  for given in ${CONVEYOR_JAVA_OPTS:-}; do
    [[ $given == -XX:+Use*GC ]] && gc_given=1
  done
  CONVEYOR_PROGRAM_OPTS=()
  for opt in ${defaults[@]+"${defaults[@]}"}; do
    ((gc_given)) && [[ $opt == -XX:+Use*GC ]] && continue
    CONVEYOR_PROGRAM_OPTS+=("$opt")
  done
}

# Whether the JVM in CONVEYOR_JAVA_HOME has the ahead-of-time cache (JDK 25: JEPs 483, 514, 515).
conveyor_aot_supported() {
  [[ ${CONVEYOR_AOT:-1} != 0 ]] || return 1
  conveyor_java_major "$CONVEYOR_JAVA_HOME" || return 1
  ((CONVEYOR_JAVA_MAJOR >= 25))
}

# On JDK 25 and later, sets CONVEYOR_CDS_OPTS to use the program's ahead-of-time cache instead of
# the dynamic archive ($2, for jar $1): it holds the classes of a real run already loaded and
# linked, with their method profiles, and the programs reach their work markedly sooner with it
# (docs/benchmarks.md). No run waits for it to be made:
#   1. the first run that finds no cache records what it loads (-XX:AOTMode=record, written at its
#      exit; a lock directory makes it the only one). A program that did its work (a worker that
#      consumed, a dashboard that served, a command that succeeded) says so by creating the file -Dconveyor.aot.trained
#      names (dev.conveyor.protocol.cli.Cli); a record of a run that was refused its flags or
#      found no broker holds little of what the program runs, and is recorded again instead of
#      being built (runs that only print help or the version record nothing: conveyor_cds_opts);
#   2. a launch that finds that record, its recorder gone and the work done builds the cache from
#      it in the background (a JVM of its own, detached, a few seconds of CPU);
#   3. every later run maps the cache.
# Runs before the cache exists go without one. Returns 1 when the JVM has no AOT cache (older
# than 25): the caller then uses the dynamic archive.
conveyor_aot_opts() {
  local jar=$1 jsa=$2 aot conf lock pid tmp
  conveyor_aot_supported || return 1
  aot=${jsa%.jsa}.aot conf=${jsa%.jsa}.aotconf lock=${jsa%.jsa}.aotlock
  if [[ -f $aot ]]; then
    CONVEYOR_CDS_OPTS=("-XX:AOTCache=$aot" '-Xlog:aot*=off' '-Xlog:cds*=off')
    return 0
  fi
  # A lock left by a recorder or builder that was killed does not block forever; nor does a cache
  # half-written by a builder killed outright (SIGKILL) stay.
  if [[ -d $lock && -n $(find "$lock" -maxdepth 0 -mmin +10 2>/dev/null) ]]; then
    rm -rf -- "$lock"
    rm -f -- "$aot".*.tmp
  fi
  if mkdir -- "$lock" 2>/dev/null; then
    printf '%s\n' "$$" >"$lock/pid" # $$ is the JVM's pid once this shell execs it
    rm -f -- "$conf"
    # The recording JVM reports the record on the terminal, outside its logging: that report would
    # reach the producer's stdout, which callers parse, or an error's one-line stderr.
    CONVEYOR_CDS_OPTS=(-XX:AOTMode=record "-XX:AOTConfiguration=$conf" '-Xlog:aot*=off' '-Xlog:cds*=off'
      -XX:+UnlockDiagnosticVMOptions -XX:-DisplayVMOutput "-Dconveyor.aot.trained=$lock/trained")
    return 0
  fi
  pid=$(cat -- "$lock/pid" 2>/dev/null) || return 0
  [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null || return 0 # still recording
  if [[ ! -f $conf ]]; then
    rm -rf -- "$lock" # the recorder died before writing: the next launch records again
    return 0
  fi
  if [[ ! -e $lock/trained ]]; then # the recorded run did not reach its work: this one records
    rm -f -- "$conf"
    rm -rf -- "$lock"
    conveyor_aot_opts "$jar" "$jsa"
    return
  fi
  mkdir -- "$lock/building" 2>/dev/null || return 0 # another launch builds it
  tmp=$aot.$$.tmp
  # The same flags as the runs that will map it. Started from a subshell that exits at once, so
  # that init, not this program, reaps it. It shares this program's process group: a SIGTERM or
  # SIGHUP sent to the group (timeout(1), a closed terminal, a service manager stopping the
  # program) ends the build too. Then the half-written cache goes and the record stays, for the
  # next launch to build from (the trap runs once the JVM, which got the signal as well, is gone).
  # shellcheck disable=SC2086 # CONVEYOR_JAVA_OPTS is a list of flags, split on purpose
  (
    (
      trap 'rm -f -- "$tmp"; rmdir -- "$lock/building" 2>/dev/null; exit 1' TERM HUP
      nice "$CONVEYOR_JAVA" -XX:AOTMode=create "-XX:AOTConfiguration=$conf" "-XX:AOTCache=$tmp" \
        '-Xlog:aot*=off' '-Xlog:cds*=off' ${CONVEYOR_PROGRAM_OPTS[@]+"${CONVEYOR_PROGRAM_OPTS[@]}"} \
        ${CONVEYOR_JAVA_OPTS:-} -cp "$jar" </dev/null >/dev/null 2>&1 && mv -f -- "$tmp" "$aot"
      rm -f -- "$tmp" "$conf"
      rm -rf -- "$lock"
    ) &
  )
  return 0
}

# Finds Java and the jar, then replaces this shell with the program so that signals reach the
# JVM directly and its exit code is the launcher's.
conveyor_exec() {
  local program=$1 jar
  shift
  conveyor_jar "$program"
  jar=$CONVEYOR_JAR
  conveyor_find_java
  conveyor_program_opts "$program"
  conveyor_cds_opts "$program" "$jar" "$@"
  # shellcheck disable=SC2086 # CONVEYOR_JAVA_OPTS is a list of flags, split on purpose
  exec "$CONVEYOR_JAVA" ${CONVEYOR_CDS_OPTS[@]+"${CONVEYOR_CDS_OPTS[@]}"} ${CONVEYOR_PROGRAM_OPTS[@]+"${CONVEYOR_PROGRAM_OPTS[@]}"} ${CONVEYOR_JAVA_OPTS:-} -jar "$jar" "$@"
}
