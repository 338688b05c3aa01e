"""Saving a pruned fine-tuned model, and checking a saved one before its job is reused."""

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def save_model(tagger, dm, out_dir: Path, train_langs, suffix: str = "") -> str:
    """safetensors weights, config and removed heads (heads.save_pruned), plus the tokenizer,
    sealed with checksums and renamed into place whole: `model.name_or_path=<this dir>`
    loads it back."""
    import os
    import shutil

    from xlprune.heads import save_pruned
    from xlprune.heads.prune import CHECKSUMS_FILE
    from xlprune.infra.checksums import seal

    directory = Path(out_dir) / f"model-{'-'.join(train_langs)}{suffix}"
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_pruned(tagger.model, tmp)
        dm.tokenizer.save_pretrained(tmp)
        seal(tmp, CHECKSUMS_FILE)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never a half-saved model on disk
        raise
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return str(directory)


def saved_models_damaged(results: dict) -> bool:
    """Whether a finished job's saved models (pruning.save) are gone or no longer match
    their checksums: then its results are not reused, the job runs again."""
    from xlprune.heads.prune import CHECKSUMS_FILE
    from xlprune.infra.checksums import damage

    for directory in results.get("saved_models", []):
        if problem := damage(directory, CHECKSUMS_FILE):
            log.warning("saved model %s: %s; the job runs again", directory, problem)
            return True
    return False
