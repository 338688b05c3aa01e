"""The file readers on small files the tests write: what each format gives, the layout
noise every reader tolerates, and the one-line errors (file:line) for bad input."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from xlprune.data.formats import READERS
from xlprune.infra.errors import XlpruneError

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read(fmt: str, tmp_path: Path, content: str | bytes, name: str = "f.txt"):
    return READERS[fmt](write(tmp_path / name, content))


def fails(fmt: str, tmp_path: Path, content: str | bytes, line: int, *also: str) -> str:
    """Reading must raise XlpruneError naming the file and the line (and `also`)."""
    name = f"bad-{fmt}.txt"
    with pytest.raises(XlpruneError) as err:
        read(fmt, tmp_path, content, name)
    message = str(err.value)
    assert f"{name}:{line}:" in message
    for text in also:
        assert text in message
    return message


UD = """# newdoc id = d1
# sent_id = 1
# text = Im Haus wohnen wir.
1-2\tIm\t_\t_\t_\t_\t_\t_\t_\t_
1\tIn\tin\tADP\tAPPR\t_\t3\tcase\t_\t_
2\tdem\tder\tDET\tART\t_\t3\tdet\t_\t_
3\tHaus\tHaus\tNOUN\tNN\t_\t4\tobl\t_\t_
4\twohnen\twohnen\tVERB\tVVFIN\t_\t0\troot\t_\t_
4.1\twohnen\twohnen\tVERB\tVVFIN\t_\t_\t_\t4:conj\t_
5\twir\twir\tPRON\tPPER\t_\t4\tnsubj\t_\tSpaceAfter=No
6\t.\t.\tPUNCT\t$.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tsinh viên\tsinh viên\tNOUN\tN\t_\t0\troot\t_\t_
"""

XTREME = "Anna\tB-PER\nlives\tO\n\nin\tO\nBerlin\tB-LOC\n"

MULTIATIS = (
    "id\tutterance\tslot_labels\tintent\n"
    "1\tshow flights to boston\tO O O B-toloc.city_name\tatis_flight\n"
    "2\tnew york please\tB-city I-city O\tatis_city\n"
)

XSID = """# id: 7
# text: set alarm for 6 am
# intent: alarm/set_alarm
# slots: 14:18:datetime
1\tset\talarm/set_alarm\tO
2\talarm\talarm/set_alarm\tO
3\tfor\talarm/set_alarm\tO
4\t6\talarm/set_alarm\tB-datetime
5\tam\talarm/set_alarm\tI-datetime

# text: cancel all alarms
# intent: alarm/cancel_alarm
1\tcancel\talarm/cancel_alarm\tO
2\tall\talarm/cancel_alarm\tB-reference
3\talarms\talarm/cancel_alarm\tO
"""

CONLL = """-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
"""

GOOD = {
    "ud": (
        UD,
        [
            (
                ["In", "dem", "Haus", "wohnen", "wir", "."],
                ["ADP", "DET", "NOUN", "VERB", "PRON", "PUNCT"],
            ),
            (["sinh_viên"], ["NOUN"]),
        ],
    ),
    "xtreme": (XTREME, [(["Anna", "lives"], ["B-PER", "O"]), (["in", "Berlin"], ["O", "B-LOC"])]),
    "multiatis": (
        MULTIATIS,
        [
            (["show", "flights", "to", "boston"], ["O", "O", "O", "B-toloc.city_name"]),
            (["new", "york", "please"], ["B-city", "I-city", "O"]),
        ],
    ),
    "xsid": (
        XSID,
        [
            (["set", "alarm", "for", "6", "am"], ["O", "O", "O", "B-datetime", "I-datetime"]),
            (["cancel", "all", "alarms"], ["O", "B-reference", "O"]),
        ],
    ),
    "conll": (
        CONLL,
        [
            (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
            (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
        ],
    ),
}


def noisy(text: str) -> bytes:
    """The same content with a BOM, CRLF line ends, trailing spaces on every line and runs
    of blank lines (also at the start and the end)."""
    lines = [line + "  " for line in text.split("\n")]
    lines = [x for line in lines for x in ([line, "", " "] if not line.strip() else [line])]
    return b"\xef\xbb\xbf" + ("\r\n" * 2 + "\r\n".join(lines) + "\r\n\r\n\r\n").encode()


def test_registry_names():
    assert set(READERS) == {"ud", "xtreme", "multiatis", "xsid", "conll"}


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_reads_the_format(tmp_path, fmt):
    text, expected = GOOD[fmt]
    assert read(fmt, tmp_path, text) == expected


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_bom_crlf_trailing_spaces_and_blank_runs(tmp_path, fmt):
    text, expected = GOOD[fmt]
    assert read(fmt, tmp_path, noisy(text)) == expected


@pytest.mark.parametrize("fmt", sorted(GOOD))
@pytest.mark.parametrize("content", ["", "\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, fmt, content):
    with pytest.raises(XlpruneError, match=r"empty\.txt: no sentences"):
        read(fmt, tmp_path, content, "empty.txt")


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_bytes_that_are_not_utf8(tmp_path, fmt):
    text = GOOD[fmt][0].encode()
    lines = text.split(b"\n")
    lines[2] += b"\xe9"
    fails(fmt, tmp_path, b"\n".join(lines), 3, "not UTF-8")


# --- ud -----------------------------------------------------------------------------------


def test_ud_wrong_column_count(tmp_path):
    bad = UD.replace(
        "3\tHaus\tHaus\tNOUN\tNN\t_\t4\tobl\t_\t_", "3\tHaus\tHaus\tNOUN\tNN\t_\t4\tobl\t_"
    )
    fails("ud", tmp_path, bad, 7, "10", "found 9")
    fails("ud", tmp_path, UD.replace("1\tIn\tin", "1 In\tin"), 5, "10", "found 9")


def test_ud_unknown_upos(tmp_path):
    fails("ud", tmp_path, UD.replace("NOUN\tNN", "NN\tNN"), 7, "'NN'", "UPOS")


def test_ud_word_id_must_be_a_number(tmp_path):
    fails("ud", tmp_path, UD.replace("2\tdem", "x\tdem"), 6, "'x'")


def test_ud_only_multiword_tokens_and_empty_nodes_are_skipped(tmp_path):
    text = "1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\t_\tADP\t_\t_\t_\t_\t_\t_\n"
    text += "2\tle\t_\tDET\t_\t_\t_\t_\t_\t_\n2.1\tx\t_\tX\t_\t_\t_\t_\t_\t_\n"
    assert read("ud", tmp_path, text) == [(["de", "le"], ["ADP", "DET"])]


# --- xtreme -------------------------------------------------------------------------------


def test_xtreme_strips_language_prefix_when_every_token_has_it(tmp_path):
    text = "en:Paris\tB-LOC\nen:is\tO\n\nen:\tO\nen:en:x\tO\n"
    assert read("xtreme", tmp_path, text) == [
        (["Paris", "is"], ["B-LOC", "O"]),
        (["en:", "en:x"], ["O", "O"]),
    ]


def test_xtreme_keeps_tokens_that_only_look_prefixed(tmp_path):
    text = "Page\tO\nbar:24\tO\n\nfr:x\tO\n"
    assert read("xtreme", tmp_path, text) == [(["Page", "bar:24"], ["O", "O"]), (["fr:x"], ["O"])]
    mixed = "en:Paris\tB-LOC\nde:Paris\tB-LOC\n"
    assert read("xtreme", tmp_path, mixed) == [(["en:Paris", "de:Paris"], ["B-LOC", "B-LOC"])]


def test_xtreme_reads_upos_tags(tmp_path):
    assert read("xtreme", tmp_path, "Ich\tPRON\nlaufe\tVERB\n") == [
        (["Ich", "laufe"], ["PRON", "VERB"])
    ]


@pytest.mark.parametrize("label", ["PER", "B_PER", "B-", "noun", "E-LOC"])
def test_xtreme_unknown_label(tmp_path, label):
    fails("xtreme", tmp_path, f"a\tO\nb\t{label}\n", 2, repr(label))


def test_xtreme_wrong_column_count(tmp_path):
    fails("xtreme", tmp_path, "a\tO\nb\tO\tX\n", 2, "token<TAB>label")


# --- multiatis ----------------------------------------------------------------------------


def test_multiatis_token_and_label_counts_differ(tmp_path):
    bad = MULTIATIS.replace("B-city I-city O", "B-city I-city")
    fails("multiatis", tmp_path, bad, 3, "3 tokens", "2 slot labels")


def test_multiatis_wrong_column_count(tmp_path):
    fails("multiatis", tmp_path, MULTIATIS.replace("\tatis_city", ""), 3, "found 3")


def test_multiatis_header_required(tmp_path):
    headless = MULTIATIS.split("\n", 1)[1]
    fails("multiatis", tmp_path, headless, 1, "id<TAB>utterance<TAB>slot_labels<TAB>intent")


def test_multiatis_unknown_label(tmp_path):
    fails("multiatis", tmp_path, MULTIATIS.replace("I-city", "I_city"), 3, "'I_city'")


def test_multiatis_extra_spaces_between_tokens(tmp_path):
    text = "id\tutterance\tslot_labels\tintent\n1\tto  boston \tO  B-city\tx\n"
    assert read("multiatis", tmp_path, text) == [(["to", "boston"], ["O", "B-city"])]


# --- xsid ---------------------------------------------------------------------------------


def test_xsid_o_with_glued_slot_type_reads_as_o(tmp_path):
    text = XSID.replace(
        "3\talarms\talarm/cancel_alarm\tO", "3\talarms\talarm/x\tOrecurring_datetime"
    )
    assert read("xsid", tmp_path, text)[1][1] == ["O", "B-reference", "O"]


def test_xsid_wrong_column_count(tmp_path):
    fails(
        "xsid", tmp_path, XSID.replace("2\talarm\talarm/set_alarm\tO", "2\talarm\tO"), 6, "found 3"
    )


def test_xsid_index_must_be_a_number(tmp_path):
    fails("xsid", tmp_path, XSID.replace("# slots:", "slots:\tx\ty\tO"), 4, "'slots:'")


def test_xsid_unknown_label(tmp_path):
    fails("xsid", tmp_path, XSID.replace("B-reference", "reference"), 14, "'reference'")


# --- conll --------------------------------------------------------------------------------


def test_conll_iob1_becomes_iob2_and_docstart_without_blank_line(tmp_path):
    text = "-DOCSTART- -DOCSTART- O\nDe Art O\nRaad N I-ORG\nvan Prep I-ORG\n"
    text += "-DOCSTART- -DOCSTART- O\nEU N I-ORG\nNAVO N B-ORG\nx N I-ORG\nLondon N I-LOC\n"
    assert read("conll", tmp_path, text) == [
        (["De", "Raad", "van"], ["O", "B-ORG", "I-ORG"]),
        (["EU", "NAVO", "x", "London"], ["B-ORG", "B-ORG", "I-ORG", "B-LOC"]),
    ]


def test_conll_two_columns_and_tabs(tmp_path):
    assert read("conll", tmp_path, "Madrid\tB-LOC\nes  O\n") == [(["Madrid", "es"], ["B-LOC", "O"])]


def test_conll_one_column(tmp_path):
    fails("conll", tmp_path, CONLL.replace("call NN I-NP O", "call"), 6, "one column")


def test_conll_column_count_changes(tmp_path):
    fails("conll", tmp_path, CONLL.replace("call NN I-NP O", "call NN O"), 6, "3 columns")


def test_conll_unknown_label(tmp_path):
    fails("conll", tmp_path, CONLL.replace("I-PER\nBlack", "PER\nBlack"), 8, "'PER'")


# --- configs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "dev"),
    [
        ("ud", "de-ud-dev.conllu"),
        ("xtreme", "dev-de.tsv"),
        ("multiatis", "dev_DE.tsv"),
        ("xsid", "de.valid.conll"),
        ("conll", "de.testa"),
    ],
)
def test_data_configs_name_a_reader_and_a_file_per_split(name, dev):
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert cfg.format in READERS and cfg.name == name
    assert OmegaConf.is_missing(cfg, "root")
    assert set(cfg.pattern) == {"train", "dev", "test"}
    assert cfg.pattern.dev.format(lang="de", LANG="DE") == dev


@pytest.mark.parametrize("fmt", ["xtreme", "conll"])
def test_a_sentence_of_thousands_of_words_warns_where(tmp_path, fmt, caplog):
    """A file without its blank lines is one huge 'sentence': read, but warned about."""
    from xlprune.data.formats.common import LONG_SENTENCE

    lines = ["a\tO\n" if fmt == "xtreme" else "a X O\n"] * (LONG_SENTENCE + 1)
    short = "b\tO\n\n" if fmt == "xtreme" else "b X O\n\n"
    sentences = read(fmt, tmp_path, short + "".join(lines), name="long.txt")
    assert [len(w) for w, _ in sentences] == [1, LONG_SENTENCE + 1]
    (warning,) = [r.getMessage() for r in caplog.records if "sentence of" in r.getMessage()]
    assert f"long.txt:3: a sentence of {LONG_SENTENCE + 1} words" in warning
    assert "blank lines between sentences missing" in warning
