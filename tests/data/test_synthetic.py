"""The synthetic corpus must be deterministic, well-formed, and multilingual in a useful way:
languages that really differ, yet share enough for transfer to be possible."""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xlprune.data import synthetic as S

SRC = Path(S.__file__).resolve().parents[2]


def _corpus(task, lang, split="train", **kw):
    return S.generate(task, lang, split, **kw)


def _spans(labels):
    """(type, start, end) of IOB2 spans."""
    spans, start, kind = [], None, None
    for i, lab in enumerate([*labels, "O"]):
        if start is not None and not lab.startswith("I-"):
            spans.append((kind, start, i))
            start = None
        if lab.startswith("B-"):
            start, kind = i, lab[2:]
    return spans


def _entities(lang, types=("PER", "LOC")):
    out = set()
    for words, labels in _corpus("ner", lang):
        for kind, a, b in _spans(labels):
            if kind in types:
                out.add(" ".join(words[a:b]))
    return out


def _content_vocab(lang):
    vocab = set()
    for words, tags in _corpus("pos", lang):
        vocab.update(
            w.lower() for w, t in zip(words, tags, strict=True) if t in ("NOUN", "VERB", "ADJ")
        )
    return vocab


def _jaccard(a, b):
    return len(a & b) / len(a | b)


# ---- languages and API ---------------------------------------------------------------------


def test_language_inventory_covers_the_papers_languages():
    assert len(S.LANGUAGES) >= 6
    for code in (*S.POS_NER_LANGUAGES, *S.SF_LANGUAGES):
        assert code in S.LANGUAGES
        assert S.profile(code).code == code
    assert len(set(S.POS_NER_LANGUAGES) | set(S.SF_LANGUAGES)) == 14


def test_unknown_language_task_split_are_errors():
    with pytest.raises(ValueError, match="known languages: .*en"):
        S.generate("ner", "xx", "train")
    with pytest.raises(ValueError, match="ner, pos, sf"):
        S.generate("chunk", "en", "train")
    with pytest.raises(ValueError, match="ner, pos, sf"):
        S.labels("chunk")
    with pytest.raises(ValueError, match="train, dev, test"):
        S.generate("ner", "en", "validation")
    with pytest.raises(ValueError):
        S.generate("ner", "en", "train", n=-1)


def test_default_split_sizes_and_explicit_n():
    for split, size in S.DEFAULT_SIZES.items():
        assert len(S.generate("pos", "de", split)) == size
    assert (S.DEFAULT_SIZES["train"], S.DEFAULT_SIZES["dev"]) == (600, 150)
    assert len(S.generate("sf", "ja", "train", n=7)) == 7
    assert S.generate("sf", "ja", "train", n=0) == []


def test_label_sets():
    assert S.labels("ner") == sorted(
        ["O"] + [f"{b}-{t}" for t in ("PER", "ORG", "LOC") for b in "BI"]
    )
    pos = S.labels("pos")
    assert pos == sorted(pos) and "O" not in pos
    assert {"NOUN", "VERB", "ADJ", "ADP", "DET", "PRON", "PROPN", "PUNCT", "NUM", "AUX"} <= set(pos)
    sf = S.labels("sf")
    assert sf == sorted(sf) and "O" in sf
    for slot in ("fromloc.city_name", "toloc.city_name", "depart_date.day_name",
                 "depart_time.time", "airline_name"):  # fmt: skip
        assert f"B-{slot}" in sf and f"I-{slot}" in sf


# ---- well-formedness -----------------------------------------------------------------------


@pytest.mark.parametrize("task", S.TASKS)
def test_every_language_generates_well_formed_data(task):
    valid = set(S.labels(task))
    for lang in S.LANGUAGES:
        for words, labels in S.generate(task, lang, "dev"):
            assert words and len(words) == len(labels)
            for w in words:
                assert w and w == w.strip() and not any(ch.isspace() for ch in w), (lang, w)
            assert set(labels) <= valid, (lang, set(labels) - valid)
            if task != "pos":
                prev = "O"
                for lab in labels:
                    if lab.startswith("I-"):
                        assert prev[2:] == lab[2:] and prev != "O", (lang, words, labels)
                    prev = lab


@pytest.mark.parametrize("task", S.TASKS)
def test_labels_are_attested(task):
    seen = {lab for lang in ("en", "ja") for _, labs in _corpus(task, lang) for lab in labs}
    expected = {lab for lab in S.labels(task) if not lab.startswith("I-")}
    assert expected <= seen, expected - seen


def test_sentence_lengths_are_realistic():
    for task in S.TASKS:
        for lang in ("en", "ja", "ar", "tr"):
            lengths = [len(w) for w, _ in _corpus(task, lang)]
            assert 7 <= statistics.mean(lengths) <= 16, (task, lang)
            assert sum(5 <= n <= 25 for n in lengths) / len(lengths) > 0.8
    assert max(len(w) for w, _ in _corpus("pos", "en")) > 25  # some long ones too


def test_ner_entity_counts_and_lengths():
    counts, lengths = [], []
    for _, labels in _corpus("ner", "en"):
        spans = _spans(labels)
        counts.append(len(spans))
        lengths += [b - a for _, a, b in spans]
    assert set(counts) == {0, 1, 2, 3}
    assert set(lengths) == {1, 2, 3}
    assert {k for _, labels in _corpus("ner", "en") for k, _, _ in _spans(labels)} == {
        "PER", "ORG", "LOC"
    }  # fmt: skip


def test_pos_tags_every_word_with_a_upos_tag():
    for _, tags in _corpus("pos", "fr", "test"):
        assert tags[-1] == "PUNCT"
        assert "VERB" in tags or "ADJ" in tags


# ---- determinism ---------------------------------------------------------------------------


def test_same_arguments_same_output_and_seed_changes_it():
    a = S.generate("ner", "de", "train", n=50, seed=1)
    assert a == S.generate("ner", "de", "train", n=50, seed=1)
    assert a != S.generate("ner", "de", "train", n=50, seed=2)
    # A prefix of a longer corpus is the shorter corpus.
    assert S.generate("ner", "de", "train", n=80, seed=1)[:50] == a


def test_output_is_identical_across_processes():
    code = (
        "import json, sys; from xlprune.data.synthetic import generate; "
        "print(json.dumps([generate(t, l, 'test', n=40, seed=5) "
        "for t in ('ner','pos','sf') for l in ('en','ja','ar')], ensure_ascii=True))"
    )
    outputs = []
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(SRC)}
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    here = [
        S.generate(t, lang, "test", n=40, seed=5) for t in S.TASKS for lang in ("en", "ja", "ar")
    ]
    assert json.loads(outputs[0]) == json.loads(json.dumps(here))


def test_splits_differ_and_lexicon_does_not_depend_on_seed():
    train = {tuple(w) for w, _ in _corpus("pos", "en", "train")}
    test = [tuple(w) for w, _ in _corpus("pos", "en", "test")]
    assert sum(s in train for s in test) / len(test) < 0.05
    v0 = _content_vocab("en")
    v1 = set()
    for words, tags in S.generate("pos", "en", "train", seed=9):
        v1.update(
            w.lower() for w, t in zip(words, tags, strict=True) if t in ("NOUN", "VERB", "ADJ")
        )
    assert _jaccard(v0, v1) > 0.5  # new sentences, same language


# ---- languages differ, but share anchors ---------------------------------------------------


def test_content_vocabularies_differ_between_languages():
    en, ja, de, nl = (_content_vocab(x) for x in ("en", "ja", "de", "nl"))
    assert _jaccard(en, ja) < 0.1
    assert _jaccard(en, de) < 0.2
    # Loanwords are shared even across scripts; relatives share some cognates.
    assert en & ja
    assert len(de & nl) > len(de & ja)


def _mean_first_verb_position(lang):
    rel = []
    for _, tags in _corpus("pos", lang):
        idx = [i for i, t in enumerate(tags) if t == "VERB"]
        if idx:
            rel.append(idx[0] / (len(tags) - 1))
    return statistics.mean(rel)


def test_word_order_differs():
    en, ja, ar, tr = (_mean_first_verb_position(x) for x in ("en", "ja", "ar", "tr"))
    assert ar < en < ja  # VSO < SVO < SOV
    assert ja > 0.5 and tr > 0.5 and ar < 0.2

    def adposition_sides(lang):
        """How often a name is preceded / followed by an adposition or case particle."""
        before = after = 0
        for _, tags in _corpus("pos", lang):
            for i, t in enumerate(tags):
                if t == "PROPN" and (i == 0 or tags[i - 1] != "PROPN"):
                    before += i > 0 and tags[i - 1] == "ADP"
                    j = i
                    while tags[j] == "PROPN":
                        j += 1
                    after += tags[j] == "ADP"
        return before, after

    before, after = adposition_sides("en")
    assert before > 2 * after
    before, after = adposition_sides("ja")
    assert after > 2 * before

    def adjective_before_noun(lang):
        pairs = [
            tags[i + 1] == "NOUN"
            for _, tags in _corpus("pos", lang)
            for i, t in enumerate(tags[:-1])
            if t == "ADJ" and "NOUN" in (tags[i + 1], tags[i - 1] if i else "")
        ]
        return sum(pairs) / len(pairs)

    assert adjective_before_noun("en") > 0.8 and adjective_before_noun("es") < 0.2


def test_morphology_differs():
    def forms_per_stem(lang):
        # Isolating languages reuse the same verb forms; inflecting ones multiply them.
        verbs = {
            w
            for words, tags in _corpus("pos", lang)
            for w, t in zip(words, tags, strict=True)
            if t == "VERB"
        }
        return len(verbs)

    assert forms_per_stem("zh") < forms_per_stem("en") < forms_per_stem("tr")


def test_languages_share_names_and_numbers():
    en = _entities("en")
    for other in ("de", "ja", "ar", "zh", "hi"):
        assert en & _entities(other), other
    digits = {w for words, _ in _corpus("ner", "ja") for w in words if w.isdigit()}
    digits_en = {w for words, _ in _corpus("ner", "en") for w in words if w.isdigit()}
    assert digits & digits_en
    # For one seed the corpora are parallel: the same request names the same cities.
    for (w_en, l_en), (w_de, l_de) in zip(
        _corpus("sf", "en", n=20), _corpus("sf", "de", n=20), strict=True
    ):
        cities_en = {w for w, lab in zip(w_en, l_en, strict=True) if "city" in lab}
        assert cities_en == {w for w, lab in zip(w_de, l_de, strict=True) if "city" in lab}


def test_scripts_differ():
    def script_of(lang):
        words = [w for ws, _ in _corpus("pos", lang, n=50) for w in ws]
        return max(ord(ch) for w in words for ch in w)

    assert script_of("en") < 0x250
    for lang in ("zh", "ja", "ar", "he", "hi"):
        assert script_of(lang) > 0x590, lang


def test_generation_is_fast():
    S.generate("ner", "fr", "train", n=5)  # lexicon built once per process
    start = time.perf_counter()
    S.generate("pos", "fr", "train", n=1000, seed=3)
    assert time.perf_counter() - start < 1.0
