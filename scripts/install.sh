#!/usr/bin/env bash
# Create a virtual environment (Python 3.12 or 3.13) and install lucene-hybrid into it, once per
# change of pyproject.toml.
#   scripts/install.sh          the runtime only (what `scripts/serve` needs)
#   scripts/install.sh --test   also the test tools, the benchmark peers and the Python client
# Sourced by scripts/serve, scripts/run-demo and scripts/test; safe to run on its own.
# PYTHON picks the interpreter: a path, a command, or 3.12 / 3.13 (default: the first 3.12 or 3.13
# on PATH, then under pyenv). LUCENE_HYBRID_VENV is the environment's folder (default: .venv).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LUCENE_HYBRID_VENV:-$root/.venv}"
profile="runtime"
[ "${1:-}" = "--test" ] && profile="test"
supported() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 12), (3, 13)))' 2>/dev/null; }
pyenv_versions="${PYENV_ROOT:-$HOME/.pyenv}/versions"
case "${PYTHON:-}" in
  "") candidates=(python3.12 python3.13 python3 "$pyenv_versions"/3.1[23].*/bin/python) ;;
  3.1[23]) candidates=("python$PYTHON" "$pyenv_versions/$PYTHON".*/bin/python) ;;
  *) candidates=("$PYTHON") ;;
esac
python=""
for candidate in "${candidates[@]}"; do
  if command -v "$candidate" >/dev/null && supported "$candidate"; then
    python="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$python" ]; then
  echo "lucene-hybrid needs Python 3.12 or 3.13 (pyserini 2.4.0 needs >= 3.12); none found among:" \
    "${candidates[*]}. Install one (apt install python3.12-venv, brew install python@3.12," \
    "pyenv install 3.12) or point PYTHON at it." >&2
  exit 1
fi
if [ -x "$venv/bin/python" ] && ! supported "$venv/bin/python"; then
  echo "replacing $venv: it was made with $("$venv/bin/python" --version 2>&1)" >&2
  rm -rf "$venv"
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
want="$(cat "$root/pyproject.toml" "$root/setup.py" "$root/clients/python/pyproject.toml" "$root/scripts/install.sh" | sha256sum | cut -d' ' -f1)"
installed() { [ -f "$venv/.lucene-hybrid-$1" ] && [ "$(cat "$venv/.lucene-hybrid-$1")" = "$want" ]; }
if ! installed "$profile" && ! installed test; then
  echo "installing lucene-hybrid ($profile) into $venv (first run: a few minutes) ..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # Our requirements, then pyserini without its own: lucene-hybrid uses only its Anserini jar,
  # and pyserini declares flask, fastmcp, datasets, onnxruntime ... for its Python side. --test
  # adds the test and benchmark extras and installs pyserini whole, as a researcher has it: the
  # tests check our indexes against Pyserini's own searcher and indexer, in one environment.
  "$venv/bin/python" - "$root/pyproject.toml" "$venv" "$profile" <<'PY'
import sys, tomllib
from pathlib import Path
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
wanted = project["dependencies"]
if sys.argv[3] == "test":
    # [bench] (Chroma, Qdrant, LanceDB) and [cluster] (Ray) too: both are tested like the rest.
    extras = project["optional-dependencies"]
    wanted = wanted + extras["test"] + extras["bench"] + extras["cluster"]
ours = [r for r in wanted if sys.argv[3] == "test" or not r.startswith("pyserini")]
Path(sys.argv[2], ".requirements").write_text("\n".join(ours) + "\n")
Path(sys.argv[2], ".requirements-pyserini").write_text("".join(f"{r}\n" for r in set(wanted) - set(ours)))
PY
  "$venv/bin/python" -m pip install --quiet -r "$venv/.requirements"
  if [ -s "$venv/.requirements-pyserini" ]; then
    "$venv/bin/python" -m pip install --quiet --no-deps -r "$venv/.requirements-pyserini"
  fi
  "$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
  if [ "$profile" = test ]; then
    # The Python client is its own distribution (no torch, no Java); its integrations are tested.
    "$venv/bin/python" -m pip install --quiet -e "$root/clients/python[langchain,llamaindex]"
  fi
  echo "$want" > "$venv/.lucene-hybrid-$profile"
fi
