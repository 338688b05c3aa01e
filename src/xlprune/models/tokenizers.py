"""Tokenizers trained on the run's own text, for the tiny models: WordPiece like BERT's,
Unigram like XLM-R's (special tokens in the same order, so the usual ids hold)."""

from collections.abc import Iterable


def train_tokenizer(family: str, texts: Iterable[str], vocab_size: int):
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if family == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        cls, sep = "[CLS]", "[SEP]"
        names = dict(
            pad_token="[PAD]", unk_token="[UNK]", cls_token=cls, sep_token=sep, mask_token="[MASK]"
        )
        pair = f"{cls} $A {sep} $B {sep}"
    elif family == "xlmr":
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>"
        )
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
    else:
        raise ValueError(f"no tokenizer family {family!r}; use bert or xlmr")
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=pair,
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names)
