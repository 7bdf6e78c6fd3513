import json

import pytest

from mi_tasks import MiTasksError, load_corpus


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_jsonl_csv_tsv_txt(tmp_path):
    j = _write(tmp_path / "a.jsonl", "\n".join(json.dumps({"text": f"row {i}", "x": i}) for i in range(5)) + "\n")
    c = _write(tmp_path / "a.csv", 'text,label\n"hello, world",1\nsecond,0\n')
    t = _write(tmp_path / "a.tsv", "id\tsentence\n1\tfirst one\n2\tsecond one\n")
    x = _write(tmp_path / "a.txt", "line one\n\n = Heading = \nline two\n")
    assert load_corpus(j).texts == [f"row {i}" for i in range(5)]
    assert load_corpus(c).texts == ["hello, world", "second"]
    assert load_corpus(t, text_field="sentence").texts == ["first one", "second one"]
    assert load_corpus(x).texts == ["line one", "line two"]


def test_template_fields_and_headerless(tmp_path):
    p = _write(tmp_path / "d.tsv", "title\tcontent\nT1\tBody one.\n\tBody two.\n")
    assert load_corpus(p, template="{title}: {content}").texts == ["T1: Body one.", ": Body two."]
    assert load_corpus(p, fields=["title", "content"]).texts == ["T1. Body one.", "Body two."]
    h = _write(tmp_path / "h.tsv", "some text\tSci\nother text\tSports\n")
    assert load_corpus(h, header=False, columns=["text", "label"]).texts == ["some text", "other text"]
    assert load_corpus(h, columns=["text", "label"]).texts == ["some text", "other text"]  # columns given: no header row


def test_limit_and_seed_are_deterministic_and_keep_file_order(tmp_path):
    p = _write(tmp_path / "n.txt", "\n".join(f"text {i}" for i in range(100)))
    a = load_corpus(p, limit=10, seed=1)
    b = load_corpus(p, limit=10, seed=1)
    c = load_corpus(p, limit=10, seed=2)
    assert a.texts == b.texts and a.texts != c.texts and len(a) == 10
    assert a.texts == sorted(a.texts, key=lambda t: int(t.split()[1]))
    assert a.sha256 == b.sha256 != c.sha256
    d = a.describe()
    assert d["rows"] == 10 and d["seed"] == 1 and d["limit"] == 10


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(MiTasksError, match="does not exist"):
        load_corpus(str(tmp_path / "missing.tsv"))
    p = _write(tmp_path / "f.jsonl", json.dumps({"body": "x"}) + "\n")
    with pytest.raises(MiTasksError, match=r"no field 'text' \(fields: body\)"):
        load_corpus(p)
    e = _write(tmp_path / "e.txt", "\n\n  \n")
    with pytest.raises(MiTasksError, match="no non-empty text"):
        load_corpus(e)
    with pytest.raises(MiTasksError, match="unknown corpus 'nosuch'"):
        load_corpus("nosuch")
    with pytest.raises(MiTasksError, match="must end in"):
        load_corpus(_write(tmp_path / "x.parquet", "x"))
    bad = _write(tmp_path / "b.jsonl", '{"text": "ok"}\n{broken\n')
    with pytest.raises(MiTasksError, match="not valid JSON"):
        load_corpus(bad)


@pytest.mark.parametrize("suffix,byte", [(".txt", 4), (".tsv", 4), (".jsonl", 14)])
def test_non_utf8_file_names_file_line_and_fix(tmp_path, suffix, byte):
    body = {".txt": "first line\nsecond line\ncaf\u00e9 au lait\n", ".tsv": "text\tlabel\nfine\t1\ncaf\u00e9\t0\n",
            ".jsonl": '{"text": "fine"}\n{"text": "ok"}\n{"text": "caf\u00e9"}\n'}[suffix]
    p = tmp_path / f"latin{suffix}"
    p.write_bytes(body.encode("latin-1"))  # \u00e9 is the single byte 0xe9: invalid UTF-8
    with pytest.raises(MiTasksError, match=rf"latin\S* is not UTF-8: line 3, byte {byte} is 0xe9.*iconv -f latin1 -t utf-8"):
        load_corpus(str(p))
    p.write_bytes(body.encode("utf-8"))  # the converted file reads
    assert any("caf\u00e9" in t for t in load_corpus(str(p)).texts)
