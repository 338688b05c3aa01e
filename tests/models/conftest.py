"""multilingual-e5-small converted once per session, into the session's store, so later
jobs in the suite load it from there as a user's second job would."""

import os

import pytest

from .e5_engine import compiled_engine, shipped_engine


@pytest.fixture(scope="session")
def store():
    from xlprune.infra.store import Store

    return Store(os.environ["XLPRUNE_CACHE"])


@pytest.fixture(scope="session")
def e5_spec():
    from xlprune.models.specs import E5Spec

    return E5Spec("e5_small")


@pytest.fixture(scope="session")
def e5_checkpoint(e5_spec, store):
    return e5_spec.checkpoint(store)


@pytest.fixture(scope="session")
def e5_tokenizer(e5_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(e5_checkpoint))


@pytest.fixture(scope="session")
def engine():
    """The package's shipped compiled engine (sentence embeddings)."""
    return shipped_engine()


@pytest.fixture(scope="session")
def tokenizing_engine(tmp_path_factory):
    """The package's e5.c compiled here with a token-id entry point."""
    return compiled_engine(tmp_path_factory.mktemp("e5c"))
