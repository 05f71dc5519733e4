"""Fine-tuning on a tiny corpus: the loop learns, saves a loadable model, reproduces; the CLI
path with synthetic queries from an OpenAI-compatible stub, then reindex and search."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from json_service import JsonService

from lucene_hybrid.cli.main import main
from lucene_hybrid.core.manifest import read_manifest
from lucene_hybrid.evaluation.experiment import Split
from lucene_hybrid.evaluation.formats import read_qrels, read_topics
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder
from lucene_hybrid.training.finetune import REPORT, TrainOptions, finetune
from lucene_hybrid.training.mining import MiningOptions

DATA = Path(__file__).resolve().parents[1] / "data"
TINY = TrainOptions(
    batch_size=8, lr=1e-4, epochs=5, max_length=64, eval_every=5, patience=99, dev_fraction=0.2
)


def _train(index: Path, out: Path):
    split = Split(
        "train", read_topics(DATA / "tiny_queries.tsv"), read_qrels(DATA / "tiny_qrels.txt")
    )
    return finetune(
        index, split, out, mining=MiningOptions(depth=10, negatives=3), opts=TINY, progress=False
    )


def test_training_loop_learns_saves_a_loadable_model_and_reproduces(demo_index, tmp_path):
    first = _train(demo_index, tmp_path / "model-a")
    losses = first.losses
    per_epoch = len(losses) // TINY.epochs
    assert per_epoch >= 2 and len(losses) == first.training["steps_planned"]
    assert np.mean(losses[-per_epoch:]) < 0.5 * np.mean(losses[:per_epoch]), losses
    assert first.data["train_queries"] == 24 and first.data["dev_queries"] == 6
    assert first.mining["negatives_mined"] > 0

    out = tmp_path / "model-a"
    report = json.loads((out / REPORT).read_text())
    assert report["losses"] == losses
    card = (out / "README.md").read_text()
    assert f"| before (base model) | {first.dev['before']:.4f} |" in card
    assert f"| after (best step {first.training['best_step']}) | {first.dev['after']:.4f} |" in card
    assert first.dev["after"] >= first.dev["before"]  # the best state is the one kept

    tuned = HuggingFaceEncoder(EncoderSpec(model=str(out)), device="cpu")
    base = HuggingFaceEncoder(EncoderSpec(), device="cpu")
    text = ["the moon pulls the ocean"]
    v = tuned.encode_queries(text)
    assert v.shape == (1, 384) and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    assert not np.allclose(v, base.encode_queries(text), atol=1e-3), "the weights changed"
    assert tuned.model.max_seq_length == TINY.max_length  # used as it was trained

    again = _train(demo_index, tmp_path / "model-b")
    np.testing.assert_allclose(again.losses, losses, rtol=1e-4)
    v2 = HuggingFaceEncoder(EncoderSpec(model=str(tmp_path / "model-b")), device="cpu")
    np.testing.assert_allclose(v2.encode_queries(text), v, atol=1e-5)


class ChatService(JsonService):
    """POST /v1/chat/completions like OpenAI: answers with the passage's first words as a query."""

    def __init__(self, status: int = 200):
        self.status = status
        super().__init__()

    def answer(self, auth, body):
        if self.status != 200:
            return self.status, {"error": {"message": "no such key", "type": "auth"}}, {}
        passage = body["messages"][0]["content"].split("Passage:\n", 1)[1]
        query = " ".join(passage.split()[:6])
        message = {"role": "assistant", "content": f'Query: "{query}"\n'}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [choice],
        }
        return 200, reply, {}


@pytest.fixture
def chat():
    service = ChatService()
    yield service
    service.close()


def test_cli_synthetic_queries_then_reindex_then_search(
    demo_index, demo_corpus, tmp_path, chat, monkeypatch, capsys
):
    index = tmp_path / "demo"
    shutil.copytree(demo_index, index)
    out = tmp_path / "tuned"
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    rc = main(
        [
            "finetune", "--index", str(index), "--output", str(out),
            "--generate-queries", "20", "--llm-model", "stub-chat", "--llm-base-url", chat.url,
            "--batch-size", "4", "--max-steps", "3", "--max-length", "64", "--quiet",
        ]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert len(chat.requests) == 20
    assert {r["model"] for r in chat.requests} == {"stub-chat"}
    assert {r["auth"] for r in chat.requests} == {"Bearer test-key"}
    saved = out.with_name(out.name + ".queries")
    topics = read_topics(saved / "queries.tsv")
    qrels = read_qrels(saved / "qrels.txt")
    assert len(topics) == 20 and set(qrels) == set(topics)
    docs = [json.loads(line) for line in demo_corpus.read_text().splitlines()]
    passages = {d["_id"]: f"{d['title']} {d['text']}" for d in docs}
    for qid, text in topics.items():
        (docid,) = qrels[qid]
        assert text == " ".join(passages[docid].split()[:6]), "one query per passage, cleaned"

    rc = main(["reindex", "--index", str(index), "--encoder", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert read_manifest(index).encoder.model == str(out)
    capsys.readouterr()
    assert (
        main(["search", "which star pulls the sea up and down", "--index", str(index), "--json"])
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["docid"] == "tides"
    assert hits[0]["dense_rank"] is not None


def test_cli_query_generation_errors_are_clear(demo_index, tmp_path, monkeypatch, capsys):
    bad = ChatService(status=401)
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        rc = main(
            [
                "finetune", "--index", str(demo_index), "--output", str(tmp_path / "m"),
                "--generate-queries", "5", "--llm-base-url", bad.url, "--quiet",
            ]
        )  # fmt: skip
        assert rc == 2
        err = capsys.readouterr().err
        assert "query generation with gpt-4o-mini failed" in err and "no such key" in err
        assert not (tmp_path / "m").exists()
        monkeypatch.delenv("OPENAI_API_KEY")
        rc = main(
            ["finetune", "--index", str(demo_index), "--output", str(tmp_path / "m"),
             "--generate-queries", "5", "--quiet"]
        )  # fmt: skip
        assert rc == 2 and "OPENAI_API_KEY" in capsys.readouterr().err
    finally:
        bad.close()


def test_a_time_budget_stops_training_and_keeps_the_best_model(demo_index, tmp_path):
    from dataclasses import replace

    split = Split(
        "train", read_topics(DATA / "tiny_queries.tsv"), read_qrels(DATA / "tiny_qrels.txt")
    )
    opts = replace(TINY, max_minutes=0.001)  # spent before the first step ends
    out = tmp_path / "model"
    result = finetune(
        demo_index, split, out, mining=MiningOptions(depth=10, negatives=3), opts=opts,
        progress=False,
    )  # fmt: skip
    assert result.training["steps_run"] == 1 < result.training["steps_planned"]
    assert result.training["stopped_by_time_budget"] is True
    assert [h["step"] for h in result.dev["history"]] == [0, 1]  # the last step was evaluated
    assert result.dev["after"] == max(h["dev_ndcg@10"] for h in result.dev["history"])
    assert HuggingFaceEncoder(EncoderSpec(model=str(out)), device="cpu").dim == 384
