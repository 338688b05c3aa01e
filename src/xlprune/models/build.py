"""A token-classification model and its fast tokenizer: loaded (hub name or local
directory) or built tiny from a config with a tokenizer trained on the run's text."""

import json
from pathlib import Path

from xlprune.errors import XlpruneError

TINY_CONFIGS = {"bert": "BertConfig", "xlmr": "XLMRobertaConfig"}


def _label_maps(labels: list[str]) -> dict:
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }


PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5")


def check_checkpoint_dir(where: Path) -> None:
    """A local checkpoint has a config and safetensors weights; pickled weights (a .bin
    file runs code when loaded) are refused, never opened."""
    if not (where / "config.json").is_file():
        raise XlpruneError(
            f"model.name_or_path={where}: no config.json in the directory; save a model "
            "there with save_pretrained (config.json, model.safetensors, tokenizer files)"
        )
    if not any(where.glob("*.safetensors")) and not (where / "pruned_heads.json").exists():
        old = [name for name in PICKLED if (where / name).exists()]
        raise XlpruneError(
            f"model.name_or_path={where}: no model.safetensors"
            + (f", only {old[0]} (pickled weights, which xlprune never loads)" if old else "")
            + "; convert it once with save_pretrained(..., safe_serialization=True) in a "
            "session that trusts the file"
        )


class PretrainedSpec:
    """mBERT, XLM-R or any encoder checkpoint with a token-classification head."""

    def __init__(self, name: str, name_or_path: str, attn_implementation: str = "sdpa"):
        self.name, self.name_or_path = name, str(name_or_path)
        self.attn_implementation = attn_implementation

    def needs_hub(self) -> bool:
        return not Path(self.name_or_path).expanduser().is_dir()

    def identity(self, texts: list[str]) -> dict:
        return {"name_or_path": self.name_or_path}

    def grid(self) -> tuple[tuple[int, int], str]:
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(str(Path(self.name_or_path).expanduser()))
        except (OSError, ValueError):
            self.build([], [], None)  # raises the loading error that names the override
            raise
        return (config.num_hidden_layers, config.num_attention_heads), config.model_type

    def build(self, labels: list[str], texts, store):
        import os

        from transformers import AutoModelForTokenClassification, AutoTokenizer

        where = str(Path(self.name_or_path).expanduser()) if not self.needs_hub() else None
        source = where or self.name_or_path
        if where is not None:
            check_checkpoint_dir(Path(where))
            if (Path(where) / "pruned_heads.json").is_file():
                return self._load_pruned(where, labels)
        if where is None and os.environ.get("HF_HUB_OFFLINE") == "1":
            hint = "the Hugging Face hub cannot be reached (offline)"
        else:
            hint = "it could not be loaded"
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForTokenClassification.from_pretrained(
                source,
                attn_implementation=self.attn_implementation,
                ignore_mismatched_sizes=True,
                use_safetensors=True,  # never unpickle weights
                **_label_maps(labels),
            )
        except (OSError, ValueError) as err:
            if where is not None:
                raise XlpruneError(f"model.name_or_path={source}: {err}") from None
            raise XlpruneError(
                f"model.name_or_path={source}: not a local directory and {hint}; save the "
                "model with save_pretrained and pass model.name_or_path=/path/to/dir"
            ) from None
        if not tokenizer.is_fast:
            raise XlpruneError(f"model.name_or_path={source}: a fast tokenizer is required")
        return model, tokenizer

    def _load_pruned(self, where: str, labels: list[str]):
        """A model xlprune saved after removing heads (heads.save_pruned): rebuilt from its
        config with the same heads removed; it keeps its classifier, so labels must match."""
        from transformers import AutoTokenizer

        from xlprune.heads import load_pruned

        try:
            model = load_pruned(where, attn_implementation=self.attn_implementation)
        except ValueError as err:
            raise XlpruneError(
                f"model.name_or_path={where}: {err} (re-run the job that saved it)"
            ) from None
        saved = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if saved != list(labels):
            raise XlpruneError(
                f"model.name_or_path={where}: a pruned model saved for labels "
                f"{saved}, but this job's labels are {list(labels)}"
            )
        return model, AutoTokenizer.from_pretrained(where)


class TinySpec:
    """A small BERT- or XLM-R-architecture encoder from random weights, with a WordPiece or
    Unigram tokenizer trained on the run's text and cached per text fingerprint."""

    def __init__(
        self,
        name: str,
        architecture: str,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        intermediate_size: int,
        max_position_embeddings: int = 256,
        attn_implementation: str = "sdpa",
    ):
        if architecture not in TINY_CONFIGS:
            raise XlpruneError(
                f"model.architecture={architecture}: use one of {sorted(TINY_CONFIGS)}"
            )
        self.name, self.architecture = name, architecture
        self.sizes = dict(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max_position_embeddings,
        )
        self.attn_implementation = attn_implementation

    def needs_hub(self) -> bool:
        return False

    def tokenizer(self, texts: list[str], store):
        from transformers import AutoTokenizer

        from xlprune.models.tokenizers import train_tokenizer

        vocab = self.sizes["vocab_size"]
        text_key = self.text_key(texts)
        key = f"{self.architecture}-v{vocab}-{text_key}"

        def build(directory: Path) -> None:
            train_tokenizer(self.architecture, texts, vocab).save_pretrained(directory)
            (directory / "trained_on.json").write_text(json.dumps({"text": text_key}))

        return AutoTokenizer.from_pretrained(str(store.build_once("tokenizers", key, build)[0]))

    def text_key(self, texts: list[str]) -> str:
        import hashlib

        return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]

    def identity(self, texts: list[str]) -> dict:
        """What determines the initial model: sizes, seed-free, and the tokenizer's text."""
        return {"architecture": self.architecture, **self.sizes, "text": self.text_key(texts)}

    def grid(self) -> tuple[tuple[int, int], str]:
        model_type = {"bert": "bert", "xlmr": "xlm-roberta"}[self.architecture]
        return (self.sizes["num_hidden_layers"], self.sizes["num_attention_heads"]), model_type

    def build(self, labels: list[str], texts: list[str], store):
        import transformers
        from transformers import AutoModelForTokenClassification

        tokenizer = self.tokenizer(texts, store)
        config_cls = getattr(transformers, TINY_CONFIGS[self.architecture])
        sizes = dict(self.sizes, vocab_size=len(tokenizer))
        config = config_cls(pad_token_id=tokenizer.pad_token_id, **sizes, **_label_maps(labels))
        model = AutoModelForTokenClassification.from_config(
            config, attn_implementation=self.attn_implementation
        )
        return model, tokenizer
