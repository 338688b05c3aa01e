"""Vocabulary trimming: keep only the embedding rows of the tokens a job's data uses.

A multilingual encoder's embedding matrix is most of its weights (multilingual-e5-small:
96 M of 118 M) and, on a CPU, most of an AdamW step, yet one job's sentences use a few
thousand of its 250k tokens. TextPruner's vocabulary pruner keeps the tokens of a sample;
here every sentence the job reads (each language and split) is tokenised, so nothing the
job will see is dropped, and the result is checked: the trimmed tokenizer must give every
sentence the same tokens as the full one. Unigram tokenizers only: a Unigram best path
survives the removal of pieces it does not use, a WordPiece longest match does not."""

import json

TRIM_FILE = "vocabulary.json"  # in a trimmed checkpoint: what it was trimmed from
CONFIG_KEY = "xlprune_trimmed_vocabulary"  # in config.json: carried into models saved from it


def used_ids(tokenizer, sentences: list[list[str]]) -> list[int]:
    """Sorted ids of every token of `sentences` (pre-split words), special tokens included."""
    used = set(tokenizer.all_special_ids)
    for start in range(0, len(sentences), 2048):
        batch = [list(words) for words in sentences[start : start + 2048] if words]
        if batch:
            for ids in tokenizer(batch, is_split_into_words=True)["input_ids"]:
                used.update(ids)
    return sorted(used)


def ids_key(ids: list[int]) -> str:
    from xlprune.infra.store import key

    return key(ids=ids)


def trimmed_tokenizer_json(full: dict, kept: list[int]) -> dict:
    """A Unigram tokenizer's JSON with only the `kept` pieces, renumbered in their order;
    special-token ids in the template and added tokens follow."""
    model = full["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"vocabulary trimming needs a Unigram tokenizer, not {model.get('type')}")
    new_id = {old: new for new, old in enumerate(kept)}
    out = json.loads(json.dumps(full))
    out["model"]["vocab"] = [model["vocab"][old] for old in kept]
    out["model"]["unk_id"] = new_id[model["unk_id"]]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for special in (out.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return out


def dropped_tokens(config: dict, sentences: list[list[str]]) -> int | None:
    """For a checkpoint trimmed by xlprune (its config.json): how many distinct tokens of
    `sentences` its vocabulary dropped, from the full tokenizer it was cut from; None when
    that tokenizer is gone and it cannot be told."""
    from pathlib import Path

    from transformers import AutoTokenizer

    trimmed = config[CONFIG_KEY]
    full = Path(trimmed["full_checkpoint"])
    if not (full / "tokenizer.json").is_file():
        return None
    used = used_ids(AutoTokenizer.from_pretrained(str(full)), sentences)
    return len(set(used) - set(trimmed["kept_ids"]))


def trim_checkpoint(source, tokenizer, sentences, kept: list[int], directory) -> dict:
    """Write into `directory` the checkpoint at `source` with only the `kept` embedding rows
    and a tokenizer over those pieces; check that it tokenises `sentences` as the full
    tokenizer does (mapped onto the new ids). Returns the record kept in TRIM_FILE."""
    from pathlib import Path

    import torch
    from safetensors.torch import load_file, save_file
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    source, directory = Path(source), Path(directory)
    config = json.loads((source / "config.json").read_text())
    weights = load_file(source / "model.safetensors")
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    rows = weights[name].shape[0]
    weights[name] = weights[name][torch.tensor(kept)].contiguous()
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    config["vocab_size"] = len(kept)
    config[CONFIG_KEY] = {"full_checkpoint": str(source), "kept_ids": kept}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    trimmed = Tokenizer.from_str(json.dumps(trimmed_tokenizer_json(backend, kept)))
    fast = PreTrainedTokenizerFast(tokenizer_object=trimmed, **tokenizer.special_tokens_map)
    fast.save_pretrained(directory)
    new_id = {old: new for new, old in enumerate(kept)}
    for start in range(0, len(sentences), 2048):
        batch = [list(w) for w in sentences[start : start + 2048] if w]
        if not batch:
            continue
        full_ids = tokenizer(batch, is_split_into_words=True)["input_ids"]
        for words, want, got in zip(
            batch, full_ids, fast(batch, is_split_into_words=True)["input_ids"], strict=True
        ):
            if [new_id[i] for i in want] != got:
                raise ValueError(f"the trimmed tokenizer splits {' '.join(words)[:80]!r} otherwise")
    record = {
        "embedding_rows_before": rows,
        "embedding_rows_after": len(kept),
        "pieces_before": len(backend["model"]["vocab"]),
        "kept_ids": ids_key(kept),
        "trimmed_from": str(source),
    }
    (directory / TRIM_FILE).write_text(json.dumps(record, indent=2))
    return record
