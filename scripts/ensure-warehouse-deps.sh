#!/usr/bin/env bash
# Make sure the programs the warehouse tests run are present: a Java 17+ runtime for
# Spark (pyspark 4.0 needs 17 or 21) and PostgreSQL's server (initdb, pg_ctl, postgres).
# Debian/Ubuntu only; elsewhere it says what is missing and the tests that need it skip.
# Quiet and quick when both are there.
set -euo pipefail

missing=()

java_major() {
  # `openjdk version "17.0.15" ...` -> 17 (and "1.8.0_x" -> 1); nothing when there is no java.
  command -v java >/dev/null 2>&1 || return 0
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1
}
major="$(java_major)"
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  missing+=(openjdk-17-jre-headless)
fi

# Debian keeps the server's programs off PATH, under /usr/lib/postgresql/<version>/bin.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing what the warehouse tests run on (missing: ${missing[*]})"
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Slim Debian images drop the man folders, and the JRE's postinst fails without this one.
  $SUDO mkdir -p /usr/share/man/man1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  major="$(java_major)"
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    # An older java stays first on PATH: point the alternatives at 17.
    for jre in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
      if [ -x "$jre" ]; then $SUDO update-alternatives --set java "$jre" >/dev/null; break; fi
    done
  fi
else
  echo "Install a Java 17 runtime and the PostgreSQL server with your package manager;" \
       "until then the Spark and PostgreSQL tests are skipped." >&2
fi
