"""Corpus files are read strictly: no text cut at a comma, no rows merged by a quote, a byte-order mark read past.

Bad files go through ``mi-tasks recoverability`` as a user types it (one line, exit 2, before any model
loads); the property tests write drawn texts with ``csv.writer`` and ``json`` and read them back.
"""
from __future__ import annotations

import csv
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mi_tasks import MiTasksError, load_corpus
from mi_tasks.cli import main


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


def _recoverability(tmp_path, model, eval_corpus) -> list[str]:
    train = tmp_path / "train.txt"
    train.write_text("\n".join(f"the cat sat on mat number {i}" for i in range(40)))
    return ["recoverability", "--model", model, "--train-corpus", str(train),
            "--eval-corpus", str(eval_corpus), "--output", str(tmp_path / "out"), "--quiet"]


def test_an_unquoted_comma_is_an_error_naming_file_and_line(tmp_path, capsys, tiny_dir):
    f = tmp_path / "news.csv"
    f.write_text("text,label\nMarkets were calm,0\nStocks rose, then fell, on Monday,1\n", encoding="utf-8")
    line = _one_line_error(capsys, _recoverability(tmp_path, tiny_dir["gpt2"], f))
    assert f"{f}:3: 4 fields where the header has 2 (text, label)" in line and "must be quoted" in line


def test_a_tsv_text_starting_with_a_quote_stays_one_row(tmp_path):
    rows = [f"text {i}" for i in range(20)]
    rows[3] = '"Quoted" words open this text'
    rows[9] = 'an unmatched " quote'
    f = tmp_path / "d.tsv"
    f.write_text("text\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(rows)), encoding="utf-8")
    assert load_corpus(f).texts == rows  # 20 rows, each as written: a .tsv does not quote


def test_a_tsv_row_with_a_tab_in_its_text_names_the_line(tmp_path, capsys, tiny_dir):
    f = tmp_path / "d.tsv"
    f.write_text("text\tlabel\nfirst\t0\nsecond\twith a tab\t1\n", encoding="utf-8")
    line = _one_line_error(capsys, _recoverability(tmp_path, tiny_dir["gpt2"], f))
    assert f"{f}:3: 3 fields where the header has 2" in line and "needs the field in double quotes" in line


def test_a_tsv_quoting_its_tabs_as_csv_writer_does(tmp_path):
    """DBpedia's sample quotes the abstracts holding a tab; read unquoted they would be rows of 6 fields."""
    f = tmp_path / "q.tsv"
    f.write_text('label\ttext\n1\t"an abstract with a\ttab"\n2\tplain "inner" quotes\n', encoding="utf-8")
    assert load_corpus(f, text_field="text").texts == ["an abstract with a\ttab", 'plain "inner" quotes']
    with pytest.raises(MiTasksError, match=r"q.tsv:2: 3 fields where the header has 2"):
        load_corpus(f, text_field="text", quoting=False)


def test_a_tsv_whose_quotes_read_two_ways_asks_which(tmp_path):
    f = tmp_path / "two.tsv"
    # two quoted texts, or three plain ones; csv.writer would not have quoted "third", so the quotes may be text
    f.write_text('text\n"first\nsecond"\n"third"\n', encoding="utf-8")
    with pytest.raises(MiTasksError, match=r"two.tsv: its quotes can be read two ways \(2 rows with quotes .* 3 "
                                           r"without\); set the setting train_quoting or eval_quoting"):
        load_corpus(f)
    assert load_corpus(f, quoting=False).texts == ['"first', 'second"', '"third"']
    assert load_corpus(f, quoting=True).texts == ["first\nsecond", "third"]


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
def test_a_tsv_exactly_as_csv_writer_writes_it_reads_quoted(tmp_path, ending):
    """Read without quotes this file also fits (rows '"0', '' and '0"', '0'); every quote in it is the writer's."""
    f = tmp_path / "w.tsv"
    with f.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, delimiter="\t", lineterminator=ending).writerows([["text", "label"], ["0\t\r0", 0]])
    assert load_corpus(f).texts == ["0\t\r0"]


def test_a_spreadsheets_csv_utf8_with_a_byte_order_mark(tmp_path):
    f = tmp_path / "sheet.csv"
    f.write_bytes("\ufefftext,label\r\n\"Caf\u00e9, open\",1\r\nsecond,0\r\n".encode("utf-8"))
    assert load_corpus(f).texts == ["Caf\u00e9, open", "second"]
    for suffix, body in ((".jsonl", '{"text": "a"}\n{"text": "b"}\n'), (".txt", "a\nb\n"), (".tsv", "text\na\nb\n")):
        g = tmp_path / f"bom{suffix}"
        g.write_bytes(("\ufeff" + body).encode("utf-8"))
        assert load_corpus(g).texts == ["a", "b"], suffix


def test_a_broken_quote_in_a_csv_names_the_line(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text('text,label\nfine,0\n"half" quoted,1\n', encoding="utf-8")
    with pytest.raises(MiTasksError, match=r"q.csv:3: .*quote fields as a spreadsheet"):
        load_corpus(f)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda t: t.strip() == t and t != "")
# texts rich in what breaks naive readers: commas, quotes, tabs, newlines, a byte-order mark, non-ASCII
_HOSTILE = st.lists(st.one_of(_TEXT, st.sampled_from(
    ['a, b', '"quoted"', 'tab\there', 'two\nlines', 'cr\r\nlf', '\ufeffbom first', 'caf\u00e9 \u65e5\u672c', '"', ',',
     'x""y'])), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=_HOSTILE, bom=st.booleans())
def test_csv_writer_and_jsonl_texts_read_back_identically(tmp_path, texts, bom):
    texts = [t.strip() or "x" for t in texts]  # load_corpus strips each text and drops empty ones
    c = tmp_path / "drawn.csv"
    with c.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([t, i] for i, t in enumerate(texts))
    j = tmp_path / "drawn.jsonl"
    j.write_text(("\ufeff" if bom else "") + "".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    t = tmp_path / "drawn.tsv"
    with t.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["text", "label"])
        w.writerows([t, i] for i, t in enumerate(texts))
    assert load_corpus(c).texts == texts
    assert load_corpus(j).texts == texts
    assert load_corpus(t).texts == texts


def test_card_update_reads_past_a_byte_order_mark(tmp_path, capsys):
    from ..leaderboard_results import results_json, write_results

    results = write_results(tmp_path / "r", "m", results_json("org/m"))
    card = tmp_path / "README.md"
    card.write_bytes("\ufeff---\nlicense: apache-2.0\ntags:\n- mi\n---\n# My model\n".encode("utf-8"))
    assert main(["card", str(results), "--update", str(card)]) == 0
    text = card.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff---\nlicense: apache-2.0\ntags:\n- mi\nmodel-index:") and text.count("---\n") == 2
    assert text.endswith("---\n# My model\n")
