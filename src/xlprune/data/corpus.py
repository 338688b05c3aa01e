"""Every sentence a job uses, per split and language, with the choices made on the way:
a dev split carved from train where a dataset has none, a seeded fraction of a target's
training set, labels cleaned, the run's label vocabulary."""

import random
from dataclasses import dataclass, field

from xlprune.data.labels import check_scheme, clean, collapse_ner, vocabulary
from xlprune.infra.errors import XlpruneError
from xlprune.infra.faults import reached

SPLITS = ("train", "dev", "test")


@dataclass
class Corpus:
    splits: dict  # split -> language -> sentences
    labels: list[str]
    notes: dict = field(default_factory=dict)  # what was derived, for results.json


def carve_dev(train: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, dev): a seeded `fraction` of the training sentences held out as dev."""
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, round(fraction * len(train)))
    dev_ids = set(order[:n_dev])
    return (
        [s for i, s in enumerate(train) if i not in dev_ids],
        [s for i, s in enumerate(train) if i in dev_ids],
    )


def subset(train: list, fraction: float, index: int, seed: int) -> list:
    """The `index`-th of the disjoint seeded subsets of `fraction` of the training set."""
    if not 0 < fraction <= 1:
        raise XlpruneError(f"data.train_fraction={fraction}: give a number in (0, 1]")
    size = max(1, round(fraction * len(train)))
    count = len(train) // size
    if not 0 <= index < count:
        raise XlpruneError(
            f"data.subset={index}: with data.train_fraction={fraction} there are "
            f"{count} disjoint subsets; choose 0 to {count - 1}"
        )
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    return [train[i] for i in sorted(order[index * size : (index + 1) * size])]


SAMPLING = ("dev_fraction", "train_fraction", "subset", "split_seed", "max_train", "hint")


def all_words(splits: dict) -> list[list[str]]:
    """Every sentence of every split and language, as words: what a trimmed vocabulary
    must cover."""
    return [words for by_lang in splits.values() for s in by_lang.values() for words, _ in s]


def make_source(data_cfg):
    """The configured source; the sampling keys are the corpus's, not the source's."""
    from hydra.utils import instantiate

    return instantiate({k: v for k, v in data_cfg.items() if k not in SAMPLING})


def languages(cfg) -> list[str]:
    """A job's languages (its config's source and targets), sources first, each once."""
    return list(dict.fromkeys([*cfg.source, *cfg.targets]))


def load_corpus(cfg, source, langs: list[str], fraction_langs: list[str]) -> Corpus:
    """Load every (split, language); `fraction_langs` get `data.train_fraction`."""
    data_cfg, task = cfg.data, cfg.task
    seed = data_cfg.get("split_seed", 1234)
    splits: dict = {s: {} for s in SPLITS}
    notes: dict = {}
    for lang in langs:
        loaded = {s: source.load(task.name, lang, s) for s in SPLITS}
        reached("data")  # a language read: the interruption tests stop here
        if loaded["test"] is None:
            raise XlpruneError(f"data={data_cfg.name}: no test split for '{lang}'")
        if loaded["train"] is None:
            raise XlpruneError(f"data={data_cfg.name}: no train split for '{lang}'")
        if loaded["dev"] is None:
            fraction = data_cfg.get("dev_fraction", 0.1)
            loaded["train"], loaded["dev"] = carve_dev(loaded["train"], fraction, seed)
            notes.setdefault("dev_from_train", {})[lang] = {
                "fraction": fraction,
                "seed": seed,
                "sentences": len(loaded["dev"]),
            }
        train_fraction = data_cfg.get("train_fraction", 1.0)
        if lang in fraction_langs and train_fraction != 1.0:
            loaded["train"] = subset(
                loaded["train"], train_fraction, data_cfg.get("subset", 0), seed
            )
            notes["train_fraction"] = {
                "fraction": train_fraction,
                "subset": data_cfg.get("subset", 0),
                "seed": seed,
            }
        cap = data_cfg.get("max_train")
        if cap is not None and len(loaded["train"]) > cap:  # after dev is carved: dev stays whole
            notes.setdefault("max_train", {})[lang] = {"kept": cap, "of": len(loaded["train"])}
            loaded["train"] = loaded["train"][:cap]
        for split in SPLITS:
            where = lambda label, lang=lang, split=split: label_line(source, lang, split, label)  # noqa: E731
            check_scheme(loaded[split], task, lang, split, data_cfg.name, where)
            splits[split][lang] = clean(
                loaded[split], task.get("scheme", "iob2"), task.get("collapse", False)
            )
    trained = list(cfg.source) + (list(cfg.targets) if cfg.setting.name == "multi" else [])
    check_usable(splits, task, [g for g in dict.fromkeys(trained) if g in langs], data_cfg.name)
    collapse = task.get("collapse", False)
    known = {collapse_ner(x) if collapse else x for x in source.labels(task.name)}
    notes["sizes"] = {s: {g: len(v) for g, v in splits[s].items()} for s in SPLITS}
    return Corpus(splits, vocabulary(splits, known), notes)


def check_usable(splits: dict, task, trained: list[str], data: str) -> None:
    """Refuse, before any training, data a job cannot learn from or be scored on: no
    training sentence left, nothing to learn (no entity label; a single POS tag), or a dev
    or test split with nothing to score. Each in one line that says what to change."""
    entity = task.get("metric") == "entity_f1"
    for lang in trained:
        train = splits["train"][lang]
        if not train:
            raise XlpruneError(
                f"data={data}: no training sentence left for '{lang}' after the dev carve "
                "(data.dev_fraction), data.train_fraction and data.max_train; give more "
                "training sentences or a dev split of its own (data.pattern.dev)"
            )
        labels = {label for _, tags in train for label in tags}
        if entity and labels <= {"O"}:
            raise XlpruneError(
                f"data={data}: the '{lang}' training data has no entity label, only O: "
                f"nothing for task={task.name} to learn; check the files' label column"
            )
        if not entity and len(labels) < 2:
            raise XlpruneError(
                f"data={data}: the '{lang}' training data has a single label "
                f"({', '.join(sorted(labels))}): nothing for task={task.name} to learn; check "
                "the files' label column"
            )
    for split in ("dev", "test"):
        for lang, sentences in splits[split].items():
            if not any(words for words, _ in sentences):
                raise XlpruneError(
                    f"data={data}: the '{lang}' {split} split has no word to score; give "
                    f"a {split} file with sentences (data.pattern.{split})"
                )
            if entity and not any(t != "O" for _, tags in sentences for t in tags):
                raise XlpruneError(
                    f"data={data}: the '{lang}' {split} split has no entity, so entity F1 "
                    f"cannot be measured (it is 0 whatever the model does); give {split} "
                    "data with entities"
                )


def label_line(source, lang: str, split: str, label: str) -> str | None:
    """'file:line' of the first line of a file source whose fields include `label`; None
    for sources without files (the hub, the embedded corpus) or when it is not found."""
    from xlprune.data.formats.common import numbered_lines

    try:
        path = source.path(lang, split)
        for number, line in numbered_lines(path):
            if label in line.replace("\t", " ").split(" "):
                return f"{path}:{number}"
    except (AttributeError, OSError, XlpruneError):
        return None
    return None
