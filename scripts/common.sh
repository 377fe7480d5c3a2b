# Sourced by every jvmd script: finds a JDK 25 and sets JAVA_HOME, PATH and MAVEN_OPTS.
jvmd_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# jvmd_java_version HOME: the feature release of the JDK at HOME (25 for "25.0.3"), read from
# its release file (JAVA_VERSION="..."), so that finding a JDK starts no JVM. A JDK without a
# release file is asked with `java -version`, whose version line is looked for wherever it is:
# JAVA_TOOL_OPTIONS and friends make the JVM print "Picked up ..." lines before it.
jvmd_java_version() {
    local home=$1 line v
    if [ -r "$home/release" ]; then
        line=$(grep -m1 '^JAVA_VERSION=' "$home/release" || true)
        v=${line#JAVA_VERSION=}
        v=${v//\"/}
    else
        line=$("$home/bin/java" -version 2>&1 | grep -m1 -E '^[a-zA-Z-]+ version "' || true)
        v=${line#*version \"}
        v=${v%%\"*}
    fi
    v=${v#1.} # 1.8.0 -> 8
    v=${v%%[.+-]*}
    [[ "$v" =~ ^[0-9]+$ ]] && echo "$v"
}

jvmd_find_java() {
    local c v
    for c in "${JVMD_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25*; do
        [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
        v=$(jvmd_java_version "$c") || continue
        if [ "$v" -ge 25 ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! JAVA_HOME=$(jvmd_find_java); then
    echo "jvmd: no JDK 25 or newer found (looked at \$JVMD_JAVA_HOME, \$JAVA_HOME, /usr/lib/jvm/temurin-25-jdk-amd64);" \
         "install one or set JVMD_JAVA_HOME" >&2
    exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# Maven 3.8's own libraries print Unsafe warnings on JDK 25; they are not ours.
export MAVEN_OPTS="${MAVEN_OPTS:-} --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"

jvmd_mvn() {
    mvn -B -f "$jvmd_root/pom.xml" "$@"
}
