"""Stored artefacts carry checksums: a truncated, edited or half-built entry is found,
reported, removed and built again; it is never used."""

import json
import logging
from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, run_job
from xlprune.infra.errors import XlpruneError
from xlprune.infra.store import COMPLETE, Store


def test_an_entry_is_built_once_and_sealed(tmp_path):
    store, calls = Store(tmp_path), []

    def build(directory):
        calls.append(1)
        (directory / "a.txt").write_text("alpha")
        (directory / "sub").mkdir()
        (directory / "sub" / "b.txt").write_text("beta")

    first = store.build_once("kind", "k1", build)
    second = store.build_once("kind", "k1", build)
    assert first == (tmp_path / "kind" / "k1", True) and second[1] is False
    assert len(calls) == 1 and store.built == ["kind/k1"]
    sealed = json.loads((first[0] / COMPLETE).read_text())["files"]
    assert sorted(sealed) == ["a.txt", "sub/b.txt"]


@pytest.mark.parametrize(
    "harm",
    [
        lambda d: (d / "a.txt").write_text("alp"),  # truncated
        lambda d: (d / "a.txt").write_text("ALPHA"),  # same size, other bytes
        lambda d: (d / "sub" / "b.txt").unlink(),  # lost
        lambda d: (d / COMPLETE).write_text("ok\n"),  # no checksums (an old entry)
    ],
    ids=["truncated", "changed", "missing", "unsealed"],
)
def test_a_damaged_entry_is_reported_and_rebuilt(tmp_path, harm, caplog):
    def build(directory):
        (directory / "a.txt").write_text("alpha")
        (directory / "sub").mkdir()
        (directory / "sub" / "b.txt").write_text("beta")

    entry, _ = Store(tmp_path).build_once("kind", "k1", build)
    harm(entry)
    store = Store(tmp_path)
    with caplog.at_level(logging.WARNING, logger="xlprune.infra.store"):
        again, built = store.build_once("kind", "k1", build)
    assert built and store.repaired == ["kind/k1"]
    assert (again / "a.txt").read_text() == "alpha" and (again / "sub" / "b.txt").is_file()
    assert "k1" in caplog.text and "built again" in caplog.text


def test_a_damaged_entry_is_not_returned_and_leftovers_are_cleared(tmp_path):
    store = Store(tmp_path)
    entry, _ = store.build_once("results", "r", lambda d: (d / "results.json").write_text("{}"))
    assert store.entry("results", "r") == entry
    (entry / "results.json").write_text("{")
    assert store.entry("results", "r") is None and not entry.exists()
    stale = tmp_path / "results" / ".tmp-r-deadbeef"  # a build killed half-way
    stale.mkdir()
    store.build_once("results", "r", lambda d: (d / "results.json").write_text("{}"))
    assert not stale.exists()


def corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # flip one byte in the middle
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])


def test_every_kind_of_stored_artefact_is_rebuilt_after_damage(tmp_path, monkeypatch, caplog):
    """Tokenizer, tokenised features, ranking and finished results, all damaged at once:
    the same job run again reports each, rebuilds it and gets the same numbers."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XLPRUNE_CACHE", str(cache))  # it damages its own store only
    args = [*FAST, "pruning.count=2", "resume=true"]
    first = run_job(args, tmp_path / "a")
    kinds = {entry.split("/")[0] for entry in first["store"]["built"]}
    assert kinds == {"tokenizers", "features", "rankings"}
    corrupt(Path(first["ranking"]["stored"][0]), "truncate")
    corrupt(next(cache.glob("tokenizers/*/tokenizer.json")), "flip")
    for features in cache.glob("features/*/features.json"):
        corrupt(features, "truncate")
    corrupt(next(cache.glob("results/*/results.json")), "flip")

    with caplog.at_level(logging.WARNING, logger="xlprune.infra.store"):
        again = run_job(args, tmp_path / "b")
    assert "resumed_from" not in again  # the stored result was damaged: it ran again
    repaired = {entry.split("/")[0] for entry in again["store"]["repaired"]}
    assert repaired == {"tokenizers", "features", "rankings", "results"}
    assert caplog.text.count("built again") == len(again["store"]["repaired"])
    assert again["pruned_heads"] == first["pruned_heads"]
    assert again["metrics"] == first["metrics"]
    resumed = run_job(args, tmp_path / "c")  # now sound: reused, nothing rebuilt
    assert resumed["resumed_from"] and resumed["metrics"] == first["metrics"]


def test_a_damaged_saved_model_is_refused_and_its_job_runs_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPRUNE_CACHE", str(tmp_path / "cache"))
    args = [*FAST, "pruning.count=1", "pruning.save=true", "resume=true"]
    first = run_job(args, tmp_path / "a")
    saved = Path(first["saved_models"][0])
    assert json.loads((saved / "checksums.json").read_text())["files"]["model.safetensors"]
    corrupt(saved / "model.safetensors", "flip")
    load = [*FAST, "model=xlmr", f"model.name_or_path={saved}"]
    with pytest.raises(XlpruneError, match="model.safetensors does not match its checksum"):
        run_job(load, tmp_path / "load")
    again = run_job(args, tmp_path / "b")
    assert "resumed_from" not in again and again["metrics"] == first["metrics"]
    reloaded = run_job(load[:-1] + [f"model.name_or_path={again['saved_models'][0]}"], tmp_path)
    assert reloaded["prune_count"] == 0


def test_an_added_file_or_a_lost_manifest_counts_as_damage(tmp_path, caplog):
    def build(directory):
        (directory / "tokenizer.json").write_text("{}")

    entry, _ = Store(tmp_path).build_once("tokenizers", "t", build)
    (entry / "added_tokens.json").write_text('{"x": 1}')  # changes what the entry means
    store = Store(tmp_path)
    with caplog.at_level(logging.WARNING, logger="xlprune.infra.store"):
        assert store.build_once("tokenizers", "t", build)[1]
    assert "added_tokens.json was added after writing" in caplog.text
    (entry / COMPLETE).unlink()
    again = Store(tmp_path)
    assert again.entry("tokenizers", "t") is None and again.repaired == ["tokenizers/t"]


def test_a_damaged_stored_ranking_given_as_ranking_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPRUNE_CACHE", str(tmp_path / "cache"))
    first = run_job([*FAST, "pruning.count=2"], tmp_path / "a")
    stored = Path(first["ranking"]["stored"][0])
    data = json.loads(stored.read_text())
    stored.write_text(json.dumps(dict(data, raw=[[-x for x in row] for row in data["raw"]])))
    with pytest.raises(XlpruneError, match="does not match its checksum"):
        run_job([*FAST, "pruning.count=2", f"ranking.file={stored}"], tmp_path / "b")


def test_a_saved_model_without_its_checksums_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XLPRUNE_CACHE", str(tmp_path / "cache"))
    first = run_job([*FAST, "pruning.count=1", "pruning.save=true"], tmp_path / "a")
    saved = Path(first["saved_models"][0])
    (saved / "checksums.json").unlink()
    with pytest.raises(XlpruneError, match="checksums.json missing"):
        run_job([*FAST, "model=xlmr", f"model.name_or_path={saved}"], tmp_path / "load")


def test_resume_notices_changed_data_files(tmp_path, monkeypatch):
    from tests.helpers.jobs import write_xtreme_dir

    monkeypatch.setenv("XLPRUNE_CACHE", str(tmp_path / "cache"))
    root = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"])
    args = [*FAST, "resume=true", "data=xtreme", f"data.root={root}"]
    run_job(args, tmp_path / "a")
    assert run_job(args, tmp_path / "b")["resumed_from"]  # unchanged: reused
    test_de = root / "test-de.tsv"
    test_de.write_text(test_de.read_text().replace("\tB-PER\n", "\tO\n"))  # data corrected
    assert "resumed_from" not in run_job(args, tmp_path / "c")  # so it runs again
