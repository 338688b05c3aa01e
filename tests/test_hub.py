"""The hub needs of a job or a sweep, checked together before launch (xlprune.config.hf_hub). Checks
that depend on the process (the offline decision, what the clients read when imported,
the caches they look in) run in a fresh interpreter with its own HF_HOME and none of the
HF offline variables; nothing here reaches a network: the unreachable endpoint is a
refused local port."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.jobs import FAST, cli, compose
from xlprune.config import hf_hub as hub
from xlprune.config.hf_hub import Need
from xlprune.infra.errors import LIMIT, XlpruneError

ROOT = str(Path(__file__).resolve().parents[1])
REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens, connecting fails at once
HF_VARIABLES = ("HF_", "TRANSFORMERS_")

XLMR = Need("model", "xlm-roberta-base", None, "model.name_or_path=xlm-roberta-base")
MBERT = Need(
    "model",
    "bert-base-multilingual-cased",
    None,
    "model.name_or_path=bert-base-multilingual-cased",
)


def dataset(repo: str, configs: list[str], choice: str) -> list[Need]:
    return [Need("dataset", repo, config, f"data={choice}") for config in configs]


# ---------------------------------------------------------------- needs, from configs alone


@pytest.mark.parametrize("model, need", [("xlmr", XLMR), ("mbert", MBERT)])
def test_a_hub_model_is_needed_by_its_name(model, need):
    assert hub.needs(compose([f"model={model}"])) == [need]


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_xlmr", "e5_small"])
def test_models_built_here_need_no_hub(model):
    assert hub.needs(compose([f"model={model}"])) == []


def test_a_local_model_directory_needs_no_hub(tmp_path):
    assert hub.needs(compose(["model=xlmr", f"model.name_or_path={tmp_path}"])) == []


LANGS = ["source=[en]", "targets=[de,zh,en]"]  # en twice: asked for once


@pytest.mark.parametrize(
    "data, repo, configs",
    [
        ("panx_hub", "google/xtreme", ["PAN-X.en", "PAN-X.de", "PAN-X.zh"]),
        ("wikiann", "unimelb-nlp/wikiann", ["en", "de", "zh"]),
        ("udpos_hub", "google/xtreme", ["udpos.English", "udpos.German", "udpos.Chinese"]),
        ("massive", "AmazonScience/massive", ["en-US", "de-DE", "zh-CN"]),
        ("ud_hub", "universal-dependencies/universal_dependencies", ["en_ewt", "de_gsd", "zh_gsd"]),
    ],
)
def test_a_hub_dataset_is_needed_per_language(data, repo, configs):
    assert hub.needs(compose([f"data={data}", *LANGS])) == dataset(repo, configs, data)


@pytest.mark.parametrize("data", ["synthetic", "xtreme", "ud", "conll"])
def test_data_here_needs_no_hub(data):
    assert hub.needs(compose([f"data={data}", *LANGS])) == []  # data.root=??? is not read


def test_model_and_dataset_are_needed_together():
    needs = hub.needs(compose(["model=xlmr", "data=panx_hub"]))
    assert needs == [XLMR, *dataset("google/xtreme", ["PAN-X.en", "PAN-X.de"], "panx_hub")]


def test_a_config_is_refused_before_it_is_built():
    with pytest.raises(XlpruneError, match=r"^model\._target_=os\.system: not a class"):
        hub.needs(compose(["model._target_=os.system"]))
    with pytest.raises(XlpruneError, match=r"^model\.architecture=gpt: use one of"):
        hub.needs(compose(["model.architecture=gpt"]))  # what the constructor says


# ---------------------------------------------------------------- the one line


def test_the_line_names_every_need_and_what_to_do_for_each_kind():
    missing = [XLMR, *dataset("google/xtreme", ["PAN-X.en", "PAN-X.de"], "panx_hub")]
    line = hub.unavailable(missing, f"cannot reach {REFUSED[7:]}")
    assert line == (
        "HF hub offline (cannot reach 127.0.0.1:9); not cached: "
        "model.name_or_path=xlm-roberta-base, data=panx_hub (google/xtreme PAN-X.en, PAN-X.de); "
        "save it with save_pretrained and pass model.name_or_path=/path/to/dir; "
        "use files: data=xtreme data.root=/path/to/dir; or connect and run again"
    )


def test_a_long_list_names_a_model_and_a_dataset_and_counts_the_rest():
    paper = ["en", "zh", "ar", "he", "ja", "fa", "de", "nl", "ur"]
    missing = [
        XLMR,
        *dataset("google/xtreme", [f"PAN-X.{g}" for g in paper], "panx_hub"),
        MBERT,
        *dataset("google/xtreme", [f"udpos.{g}" for g in paper], "udpos_hub"),
    ]
    line = hub.unavailable(missing, "hub_offline=true")
    assert len(line) <= LIMIT and "\n" not in line
    assert "model.name_or_path=xlm-roberta-base" in line and "PAN-X.en" in line
    shown = line.count("PAN-X.") + line.count("udpos.") + line.count("model.name_or_path=") - 1
    counted = sum(int(part.split()[0]) for part in line.split(" and ")[1:] if part[0].isdigit())
    assert shown + counted == len(missing)  # every need named or counted
    assert line.endswith("or connect and set hub_offline=auto")


def test_only_the_fix_for_the_missing_kind_is_given():
    line = hub.unavailable(dataset("unimelb-nlp/wikiann", ["en"], "wikiann"), "HF_HUB_OFFLINE=1")
    assert "data=xtreme data.root=" in line and "save_pretrained" not in line
    assert line.endswith("or connect and unset HF_HUB_OFFLINE")


# ---------------------------------------------------------------- in a fresh process

CHECK = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from tests.helpers.jobs import compose
from xlprune.config import hf_hub as hub
from xlprune.infra.errors import XlpruneError

start = time.perf_counter()
cfgs = [compose(overrides) for overrides in json.loads(sys.argv[1])]
error = None
try:
    hub.check_sweep(cfgs)
except XlpruneError as err:
    error = str(err)
print(json.dumps({{
    "error": error,
    "seconds": time.perf_counter() - start,
    "probes": hub.hub_reachable.cache_info().misses,
    "offline": os.environ.get("HF_HUB_OFFLINE"),
    "clients": sorted(m for m in ("huggingface_hub", "transformers", "datasets")
                      if m in sys.modules),
}}))
"""


def check(jobs: list[list[str]], home: Path, **env: str) -> dict:
    """check_sweep on these jobs' configs in a new interpreter: no HF variable but `env`,
    the hub caches under `home`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(HF_VARIABLES)}
    clean.update({"HF_HOME": str(home), "HF_ENDPOINT": REFUSED, **env})
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(root=ROOT), json.dumps(jobs)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_sweep_names_models_and_datasets_of_all_its_jobs_in_one_error(tmp_path):
    jobs = [
        ["model=tiny_bert"],  # the first job needs nothing: the others are still checked
        ["model=xlmr", "data=panx_hub", "setting=multi"],
        ["model=xlmr", "data=panx_hub", "targets=[zh]"],
    ]
    seen = check(jobs, tmp_path)
    assert seen["error"] == hub.unavailable(
        [XLMR, *dataset("google/xtreme", ["PAN-X.en", "PAN-X.de", "PAN-X.zh"], "panx_hub")],
        "cannot reach 127.0.0.1:9",
    )
    assert seen["probes"] == 1 and seen["offline"] == "1"  # decided once, switches set
    assert seen["seconds"] < 10


def test_jobs_without_hub_needs_probe_nothing_and_import_no_client(tmp_path):
    seen = check([["model=tiny_bert"], ["model=e5_small", "data=xtreme"]], tmp_path)
    assert seen == dict(seen, error=None, probes=0, offline=None, clients=[])


def test_hub_offline_false_is_online_without_a_probe(tmp_path):
    seen = check([["model=xlmr", "data=panx_hub", "hub_offline=false"]], tmp_path)
    assert (seen["error"], seen["probes"], seen["offline"]) == (None, 0, None)


def test_hub_offline_true_is_offline_without_a_probe(tmp_path):
    seen = check([["model=mbert", "hub_offline=true"]], tmp_path)
    assert seen["error"].startswith("HF hub offline (hub_offline=true); not cached: ")
    assert "bert-base-multilingual-cased" in seen["error"] and seen["probes"] == 0


def test_an_offline_variable_already_set_decides_without_a_probe(tmp_path):
    seen = check([["model=xlmr"]], tmp_path, TRANSFORMERS_OFFLINE="1")
    assert "(TRANSFORMERS_OFFLINE=1)" in seen["error"] and seen["probes"] == 0


def test_a_reachable_endpoint_is_used_and_nothing_is_checked(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        seen = check([["model=xlmr", "data=wikiann"]], tmp_path, HF_ENDPOINT=endpoint)
    assert (seen["error"], seen["probes"], seen["offline"]) == (None, 1, None)


def write_cached_model(home: Path, repo: str) -> Path:
    """huggingface_hub's cache layout: refs/main names a snapshot holding the files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = home / "hub" / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"model_type": "xlm-roberta"}')
    return snapshot


def test_a_model_in_the_hub_cache_is_not_reported(tmp_path):
    write_cached_model(tmp_path, "xlm-roberta-base")
    assert check([["model=xlmr"]], tmp_path)["error"] is None
    seen = check([["model=xlmr", "data=wikiann", "targets=[de]"]], tmp_path)
    assert "xlm-roberta-base" not in seen["error"]
    assert "data=wikiann (unimelb-nlp/wikiann en, de)" in seen["error"]


PREPARE = """
import json, pathlib, shutil, sys
from datasets import ClassLabel, Features, List, Value
from datasets.packaged_modules.json.json import Json

cache, source = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=names))})
row = {"tokens": ["Anna", "lives", "in", "Paris"], "ner_tags": [1, 0, 0, 5]}
files = {}
for split in ("train", "validation", "test"):
    files[split] = str(source / f"{split}.jsonl")
    pathlib.Path(files[split]).write_text((json.dumps(row) + "\\n") * 4)
builder = Json(cache_dir=str(cache), dataset_name="xtreme", config_name="PAN-X.en",
               data_files=files, features=features, hash="0123abcd")
builder.download_and_prepare()
# where a download from the hub puts it: <namespace>___<name>/<config>/<version>/<commit>
target = cache / "google___xtreme" / "PAN-X.en" / "0.0.0"
target.mkdir(parents=True)
shutil.move(builder.cache_dir, target / "0123abcd")
"""

LOAD = """
import sys
from xlprune.data.hub_datasets import HubSource
source = HubSource("panx_hub", "google/xtreme", "tagged", "ner_tags", "PAN-X.{lang}")
print(source.load("ner", "en", "train")[0])
"""


def test_a_dataset_prepared_in_the_datasets_cache_is_not_reported(tmp_path):
    """The cache is written by datasets itself, where a hub download leaves it; the same
    interpreter setup then loads it offline, so the check and load_dataset agree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(HF_VARIABLES)}
    env.update(HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cache = tmp_path / "datasets"
    for script, args in ((PREPARE, [str(cache), str(tmp_path)]), (LOAD, [])):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert "(['Anna', 'lives', 'in', 'Paris'], ['B-PER', 'O', 'O', 'B-LOC'])" in done.stdout
    seen = check([["data=panx_hub", "targets=[de]"]], tmp_path, HF_HUB_OFFLINE="1")
    assert "data=panx_hub (google/xtreme PAN-X.de)" in seen["error"]
    assert "PAN-X.en" not in seen["error"]


# ---------------------------------------------------------------- the command line


def without_hf_variables(args: list[str], cwd: Path):
    """The CLI as a user with no HF variable and no network runs it."""
    start = time.perf_counter()
    done = cli(
        args,
        cwd,
        env={"HF_ENDPOINT": REFUSED, "HF_HOME": str(cwd / "hf")},
        timeout=120,
        drop_env=HF_VARIABLES,
    )
    return done, time.perf_counter() - start


def test_one_job_fails_at_once_naming_model_and_data(tmp_path):
    done, seconds = without_hf_variables(["model=xlmr", "data=panx_hub", *FAST], tmp_path)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("xlprune: error: HF hub offline (cannot reach 127.0.0.1:9)")
    assert "model.name_or_path=xlm-roberta-base" in last and "PAN-X.en, PAN-X.de" in last
    assert "Retrying" not in done.stderr and "results.json" not in done.stdout
    assert seconds < 30, f"{seconds:.0f} s: the hub was waited on"


def test_a_sweep_fails_before_launch_naming_model_and_data(tmp_path):
    done, seconds = without_hf_variables(["+experiment=xlmr_ner", "logger=none", "-m"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("xlprune: error:") == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "model.name_or_path=xlm-roberta-base" in last and "data=panx_hub" in last
    assert "Launching" not in done.stdout + done.stderr and not (tmp_path / "multirun").exists()
    assert seconds < 60
