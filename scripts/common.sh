# Sourced by every jvmd script: finds a JDK 25 and sets JAVA_HOME, PATH and MAVEN_OPTS.
jvmd_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

jvmd_find_java() {
    local c
    for c in "${JVMD_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25*; do
        [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
        if "$c/bin/java" -version 2>&1 | head -1 | grep -Eq '"(2[5-9]|[3-9][0-9])[".]'; then
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
