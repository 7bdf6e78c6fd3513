"""One name and one default per setting: the settings families against the YAMLs, the CLI, the docs and the Python API."""
from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from mi_tasks import MiTasksError
from mi_tasks.harness.settings import FAMILIES, TaskSettings, settings_table

from .conftest import make_sentences

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = dataclasses.asdict(TaskSettings())
# Where a task YAML deliberately differs from the settings' defaults (every other value must equal them).
YAML_OVERRIDES = {
    "mi_emergence": {"eval_corpus": "wikitext2", "eval_limit": None},
    "mi_recoverability_imdb": {"eval_corpus": "imdb"},
    "mi_recoverability_qnli": {"eval_corpus": "qnli"},
    "mi_recoverability_sst2": {"eval_corpus": "sst2"},
}
# mi-tasks recoverability's own corpora (the bundled BBC News) and whole-corpus limits.
CLI_OVERRIDES = {"train_corpus": "bbcnews:train", "eval_corpus": "bbcnews:test", "train_limit": None, "eval_limit": None}


def _metadata() -> dict[str, dict]:
    out = {}
    for path in sorted((REPO / "task_configs").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text().replace("!function", ""))
        out[doc.get("group") or doc["task"]] = doc.get("metadata") or {}
    return out


def test_every_yaml_setting_is_known_and_a_default_unless_listed():
    known = TaskSettings.known()
    for task, md in _metadata().items():
        keys = set(md) - {"version"}
        assert keys <= known, f"{task}: unknown settings {keys - known}"
        parsed = dataclasses.asdict(TaskSettings.from_metadata(md, task))
        want = {**DEFAULTS, **YAML_OVERRIDES.get(task, {})}
        assert {k: parsed[k] for k in keys} == {k: want[k] for k in keys}, task
        for k, v in YAML_OVERRIDES.get(task, {}).items():
            assert md[k] == v, f"{task}: listed override {k} is not in its YAML"


def test_the_families_compose_task_settings_and_keys_come_from_their_fields():
    names = [flat for fam in FAMILIES.values() for flat in fam.specs()]
    assert len(names) == len(set(names)) == len(dataclasses.fields(TaskSettings))
    s = TaskSettings.from_metadata({"layers": "0,-1", "train_limit": "7", "mi_ridge": "0.2"}, "t")
    assert s.states.layers == "0,-1" and s.corpus("train").limit == 7 and s.emergence.mi_ridge == 0.2
    assert s.corpus_kwargs("eval")["limit_name"] == "eval_limit"
    base = TaskSettings()
    # a setting changes exactly the keys of the results that read it
    assert dataclasses.replace(base, alpha=2.0).train_key() == base.train_key()
    assert dataclasses.replace(base, alpha=2.0).entropy_key() != base.entropy_key()
    assert dataclasses.replace(base, fit="bce").entropy_key() == base.entropy_key()
    assert dataclasses.replace(base, pooling="last").emergence_key() == base.emergence_key()
    assert dataclasses.replace(base, layers="0").emergence_key() != base.emergence_key()
    assert dataclasses.replace(base, eval_limit=3).train_key() == base.train_key()
    for name in names:  # every field is in some key (headline_layer only picks a row; eval corpora key by text)
        if name in ("headline_layer",) or name.startswith("eval_"):
            continue
        spec = TaskSettings.__dataclass_fields__[name].metadata["spec"]
        other = {int: 3, float: 0.5, bool: not DEFAULTS[name], str: "x"}.get(spec.kind, ("a",))
        changed = dataclasses.replace(base, **{name: other})
        assert (changed.train_key(), changed.entropy_key(), changed.emergence_key()) != \
            (base.train_key(), base.entropy_key(), base.emergence_key()), name


def test_bad_values_name_setting_value_and_range():
    with pytest.raises(MiTasksError, match=r"unknown pooling 'max' for task t: use one of mean, last, first"):
        TaskSettings.from_metadata({"pooling": "max"}, "t")
    with pytest.raises(MiTasksError, match=r"unknown micro_mode 'x' for task t: use pooled or per_position"):
        TaskSettings.from_metadata({"micro_mode": "x"}, "t")
    with pytest.raises(MiTasksError, match=r"calibration_fraction for task t must be a number >= 0 .*got 1"):
        TaskSettings.from_metadata({"calibration_fraction": 1}, "t")
    with pytest.raises(MiTasksError, match=r"unknown setting 'mi_step' \(did you mean 'mi_steps'\?\)"):
        TaskSettings.from_metadata({"mi_step": 3}, "t")


def test_cli_defaults_are_the_settings_defaults():
    import argparse

    from mi_tasks.cli import recoverability as rec_cli

    parser = argparse.ArgumentParser()
    rec_cli.add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["recoverability"])
    got = {k: v for k, v in vars(args).items() if k in DEFAULTS}
    got.update({"train_limit": args.train_limit, "eval_limit": args.eval_limit})
    assert set(got) >= {"layers", "pooling", "max_text_length", "fit", "targets", "seed", "memory_budget_gb",
                        "decoder_device", "train_corpus", "eval_corpus"}
    assert got == {k: CLI_OVERRIDES.get(k, DEFAULTS[k]) for k in got}
    assert parser.parse_args(["recoverability", "--max-length", "64"]).max_text_length == 64  # the old flag


def test_docs_table_lists_every_setting_with_its_default():
    text = (REPO / "docs" / "settings.md").read_text()
    assert settings_table() in text, "docs/settings.md is stale: regenerate its table (see the file's first paragraph)"
    for name in TaskSettings.known():
        assert f"| `{name}` |" in text


# ------------------------------------------------------------------ old keyword names: warn, same numbers
def test_old_extractor_keywords_warn_and_give_the_same_states(tiny):
    from mi_tasks.states.extraction import HiddenStateExtractor

    model, tok = tiny["gpt2"]
    texts = make_sentences(6, seed=3)
    new = HiddenStateExtractor(model, tok, max_text_length=12, include_special=True, progress=False)
    with pytest.warns(DeprecationWarning, match="'max_length' is deprecated .* use 'max_text_length'"):
        old = HiddenStateExtractor(model, tok, max_length=12, mean_includes_special=True, progress=False)
    assert (old.max_text_length, old.include_special) == (12, True)
    with pytest.warns(DeprecationWarning, match="use 'include_special'"):
        assert old.mean_includes_special is True
    with pytest.warns(DeprecationWarning, match="use 'max_text_length'"):
        assert old.max_length == 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = new.extract(texts)[0], old.extract(texts)[0]
    assert np.array_equal(a, b)
    with pytest.raises(MiTasksError, match="give max_text_length= only"):
        HiddenStateExtractor(model, tok, max_length=12, max_text_length=12)


def test_old_emergence_keywords_warn_and_give_the_same_result(tiny):
    from mi_tasks.metrics.emergence.probe import EmergenceProbe

    model, tok = tiny["llama"]
    windows = np.random.default_rng(0).integers(5, 60, size=(64, 4))
    for est, extra_old, extra_new in (("gaussian", {"estimator_kwargs": {"ridge": 0.2}}, {"mi_ridge": 0.2}),
                                      ("infonce", {"steps": 20}, {"mi_steps": 20})):
        new = EmergenceProbe(layers="0,1,2", proj_dim=4, mi_estimator=est, progress=False, **extra_new)
        with pytest.warns(DeprecationWarning, match="use 'mi_estimator'"):
            old = EmergenceProbe(layers="0,1,2", proj_dim=4, method=est, progress=False, **extra_old)
        with pytest.warns(DeprecationWarning, match="use 'mi_estimator'"):
            assert old.method == est
        a, b = new.score_windows(model, tok, windows), old.score_windows(model, tok, windows)
        assert a.layers == b.layers and a.meta["estimator"] == b.meta["estimator"]
    with pytest.warns(DeprecationWarning, match="use 'mi_steps'"):
        assert EmergenceProbe(steps=5).mi_steps == 5


def test_old_decoder_device_keyword_warns():
    from mi_tasks.metrics.recoverability.probe import RecoverabilityProbe

    with pytest.warns(DeprecationWarning, match="use 'decoder_device'"):
        probe = RecoverabilityProbe(device="cpu")
    assert str(probe.decoder_device) == "cpu"


def test_emergence_from_states_takes_the_setting_names():
    from mi_tasks.metrics.emergence.scoring import emergence_from_states

    rng = np.random.default_rng(1)
    macro, micro = rng.standard_normal((3, 80, 5)), rng.standard_normal((3, 80, 3, 5))
    new = emergence_from_states(macro, micro, mi_estimator="infonce", mi_steps=10, proj_dim=None, progress=False)
    with pytest.warns(DeprecationWarning, match="use 'mi_estimator'"):
        old = emergence_from_states(macro, micro, method="infonce", steps=10, proj_dim=None, progress=False)
    assert new.layers == old.layers and new.meta["estimator"] == old.meta["estimator"]


def test_mteb_adapters_take_max_text_length():
    pytest.importorskip("mteb")
    from mi_tasks.mteb import LayerEncoder, layer_sweep

    for call in (lambda **kw: LayerEncoder("/nonexistent/model", **kw), lambda **kw: layer_sweep("/nonexistent/model", [1], **kw)):
        with pytest.raises(MiTasksError, match="give max_text_length= only"):
            call(max_length=16, max_text_length=16)
        with pytest.warns(DeprecationWarning, match="use 'max_text_length'"), pytest.raises(MiTasksError):
            call(max_length=16)


# Python defaults that differ from the task settings on purpose: array-level or adapter semantics.
PYTHON_OWN_DEFAULTS = {
    ("emergence_from_states", "layers"),   # None: the arrays' S states, 0..S-1
    ("EmergenceProbe", "mi_ridge"),        # None: IE_RIDGE, the setting's default (None also marks "not given")
    ("LayerEncoder", "pooling"), ("LayerEncoder", "max_text_length"), ("LayerEncoder", "include_special"),
    ("layer_sweep", "pooling"), ("layer_sweep", "max_text_length"), ("layer_sweep", "include_special"),
}  # the MTEB adapters' None: follow the model's sentence-transformers config, else mean / 512 / False


def test_python_api_defaults_are_the_settings_defaults():
    import inspect

    from mi_tasks.metrics.emergence.gaussian import IE_RIDGE
    from mi_tasks.metrics.emergence.probe import EmergenceProbe
    from mi_tasks.metrics.emergence.scoring import emergence_from_states
    from mi_tasks.metrics.entropy.probe import EntropyProbe
    from mi_tasks.metrics.recoverability.probe import RecoverabilityProbe
    from mi_tasks.states.extraction import HiddenStateExtractor

    defaults = {flat: f.default for fam in FAMILIES.values() for flat, (f, _) in fam.specs().items()}
    api = [HiddenStateExtractor, RecoverabilityProbe, EntropyProbe, EmergenceProbe, emergence_from_states]
    if importlib.util.find_spec("mteb"):
        from mi_tasks.mteb import LayerEncoder, layer_sweep
        api += [LayerEncoder, layer_sweep]
    checked, differ = 0, []
    for obj in api:
        params = inspect.signature(inspect.unwrap(obj.__init__ if isinstance(obj, type) else obj)).parameters
        for name, p in params.items():
            if name in defaults and p.default is not inspect.Parameter.empty:
                checked += 1
                if p.default != defaults[name] and (obj.__name__, name) not in PYTHON_OWN_DEFAULTS:
                    differ.append(f"{obj.__name__}({name}={p.default!r}) but the setting's default is {defaults[name]!r}")
    assert not differ, differ
    assert checked >= 25
    assert EmergenceProbe().mi_ridge == defaults["mi_ridge"] == IE_RIDGE
