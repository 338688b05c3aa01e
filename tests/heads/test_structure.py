from types import SimpleNamespace

import pytest
import torch
from torch import nn

from xlprune.heads import REGISTRY, attention_layers, head_grid


def test_layers_and_grid(tiny, arch):
    model = tiny(arch)
    layers = attention_layers(model)
    assert head_grid(model) == (3, 4)
    assert len(layers) == 3
    prefix = "bert" if arch == "bert" else "roberta"
    base = getattr(model, prefix)
    la = layers[1]
    assert la.query is base.encoder.layer[1].attention.self.query
    assert la.output is base.encoder.layer[1].attention.output.dense
    assert (la.num_heads, la.head_dim, la.kept_heads) == (4, 8, (0, 1, 2, 3))


def test_registry_covers_paper_models():
    assert {"bert", "xlm-roberta"} <= set(REGISTRY)


def test_unsupported_architecture_names_registry():
    model = nn.Linear(2, 2)
    model.config = SimpleNamespace(model_type="gpt2")
    with pytest.raises(NotImplementedError, match=r"gpt2.*xlprune\.heads\.structure\.REGISTRY"):
        attention_layers(model)
    with pytest.raises(NotImplementedError, match="gpt2"):
        head_grid(model)


def test_base_model_alone_is_supported(tiny):
    encoder = tiny("bert").bert
    assert len(attention_layers(encoder)) == 3
    assert isinstance(attention_layers(encoder)[0].value, torch.nn.Linear)
