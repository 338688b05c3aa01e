"""Synthetic multilingual corpora for NER, POS tagging and slot filling.

The project runs offline, so it cannot download PAN-X, Universal Dependencies or MultiATIS++.
This module stands in for them: it builds small artificial languages named after real ISO codes
and generates labelled sentences in each.  The languages are made to differ the way real ones
do (vocabulary, word order, morphology, script) while sharing a few anchors (names, digits,
loanwords, cognates inside a family), so that cross-lingual transfer is possible but imperfect.
See ``docs/synthetic.md`` for the design.

Only the standard library is used so that importing this module costs milliseconds.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import cache
from itertools import chain

from xlprune.data.formats.common import UPOS

__all__ = [
    "DEFAULT_SIZES",
    "LANGUAGES",
    "NER_TYPES",
    "POS_TAGS",
    "POS_NER_LANGUAGES",
    "SF_LANGUAGES",
    "SF_SLOTS",
    "SPLITS",
    "TASKS",
    "LanguageProfile",
    "generate",
    "labels",
    "profile",
]

TASKS = ("ner", "pos", "sf")
SPLITS = ("train", "dev", "test")
DEFAULT_SIZES = {"train": 600, "dev": 150, "test": 150}

# Bumping this changes every lexicon and corpus; keep it fixed so results stay comparable.
_SALT = "xlprune-synthetic-v1"

NER_TYPES = ("LOC", "ORG", "PER")
POS_TAGS = tuple(sorted(UPOS - {"SYM", "X"}))  # the grammar makes no symbols or X
SF_SLOTS = (
    "airline_name",
    "arrive_time.time",
    "class_type",
    "cost_relative",
    "depart_date.date_relative",
    "depart_date.day_name",
    "depart_date.day_number",
    "depart_date.month_name",
    "depart_time.period_of_day",
    "depart_time.time",
    "fromloc.city_name",
    "round_trip",
    "stoploc.city_name",
    "toloc.city_name",
)


# --------------------------------------------------------------------------------------------
# Stable randomness
# --------------------------------------------------------------------------------------------


def _stable_int(*parts: object) -> int:
    """Seed from a string digest, because ``hash()`` is salted per process."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_stable_int(_SALT, *parts))


# --------------------------------------------------------------------------------------------
# Typology
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageProfile:
    """The few typological settings of a language; lexicon and grammar are derived from them."""

    code: str
    family: str  # languages of a family share cognate stems
    order: str  # "SVO" | "SOV" | "VSO"
    adj: str  # adjective (and nominal modifier) before or after the noun: "pre" | "post"
    adp: str  # prepositions or postpositions: "pre" | "post"
    morph: str  # where verbs take tense affixes: "suffix" | "prefix" | "none" (isolating)
    script: str  # "latin" | "han" | "kanji-kana" | "arabic" | "hebrew" | "devanagari"
    plural: bool = True  # nouns inflect for plural
    det: str = "word"  # articles: separate "word" | "prefix" on noun | "none"
    case: str = "none"  # core case marking: "none" | "particle" (ADP token) | "suffix"
    subj_mark: str = "never"  # when a case particle follows the subject: never|past|always
    obj_mark: str = "never"  # when a case particle/suffix marks the object: never|definite|always
    future: str = "aux"  # "aux" word | "affix" on the verb | "none"
    neg: str = "pre"  # negation particle before the verb, verb "affix", or "circum" (ne..pas)
    copula: str = "word"  # "word" | "zero" (only in the present) | "none"
    question: str = "inversion"  # inversion | intonation | particle_end | particle_start
    sconj: str = "initial"  # subordinator opens the clause, or closes it ("final")
    pro_drop: float = 0.0  # probability that a pronoun subject is dropped
    clock: int = 24  # 12-hour ("5 pm") or 24-hour ("17:30") times
    sub_order: str = ""  # word order of subordinate clauses (German verb-final); "" = order
    noun_caps: bool = False  # capitalise every noun (German)
    date_md: bool = False  # month before day in dates
    inverted_question: bool = False  # opening "¿"
    punct: tuple[str, str, str] = (".", ",", "?")  # full stop, comma, question mark


def _p(code, family, order, adj, adp, morph, script, **kw) -> LanguageProfile:
    if "sconj" not in kw and order == "SOV" and adp == "post":
        kw["sconj"] = "final"
    if "plural" not in kw:
        kw["plural"] = morph != "none"
    kw.setdefault("sub_order", order)
    return LanguageProfile(code, family, order, adj, adp, morph, script, **kw)


_PROFILES: dict[str, LanguageProfile] = {
    p.code: p
    for p in (
        _p("en", "germanic", "SVO", "pre", "pre", "suffix", "latin", clock=12, date_md=True),
        _p("de", "germanic", "SVO", "pre", "pre", "suffix", "latin", sub_order="SOV",
           noun_caps=True),
        _p("nl", "germanic", "SVO", "pre", "pre", "suffix", "latin", sub_order="SOV"),
        _p(
            "es", "romance", "SVO", "post", "pre", "suffix", "latin",
            future="affix", question="intonation", pro_drop=0.6, inverted_question=True,
        ),
        _p(
            "pt", "romance", "SVO", "post", "pre", "suffix", "latin",
            future="affix", question="intonation", pro_drop=0.5,
        ),
        _p("fr", "romance", "SVO", "post", "pre", "suffix", "latin", future="affix", neg="circum"),
        _p(
            "zh", "sinitic", "SVO", "pre", "pre", "none", "han",
            det="none", copula="none", question="particle_end", pro_drop=0.3, date_md=True,
            punct=("。", "，", "？"),
        ),
        _p(
            "ja", "japonic", "SOV", "pre", "post", "suffix", "kanji-kana",
            plural=False, det="none", case="particle", subj_mark="always", obj_mark="always",
            future="none", neg="affix", question="particle_end", pro_drop=0.6, date_md=True,
            punct=("。", "、", "？"),
        ),
        _p(
            "ar", "semitic", "VSO", "post", "pre", "prefix", "arabic",
            det="prefix", future="affix", copula="zero", question="particle_start",
            pro_drop=0.6, punct=(".", "،", "؟"),
        ),
        _p(
            "he", "semitic", "SVO", "post", "pre", "prefix", "hebrew",
            det="prefix", future="affix", copula="zero", question="particle_start", pro_drop=0.3,
        ),
        _p(
            "fa", "iranian", "SOV", "post", "pre", "suffix", "arabic",
            det="none", case="particle", obj_mark="definite", question="particle_start",
            pro_drop=0.6, punct=(".", "،", "؟"),
        ),
        _p(
            "ur", "indic", "SOV", "pre", "post", "suffix", "arabic",
            det="none", case="particle", subj_mark="past", obj_mark="definite", future="affix",
            question="particle_start", sconj="initial", pro_drop=0.4, clock=12,
            punct=("۔", "،", "؟"),
        ),
        _p(
            "hi", "indic", "SOV", "pre", "post", "suffix", "devanagari",
            det="none", case="particle", subj_mark="past", obj_mark="definite", future="affix",
            question="particle_start", sconj="initial", pro_drop=0.4, clock=12,
            punct=("।", ",", "?"),
        ),
        _p(
            "tr", "turkic", "SOV", "pre", "post", "suffix", "latin",
            det="none", case="suffix", obj_mark="definite", future="affix", neg="affix",
            copula="zero", question="particle_end", pro_drop=0.6,
        ),
    )
}  # fmt: skip

LANGUAGES: tuple[str, ...] = tuple(_PROFILES)
# The paper's evaluation languages: PAN-X / UD (NER, POS) and MultiATIS++ (SF).
POS_NER_LANGUAGES = ("en", "zh", "ar", "he", "ja", "fa", "de", "nl", "ur")
SF_LANGUAGES = ("en", "es", "pt", "de", "fr", "zh", "ja", "hi", "tr")


def profile(lang: str) -> LanguageProfile:
    """Typological profile of ``lang``; raises ValueError for codes without one."""
    try:
        return _PROFILES[lang]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown language {lang!r}; known languages: {', '.join(LANGUAGES)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Phonology: word-makers per family
# --------------------------------------------------------------------------------------------

Syl = tuple[str, str, str]  # (onset, nucleus, coda), romanised


@dataclass(frozen=True)
class _Phonology:
    onsets: tuple[str, ...]
    nuclei: tuple[str, ...]
    codas: tuple[str, ...]
    coda_rate: float
    empty_onset: float
    syllables: tuple[int, int]  # syllables per content word
    front: tuple[str, ...] = ()  # front vowels; non-empty means vowel harmony


def _t(s: str) -> tuple[str, ...]:
    return tuple(s.split())


_PHONOLOGIES = {
    "germanic": _Phonology(
        _t("b d f g h k l m n p r s t v w j sh st sp tr br kl fr gr bl dr sl sn"),
        _t("a e i o u ea oo ie au"),
        _t("n t s k l r nd st ng rt lk ft m ch"),
        0.6, 0.12, (1, 2),
    ),
    "romance": _Phonology(
        _t("b c d f g l m n p r s t v ch pr tr br gr pl qu"),
        _t("a e i o u ia io ue"),
        _t("n s r l"),
        0.25, 0.1, (2, 3),
    ),
    "sinitic": _Phonology(
        _t("b p m f d t n l g k h j q x zh ch sh r z c s"),
        _t("a o e i u ai ei ao ou an en ang eng ong ia ie iu ua uo ui in ing"),
        (), 0.0, 0.05, (1, 2),
    ),
    "japonic": _Phonology(
        _t("k s t n h m y r w g z d b p"), _t("a i u e o"), ("n",), 0.08, 0.12, (2, 4)
    ),
    "semitic": _Phonology(
        _t("b t th j h kh d dh r z s sh q k l m n w y f '"),
        _t("a i u aa ii uu"),
        _t("b d r m n l s t k q"),
        0.45, 0.05, (2, 3),
    ),
    "iranian": _Phonology(
        _t("b p t j ch kh d r z s sh f q k g l m n v h y"),
        _t("a e o aa i u"),
        _t("r n d t st sh m z"),
        0.45, 0.1, (1, 3),
    ),
    "indic": _Phonology(
        _t("k kh g gh c ch j t th d dh n p ph b bh m y r l v s sh h"),
        _t("a aa i ii u uu e ai o au"),
        _t("n m r l t"),
        0.3, 0.08, (2, 3),
    ),
    "turkic": _Phonology(
        _t("b c ç d g h k l m n p r s ş t v y z"),
        _t("a ı o u e i ö ü"),
        _t("r n l k m t z ş"),
        0.4, 0.15, (2, 3), front=_t("e i ö ü"),
    ),
    # Shared "international" word-maker for person, place, company and airline names.
    "names": _Phonology(
        _t("b d f g k l m n p r s t v z br tr st"), _t("a e i o u"), _t("n r l s"),
        0.3, 0.1, (2, 3),
    ),
}  # fmt: skip

_HARMONY = {"a": "e", "ı": "i", "o": "ö", "u": "ü"}

# family -> (phonology, share of concepts whose stem is a family cognate, sound-change pool).
# Each language picks two sound changes, so cognates look related but not identical.
_FAMILIES: dict[str, tuple[str, float, tuple[tuple[str, str], ...]]] = {
    "germanic": ("germanic", 0.5, (
        ("p", "pf"), ("t", "ts"), ("d", "t"), ("k", "ch"), ("w", "v"), ("sh", "sch"),
        ("a", "aa"), ("i", "ij"), ("o", "oe"), ("u", "ou"), ("e", "ei"), ("g", "gh"),
    )),
    "romance": ("romance", 0.6, (
        ("c", "ch"), ("t", "d"), ("p", "b"), ("e", "ie"), ("o", "ue"), ("a", "ai"),
        ("u", "o"), ("l", "lh"), ("n", "nh"), ("s", "z"), ("pl", "ch"), ("i", "e"),
    )),
    "indic": ("indic", 0.85, (("v", "b"), ("sh", "s"), ("e", "ai"), ("ph", "f"))),
    "semitic": ("semitic", 0.45, (
        ("th", "t"), ("dh", "d"), ("j", "g"), ("q", "k"), ("aa", "o"), ("w", "v"),
        ("kh", "x"), ("s", "sh"),
    )),
    "sinitic": ("sinitic", 0.0, ()),
    "japonic": ("japonic", 0.0, ()),
    "iranian": ("iranian", 0.0, ()),
    "turkic": ("turkic", 0.0, ()),
}  # fmt: skip


def _make_word(ph: _Phonology, rng: random.Random, nsyl: int, front: bool | None = None):
    """Draw one word as a tuple of syllables obeying the phonology (and vowel harmony)."""
    if ph.front:
        if front is None:
            front = rng.random() < 0.5
        vowels = ph.front if front else tuple(v for v in ph.nuclei if v not in ph.front)
    else:
        vowels = ph.nuclei
    syls = []
    for _ in range(nsyl):
        onset = "" if rng.random() < ph.empty_onset else rng.choice(ph.onsets)
        nucleus = rng.choice(vowels)
        coda = rng.choice(ph.codas) if ph.codas and rng.random() < ph.coda_rate else ""
        syls.append((onset, nucleus, coda))
    return tuple(syls)


def _roman(syls) -> str:
    return "".join(o + n + c for o, n, c in syls)


# --------------------------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------------------------

_KANA_ROWS = {
    "": "あいうえお", "k": "かきくけこ", "s": "さしすせそ", "t": "たちつてと",
    "n": "なにぬねの", "h": "はひふへほ", "m": "まみむめも", "y": "やいゆえよ",
    "r": "らりるれろ", "w": "わいうえを", "g": "がぎぐげご", "z": "ざじずぜぞ",
    "d": "だぢづでど", "b": "ばびぶべぼ", "p": "ぱぴぷぺぽ",
}  # fmt: skip
_KANA_APPROX = {"l": "r", "v": "b", "f": "h", "c": "k", "j": "z", "q": "k", "x": "s"}

_ARABIC = {
    "b": "ب", "p": "پ", "t": "ت", "th": "ث", "j": "ج", "ch": "چ", "h": "ح", "kh": "خ",
    "d": "د", "dh": "ذ", "r": "ر", "z": "ز", "s": "س", "sh": "ش", "c": "ش", "q": "ق",
    "f": "ف", "k": "ک", "g": "گ", "gh": "غ", "l": "ل", "m": "م", "n": "ن", "w": "و",
    "v": "و", "y": "ي", "'": "ع", "x": "خ", "bh": "بھ", "ph": "پھ", "jh": "جھ",
}  # fmt: skip
_HEBREW = {
    "b": "ב", "v": "ב", "g": "ג", "j": "ג", "d": "ד", "dh": "ד", "h": "ה", "w": "ו",
    "z": "ז", "kh": "ח", "x": "ח", "t": "ת", "th": "ת", "y": "י", "k": "כ", "l": "ל",
    "m": "מ", "n": "נ", "s": "ס", "'": "ע", "p": "פ", "f": "פ", "ts": "צ", "q": "ק",
    "r": "ר", "sh": "ש", "c": "ש",
}  # fmt: skip
_HEBREW_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}
_DEVA_CONS = {
    "k": "क", "kh": "ख", "g": "ग", "gh": "घ", "c": "च", "ch": "छ", "j": "ज", "jh": "झ",
    "t": "त", "th": "थ", "d": "द", "dh": "ध", "n": "न", "p": "प", "ph": "फ", "f": "फ",
    "b": "ब", "bh": "भ", "m": "म", "y": "य", "r": "र", "l": "ल", "v": "व", "w": "व",
    "s": "स", "sh": "श", "h": "ह", "z": "ज", "q": "क", "x": "ख",
}  # fmt: skip
_DEVA_VOW = {
    "a": ("अ", ""), "aa": ("आ", "ा"), "i": ("इ", "ि"), "ii": ("ई", "ी"), "u": ("उ", "ु"),
    "uu": ("ऊ", "ू"), "e": ("ए", "े"), "ai": ("ऐ", "ै"), "o": ("ओ", "ो"), "au": ("औ", "ौ"),
}  # fmt: skip
_VIRAMA = "्"


def _letters(s: str, table: dict[str, str]) -> list[str]:
    """Greedy romanisation-to-letter mapping; unknown letters map to a stable stand-in."""
    out, i = [], 0
    while i < len(s):
        if s[i : i + 2] in table and i + 1 < len(s):
            out.append(table[s[i : i + 2]])
            i += 2
            continue
        ch = s[i]
        if ch in table:
            out.append(table[ch])
        else:
            pool = sorted(set(table.values()))
            out.append(pool[ord(ch) % len(pool)])
        i += 1
    return out


@cache
def _han(text: str) -> str:
    """One ideograph per romanised chunk, chosen by digest so it is stable."""
    return chr(0x4E00 + _stable_int("han", text) % 20000)


def _kana(syls, katakana: bool = False) -> str:
    out = []
    for o, n, c in syls:
        o = _KANA_APPROX.get(o, o)
        if o not in _KANA_ROWS:
            o = o[-1] if o[-1:] in _KANA_ROWS else _KANA_APPROX.get(o[-1:], "")
        v = "aiueo".find(n[:1])
        out.append(_KANA_ROWS.get(o, _KANA_ROWS[""])[max(v, 0)])
        if c == "n":
            out.append("ん")
        elif c:
            cc = _KANA_APPROX.get(c[-1], c[-1])
            out.append(_KANA_ROWS.get(cc, _KANA_ROWS["r"])[2])
    text = "".join(out)
    if katakana:
        text = "".join(chr(ord(ch) + 0x60) if "\u3041" <= ch <= "\u3096" else ch for ch in text)
    return text


def _abjad(syls, table: dict[str, str], alef: str, yod: str, waw: str) -> str:
    """Consonantal spelling: short a is unwritten, long vowels and i/u use matres lectionis."""
    out: list[str] = []
    for i, (o, n, c) in enumerate(syls):
        if o:
            out.extend(_letters(o, table))
        elif i == 0 or n == "a":
            out.append(alef)
        if n in ("aa", "â"):
            out.append(alef)
        elif n[:1] in ("i", "e") and n != "e":
            out.append(yod)
        elif n[:1] in ("u", "o"):
            out.append(waw)
        if c:
            out.extend(_letters(c, table))
    return "".join(out)


def _devanagari(syls) -> str:
    out = []
    for o, n, c in syls:
        independent, matra = _DEVA_VOW.get(n) or _DEVA_VOW.get(n[:1], ("अ", ""))
        if o:
            out.append(_VIRAMA.join(_letters(o, _DEVA_CONS)) + matra)
        else:
            out.append(independent)
        if c in ("n", "m"):
            out.append("ं")
        elif c:
            out.append(_VIRAMA.join(_letters(c, _DEVA_CONS)) + _VIRAMA)
    return "".join(out)


def _render(script: str, pre, stem, suf, content: bool = True, name: bool = False) -> str:
    """Spell a word (prefix, stem and suffix syllables) in a script."""
    syls = tuple(chain(pre, stem, suf))
    if script == "latin":
        return _roman(syls)
    if script == "han":
        return "".join(_han(_roman((s,))) for s in syls)
    if script == "kanji-kana":
        if name:
            return _kana(syls, katakana=True)
        if content and stem:
            chunks = [stem[i : i + 2] for i in range(0, len(stem), 2)]
            return _kana(pre) + "".join(_han(_roman(ch)) for ch in chunks) + _kana(suf)
        return _kana(syls)
    if script == "arabic":
        return _abjad(syls, _ARABIC, "ا", "ي", "و")
    if script == "hebrew":
        word = _abjad(syls, _HEBREW, "א", "י", "ו")
        return word[:-1] + _HEBREW_FINAL.get(word[-1], word[-1])
    if script == "devanagari":
        return _devanagari(syls)
    raise ValueError(f"unknown script {script!r}")


# --------------------------------------------------------------------------------------------
# Concept inventory (English glosses are only identifiers)
# --------------------------------------------------------------------------------------------


def _c(prefix: str, words: str) -> tuple[str, ...]:
    return tuple(f"{prefix}:{w}" for w in words.split())


_AGENTS = _c(
    "n",
    "man woman child teacher doctor student friend farmer driver worker soldier artist "
    "writer neighbour mother father guest baker singer lawyer",
)
_THINGS = _c(
    "n",
    "book house car tree river door table letter road window phone village market school "
    "garden bread water apple ship bridge song story picture box key chair dog horse bird "
    "field mountain island forest shop newspaper idea plan problem money game price bank "
    "university company club hospital "
    "taxi hotel radio video pizza robot piano menu camera virus sofa metro banana chocolate "
    "internet television",
)
# International words that most languages borrow unchanged: an anchor for transfer.
_LOANWORDS = {
    c: c.split(":")[1]
    for c in _c(
        "n",
        "taxi hotel radio video pizza robot piano menu camera virus sofa metro banana "
        "chocolate internet television",
    )
}
_LOAN_RATE = 0.75
_ORG_GENERICS = _c("n", "bank university company club hospital party ministry group institute")
_VERBS_T = _c(
    "v",
    "see buy sell read write find take give open close build carry love help call visit "
    "watch bring cook clean follow paint choose break wash meet",
)
_VERBS_I = _c("v", "sleep run walk laugh arrive leave sing swim wait fall dance travel")
_ENT_OBJ_VERBS = frozenset(_c("v", "see love help call visit watch follow meet"))
_LOC_OBJ_VERBS = frozenset(_c("v", "see love visit"))
_ADJS = _c(
    "a",
    "big small old new good bad red green long short happy sad cold hot fast slow young rich "
    "poor strong quiet beautiful heavy cheap dark bright",
)
_ADVS = _c(
    "adv", "quickly slowly often never always today yesterday tomorrow here there again soon"
)
_PRONS = _c("pron", "i you he she we they")
_DETS = _c("d", "the a this every")
_ADPS = _c("adp", "in on at to from with for near about under after before behind")
_LOC_ADPS = frozenset(_c("adp", "in at to from near behind"))
_SOCIAL_ADPS = frozenset(_c("adp", "with for about after"))
_CCONJS = _c("c", "and or but")
_SCONJS = _c("sc", "because when if while although")
_AUXS = _c("aux", "will can must past cop")
_PARTS = _c("part", "not not2 q")
_CASES = _c("case", "nom top acc")
_INTJS = _c("intj", "oh yes well hey")
_NUMS = _c("num", "one two three four five six seven eight nine ten")
_SF_NOUNS = _c("n", "flight ticket airline")
_SF_VERBS = _c("v", "want show book fly exist")
_SF_WORDS = _c(
    "sf",
    "me please which via arriving cheapest first business economy class round trip one way "
    "morning afternoon evening night am pm oclock "
    "monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december",
)
_DAYS = _c("sf", "monday tuesday wednesday thursday friday saturday sunday")
_MONTHS = _c(
    "sf", "january february march april may june july august september october november december"
)
_PERIODS = _c("sf", "morning afternoon evening night")
_DATE_RELATIVE = _c("adv", "today tomorrow")

_ALL_CONCEPTS = tuple(
    dict.fromkeys(
        chain(
            _AGENTS, _THINGS, _ORG_GENERICS, _VERBS_T, _VERBS_I, _ADJS, _ADVS, ("adv:very",),
            _PRONS, _DETS, _ADPS, _CCONJS, _SCONJS, _AUXS, _PARTS, _CASES, _INTJS, _NUMS,
            _SF_NOUNS, _SF_VERBS, _SF_WORDS,
        )
    )
)  # fmt: skip
_FUNCTION_CATS = frozenset(("pron", "d", "adp", "c", "sc", "aux", "part", "case", "intj"))
_AFFIXES = ("pl", "past", "fut", "neg", "def", "acc", "loc", "dat", "abl")


# --------------------------------------------------------------------------------------------
# Shared names (identical in every language: the main anchor for NER and SF transfer)
# --------------------------------------------------------------------------------------------

_NAME_POOLS = (
    ("first", 60, (2, 3)),
    ("last", 60, (2, 3)),
    ("loc", 80, (2, 3)),
    ("locpre", 5, (1, 1)),
    ("brand", 40, (2, 3)),
    ("air", 20, (2, 2)),
    ("airsuf", 3, (1, 2)),
)


@cache
def _names() -> dict[str, tuple[tuple[Syl, ...], ...]]:
    ph = _PHONOLOGIES["names"]
    rng = _rng("shared-names")
    seen = set(_LOANWORDS.values())
    pools: dict[str, tuple[tuple[Syl, ...], ...]] = {}
    for pool, size, (lo, hi) in _NAME_POOLS:
        items = []
        while len(items) < size:
            word = _make_word(ph, rng, rng.randint(lo, hi))
            if _roman(word) not in seen:
                seen.add(_roman(word))
                items.append(word)
        pools[pool] = tuple(items)
    return pools


def _latin_name(syls) -> str:
    return _roman(syls).capitalize()


# --------------------------------------------------------------------------------------------
# Lexicon and morphology
# --------------------------------------------------------------------------------------------


def _is_front(word) -> bool:
    """Last vowel of a word (syllables or text) decides suffix harmony."""
    text = word if isinstance(word, str) else "".join(n for _, n, _ in word)
    for ch in reversed(text.lower()):
        if ch in "eiöü":
            return True
        if ch in "aıou":
            return False
    return False


class _Lexicon:
    """Surface forms of every concept in one language; depends on the language only."""

    def __init__(self, prof: LanguageProfile) -> None:
        self.prof = prof
        phon_name, cognate_rate, changes = _FAMILIES[prof.family]
        self.phon = ph = _PHONOLOGIES[phon_name]
        family_rng = _rng("family-lexicon", prof.family)
        rng = _rng("lexicon", prof.code)
        rules = dict(rng.sample(changes, min(2, len(changes)))) if changes else {}
        self.stems: dict[str, tuple[Syl, ...] | str] = {}
        used = set(_LOANWORDS.values())
        for concept in _ALL_CONCEPTS:
            cat = concept.split(":", 1)[0]
            function = cat in _FUNCTION_CATS
            lo, hi = (1, 1) if function else ph.syllables
            # Both draws happen for every concept so that each stream stays aligned.
            family_stem = _make_word(ph, family_rng, family_rng.randint(lo, hi))
            own_stem = _make_word(ph, rng, rng.randint(lo, hi))
            borrowed = concept in _LOANWORDS and rng.random() < _LOAN_RATE
            cognate = rng.random() < cognate_rate
            if borrowed:
                self.stems[concept] = _LOANWORDS[concept]
                continue
            if cognate:
                stem = tuple(
                    (rules.get(o, o), rules.get(n, n), rules.get(c, c)) for o, n, c in family_stem
                )
            else:
                stem = own_stem
            tries = 0
            while (form := _render(prof.script, (), stem, (), not function)) in used:
                tries += 1
                stem = _make_word(ph, rng, hi + tries // 8)
            used.add(form)
            self.stems[concept] = stem
        self.affixes: dict[str, tuple[tuple[Syl, ...], tuple[Syl, ...]]] = {}
        seen_affixes: set[str] = set()
        for name in _AFFIXES:
            while True:
                back = _make_word(ph, rng, 1, front=False)
                if _roman(back) not in seen_affixes:
                    break
            seen_affixes.add(_roman(back))
            front = tuple((o, _HARMONY.get(n, n), c) for o, n, c in back) if ph.front else back
            self.affixes[name] = (back, front)
        self._cache: dict[tuple, str] = {}

    def form(
        self,
        concept: str,
        plural: bool = False,
        definite: bool = False,
        case: str | None = None,
        tense: str | None = None,
        neg: bool = False,
    ) -> str:
        """Inflected surface form; which features show up depends on the profile."""
        key = (concept, plural, definite, case, tense, neg)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        p = self.prof
        cat = concept.split(":", 1)[0]
        pre: list[str] = []
        suf: list[str] = []
        if cat in ("n", "pron"):
            if cat == "n" and plural and p.plural:
                suf.append("pl")
            if case and p.case == "suffix":
                suf.append(case)
            if cat == "n" and definite and p.det == "prefix":
                pre.append("def")
        elif cat == "a":
            if definite and p.det == "prefix":
                pre.append("def")
        elif cat in ("v", "aux"):
            if neg and p.neg == "affix":
                suf.append("neg")
            side = pre if p.morph == "prefix" else suf
            if tense == "past" and p.morph != "none":
                side.append("past")
            if tense == "future" and p.future == "affix":
                side.append("fut")
        stem = self.stems[concept]
        front = _is_front(stem)
        pre_syls = tuple(s for a in pre for s in self.affixes[a][0])
        suf_syls = tuple(s for a in suf for s in self.affixes[a][1 if front else 0])
        if isinstance(stem, str):
            # Loanwords keep their Latin spelling; non-Latin scripts leave them uninflected.
            word = stem if p.script != "latin" else _roman(pre_syls) + stem + _roman(suf_syls)
        else:
            word = _render(p.script, pre_syls, stem, suf_syls, cat not in _FUNCTION_CATS)
        if cat == "n" and p.noun_caps:
            word = word[:1].upper() + word[1:]
        self._cache[key] = word
        return word

    def attach(self, word: str, case: str) -> str:
        """Case suffix on a name or number, written after an apostrophe as in Turkish."""
        syls = self.affixes[case][1 if _is_front(word) else 0]
        return word + "'" + _render(self.prof.script, (), (), syls, False)


@cache
def _lexicon(lang: str) -> _Lexicon:
    return _Lexicon(profile(lang))


# --------------------------------------------------------------------------------------------
# Abstract (language-independent) content
# --------------------------------------------------------------------------------------------


@dataclass
class _NP:
    kind: str  # "noun" | "pron" | "ent"
    head: object  # concept id, or (entity type, parts)
    plural: bool = False
    det: str = "none"  # "def" | "indef" | "dem" | "every" | "none"
    adjs: tuple[str, ...] = ()
    very: bool = False
    num: int | None = None
    coord: _NP | None = None


@dataclass
class _Clause:
    subj: _NP
    verb: str | None
    obj: _NP | None
    adj: str | None
    very: bool
    pps: list[tuple[str, _NP]]
    adv: str | None
    tense: str
    neg: bool
    modal: str | None
    question: bool


@dataclass
class _Sentence:
    clauses: list[_Clause]
    link: tuple[str, str] | None
    intj: str | None


@dataclass
class _Request:
    frame: str
    slots: list[tuple[str, tuple]]
    cost: bool
    klass: tuple[str, ...]
    trip: tuple[str, ...]
    please: bool
    punct: str | None


def _pick(rng: random.Random, options, weights):
    return rng.choices(options, weights)[0]


def _abs_entity(rng: random.Random, etype: str, max_len: int = 3):
    names = _names()

    def s(pool: str):
        return ("s", pool, rng.randrange(len(names[pool])))

    if etype == "PER":
        k = min(_pick(rng, (1, 2, 3), (0.3, 0.6, 0.1)), max_len)
        parts = (
            (s(rng.choice(("first", "last"))),)
            if k == 1
            else tuple(s("first") for _ in range(k - 1)) + (s("last"),)
        )
    elif etype == "LOC":
        k = min(_pick(rng, (1, 2, 3), (0.7, 0.25, 0.05)), max_len)
        parts = (s("loc"),) if k == 1 else (s("locpre"),) + tuple(s("loc") for _ in range(k - 1))
    else:
        parts = tuple(s("brand") for _ in range(_pick(rng, (1, 2), (0.7, 0.3))))
        if len(parts) < max_len and rng.random() < 0.6:
            parts += (("g", rng.choice(_ORG_GENERICS)),)
    return (etype, parts)


def _abs_np(rng, role, budget, verb=None, adp=None, force=False) -> _NP:
    etype = None
    if budget[0] > 0:
        if role == "subj" and (force or rng.random() < 0.5):
            etype = _pick(rng, ("PER", "ORG"), (0.65, 0.35))
        elif role == "obj" and verb in _ENT_OBJ_VERBS and (force or rng.random() < 0.6):
            loc = 0.4 if verb in _LOC_OBJ_VERBS else 0.0
            etype = _pick(rng, ("PER", "ORG", "LOC"), (0.7 - loc / 2, 0.3 - loc / 2, loc))
        elif role == "pp" and adp in _LOC_ADPS and (force or rng.random() < 0.6):
            etype = _pick(rng, ("LOC", "ORG"), (0.85, 0.15))
        elif role == "pp" and adp in _SOCIAL_ADPS and (force or rng.random() < 0.5):
            etype = _pick(rng, ("PER", "ORG"), (0.6, 0.4))
    if etype:
        budget[0] -= 1
        np = _NP("ent", _abs_entity(rng, etype))
        if budget[0] > 0 and rng.random() < 0.15:
            budget[0] -= 1
            np.coord = _NP("ent", _abs_entity(rng, etype))
        return np
    if role != "pp" and rng.random() < (0.25 if role == "subj" else 0.1):
        return _NP("pron", rng.choice(_PRONS))
    animate = role == "subj" or (verb in _ENT_OBJ_VERBS and rng.random() < 0.5)
    np = _NP("noun", rng.choice(_AGENTS if animate else _THINGS))
    np.plural = rng.random() < 0.3
    np.det = _pick(rng, ("def", "indef", "dem", "every", "none"), (0.45, 0.25, 0.1, 0.05, 0.15))
    if np.plural and np.det in ("indef", "every"):
        np.det = "def"
    if rng.random() < 0.1:
        np.num = rng.randint(2, 10) if rng.random() < 0.7 else rng.randint(11, 999)
        np.plural, np.det = True, "none"
    np.adjs = tuple(rng.sample(_ADJS, _pick(rng, (0, 1, 2), (0.6, 0.32, 0.08))))
    np.very = bool(np.adjs) and rng.random() < 0.15
    if rng.random() < 0.05:
        np.coord = _NP("noun", rng.choice(_THINGS), det=np.det if np.det != "every" else "def")
    return np


def _abs_clause(rng: random.Random, budget: list[int], allow_question: bool) -> _Clause:
    kind = _pick(rng, ("t", "i", "c"), (0.55, 0.25, 0.2))
    subj = _abs_np(rng, "subj", budget)
    verb = obj = adj = None
    if kind == "t":
        verb = rng.choice(_VERBS_T)
        obj = _abs_np(rng, "obj", budget, verb=verb)
    elif kind == "i":
        verb = rng.choice(_VERBS_I)
    else:
        adj = rng.choice(_ADJS)
    pps = []
    weights = {"t": (0.45, 0.4, 0.15), "i": (0.25, 0.55, 0.2), "c": (0.8, 0.2, 0)}[kind]
    for _ in range(_pick(rng, (0, 1, 2), weights)):
        adp = rng.choice(_ADPS)
        pps.append((adp, _abs_np(rng, "pp", budget, adp=adp)))
    # Spend what is left of the entity budget on place or companion phrases.
    while budget[0] > 0 and len(pps) < 3 and rng.random() < 0.6:
        adp = rng.choice(sorted(_LOC_ADPS | _SOCIAL_ADPS))
        pps.append((adp, _abs_np(rng, "pp", budget, adp=adp, force=True)))
    tense = _pick(rng, ("past", "present", "future"), (0.4, 0.4, 0.2))
    modal = None
    if tense != "future" and kind != "c" and rng.random() < 0.1:
        modal = rng.choice(("aux:can", "aux:must"))
    return _Clause(
        subj=subj,
        verb=verb,
        obj=obj,
        adj=adj,
        very=adj is not None and rng.random() < 0.3,
        pps=pps,
        adv=rng.choice(_ADVS) if rng.random() < 0.3 else None,
        tense=tense,
        neg=rng.random() < 0.15,
        modal=modal,
        question=allow_question and rng.random() < 0.1,
    )


def _abs_sentence(rng: random.Random, task: str) -> _Sentence:
    if task == "ner":
        budget = [_pick(rng, (0, 1, 2, 3), (0.2, 0.4, 0.28, 0.12))]
        two = rng.random() < 0.3
    else:
        budget = [_pick(rng, (0, 1, 2), (0.55, 0.35, 0.1))]
        two = rng.random() < 0.45
    clauses = [_abs_clause(rng, budget, allow_question=not two)]
    link = None
    if two:
        kind = "cc" if rng.random() < 0.5 else "sc"
        link = (kind, rng.choice(_CCONJS if kind == "cc" else _SCONJS))
        clauses.append(_abs_clause(rng, budget, allow_question=False))
    intj = rng.choice(_INTJS) if rng.random() < 0.04 else None
    return _Sentence(clauses, link, intj)


def _abs_time(rng: random.Random) -> tuple:
    return ("time", rng.randint(5, 23), rng.choice((0, 0, 0, 15, 30, 45)))


def _abs_request(rng: random.Random) -> _Request:
    def city():
        return ("city", _abs_entity(rng, "LOC", max_len=2))

    slots: list[tuple[str, tuple]] = []
    if rng.random() < 0.9:
        slots.append(("fromloc", city()))
    if rng.random() < 0.92:
        slots.append(("toloc", city()))
    if len(slots) == 2 and rng.random() < 0.2:
        slots.reverse()
    if slots and rng.random() < 0.1:
        slots.append(("stoploc", city()))
    extra: list[tuple[str, tuple]] = []
    if rng.random() < 0.5:
        kind = _pick(rng, ("day", "md", "rel"), (0.5, 0.3, 0.2))
        if kind == "day":
            extra.append(("depart_date", ("day", rng.choice(_DAYS))))
        elif kind == "md":
            extra.append(("depart_date", ("md", rng.choice(_MONTHS), rng.randint(1, 28))))
        else:
            extra.append(("depart_date", ("rel", rng.choice(_DATE_RELATIVE))))
    if rng.random() < 0.4:
        if rng.random() < 0.6:
            extra.append(("depart_time", _abs_time(rng)))
        else:
            extra.append(("depart_time", ("period", rng.choice(_PERIODS))))
    if rng.random() < 0.08:
        extra.append(("arrive_time", _abs_time(rng)))
    if rng.random() < 0.3:
        extra.append(("airline", ("airline", rng.randrange(len(_names()["air"])))))
    rng.shuffle(extra)
    slots = extra + slots if extra and rng.random() < 0.25 else slots + extra
    cost = rng.random() < 0.2
    klass: tuple[str, ...] = ()
    if rng.random() < 0.15:
        klass = rng.choice((("sf:first", "sf:class"), ("sf:business", "sf:class"), ("sf:economy",)))
    trip: tuple[str, ...] = ()
    if rng.random() < 0.15:
        trip = rng.choice((("sf:round", "sf:trip"), ("sf:one", "sf:way")))
    frames = ("want_fly", "show", "book", "find", "which")
    frame = _pick(rng, frames, (3, 3, 2, 1, 1))
    if frame == "want_fly" and (cost or klass or trip):
        frame = "book"
    punct = "?" if frame == "which" else ("." if rng.random() < 0.2 else None)
    return _Request(frame, slots, cost, klass, trip, rng.random() < 0.15, punct)


# --------------------------------------------------------------------------------------------
# Realisation in one language
# --------------------------------------------------------------------------------------------

_TRANSLIT_RATE = 0.2  # non-Latin-script languages write some names in their own script
_CASE_OF_ADP = {
    "adp:in": "loc",
    "adp:on": "loc",
    "adp:at": "loc",
    "adp:to": "dat",
    "adp:from": "abl",
}

Tok = tuple[str, str, str]  # (word, POS, NER)


class _Realiser:
    """Turns abstract content into words with POS/NER or slot labels for one language."""

    def __init__(self, prof: LanguageProfile, lex: _Lexicon, rng: random.Random) -> None:
        self.p = prof
        self.lex = lex
        self.rng = rng

    # ---- shared pieces ----------------------------------------------------------------------

    def w(self, concept: str, pos: str, **feats) -> Tok:
        return (self.lex.form(concept, **feats), pos, "O")

    def name_words(self, parts, case: str | None = None) -> list[str]:
        p = self.p
        names = _names()
        translit = p.script != "latin" and self.rng.random() < _TRANSLIT_RATE
        if parts[-1][0] == "g" and p.adj == "post":
            parts = (parts[-1],) + tuple(parts[:-1])  # "Bank Veltro" in head-initial languages
        words = []
        for part in parts:
            if part[0] == "g":
                words.append(self.lex.form(part[1]))
                continue
            syls = names[part[1]][part[2]]
            if translit:
                words.append(_render(p.script, (), syls, (), True, name=True))
            else:
                words.append(_latin_name(syls))
        if case and p.case == "suffix":
            words[-1] = self.lex.attach(words[-1], case)
        return words

    def number(self, value: int) -> Tok:
        if value <= 10 and self.rng.random() < 0.5:
            return self.w(_NUMS[value - 1], "NUM")
        return (str(value), "NUM", "O")

    def punct(self, which: int) -> Tok:
        return (self.p.punct[which], "PUNCT", "O")

    # ---- noun phrases -----------------------------------------------------------------------

    def np(self, np: _NP, case: str | None = None) -> list[Tok]:
        p = self.p
        if np.kind == "pron":
            toks = [self.w(np.head, "PRON", case=case)]
        elif np.kind == "ent":
            etype, parts = np.head
            words = self.name_words(parts, case)
            toks = [(w, "PROPN", ("B-" if i == 0 else "I-") + etype) for i, w in enumerate(words)]
        else:
            definite = np.det in ("def", "dem")
            toks = []
            if np.det == "dem":
                toks.append(self.w("d:this", "DET"))
            elif np.det == "every":
                toks.append(self.w("d:every", "DET"))
            elif p.det == "word" and np.det == "def":
                toks.append(self.w("d:the", "DET"))
            elif p.det == "word" and np.det == "indef":
                toks.append(self.w("d:a", "DET"))
            if np.num is not None:
                toks.append(self.number(np.num))
            adjs: list[Tok] = []
            for i, a in enumerate(np.adjs):
                if i == 0 and np.very:
                    adjs.append(self.w("adv:very", "ADV"))
                adjs.append(self.w(a, "ADJ", definite=definite))
            noun = self.w(np.head, "NOUN", plural=np.plural, definite=definite, case=case)
            toks += adjs + [noun] if p.adj == "pre" else [noun] + adjs
        if np.coord is not None:
            toks = toks + [self.w("c:and", "CCONJ")] + self.np(np.coord, case)
        return toks

    def pp(self, adp: str, np: _NP) -> list[Tok]:
        p = self.p
        if p.case == "suffix" and adp in _CASE_OF_ADP:
            return self.np(np, case=_CASE_OF_ADP[adp])
        marker = self.w(adp, "ADP")
        return [marker] + self.np(np) if p.adp == "pre" else self.np(np) + [marker]

    # ---- clauses ----------------------------------------------------------------------------

    def verb_group(self, c: _Clause, ov: bool, head: str | None, pos: str) -> list[Tok]:
        """Verb (or copula) with auxiliaries and negation placed as the language wants."""
        p = self.p
        before: list[Tok] = []
        after: list[Tok] = []
        aux_side = after if ov else before
        if c.tense == "future" and p.future == "aux":
            aux_side.append(self.w("aux:will", "AUX"))
        if c.modal:
            aux_side.append(self.w(c.modal, "AUX"))
        verb = self.w(head, pos, tense=c.tense, neg=c.neg) if head is not None else None
        if c.tense == "past" and p.morph == "none":
            after.append(self.w("aux:past", "AUX"))
        if c.neg and (p.neg != "affix" or verb is None):
            before.insert(0, self.w("part:not", "PART"))
            if p.neg == "circum" and verb is not None:
                after.append(self.w("part:not2", "PART"))
        return before + ([verb] if verb else []) + after

    def clause(self, c: _Clause, main: bool) -> list[Tok]:
        p = self.p
        rng = self.rng
        order = p.order if main else p.sub_order
        ov = order == "SOV"
        subj: list[Tok] = []
        dropped = c.subj.kind == "pron" and rng.random() < p.pro_drop
        if not dropped:
            subj = self.np(c.subj)
            if p.case == "particle" and (
                p.subj_mark == "always"
                or (p.subj_mark == "past" and c.tense == "past" and c.obj is not None)
            ):
                top = p.subj_mark == "always" and rng.random() < 0.4
                subj.append(self.w("case:top" if top else "case:nom", "ADP"))
        obj: list[Tok] = []
        if c.obj is not None:
            definite = c.obj.kind != "noun" or c.obj.det in ("def", "dem")
            marked = p.obj_mark == "always" or (p.obj_mark == "definite" and definite)
            obj = self.np(c.obj, case="acc" if p.case == "suffix" and marked else None)
            if p.case == "particle" and marked:
                obj.append(self.w("case:acc", "ADP"))
        pps = [t for adp, np in c.pps for t in self.pp(adp, np)]
        if c.verb is not None:
            vg = self.verb_group(c, ov, c.verb, "VERB")
            pred: list[Tok] = []
        else:
            pred = ([self.w("adv:very", "ADV")] if c.very else []) + [self.w(c.adj, "ADJ")]
            needs_cop = p.copula == "word" or (p.copula == "zero" and c.tense != "present")
            vg = self.verb_group(c, ov, "aux:cop" if needs_cop else None, "AUX")
        adv = [self.w(c.adv, "ADV")] if c.adv else []
        if order == "SOV":
            seq = subj + adv + pps + obj + pred + vg
        elif order == "VSO":
            seq = vg + subj + obj + pred + pps + adv
        else:
            seq = subj + vg + obj + pred + pps
            seq = adv + seq if adv and rng.random() < 0.3 else seq + adv
        if c.question:
            if p.question == "inversion" and subj and vg:
                i = next(k for k, t in enumerate(seq) if t[1] in ("AUX", "VERB"))
                seq.insert(0, seq.pop(i))
            elif p.question == "particle_end":
                seq.append(self.w("part:q", "PART"))
            elif p.question == "particle_start":
                seq.insert(0, self.w("part:q", "PART"))
        return seq

    def sentence(self, s: _Sentence) -> list[Tok]:
        p = self.p
        rng = self.rng
        first = self.clause(s.clauses[0], main=True)
        if s.link is None:
            body = first
        else:
            kind, conj = s.link
            second = self.clause(s.clauses[1], main=kind == "cc")
            comma = [self.punct(1)] if rng.random() < 0.5 else []
            if kind == "cc":
                body = first + comma + [self.w(conj, "CCONJ")] + second
            elif p.sconj == "initial":
                body = first + comma + [self.w(conj, "SCONJ")] + second
            else:
                body = second + [self.w(conj, "SCONJ"), self.punct(1)] + first
        question = s.clauses[0].question
        toks: list[Tok] = []
        if s.intj:
            toks += [self.w(s.intj, "INTJ"), self.punct(1)]
        if question and p.inverted_question:
            toks.append(("¿", "PUNCT", "O"))
        toks += body + [self.punct(2 if question else 0)]
        return self.capitalise(toks)

    def capitalise(self, toks: list) -> list:
        if self.p.script != "latin":
            return toks
        for i, t in enumerate(toks):
            if t[1] == "PUNCT":
                continue
            if t[0][:1].islower():
                toks[i] = (t[0][:1].upper() + t[0][1:],) + tuple(t[1:])
            break
        return toks

    # ---- slot filling -----------------------------------------------------------------------

    def marked(self, value: list[tuple[str, str]], marker: str, case: str | None):
        """Put an adposition (or case suffix) around a slot value."""
        p = self.p
        if p.case == "suffix" and case:
            word, label = value[-1]
            if word[:1].isupper() or word[:1].isdigit():
                word = self.lex.attach(word, case)
            else:
                word = word + _render(
                    p.script, (), (), self.lex.affixes[case][int(_is_front(word))]
                )
            return value[:-1] + [(word, label)]
        m = (self.lex.form(marker), "O")
        return [m] + value if p.adp == "pre" else value + [m]

    def time_value(self, hour: int, minute: int, slot: str) -> list[tuple[str, str]]:
        if self.p.clock == 12:
            h = hour % 12 or 12
            text = f"{h}:{minute:02d}" if minute else str(h)
            suffix = self.lex.form("sf:pm" if hour >= 12 else "sf:am")
            return [(text, f"B-{slot}"), (suffix, f"I-{slot}")]
        if not minute and self.rng.random() < 0.3:
            return [(str(hour), f"B-{slot}"), (self.lex.form("sf:oclock"), f"I-{slot}")]
        return [(f"{hour}:{minute:02d}", f"B-{slot}")]

    def slot_phrase(self, slot: str, value: tuple) -> list[tuple[str, str]]:
        def tag(words, label):
            return [(w, ("B-" if i == 0 else "I-") + label) for i, w in enumerate(words)]

        if value[0] == "city":
            words = tag(self.name_words(value[1][1]), f"{slot}.city_name")
            marker, case = {
                "fromloc": ("adp:from", "abl"),
                "toloc": ("adp:to", "dat"),
                "stoploc": ("sf:via", None),
            }[slot]
            return self.marked(words, marker, case)
        if value[0] == "day":
            return self.marked(
                tag([self.lex.form(value[1])], "depart_date.day_name"), "adp:on", "loc"
            )
        if value[0] == "md":
            month = (self.lex.form(value[1]), "B-depart_date.month_name")
            day = (str(value[2]), "B-depart_date.day_number")
            pair = [month, day] if self.p.date_md else [day, month]
            return self.marked(pair, "adp:on", "loc")
        if value[0] == "rel":
            return tag([self.lex.form(value[1])], "depart_date.date_relative")
        if value[0] == "period":
            words = tag([self.lex.form(value[1])], "depart_time.period_of_day")
            return self.marked(words, "adp:in", "loc") if self.rng.random() < 0.5 else words
        if value[0] == "time":
            label = "arrive_time.time" if slot == "arrive_time" else "depart_time.time"
            phrase = self.marked(self.time_value(value[1], value[2], label), "adp:at", "loc")
            return self.marked(phrase, "sf:arriving", None) if slot == "arrive_time" else phrase
        if value[0] == "airline":
            names = _names()
            words = [_latin_name(names["air"][value[1]])]
            # The same airline is always written the same way, so the choice hangs on its id.
            style = value[1] % 3
            if style == 1:
                words.append(_latin_name(names["airsuf"][value[1] % len(names["airsuf"])]))
            elif style == 2:
                generic = self.lex.form("n:airline")
                words = [generic] + words if self.p.adj == "post" else words + [generic]
            return self.marked(tag(words, "airline_name"), "adp:with", None)
        raise AssertionError(value)

    def request(self, r: _Request) -> list[tuple[str, str]]:
        p = self.p
        rng = self.rng
        head_final = p.adp == "post"
        slots = [t for slot, value in r.slots for t in self.slot_phrase(slot, value)]

        def o(concept, **kw):
            return (self.lex.form(concept, **kw), "O")

        def noun_group(concept, plural, det=None):
            mods: list[tuple[str, str]] = []
            if r.cost:
                mods.append((self.lex.form("sf:cheapest"), "B-cost_relative"))
            for label, words in (("class_type", r.klass), ("round_trip", r.trip)):
                mods += [
                    (self.lex.form(w), ("B-" if i == 0 else "I-") + label)
                    for i, w in enumerate(words)
                ]
            noun = [o(concept, plural=plural)]
            core = mods + noun if p.adj == "pre" else noun + mods
            if det:
                core = [det] + core
            return slots + core if head_final else core + slots

        subj: list[tuple[str, str]] = []
        verbs: list[str] = []
        obj: list[tuple[str, str]] = []
        if r.frame == "want_fly":
            subj, verbs, obj = [o("pron:i")], ["v:want", "v:fly"], slots
        elif r.frame == "show":
            verbs = ["v:show"]
            obj = [o("sf:me")] + noun_group("n:flight", True)
        elif r.frame == "book":
            det = o("d:the" if r.cost else "d:a") if p.det == "word" else None
            subj, verbs, obj = (
                [o("pron:i")],
                ["v:want", "v:book"],
                noun_group("n:flight", False, det),
            )
        elif r.frame == "find":
            verbs, obj = ["v:find"], noun_group("n:ticket", True)
        else:
            subj = noun_group("n:flight", True, o("sf:which"))
            verbs = ["v:exist"]
        if subj and subj[0][0] == self.lex.form("pron:i") and rng.random() < p.pro_drop:
            subj = []
        if obj and p.case == "particle" and p.obj_mark == "always" and r.frame != "want_fly":
            obj = obj + [o("case:acc")]
        vwords = [o(v) for v in verbs]
        if p.order == "SOV":
            seq = subj + obj + vwords[::-1]
        elif p.order == "VSO":
            seq = vwords + subj + obj
        else:
            seq = subj + vwords + obj
        if r.please:
            seq = seq + [o("sf:please")] if head_final else [o("sf:please")] + seq
        if r.punct == "?":
            seq.append((p.punct[2], "O"))
        elif r.punct == ".":
            seq.append((p.punct[0], "O"))
        return seq


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def labels(task: str) -> list[str]:
    """Complete, sorted label set of a task, so a classifier can be sized before any data."""
    _check_task(task)
    if task == "pos":
        return sorted(POS_TAGS)
    kinds = NER_TYPES if task == "ner" else SF_SLOTS
    return sorted(["O"] + [f"{b}-{k}" for k in kinds for b in ("B", "I")])


def generate(
    task: str, lang: str, split: str, n: int | None = None, seed: int = 0
) -> list[tuple[list[str], list[str]]]:
    """Generate ``n`` labelled sentences ``(words, labels)`` of ``task`` in ``lang``.

    The output is a pure function of the arguments.  The content of sentence *i* is drawn
    from (task, split, seed) alone, so for a given seed the languages are translations of each
    other (like MultiATIS++); only the surface realisation depends on the language.
    """
    _check_task(task)
    prof = profile(lang)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if n is None:
        n = DEFAULT_SIZES[split]
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    content_rng = _rng("content", task, split, seed)
    surface_rng = _rng("surface", task, prof.code, split, seed)
    real = _Realiser(prof, _lexicon(prof.code), surface_rng)
    out: list[tuple[list[str], list[str]]] = []
    for _ in range(n):
        if task == "sf":
            pairs = real.request(_abs_request(content_rng))
            out.append(([w for w, _ in pairs], [lab for _, lab in pairs]))
        else:
            toks = real.sentence(_abs_sentence(content_rng, task))
            col = 1 if task == "pos" else 2
            out.append(([t[0] for t in toks], [t[col] for t in toks]))
    return out
