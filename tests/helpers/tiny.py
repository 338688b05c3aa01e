"""Tiny randomly initialised token classifiers: the one builder every test uses."""

from __future__ import annotations

from pathlib import Path

FAMILIES = {"bert": "BertConfig", "xlmr": "XLMRobertaConfig"}


def tiny_model(
    family: str = "bert",
    vocab_size: int = 100,
    layers: int = 3,
    heads: int = 4,
    hidden: int = 32,
    labels: int = 5,
    positions: int = 64,
    pad_token_id: int = 1,
    intermediate: int = 64,
    attn: str | None = None,
):
    """A BERT or XLM-R token classifier of the given sizes, from transformers' own init."""
    import transformers

    config = getattr(transformers, FAMILIES[family])(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=positions,
        num_labels=labels,
        pad_token_id=pad_token_id,
    )
    extra = {"attn_implementation": attn} if attn else {}
    return transformers.AutoModelForTokenClassification.from_config(config, **extra)


def unsupported_checkpoint(directory: Path) -> Path:
    """A saved DistilBERT tagger with its tokenizer: an architecture the heads registry
    lacks."""
    import transformers

    from xlprune.models.tokenizers import train_tokenizer

    tokenizer = train_tokenizer("bert", ["Anna flies to Berlin"] * 20, vocab_size=60)
    config = transformers.DistilBertConfig(
        vocab_size=len(tokenizer), dim=32, n_layers=1, n_heads=2, hidden_dim=64
    )
    transformers.DistilBertForTokenClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return Path(directory)
