"""Registered corpora give the same text for the same row from the hub and from a local file.

The hub is unreachable here, so a stand-in for ``datasets.load_dataset`` returns rows in the shape
each dataset card documents (field names and types); the local files are written in the layout of
the files in ../shared/data. Each pair holds the same row, so the texts must be equal.
"""
from __future__ import annotations

import pytest

from mi_tasks import MiTasksError, load_corpus
from mi_tasks.data.specs import REGISTRY, hub_id


def _stand_in(monkeypatch, rows_by_split: dict, seen: list):
    import datasets

    def load_dataset(path, name=None, *, split, revision=None, streaming=False):
        seen.append({"path": path, "name": name, "split": split, "revision": revision, "streaming": streaming})
        if split not in rows_by_split:
            raise ValueError(f'Bad split: {split}. Available splits: {sorted(rows_by_split)}')
        return iter(rows_by_split[split])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)


# corpus: (split, hub-shaped rows, local file, local file body)
CASES = {
    "dbpedia14": ("test", [{"label": 11, "title": "Christmas Wish (album)",
                            "content": " Christmas Wish is an album by Olivia Newton-John."},
                           {"label": 3, "title": "", "content": " A goalkeeper."}],
                  "dbpedia/dbpedia14_sample.tsv",
                  "label\tlabel_name\ttitle\tcontent\tsource\n"
                  "11\tAlbum\tChristmas Wish (album)\tChristmas Wish is an album by Olivia Newton-John.\tDHIM/val\n"
                  "3\tAthlete\t\tA goalkeeper.\tDHIM/val\n"),
    "agnews": ("test", [{"text": "It #39;s over. Our relationship just hasn #39;t been\\working.", "label": 3}],
               "agnews/dev.tsv", "It #39;s over. Our relationship just hasn #39;t been\\working.\tSci/Tech\n"),
    "imdb": ("test", [{"text": "Sorry everyone, an \"art\" film.<br /><br />Too long.", "label": 0}],
             "imdb/val.tsv", 'id\tlabel\trating\ttext\nval/neg/1_1.txt\t0\t1\t"Sorry everyone, an ""art"" film.'
                             '<br /><br />Too long."\n'),
    "qnli": ("validation", [{"question": "What came into force?", "sentence": "The new constitution came into force.",
                             "label": 0, "idx": 0}],
             "qnli/dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWhat came into force?\t"
                             "The new constitution came into force.\tentailment\n"),
    "sst2": ("validation", [{"sentence": "it 's a charming and often affecting journey . ", "label": 1, "idx": 0}],
             "sst2/dev.tsv", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n"),
    "wikitext2": ("test", [{"text": ""}, {"text": " = Robert Boulter = \n"}, {"text": ""},
                           {"text": " Robert Boulter is an English film , television and theatre actor . \n"},
                           {"text": " = = Career = = \n"}, {"text": " In 2000 Boulter had a guest role . \n"}],
                  "wikitext2/wiki.test.raw",
                  " \r\n = Robert Boulter = \r\n \r\n Robert Boulter is an English film , television and theatre "
                  "actor . \r\n = = Career = = \r\n In 2000 Boulter had a guest role . \r\n"),
}


def _local(tmp_path, rel: str, body: str):
    p = tmp_path / "data" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(body.encode("utf-8"))
    return tmp_path / "data"


@pytest.mark.parametrize("name", sorted(CASES))
def test_online_and_offline_give_the_same_text_per_row(name, tmp_path, monkeypatch):
    split, rows, rel, body = CASES[name]
    seen: list = []
    _stand_in(monkeypatch, {split: rows}, seen)
    monkeypatch.delenv("MI_TASKS_DATA_DIR", raising=False)
    online = load_corpus(name, data_dir=tmp_path / "no-data-here")
    offline = load_corpus(name, data_dir=_local(tmp_path, rel, body))
    assert online.texts == offline.texts and online.sha256 == offline.sha256
    assert seen == [{"path": REGISTRY[name].hub_path, "name": REGISTRY[name].hub_name, "split": split,
                     "revision": REGISTRY[name].revision, "streaming": True}]  # only the split asked for
    assert online.source.startswith("hf:") and offline.source.endswith(rel)
    lf = offline.describe()["local_file"]
    assert lf["path"] == rel and len(lf["sha256"]) == 64 and lf["same_as_hub"] == REGISTRY[name].local[split].same_as_hub
    assert online.describe()["hub_id"] == offline.describe()["hub_id"] == hub_id(name)


def test_known_repairs_and_line_rule():
    rows = CASES["agnews"][1]
    from mi_tasks.data.corpora import registered_texts
    assert registered_texts("agnews", rows) == ["It's over. Our relationship just hasn't been working."]
    assert registered_texts("wikitext2", CASES["wikitext2"][1]) == [
        "", "", "", "Robert Boulter is an English film , television and theatre actor .", "",
        "In 2000 Boulter had a guest role ."]
    qnli = registered_texts("qnli", CASES["qnli"][1])
    assert qnli == ["What came into force? The new constitution came into force."]


def test_text_field_and_split_are_honoured_on_both_sides(tmp_path, monkeypatch):
    seen: list = []
    _stand_in(monkeypatch, {"test": CASES["dbpedia14"][1],
                            "train": [{"sentence": "a train sentence ", "label": 0, "idx": 0}]}, seen)
    data = _local(tmp_path, *CASES["dbpedia14"][2:])
    assert load_corpus("dbpedia14", text_field="title", data_dir=data).texts == ["Christmas Wish (album)"]
    assert load_corpus("dbpedia14", text_field="title", data_dir=tmp_path / "none").texts == ["Christmas Wish (album)"]
    _local(tmp_path, "sst2/train.tsv", "sentence\tlabel\na train sentence \t0\n")
    _local(tmp_path, "sst2/dev.tsv", "sentence\tlabel\na dev sentence \t1\n")
    c = load_corpus("sst2:train", data_dir=data)
    assert c.texts == ["a train sentence"] and c.source.endswith("sst2/train.tsv") and c.describe()["split"] == "train"
    assert load_corpus("sst2", split="dev", data_dir=data).texts == ["a dev sentence"]  # GLUE's name for validation
    with pytest.raises(MiTasksError, match="has splits train, validation, test, not 'tset'"):
        load_corpus("sst2:tset", data_dir=data)


def test_hub_failures_are_reported_as_what_they_are(tmp_path, monkeypatch):
    import datasets

    def offline(*a, **k):
        raise ConnectionError("hub unreachable")

    monkeypatch.delenv("MI_TASKS_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MiTasksError, match="cannot reach the dataset hub.*MI_TASKS_DATA_DIR.*agnews/dev.tsv"):
        load_corpus("agnews", data_dir=tmp_path)
    _stand_in(monkeypatch, {"train": []}, [])
    with pytest.raises(MiTasksError, match=r"the hub refused corpus 'agnews'.*Bad split.*Check the split"):
        load_corpus("agnews", data_dir=tmp_path)


def test_local_sample_that_differs_from_the_hub_says_so(tmp_path):
    c = load_corpus("agnews", data_dir=_local(tmp_path, *CASES["agnews"][2:]))
    d = c.describe()
    assert d["local_file"]["same_as_hub"] is False and "train split" in d["local_file"]["note"]
    assert d["local_file"]["rows"] == 1 and d["hub_id"] == "fancyzhx/ag_news"
    assert hub_id("agnews:test") == "fancyzhx/ag_news" and hub_id("my_file") is None  # model cards name it
