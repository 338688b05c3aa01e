"""Where sentences come from and what is done to them on the way into a job."""

import time

import pytest

from tests.helpers.jobs import FAST, cli, run_job, write_xtreme_dir
from xlprune.data.corpus import carve_dev, subset
from xlprune.data.hub_datasets import HubSource, massive
from xlprune.data.labels import clean, collapse_ner, vocabulary
from xlprune.infra.errors import XlpruneError


def hub_like(rows: dict, label_field: str, names: list[str]):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features(
        {"tokens": Sequence(Value("string")), label_field: Sequence(ClassLabel(names=names))}
    )
    return Dataset.from_dict(rows, features=features)


def test_wikiann_and_panx_rows_map_to_sentences():
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    ds = hub_like(
        {"tokens": [["Anna", "Lind", "in", "Oslo"]], "ner_tags": [[1, 2, 0, 5]]}, "ner_tags", names
    )
    source = HubSource("wikiann", "unimelb-nlp/wikiann", "tagged", label_field="ner_tags")
    assert source.to_sentences(ds) == [
        (["Anna", "Lind", "in", "Oslo"], ["B-PER", "I-PER", "O", "B-LOC"])
    ]


def test_ud_rows_drop_multiword_lines():
    names = ["NOUN", "PUNCT", "ADP", "_", "DET", "VERB"]
    ds = hub_like(
        {"tokens": [["zum", "zu", "dem", "Haus", "."]], "upos": [[3, 2, 4, 0, 1]]}, "upos", names
    )
    source = HubSource(
        "ud_hub",
        "universal-dependencies/universal_dependencies",
        "tagged",
        label_field="upos",
        configs={"de": "de_gsd"},
    )
    assert source.config("de") == "de_gsd"
    assert source.to_sentences(ds) == [
        (["zu", "dem", "Haus", "."], ["ADP", "DET", "NOUN", "PUNCT"])
    ]


def test_massive_annotations_become_iob2_slots():
    rows = [
        {"annot_utt": "wake me up at [time : five am] [date : this week]"},
        {"annot_utt": "[place_name : new york] weather"},
    ]
    assert massive(rows) == [
        (
            ["wake", "me", "up", "at", "five", "am", "this", "week"],
            ["O", "O", "O", "O", "B-time", "I-time", "B-date", "I-date"],
        ),
        (["new", "york", "weather"], ["B-place_name", "I-place_name", "O"]),
    ]


def test_hub_source_offline_fails_at_once_naming_local_files():
    source = HubSource("wikiann", "unimelb-nlp/wikiann", "tagged", label_field="ner_tags")
    with pytest.raises(XlpruneError, match="cannot be reached.*data=xtreme data.root"):
        source.load("ner", "en", "train")


def test_hub_data_offline_through_the_cli(tmp_path):
    start = time.perf_counter()
    done = cli(["data=wikiann", "logger=none"], cwd=tmp_path)
    assert done.returncode == 2 and "data=wikiann" in done.stderr.splitlines()[-1]
    assert not list(tmp_path.rglob("results.json"))
    print(f"offline hub data failed after {time.perf_counter() - start:.1f}s")


def test_label_cleaning():
    assert [collapse_ner(x) for x in ["B-PER", "I-GPE", "B-DATE", "O", "B-PERSON"]] == [
        "B-PER",
        "I-LOC",
        "B-MISC",
        "O",
        "B-PER",
    ]
    sents = [(["a", "b", "c"], ["I-PER", "I-PER", "I-DATE"])]
    assert clean(sents, "iob2", False) == [(["a", "b", "c"], ["B-PER", "I-PER", "B-DATE"])]
    assert clean(sents, "iob2", True) == [(["a", "b", "c"], ["B-PER", "I-PER", "B-MISC"])]
    assert clean([(["x"], ["I-NOUN"])], "upos", False) == [(["x"], ["I-NOUN"])]
    splits = {"train": {"en": [(["a"], ["O"])]}, "test": {"de": [(["b"], ["B-LOC"])]}}
    assert vocabulary(splits) == ["B-LOC", "O"]


def test_subsets_are_disjoint_seeded_and_checked():
    train = [([str(i)], ["O"]) for i in range(100)]
    parts = [subset(train, 0.1, i, seed=5) for i in range(10)]
    assert all(len(p) == 10 for p in parts)
    assert len({w[0] for p in parts for w, _ in p}) == 100
    assert subset(train, 0.1, 3, seed=5) == parts[3] != subset(train, 0.1, 3, seed=6)
    with pytest.raises(XlpruneError, match="data.subset=3"):
        subset(train, 0.3, 3, seed=5)
    with pytest.raises(XlpruneError, match="data.train_fraction=0"):
        subset(train, 0, 0, seed=5)
    rest, dev = carve_dev(train, 0.1, seed=1)
    assert len(dev) == 10 and len(rest) == 90 and not set(map(str, dev)) & set(map(str, rest))


def test_resource_scarce_target_and_dev_carved_from_train(tmp_path):
    root = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"], n=40)
    results = run_job(
        [
            *FAST,
            "setting=multi",
            "data=xtreme",
            f"data.root={root}",
            "data.pattern.dev=null",
            "data.train_fraction=0.25",
            "data.subset=2",
            "targets=[de]",
        ],
        tmp_path / "job",
    )
    notes = results["data_notes"]
    assert notes["dev_from_train"]["en"]["sentences"] == 4  # 10% of 40
    assert notes["sizes"]["train"] == {"en": 36, "de": 9}  # 25% of de's 36
    assert notes["train_fraction"] == {"fraction": 0.25, "subset": 2, "seed": 1234}


def test_labels_are_the_sorted_union_and_unseen_ones_are_reported(tmp_path):
    root = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"], n=20)
    with (root / "test-de.tsv").open("a") as fh:
        fh.write("\nHamburg\tB-CITY\nport\tO\n")
    results = run_job([*FAST, "data=xtreme", f"data.root={root}", "targets=[de]"], tmp_path / "job")
    assert results["labels"] == sorted(results["labels"]) and "B-CITY" in results["labels"]
    assert results["data_notes"]["unseen_labels"] == ["B-CITY"]
    collapsed = run_job(
        [*FAST, "data=xtreme", f"data.root={root}", "targets=[de]", "task.collapse=true"],
        tmp_path / "job2",
    )
    assert "B-CITY" not in collapsed["labels"] and "B-MISC" in collapsed["labels"]


def test_multi_source_setting(tmp_path):
    results = run_job(
        [*FAST, "setting=multi_source", "source=[en,de]", "targets=[es]"], tmp_path / "job"
    )
    assert set(results["metrics"]["test"]) == {"es"} and results["fine_tunes"] == 1
    with pytest.raises(XlpruneError, match="setting=multi_source"):
        run_job([*FAST, "setting=multi_source", "source=[en]", "targets=[es]"], tmp_path / "x")


def test_a_file_is_tokenised_once_per_tokenizer_and_length(tmp_path, monkeypatch):
    import xlprune.data.datamodule as dm

    calls = []
    real = dm.encode
    monkeypatch.setattr(dm, "encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setenv("XLPRUNE_CACHE", str(tmp_path / "cache"))
    run_job([*FAST, "targets=[de]"], tmp_path / "a")
    first = len(calls)  # train en; dev en, de; test en, de
    assert first == 5
    run_job([*FAST, "targets=[de]", "pruning.count=1"], tmp_path / "b")
    # the ranking fine-tune (train en, dev en, test en) and the job read everything cached
    assert len(calls) == first
    run_job([*FAST, "targets=[de]", "max_length=64"], tmp_path / "c")
    assert len(calls) == first + 5  # another max length is another cache entry


@pytest.mark.parametrize(
    ("fmt", "name", "text", "needle"),
    [
        (
            "multiatis",
            "train_EN.tsv",
            "id\tutterance\tslot_labels\tintent\n1\ta b\tO\tx\n",
            "train_EN.tsv:2:",
        ),
        ("ud", "en-ud-train.conllu", "1\tHi\thi\tINTJ\n", "en-ud-train.conllu:1:"),
        ("xtreme", "train-en.tsv", "Paris\tB-PLACE\tX\n", "train-en.tsv:1:"),
        ("xtreme", "train-en.tsv", "Paris\tWORD\n", "WORD"),
        ("xtreme", "train-en.tsv", "", "no sentences"),
        ("xtreme", "train-en.tsv", b"\xff\xfe\tO\n", "not UTF-8"),
    ],
)
def test_bad_files_stop_the_job_in_one_line(tmp_path, fmt, name, text, needle):
    root = tmp_path / "data"
    root.mkdir()
    (root / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    done = cli(
        [
            f"data={fmt}",
            f"data.root={root}",
            "logger=none",
            "task=pos" if fmt == "ud" else "task=ner",
        ],
        cwd=tmp_path,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and last.startswith("xlprune: error:") and needle in last
    assert not list(tmp_path.rglob("results.json"))
