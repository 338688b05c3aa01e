"""Vocabulary trimming: the trimmed model computes what the full one does on the job's
data, is rebuilt for data with other tokens, and is what a real e5_small job trains."""

import json
from pathlib import Path

import pytest
import torch

from tests.helpers.jobs import FAST, run_job, write_xtreme_dir
from xlprune.models.vocab import TRIM_FILE, used_ids

from .test_e5 import SCRIPTS

LABELS = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
SENTENCES = [text.split() for text in SCRIPTS.values()] + [
    ["Anna", "lives", "in", "Berlin", "."],
    ["Die", "Bundesregierung", "tagte", "gestern", "in", "Bonn", "."],
]


def logits(directory, sentences, seed_classifier=None):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModelForTokenClassification.from_pretrained(
        str(directory), num_labels=len(LABELS), attn_implementation="eager"
    ).eval()
    if seed_classifier is not None:
        model.classifier.load_state_dict(seed_classifier)
    batch = tokenizer(sentences, is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch).logits
    return out, batch["attention_mask"].bool(), model


@pytest.fixture(scope="module")
def trimmed(e5_spec, store):
    return e5_spec.trimmed(store, SENTENCES)


def test_trimmed_logits_equal_the_full_models(e5_checkpoint, trimmed):
    full, mask, model = logits(e5_checkpoint, SENTENCES)
    small, small_mask, _ = logits(trimmed, SENTENCES, model.classifier.state_dict())
    assert torch.equal(mask, small_mask)
    assert torch.allclose(full[mask], small[mask], atol=1e-5)


def test_the_trimmed_model_keeps_only_the_used_rows(e5_spec, trimmed, e5_tokenizer):
    record = json.loads((trimmed / TRIM_FILE).read_text())
    kept = used_ids(e5_tokenizer, SENTENCES)
    assert record["embedding_rows_before"] == 250037
    assert record["embedding_rows_after"] == len(kept) < 1000
    assert json.loads((trimmed / "config.json").read_text())["vocab_size"] == len(kept)
    assert e5_spec.vocabulary["trimmed"] and e5_spec.vocabulary["embedding_rows_after"] == len(kept)
    from transformers import AutoTokenizer

    small = AutoTokenizer.from_pretrained(str(trimmed))
    for token, expected in {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}.items():
        assert small.convert_tokens_to_ids(token) == expected
    assert small.mask_token_id == len(kept) - 1  # <mask>, the largest kept id


def test_data_with_other_tokens_gets_its_own_trimmed_model(e5_spec, store, trimmed):
    more = [*SENTENCES, ["Zürich", "ist", "schön", "und", "teuer"]]
    other = e5_spec.trimmed(store, more)
    assert other != trimmed
    again, built = store.build_once("models", trimmed.name, lambda d: 1 / 0)
    assert again == trimmed and not built  # the same data finds its own entry


def test_an_e5_job_trains_a_trimmed_model_and_records_it(tmp_path):
    """Also the same numbers from an empty store (converting, trimming) as from a full one."""
    data = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"], n=24)
    job = [
        *FAST,
        "model=e5_small",
        "data=xtreme",
        f"data.root={data}",
        "source=[en]",
        "targets=[de]",
    ]
    empty = run_job([*job, f"cache_dir={tmp_path / 'empty'}"], tmp_path / "first")
    assert any(entry.startswith("models/e5-small-") for entry in empty["store"]["built"])
    results = run_job([*job, f"cache_dir={tmp_path / 'empty'}"], tmp_path / "job")
    assert not any(entry.startswith("models/") for entry in results["store"]["built"])
    assert results["metrics"] == empty["metrics"]

    vocab = results["vocabulary"]
    assert vocab["trimmed"] and vocab["embedding_rows_before"] == 250037
    assert 5 < vocab["embedding_rows_after"] < 2000
    assert results["num_heads_total"] == 144
    assert set(results["metrics"]["test"]) == {"en", "de"}


def test_a_saved_trimmed_model_is_refused_for_data_with_tokens_it_dropped(tmp_path):
    from xlprune.infra.errors import XlpruneError

    data = write_xtreme_dir(tmp_path / "panx", "ner", ["en"], n=12)
    common = [*FAST, "data=xtreme", f"data.root={data}", "source=[en]", "targets=[en]"]
    saved = run_job(
        [*common, "model=e5_small", "pruning.heads='0:1'", "pruning.save=true"], tmp_path / "save"
    )["saved_models"][0]
    config = json.loads((Path(saved) / "config.json").read_text())
    assert config["xlprune_trimmed_vocabulary"]["kept_ids"]
    again = run_job([*common, "model=mbert", f"model.name_or_path={saved}"], tmp_path / "again")
    assert again["metrics"]["test"]["en"]
    other = tmp_path / "other"
    other.mkdir()
    for split in ("train", "dev", "test"):
        text = (data / f"{split}-en.tsv").read_text()
        (other / f"{split}-en.tsv").write_text(text + "Zwölfzylinder\tO\nquietschvergnügt\tO\n\n")
    with pytest.raises(XlpruneError, match="tokens that its trimmed vocabulary dropped"):
        run_job(
            [
                *FAST,
                "data=xtreme",
                f"data.root={other}",
                "source=[en]",
                "targets=[en]",
                "model=mbert",
                f"model.name_or_path={saved}",
            ],
            tmp_path / "refused",
        )
