"""Tokenizers learned from the run's own text, for the tiny models: WordPiece like BERT's,
Unigram like XLM-R's (special tokens in the same order, so the usual ids hold).

The vocabulary is chosen here, not by the `tokenizers` trainers: those break ties in hash
-map order, so the same text gives a different vocabulary in each process (tokenizers
issue #1794), and with it different models and scores. Here a piece is kept for how many
characters it covers in the text (count x (length - 1)), ties broken by the piece itself;
the Rust models then encode with that vocabulary."""

import math
from collections import Counter
from collections.abc import Iterable

MAX_PIECE = 16  # longest piece considered, in characters
FAMILIES = ("bert", "xlmr")


def _words(tok, texts: Iterable[str]) -> Counter:
    """Pre-tokenised words of the text and their counts, as the tokenizer will see them."""
    counts: Counter = Counter()
    for text in texts:
        normal = tok.normalizer.normalize_str(text)
        counts.update(word for word, _ in tok.pre_tokenizer.pre_tokenize_str(normal))
    return counts


def _pieces(words: Counter, continuing: str | None) -> tuple[Counter, Counter]:
    """(single characters, longer pieces) with their counts in the text. WordPiece marks a
    piece inside a word with `continuing` ("##"); Unigram words carry their own marker."""
    chars: Counter = Counter()
    longer: Counter = Counter()
    for word, count in words.items():
        for i, char in enumerate(word):
            chars[char if (i == 0 or continuing is None) else continuing + char] += count
            for j in range(i + 2, min(len(word), i + MAX_PIECE) + 1):
                piece = word[i:j] if (i == 0 or continuing is None) else continuing + word[i:j]
                longer[piece] += count
    if continuing is not None:  # every character may also start a word or continue one
        for char in list(chars):
            bare = char.removeprefix(continuing)
            chars[bare] += 0
            chars[continuing + bare] += 0
    return chars, longer


def _choose(chars: Counter, longer: Counter, budget: int, continuing: str | None) -> list[str]:
    """Every character, then the pieces that cover the most text, ties by the piece."""

    def covered(piece: str) -> int:
        return longer[piece] * (len(piece.removeprefix(continuing or "")) - 1)

    ranked = sorted(longer, key=lambda p: (-covered(p), p))
    return sorted(chars) + ranked[: max(0, budget - len(chars))]


def train_tokenizer(family: str, texts: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if family not in FAMILIES:
        raise ValueError(f"no tokenizer family {family!r}; use bert or xlmr")
    if family == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        chars, longer = _pieces(_words(tok, texts), "##")
        vocab = specials + _choose(chars, longer, vocab_size - len(specials), "##")
        tok.model = models.WordPiece({p: i for i, p in enumerate(vocab)}, unk_token="[UNK]")
        tok.decoder = decoders.WordPiece()
        cls, sep = "[CLS]", "[SEP]"
        names = dict(
            pad_token="[PAD]", unk_token="[UNK]", cls_token=cls, sep_token=sep, mask_token="[MASK]"
        )
        pair = f"{cls} $A {sep} $B {sep}"
    else:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        chars, longer = _pieces(_words(tok, texts), None)
        chosen = _choose(chars, longer, vocab_size - len(specials), None)
        counts = {p: max(1, chars[p] if p in chars else longer[p]) for p in chosen}
        total = sum(counts.values())
        scored = [(p, math.log(counts[p] / total)) for p in chosen]
        tok.model = models.Unigram([(s, 0.0) for s in specials] + scored, unk_id=3)
        tok.decoder = decoders.Metaspace()
        cls, sep = "<s>", "</s>"
        names = dict(
            bos_token=cls,
            eos_token=sep,
            pad_token="<pad>",
            unk_token="<unk>",
            cls_token=cls,
            sep_token=sep,
            mask_token="<mask>",
        )
        pair = f"{cls} $A {sep} {sep} $B {sep}"
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=pair,
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names)
