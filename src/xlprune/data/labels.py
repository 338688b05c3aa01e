"""One label vocabulary per run, and the label clean-ups the paper's data needs: IOB repair
(a span may not start with I-) and the NER collapse to PER/ORG/LOC/MISC."""

import logging

from xlprune.data.formats.common import iob2 as repair_iob
from xlprune.infra.errors import XlpruneError

log = logging.getLogger(__name__)

PAPER_NER_TYPES = ("PER", "ORG", "LOC")


def collapse_ner(label: str) -> str:
    """The paper's NER label set: PER, ORG and LOC kept, every other type becomes MISC."""
    if label == "O" or "-" not in label:
        return label
    prefix, kind = label.split("-", 1)
    aliases = {"PERSON": "PER", "LOCATION": "LOC", "ORGANIZATION": "ORG", "GPE": "LOC"}
    kind = aliases.get(kind, kind)
    return f"{prefix}-{kind if kind in PAPER_NER_TYPES else 'MISC'}"


def check_scheme(sentences, task, lang: str, split: str, data: str, where=None) -> None:
    """The labels are the task's kind: IOB tags for NER and slots, UPOS tags for POS. Files
    of the other task read fine (both shapes are valid labels), then train on nonsense or
    fail in the scorer; this stops them first. `where(label)`: 'file:line' of a label in
    the split's file, when it comes from one."""
    from xlprune.data.formats.common import _IOB, UPOS

    scheme = task.get("scheme", "iob2")
    for _, labels in sentences:
        for label in labels:
            if scheme == "iob2" and not _IOB.fullmatch(label):
                at = f"{found}: " if where and (found := where(label)) else ""
                raise XlpruneError(
                    f"{at}task={task.name}: label {label!r} in the {lang} {split} data (data={data}) "
                    "is not an IOB tag (O, B-X, I-X); POS-tagged files need task=pos, or give "
                    "NER / slot files"
                )
            if scheme == "upos" and label not in UPOS:
                at = f"{found}: " if where and (found := where(label)) else ""
                raise XlpruneError(
                    f"{at}task={task.name}: label {label!r} in the {lang} {split} data (data={data}) "
                    "is not a UPOS tag; IOB-tagged files need task=ner or task=sf, or give "
                    "POS files"
                )


def clean(sentences, scheme: str, collapse: bool):
    """Sentences with repaired IOB2 labels (and collapsed types when asked)."""
    if scheme != "iob2":
        return sentences
    out = []
    for words, labels in sentences:
        labels = [collapse_ner(x) for x in labels] if collapse else labels
        out.append((words, repair_iob(labels)))
    return out


def vocabulary(splits: dict, known: list[str] = ()) -> list[str]:
    """The union of every label of every language and split involved, sorted."""
    seen = {
        label
        for by_lang in splits.values()
        for sents in by_lang.values()
        for _, labels in sents
        for label in labels
    }
    return sorted(seen.union(known))


def unseen_in_training(splits: dict, train_langs: list[str]) -> list[str]:
    """Labels that dev/test use but no training sentence has: the model cannot predict them."""
    trained = {
        label for lang in train_langs for _, labels in splits["train"][lang] for label in labels
    }
    evaluated = {
        label
        for split in ("dev", "test")
        for sents in splits[split].values()
        for _, labels in sents
        for label in labels
    }
    missing = sorted(evaluated - trained)
    if missing:
        log.warning(
            "labels in dev/test never seen in training (%s): %s",
            ", ".join(train_langs),
            ", ".join(missing),
        )
    return missing
