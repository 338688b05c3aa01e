"""Tiny randomly initialised BERT / XLM-R token classifiers, fast on CPU."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.tiny import tiny_model

VOCAB, LAYERS, HEADS, HIDDEN, LABELS = 100, 3, 4, 32, 5


def make_model(arch: str = "bert", attn: str = "eager", dtype=torch.float32, seed: int = 0):
    torch.manual_seed(seed)
    model = tiny_model(
        arch, VOCAB, LAYERS, HEADS, HIDDEN, LABELS, positions=64, pad_token_id=1, attn=attn
    )
    # larger weights than the default 0.02 init so that heads matter visibly
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embeddings" not in name:
                p.normal_(0.0, 0.2)
    return model.to(dtype).eval()


def make_batch(seed: int = 0, batch: int = 3, tokens: int = 7) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch, tokens), generator=gen)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    mask[0, -2:] = 0  # some padding, so the attention mask is exercised
    labels = torch.randint(0, LABELS, (batch, tokens), generator=gen)
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.fixture(params=["bert", "xlmr"])
def arch(request):
    return request.param


@pytest.fixture(params=["eager", "sdpa"])
def attn(request):
    return request.param


@pytest.fixture
def tiny():
    """Factory: ``tiny(arch, attn, dtype, seed)`` -> eval-mode token classifier."""
    return make_model


@pytest.fixture
def batch():
    """Factory: ``batch(seed, batch, tokens)`` -> dict with input_ids, attention_mask, labels."""
    return make_batch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared, loaded machine two
    OpenMP threads on two cores make these tests ~20x slower; restored afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
