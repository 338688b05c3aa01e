"""Hugging Face hub datasets mapped to the same (words, labels) sentences as the readers:
WikiANN, XTREME's PAN-X and UD-POS, Universal Dependencies, MASSIVE. Each adapter is a
plain function over rows, so it is tested on in-memory datasets shaped like the hub's."""

import os
import re

from xlprune.data.formats.common import Sentence
from xlprune.infra.errors import XlpruneError

HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def tagged(rows, label_field: str, names: list[str]) -> list[Sentence]:
    """Rows with `tokens` and a sequence of class ids; ids become names. UD's "_" (the
    multi-word token lines some exports keep) is not a word to tag."""
    out = []
    for row in rows:
        pairs = [(w, names[t]) for w, t in zip(row["tokens"], row[label_field], strict=True)]
        pairs = [(w.replace(" ", ""), t) for w, t in pairs if t != "_" and w.strip()]
        if pairs:
            out.append(([w for w, _ in pairs], [t for _, t in pairs]))
    return out


SLOT = re.compile(r"\[\s*([^\[\]:]+?)\s*:\s*([^\[\]]+?)\s*\]")


def massive(rows) -> list[Sentence]:
    """MASSIVE's `annot_utt` ("wake me at [time : five am]") -> words with IOB2 slots."""
    out = []
    for row in rows:
        text, words, labels, pos = row["annot_utt"], [], [], 0
        for match in SLOT.finditer(text):
            outside = text[pos : match.start()].split()
            words += outside
            labels += ["O"] * len(outside)
            slot, value = match.group(1).strip(), match.group(2).split()
            words += value
            labels += [f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1)
            pos = match.end()
        rest = text[pos:].split()
        words += rest
        labels += ["O"] * len(rest)
        if words:
            out.append((words, labels))
    return out


def class_names(dataset, field: str) -> list[str]:
    feature = dataset.features[field]
    return list(getattr(feature, "feature", feature).names)


class HubSource:
    """A dataset on the hub, one configuration per language (`configs[lang]`, else
    `config_pattern` with {lang}/{LANG})."""

    def __init__(
        self,
        name: str,
        path: str,
        adapter: str,
        label_field: str | None = None,
        config_pattern: str = "{lang}",
        configs: dict | None = None,
        splits: dict | None = None,
    ):
        if adapter not in ("tagged", "massive"):
            raise XlpruneError(f"data.adapter={adapter}: choose tagged or massive")
        self.name, self.path, self.adapter, self.label_field = name, path, adapter, label_field
        self.config_pattern, self.configs = config_pattern, dict(configs or {})
        self.splits = dict(splits or HUB_SPLITS)

    def needs_hub(self) -> bool:
        return True

    def config(self, lang: str) -> str:
        return self.configs.get(lang) or self.config_pattern.format(lang=lang, LANG=lang.upper())

    def to_sentences(self, dataset) -> list[Sentence]:
        if self.adapter == "massive":
            return massive(dataset)
        return tagged(dataset, self.label_field, class_names(dataset, self.label_field))

    def load(self, task: str, lang: str, split: str) -> list[Sentence] | None:
        from datasets import load_dataset

        config = self.config(lang)
        try:
            dataset = load_dataset(self.path, config, split=self.splits[split])
        except ValueError as err:
            if "split" in str(err).lower() and split != "test":
                return None  # no such split: the caller carves dev from train
            raise XlpruneError(
                f"data={self.name}: {self.path} ({config}, {split}): {err}"
            ) from None
        except Exception as err:  # the hub's errors vary by version; all end the job here
            if os.environ.get("HF_DATASETS_OFFLINE") == "1":
                raise XlpruneError(
                    f"data={self.name}: {self.path} ({config}) needs the Hugging Face hub, which "
                    "cannot be reached (offline); use files on disk instead, e.g. data=xtreme "
                    "data.root=/path/to/files (see README, Data)"
                ) from None
            raise XlpruneError(
                f"data={self.name}: could not load {self.path} ({config}): "
                f"{type(err).__name__}: {err}"
            ) from None
        return self.to_sentences(dataset)

    def labels(self, task: str) -> list[str]:
        return []
