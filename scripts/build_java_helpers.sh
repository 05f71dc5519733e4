#!/usr/bin/env bash
# Rebuild core/java/lucene-hybrid-helpers.jar from its source (needs a JDK >= 21 with javac).
# The jar is committed, so users never need a JDK: only maintainers who change the source run this.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
javac="${JAVAC:-$(ls /usr/lib/jvm/*/bin/javac 2>/dev/null | sort -V | tail -n1)}"
jar_tool="$(dirname "$javac")/jar"
anserini="$(python -c 'from lucene_hybrid.core.jvm import anserini_jar; print(anserini_jar())')"
out="$(mktemp -d)"
"$javac" --release 21 -cp "$anserini" -d "$out" $(find "$here/core/java/src" -name '*.java')
# Written beside the old jar, then renamed over it: a JVM running from the old one keeps it.
"$jar_tool" --create --file "$out.jar" --date=2026-01-01T00:00:00Z -C "$out" .
mv "$out.jar" "$here/core/java/lucene-hybrid-helpers.jar"
rm -rf "$out"
echo "wrote $here/core/java/lucene-hybrid-helpers.jar"
