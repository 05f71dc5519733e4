#!/usr/bin/env bash
# Create .venv (Python 3.11) and install lucene-hybrid with its test tools, once per change of
# pyproject.toml. Sourced by scripts/run-demo and scripts/test; safe to run on its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "lucene-hybrid needs Python 3.11 (pyserini 1.6.0); found $("$python" --version)" >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
stamp="$venv/.lucene-hybrid-installed"
want="$(cat "$root/pyproject.toml" "$root/clients/python/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing lucene-hybrid into $venv (first run: a few minutes) ..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # torch is pinned to 2.13.0 in pyproject.toml: the CPU build, not a multi-GB CUDA download.
  # [bench] (Chroma, Qdrant, LanceDB) too: `bench peers` is tested like everything else.
  "$venv/bin/python" -m pip install --quiet -e "$root[test,bench]"
  # The Python client is its own distribution (no torch, no Java); its integrations are tested here.
  "$venv/bin/python" -m pip install --quiet -e "$root/clients/python[langchain,llamaindex]"
  echo "$want" > "$stamp"
fi
