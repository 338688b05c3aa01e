"""The real loading path: a checkpoint saved with save_pretrained into a directory trains
and evaluates through model.name_or_path=<dir>, here on files in the PAN-X layout."""

import pytest

from tests.helpers.jobs import FAST, run_job, write_xtreme_dir
from tests.helpers.tiny import tiny_model, unsupported_checkpoint
from xlprune.models.tokenizers import train_tokenizer


def save_checkpoint(directory, family: str):

    from xlprune.data.synthetic import generate

    text = [" ".join(w) for lang in ("en", "de") for w, _ in generate("ner", lang, "train")]
    tokenizer = train_tokenizer(family, text, vocab_size=800)
    model = tiny_model(family, len(tokenizer), 2, 2, 32, 3, 200, tokenizer.pad_token_id)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.parametrize(("model", "family"), [("mbert", "bert"), ("xlmr", "xlmr")])
def test_checkpoint_directory_trains_and_evaluates(tmp_path, model, family):
    ckpt = save_checkpoint(tmp_path / "ckpt", family)
    data = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"])
    results = run_job(
        [
            *FAST,
            f"model={model}",
            f"model.name_or_path={ckpt}",
            "data=xtreme",
            f"data.root={data}",
            "source=[en]",
            "targets=[de]",
        ],
        tmp_path / "job",
    )
    assert results["model"] == model
    assert results["labels"] == sorted(results["labels"]) and "B-PER" in results["labels"]
    assert set(results["metrics"]["test"]) == {"en", "de"}


def test_experiment_xlmr_ner_runs_fast_dev_on_local_files(tmp_path):
    ckpt = save_checkpoint(tmp_path / "ckpt", "xlmr")
    data = write_xtreme_dir(tmp_path / "panx", "ner", ["en", "de"])
    results = run_job(
        [
            *FAST,
            "+experiment=xlmr_ner",
            "+paper_cell=ner_en",
            "data=xtreme",
            f"model.name_or_path={ckpt}",
            f"data.root={data}",
            "targets=[en,de]",
        ],
        tmp_path / "job",
    )
    assert results["model"] == "xlmr" and results["task"] == "ner"


def test_unsupported_architecture_names_the_registry(tmp_path):

    from xlprune.infra.errors import XlpruneError

    unsupported_checkpoint(tmp_path / "ckpt")
    with pytest.raises(XlpruneError, match=r"xlprune\.heads\.structure\.REGISTRY"):
        run_job([*FAST, "model=mbert", f"model.name_or_path={tmp_path / 'ckpt'}"], tmp_path / "job")
    assert not (tmp_path / "job" / "results.json").exists()
