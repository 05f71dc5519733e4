"""What a user installs: the built wheel, in a fresh venv, with no path back to this checkout.

The tests' own install is editable, which finds every module through the source tree and would
hide a sub-package or a data file that the wheel leaves out. Here the wheel is built from a copy
of the tree and installed into a new venv; its dependencies come from the test venv's
site-packages (a path, so none of that venv's editable hooks run), and nothing is imported from
the checkout. Then every subcommand's --help, an index, a search and a served request.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from serverproc import free_port

REPO = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {".git", ".venv", "build", "tests", "clients", "scripts", "examples", "docs"}

pytestmark = pytest.mark.slow


def _copy_tree(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n.endswith((".egg-info", "_cache")) or n == "__pycache__"}
        if Path(folder) == REPO:
            skip |= {n for n in names if n in NOT_SHIPPED or n.startswith(".")}
            skip |= {n for n in names if n.startswith(("lucene-hybrid-data", "test-artifacts"))}
        return skip

    src = dest / "src"
    shutil.copytree(REPO, src, ignore=ignore)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh venv holding the built wheel; returns its python, console script and wheel."""
    work = tmp_path_factory.mktemp("wheel")
    src = _copy_tree(work)
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(dist), str(src)],
        check=True,
        cwd=work,
    )
    (wheel,) = dist.glob("lucene_hybrid-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies (torch, pyserini, ...) from the test venv, after the wheel's own files.
    (Path(site) / "zz_test_venv_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    return {
        "python": python,
        "cli": venv / "bin" / "lucene-hybrid",
        "wheel": wheel,
        "site": Path(site),
        "work": work,
        "env": env,
    }


def _run(installed: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        cwd=installed["work"],  # not the checkout: nothing may be imported from there
        env=installed["env"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_holds_every_package_and_data_file(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    rooms = sorted(p.parent for p in REPO.glob("*/__init__.py"))
    want = []
    for room in rooms:
        for path in room.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                want.append("lucene_hybrid/" + path.relative_to(REPO).as_posix())
    missing = [n for n in want if n not in names]
    assert not missing, f"the wheel leaves out: {missing}"


def test_the_installed_package_imports_from_the_venv_only(installed):
    code = (
        "import json, lucene_hybrid.cli, lucene_hybrid.server, lucene_hybrid.core as core;"
        "from lucene_hybrid.evaluation import preset_names;"
        "print(json.dumps({'cli': lucene_hybrid.cli.__file__,"
        " 'config': str(core.config_path('server.yaml')),"
        " 'presets': preset_names()}))"
    )
    done = _run(installed, str(installed["python"]), "-c", code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["cli"]).is_relative_to(installed["site"])
    assert Path(found["config"]).is_file()
    assert Path(found["config"]).is_relative_to(installed["site"])
    assert "beir-scifact" in found["presets"]


def test_every_subcommand_answers_help(installed):
    code = (
        "import argparse, json; from lucene_hybrid.cli import build_parser\n"
        "def walk(p, path):\n"
        "    for a in p._actions:\n"
        "        if isinstance(a, argparse._SubParsersAction):\n"
        "            for name, sub in a.choices.items():\n"
        "                yield [*path, name]; yield from walk(sub, [*path, name])\n"
        "print(json.dumps(list(walk(build_parser(), []))))"
    )
    done = _run(installed, str(installed["python"]), "-c", code)
    assert done.returncode == 0, done.stderr
    commands = json.loads(done.stdout)
    assert ["serve"] in commands and ["bench", "search"] in commands and ["eval"] in commands
    for command in [[], *commands]:
        done = _run(installed, str(installed["cli"]), *command, "--help")
        assert done.returncode == 0, f"lucene-hybrid {' '.join(command)} --help: {done.stderr}"
        assert "usage: lucene-hybrid" in done.stdout


def test_index_search_and_serve_from_the_wheel(installed, tmp_path):
    corpus = next(installed["site"].rglob("lucene_hybrid/server/demo/corpus.jsonl"))
    index = tmp_path / "idx"
    done = _run(
        installed, str(installed["cli"]), "index", str(corpus), "--index", str(index), "--quiet"
    )
    assert done.returncode == 0, done.stderr
    done = _run(
        installed,
        str(installed["cli"]),
        "search",
        "--index",
        str(index),
        "--json",
        "-k",
        "3",
        "vector search in lucene",
    )
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert len(hits) == 3 and all(h["docid"] for h in hits)
    done = _run(
        installed,
        str(installed["cli"]),
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
        "-k",
        "2",
        "sourdough bread",
    )
    assert done.returncode == 0, done.stderr
    assert "query: sourdough bread" in done.stdout

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(installed["cli"]), "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        cwd=installed["work"],
        env=installed["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        found = httpx.post(
            f"{url}/v1/collections/demo/search",
            json={"query": "how does lucene do vector search", "k": 3},
            timeout=60,
        )
        assert found.status_code == 200, found.text
        assert len(found.json()["hits"]) == 3
        page = httpx.get(f"{url}/", timeout=10)  # the playground, from package data
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
