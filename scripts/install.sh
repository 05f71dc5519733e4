#!/usr/bin/env bash
# Create .venv (Python 3.11) and install lucene-hybrid into it, once per change of pyproject.toml.
#   scripts/install.sh          the runtime only (what `scripts/serve` needs)
#   scripts/install.sh --test   also the test tools, the benchmark peers and the Python client
# Sourced by scripts/serve, scripts/run-demo and scripts/test; safe to run on its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
profile="runtime"
[ "${1:-}" = "--test" ] && profile="test"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "lucene-hybrid needs Python 3.11 (pyserini 1.6.0); found $("$python" --version)" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
want="$(cat "$root/pyproject.toml" "$root/setup.py" "$root/clients/python/pyproject.toml" | sha256sum | cut -d' ' -f1)"
installed() { [ -f "$venv/.lucene-hybrid-$1" ] && [ "$(cat "$venv/.lucene-hybrid-$1")" = "$want" ]; }
if ! installed "$profile" && ! installed test; then
  echo "installing lucene-hybrid ($profile) into $venv (first run: a few minutes) ..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # torch is pinned to 2.13.0 in pyproject.toml: the CPU build, not a multi-GB CUDA download.
  if [ "$profile" = runtime ]; then
    # Our requirements, then pyserini without its own: lucene-hybrid uses only its Anserini jar,
    # and pyserini declares pytest, flask, fastmcp, datasets, onnxruntime ... for its Python side.
    "$venv/bin/python" - "$root/pyproject.toml" "$venv" <<'PY'
import sys, tomllib
from pathlib import Path
wanted = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
ours = [r for r in wanted if not r.startswith("pyserini")]
Path(sys.argv[2], ".requirements-runtime").write_text("\n".join(ours) + "\n")
Path(sys.argv[2], ".requirements-pyserini").write_text("\n".join(set(wanted) - set(ours)) + "\n")
PY
    "$venv/bin/python" -m pip install --quiet -r "$venv/.requirements-runtime"
    "$venv/bin/python" -m pip install --quiet --no-deps -r "$venv/.requirements-pyserini"
    "$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
  else
    # [bench] (Chroma, Qdrant, LanceDB) too: `bench peers` is tested like everything else.
    "$venv/bin/python" -m pip install --quiet -e "$root[test,bench]"
    # The Python client is its own distribution (no torch, no Java); its integrations are tested.
    "$venv/bin/python" -m pip install --quiet -e "$root/clients/python[langchain,llamaindex]"
  fi
  echo "$want" > "$venv/.lucene-hybrid-$profile"
fi
