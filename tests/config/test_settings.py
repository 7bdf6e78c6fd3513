"""One name and one default per setting: the settings families against the YAMLs, the CLI, the docs and the Python API."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from mi_tasks import MiTasksError
from mi_tasks.settings import TaskSettings, settings_groups, settings_table


REPO = Path(__file__).resolve().parents[2]
DEFAULTS = TaskSettings().as_dict()
# Where a task YAML deliberately differs from the settings' defaults (every other value must equal them).
YAML_OVERRIDES = {
    "mi_emergence": {"eval_corpus": "wikitext2", "eval_limit": None},
    "mi_recoverability_imdb": {"eval_corpus": "imdb"},
    "mi_views": {"eval_limit": 256},  # one more pass per view: fewer texts
    "mi_recoverability_qnli": {"eval_corpus": "qnli"},
    "mi_recoverability_sst2": {"eval_corpus": "sst2"},
}
# the family commands' own corpora (the bundled BBC News) and whole-corpus limits.
CLI_OVERRIDES = {"train_corpus": "bbcnews:train", "eval_corpus": "bbcnews:test", "train_limit": None, "eval_limit": None}


def yaml_metadata(task: str) -> dict:
    """The ``metadata`` block of one task YAML (``version`` left out)."""
    return {k: v for k, v in _metadata()[task].items() if k != "version"}


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
        parsed = TaskSettings.from_metadata(md, task).as_dict()
        want = {**DEFAULTS, **YAML_OVERRIDES.get(task, {})}
        assert {k: parsed[k] for k in keys} == {k: want[k] for k in keys}, task
        for k, v in YAML_OVERRIDES.get(task, {}).items():
            assert md[k] == v, f"{task}: listed override {k} is not in its YAML"


def test_the_families_compose_task_settings_and_keys_come_from_their_fields():
    names = [flat for fam in settings_groups().values() for flat in fam.specs()]
    assert len(names) == len(set(names)) == len(TaskSettings.known())
    s = TaskSettings.from_metadata({"layers": "0,-1", "train_limit": "7", "mi_ridge": "0.2"}, "t")
    assert s.pass_settings.layers == "0,-1" and s.corpus("train").limit == 7 and s.family("emergence").mi_ridge == 0.2
    assert s.corpus_kwargs("eval")["limit_name"] == "eval_limit"
    # probes take their family: keywords checked by it, with the YAML's messages
    from mi_tasks.metrics.emergence.probe import EmergenceProbe
    from mi_tasks.metrics.entropy.probe import EntropyProbe
    from mi_tasks.metrics.recoverability.probe import RecoverabilityProbe

    assert RecoverabilityProbe(targets="words").settings == dataclasses.replace(s.family("recoverability"), targets="words")
    assert EntropyProbe(s.family("entropy")).settings == s.family("entropy")
    assert EmergenceProbe(mi_ridge="0.2").settings == s.family("emergence")
    with pytest.raises(MiTasksError, match=r"unknown fit 'svm' for RecoverabilityProbe: use ridge or bce"):
        RecoverabilityProbe(fit="svm")
    with pytest.raises(MiTasksError, match=r"unknown keyword steps for EmergenceProbe: the EmergenceSettings settings"):
        EmergenceProbe(steps=3)


def test_bad_values_name_setting_value_and_range():
    with pytest.raises(MiTasksError, match=r"unknown pooling 'max' for task t: use one of mean, last, first"):
        TaskSettings.from_metadata({"pooling": "max"}, "t")
    with pytest.raises(MiTasksError, match=r"unknown micro_mode 'x' for task t: use pooled or per_position"):
        TaskSettings.from_metadata({"micro_mode": "x"}, "t")
    with pytest.raises(MiTasksError, match=r"calibration_fraction for task t must be a number >= 0 .*got 1"):
        TaskSettings.from_metadata({"calibration_fraction": 1}, "t")
    with pytest.raises(MiTasksError, match=r"unknown setting 'mi_step' \(did you mean 'mi_steps'\?\)"):
        TaskSettings.from_metadata({"mi_step": 3}, "t")


def test_cli_options_are_the_settings():
    """Every setting of a command's families is an option of the same name; values are checked by the family."""
    from mi_tasks.cli.main import build_parser, main
    from mi_tasks.metrics.registry import family_class, known_families

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert set(known_families()) <= set(sub)  # one command per family, built-in or plugin
    for command, skip in (("suite", set()), ("recoverability", {"headline_layer"}), ("entropy", {"headline_layer"})):
        opts = {o for a in sub[command]._actions for o in a.option_strings}
        names = set(settings_groups()) if command == "suite" else \
            {"pass", "eval", "task", command} | ({"train"} if family_class(command).needs_train else set())
        for fam in names:
            for flat in settings_groups()[fam].specs():
                if flat not in skip:
                    assert "--" + flat.replace("_", "-") in opts, (command, flat)
    args = parser.parse_args(["recoverability"])
    from mi_tasks.cli.options import settings_from

    got = settings_from(args, "recoverability").as_dict()
    assert got == {**DEFAULTS, **CLI_OVERRIDES}
    assert main(["recoverability", "--max-text-length", "1"]) == 2
    assert main(["enhance", "m", "o", "--max-text-length", "x"]) == 2


def test_docs_table_lists_every_setting_with_its_default():
    text = (REPO / "docs" / "settings.md").read_text()
    assert settings_table() in text, "docs/settings.md is stale: regenerate its table (see the file's first paragraph)"
    for name in TaskSettings.known():
        assert f"| `{name}` |" in text


def test_a_family_named_like_a_command_leaves_the_command_alone(monkeypatch, caplog):
    """A plugin family called ``report`` gets no command of its own (one warning saying so); ``mi-tasks report`` stays."""
    from mi_tasks.cli.main import build_parser
    from mi_tasks.metrics import registry
    from mi_tasks.metrics.family import MetricFamily

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))

    @registry.register_family
    class Report(MetricFamily):
        name = "report"
        table_metrics = ("x",)

        def compute(self, inputs):
            raise AssertionError("not run")

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert sub["report"].get_default("func").__module__ == "mi_tasks.cli.reporting"
    assert "metric family 'report' has no command of its own: `mi-tasks report` is another command" in caplog.text
