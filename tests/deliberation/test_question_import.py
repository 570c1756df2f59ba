"""Bulk import of questions: the service on the real bank, bad files and bad rows, the
`import_questions` command, and the moderator's Questions page."""

import io
import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deliberation.errors import DomainError
from deliberation.models import TEXT_MAX, Question
from deliberation.services.deliberations import question_create
from deliberation.services.questions import (
    IMPORT_BYTES_MAX,
    bank_questions_ensure,
    import_format_detect,
    import_source_default,
    questions_import,
)

pytestmark = pytest.mark.django_db

QUESTIONS_URL = "/moderate/questions/"
CSV_HEADER = "question,affirming,negating,topic,split\n"


def as_file(text: str | bytes) -> io.BytesIO:
    return io.BytesIO(text.encode() if isinstance(text, str) else text)


def entry(n: int, **overrides) -> dict:
    data = {
        "id": f"T{n}",
        "question": f"Should town {n} plant more trees?",
        "affirming_statement": f"Town {n} should plant more trees.",
        "negating_statement": f"Town {n} should NOT plant more trees.",
        "topic": n % 3,
        "split": "train",
    }
    data.update(overrides)
    return data


def import_json(entries, **kwargs):
    return questions_import(file=as_file(json.dumps(entries)), format="json", **kwargs)


def reasons(report) -> dict[int, str]:
    return {skipped.row: skipped.reason for skipped in report.skipped}


# The real bank ---------------------------------------------------------------------------


def test_the_whole_bank_imports_and_a_second_import_creates_nothing(hm_questions):
    """The real bank, entry for entry (its speed is a benchmark figure: tests/bench/)."""
    with Path(settings.QUESTION_BANK_PATH).open("rb") as file:
        report = questions_import(file=file, format="json", source="hm_questions")

    assert (report.rows, report.created, report.already_present) == (5645, 5645, 0)
    assert report.skipped == []
    assert dict(Counter(Question.objects.values_list("split", flat=True))) == {
        "train": 4500,
        "iid_test": 565,
        "ood_test": 580,
    }
    assert Question.objects.values("topic").distinct().count() == 105
    assert set(Question.objects.values_list("source", flat=True)) == {"hm_questions"}

    # Every entry is stored as it is in the file, double spaces and all.
    stored = {q.external_id: q for q in Question.objects.all()}
    for original in hm_questions[::97]:
        question = stored[original["id"]]
        assert question.text == original["question"].strip()
        assert question.affirming_statement == original["affirming_statement"].strip()
        assert question.negating_statement == original["negating_statement"].strip()
        assert question.topic == str(original["topic"])
        assert question.split == original["split"]

    with Path(settings.QUESTION_BANK_PATH).open("rb") as file:
        again = questions_import(file=file, format="json", source="hm_questions")
    assert (again.rows, again.created, again.already_present) == (5645, 0, 5645)
    assert again.skipped == []
    assert Question.objects.count() == 5645


# Bank entries that a study draws (simulate) ------------------------------------------------


def test_bank_entries_become_questions_once_in_their_order(sample_questions):
    entries = sample_questions[5:9] + [{"question": "Should parks stay open at night?"}]
    first = bank_questions_ensure(entries=entries)
    assert [q.text for q in first] == [e["question"].strip() for e in entries]
    assert [q.external_id for q in first] == [e.get("id") for e in entries]
    assert first[0].negating_statement == entries[0]["negating_statement"].strip()
    assert first[0].topic == str(entries[0]["topic"]) and first[0].split == entries[0]["split"]
    assert {q.source for q in first} == {"hm_questions"}

    again = bank_questions_ensure(entries=list(reversed(entries)))
    assert [q.pk for q in again] == [q.pk for q in reversed(first)]
    assert Question.objects.count() == 5


def test_a_bad_bank_entry_creates_nothing(sample_questions):
    with pytest.raises(DomainError, match="Entry 2 of the bank bad split value 'later'"):
        bank_questions_ensure(
            entries=[sample_questions[0], {**sample_questions[1], "split": "later"}]
        )
    assert not Question.objects.exists()


# Files that cannot be read as a whole --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "format", "code", "words"),
    [
        ('[{"id": "A1", "question": "Free buses?"', "json", "import_json", "not valid JSON"),
        ('{"id": "A1", "question": "Free buses?"}', "json", "import_not_list", "list"),
        ("[]", "json", "import_empty", "no questions"),
        (
            "Should buses be free?,Buses should be free.,Buses should NOT be free.,1,train\n",
            "csv",
            "import_csv_header",
            "header row",
        ),
        (
            "question,affirming,negatin,topic\nShould buses be free?,,,1\n",
            "csv",
            "import_csv_header",
            "'negatin'",
        ),
        ("question,topic,question\nA?,1,B?\n", "csv", "import_csv_header", "twice"),
        ("", "csv", "import_csv_header", "header row"),
        (b"question\nCaf\xe9 prices?\n", "csv", "import_encoding", "not UTF-8"),
        ('question\n"Never closed\n', "csv", "import_csv", "cannot be read"),
    ],
)
def test_a_malformed_file_gives_one_clear_error_and_imports_nothing(content, format, code, words):
    """Bad input tried: broken JSON, a JSON object instead of a list, an empty list, a CSV
    without its header, a misspelt column, a repeated column, an empty file, Latin-1 bytes, an
    unclosed CSV quote. A good question is already there and stays the only one."""
    question_create(text="Already here?", external_id="A0")
    with pytest.raises(DomainError) as caught:
        questions_import(file=as_file(content), format=format)
    assert caught.value.code == code
    assert words in caught.value.message
    assert list(Question.objects.values_list("external_id", flat=True)) == ["A0"]


def test_a_file_too_big_is_refused_before_it_is_parsed():
    """Bad input tried: one byte over the size limit (otherwise a valid CSV)."""
    content = CSV_HEADER + "Q?,,,,\n"
    content += " " * (IMPORT_BYTES_MAX + 1 - len(content))
    with pytest.raises(DomainError) as caught:
        questions_import(file=as_file(content), format="csv")
    assert caught.value.code == "import_too_big"
    assert Question.objects.count() == 0


def test_a_malformed_file_imports_nothing_however_many_good_rows_come_first():
    """Bad input tried: a thousand good CSV rows, then a quote that is never closed."""
    text = CSV_HEADER + "".join(f"Should town {n} plant trees?,,,1,train\n" for n in range(1000))
    text += '"Should the quote ever close?,,,1,train\n'
    with pytest.raises(DomainError) as caught:
        questions_import(file=as_file(text), format="csv")
    assert caught.value.message == (
        "The CSV file cannot be read at line 1002: unexpected end of data."
    )
    assert Question.objects.count() == 0


# Rows with bad values --------------------------------------------------------------------


def test_bad_json_rows_are_skipped_with_their_reasons_and_the_good_rows_import():
    """Bad input tried per entry: no question, a blank question, a question one character too
    long, a statement too long, a split that is not one of ours, a number as the question, a
    list as the topic, true as the id, a string instead of an object, a repeated id, a repeated
    id-less question; and a question already in the database."""
    question_create(text="Already in the database?", external_id="T-old")
    entries = [
        entry(1),  # 1
        entry(2, question=None),  # 2
        entry(3, question="   "),  # 3
        entry(4, question="x" * (TEXT_MAX + 1)),  # 4
        entry(5, negating_statement="n" * (TEXT_MAX + 1)),  # 5
        entry(6, split="test"),  # 6
        entry(7, question=42),  # 7
        entry(8, topic=[1, 2]),  # 8
        entry(9, id=True),  # 9
        "Should we?",  # 10
        entry(11, id="T1"),  # 11: the id of row 1
        entry(12, id=None, question="Without an id?"),  # 12
        entry(13, id=None, question="  Without an id?"),  # 13: same text as row 12
        entry(14, id="T-old", question="Different text, same id"),  # 14: already present
        entry(15, id=None, split=None, topic=None, question="No split, no topic?"),  # 15
        {"question": "Only a question?"},  # 16
        entry(17, topic="  energy  ", id=1717),  # 17
    ]
    report = import_json(entries, source="test")

    assert report.rows == 17
    assert report.created == 5  # rows 1, 12, 15, 16, 17
    assert report.already_present == 1
    skipped = reasons(report)
    assert sorted(skipped) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
    assert skipped[2] == skipped[3] == "missing question"
    assert "at most 2,000 characters" in skipped[4] and "2,001" in skipped[4]
    assert "negating statement" in skipped[5]
    assert "bad split value 'test'" in skipped[6]
    assert skipped[7] == "question must be text, not a number"
    assert skipped[8] == "topic must be text or a whole number, not a list"
    assert skipped[9] == "id must be text or a whole number, not true/false"
    assert "not an object" in skipped[10]
    assert skipped[11] == "duplicate within the file: id 'T1' is also row 1"
    assert skipped[13] == "duplicate within the file: same question as row 12"

    created = {q.text: q for q in Question.objects.filter(source="test")}
    assert set(created) == {
        "Should town 1 plant more trees?",
        "Without an id?",
        "No split, no topic?",
        "Only a question?",
        "Should town 17 plant more trees?",
    }
    assert created["Without an id?"].external_id is None
    assert (created["No split, no topic?"].split, created["No split, no topic?"].topic) == ("", "")
    assert created["Should town 17 plant more trees?"].topic == "energy"
    assert created["Should town 17 plant more trees?"].external_id == "1717"
    assert Question.objects.get(external_id="T-old").text == "Already in the database?"

    again = import_json(entries, source="test")
    assert (again.created, again.already_present) == (0, 6)
    assert sorted(reasons(again)) == sorted(skipped)


def test_a_dry_run_reports_what_it_would_create_and_writes_nothing():
    report = import_json([entry(1), entry(2), entry(3, split="nope")], dry_run=True)
    assert (report.dry_run, report.created, len(report.skipped)) == (True, 2, 1)
    assert Question.objects.count() == 0


# CSV -----------------------------------------------------------------------------------


def test_a_csv_file_imports_with_spreadsheet_row_numbers_and_skips_its_bad_rows():
    """Bad input tried per row: too many values (an unquoted comma), an empty question, a split
    in capitals, an id-less question already in the database. A byte order mark, columns in
    another order, short rows and a blank line are fine."""
    question_create(text="Is this already here?")
    content = (
        "\ufeffid,Question,topic,split,affirming,negating\n"  # row 1
        'C1,"Should buses be free, everywhere?",7,iid_test,Buses should be free.,'
        "Buses should NOT be free.\n"  # row 2
        "C2,Should tea be free?,7,train,Tea should be free.,Tea should NOT be free.,extra\n"  # 3
        "C3,,7,train,,\n"  # row 4
        "\n"  # row 5: blank
        "C6,Should cake be free?,8,TRAIN,,\n"  # row 6
        ",Is this already here?,9,,,\n"  # row 7
        "C8,Should parks open late?\n"  # row 8: short row
        ",,,,,\n"  # row 9: a spreadsheet's empty row
        '"C10","Should ""free"" mean free?",9,ood_test,,\n'  # row 10
    )
    report = questions_import(file=as_file(content), format="csv", source="sheet")

    assert report.rows == 7  # rows 2, 3, 4, 6, 7, 8, 10
    assert (report.created, report.already_present) == (3, 1)
    skipped = reasons(report)
    assert sorted(skipped) == [3, 4, 6]
    assert skipped[3] == "has 7 values; the header has 6"
    assert skipped[4] == "missing question"
    assert "bad split value 'TRAIN'" in skipped[6]

    buses = Question.objects.get(external_id="C1")
    assert buses.text == "Should buses be free, everywhere?"
    assert (buses.affirming_statement, buses.negating_statement) == (
        "Buses should be free.",
        "Buses should NOT be free.",
    )
    assert (buses.topic, buses.split, buses.source) == ("7", "iid_test", "sheet")
    assert Question.objects.get(external_id="C8").split == ""
    assert Question.objects.get(external_id="C10").text == 'Should "free" mean free?'

    again = questions_import(file=as_file(content), format="csv", source="sheet")
    assert (again.created, again.already_present) == (0, 4)


def test_the_format_and_the_source_come_from_the_file_name():
    assert import_format_detect("bank.JSON") == "json"
    assert import_format_detect("/tmp/list.csv") == "csv"
    assert import_format_detect("notes.txt") is None
    assert import_format_detect("") is None
    assert import_source_default("/data/hm_questions.json") == "hm_questions"
    assert import_source_default(".csv") == ".csv"
    assert import_source_default("") == "import"
    assert len(import_source_default("x" * 100 + ".csv")) == 64


# The command -----------------------------------------------------------------------------


def test_the_command_imports_a_file_and_prints_the_report(tmp_path):
    path = tmp_path / "town_trees.json"
    path.write_text(json.dumps([entry(1), entry(2), entry(3, question="")]))
    out = StringIO()
    call_command("import_questions", str(path), stdout=out)
    text = out.getvalue()
    assert "Created: 2" in text
    assert "Already present: 0" in text
    assert "Skipped: 1" in text
    assert "row 3: missing question" in text
    assert set(Question.objects.values_list("source", flat=True)) == {"town_trees"}

    out = StringIO()
    call_command("import_questions", str(path), "--source", "other", stdout=out)
    assert "Created: 0" in out.getvalue() and "Already present: 2" in out.getvalue()


def test_the_command_dry_run_and_format_override(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(CSV_HEADER + "Should buses be free?,,,1,train\n")
    with pytest.raises(CommandError, match="--format"):
        call_command("import_questions", str(path), stdout=StringIO())

    out = StringIO()
    call_command("import_questions", str(path), "--format", "csv", "--dry-run", stdout=out)
    assert "Would create: 1" in out.getvalue() and "nothing was written" in out.getvalue()
    assert Question.objects.count() == 0

    call_command("import_questions", str(path), "--format", "csv", stdout=StringIO())
    assert Question.objects.get().source == "questions"


def test_the_command_fails_on_a_malformed_file_and_imports_nothing(tmp_path):
    """Bad input tried: a JSON file cut off in the middle; a path that does not exist."""
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([entry(1), entry(2)])[:-3])
    with pytest.raises(CommandError, match="not valid JSON.*Nothing was imported"):
        call_command("import_questions", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_questions", str(tmp_path / "missing.json"), stdout=StringIO())
    assert Question.objects.count() == 0


# The moderator's page --------------------------------------------------------------------


def upload(name: str, content: str | bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def test_the_questions_page_is_for_moderators_only(client, django_user_model):
    """Bad input tried: an anonymous visitor, and a logged-in user without the moderate
    permission posting a valid file."""
    assert reverse("moderator:questions") == QUESTIONS_URL
    response = client.get(QUESTIONS_URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    client.force_login(django_user_model.objects.create_user("someone", password="pw"))
    assert client.get(QUESTIONS_URL).status_code == 403
    response = client.post(
        QUESTIONS_URL, {"file": upload("q.json", json.dumps([entry(1)])), "format": "auto"}
    )
    assert response.status_code == 403
    assert Question.objects.count() == 0


def test_a_moderator_uploads_a_file_and_sees_the_report(mod_client):
    entries = [entry(n) for n in range(1, 61)]
    entries += [entry(n, split="later") for n in range(61, 131)]  # 70 bad rows
    response = mod_client.post(
        QUESTIONS_URL,
        {"file": upload("trees.json", json.dumps(entries)), "format": "auto", "source": ""},
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.created, report.already_present, len(report.skipped)) == (60, 0, 70)
    html = response.content.decode()
    assert "Import report" in html
    assert "bad split value &#x27;later&#x27;" in html
    assert len(response.context["skipped_shown"]) == 50
    assert "and 20 more skipped rows not shown" in html
    assert Question.objects.filter(source="trees").count() == 60
    assert "60 questions" in html  # the list below shows them

    again = mod_client.post(
        QUESTIONS_URL, {"file": upload("trees.json", json.dumps(entries)), "format": "auto"}
    )
    assert (again.context["report"].created, again.context["report"].already_present) == (0, 60)
    assert Question.objects.count() == 60


def test_the_page_uploads_csv_with_an_explicit_format_and_a_source(mod_client):
    response = mod_client.post(
        QUESTIONS_URL,
        {
            "file": upload("export.txt", CSV_HEADER + "Should buses be free?,,,1,ood_test\n"),
            "format": "csv",
            "source": "workshop",
        },
    )
    assert response.context["report"].created == 1
    assert Question.objects.get().source == "workshop"
    assert "Tessler, Bakker" not in response.content.decode()

    mod_client.post(
        QUESTIONS_URL,
        {"file": upload("hm_questions.json", json.dumps([entry(1)])), "format": "auto"},
    )
    response = mod_client.get(QUESTIONS_URL)
    assert "Habermas Machine question bank (Tessler, Bakker et al." in response.content.decode()


def test_the_page_refuses_a_malformed_or_unknown_or_too_big_file_with_a_clear_message(
    mod_client, settings
):
    """Bad input tried: broken JSON, a CSV without its header, a file whose extension names no
    format, and a file over the size limit."""
    cases = [
        (upload("bank.json", '[{"question": "Free buses?"'), "auto", "not valid JSON"),
        (upload("bank.csv", "Free buses?,,,1,train\n"), "auto", "needs a header row"),
        (upload("bank.xlsx", b"PK\x03\x04"), "auto", "ends neither in .json nor in .csv"),
        (upload("big.csv", b"question\n" + b"x" * IMPORT_BYTES_MAX), "auto", "the limit is 10 MB"),
    ]
    for file, format, message in cases:
        response = mod_client.post(QUESTIONS_URL, {"file": file, "format": format})
        assert response.status_code == 400
        assert response.context["report"] is None
        html = response.content.decode()
        assert message in html, message
        assert "Nothing was imported" in html
    assert Question.objects.count() == 0


def test_the_question_list_searches_by_text_topic_and_split_in_few_queries(mod_client):
    import_json(
        [entry(n, split="train" if n % 2 else "iid_test") for n in range(1, 121)]
        + [{"question": "Should libraries open on Sundays?", "topic": "culture"}]
    )
    with CaptureQueriesContext(connection) as queries:
        response = mod_client.get(QUESTIONS_URL)
    page_queries = len(queries)
    assert response.context["counts"] == {
        "total": 121,
        "train": 60,
        "iid_test": 60,
        "ood_test": 0,
        "no_split": 1,
        "topics": 4,
    }
    assert len(response.context["page"].object_list) == 50
    with CaptureQueriesContext(connection) as queries:
        mod_client.get(QUESTIONS_URL, {"page": 3})
    assert len(queries) == page_queries

    response = mod_client.get(QUESTIONS_URL, {"q": "LIBRARIES"})
    assert [q.text for q in response.context["page"].object_list] == [
        "Should libraries open on Sundays?"
    ]
    response = mod_client.get(QUESTIONS_URL, {"topic": "2", "split": "iid_test"})
    texts = [q.text for q in response.context["page"].object_list]
    assert texts and all(
        q.topic == "2" and q.split == "iid_test" for q in response.context["page"].object_list
    )
    assert response.context["counts"]["total"] == 20
    response = mod_client.get(QUESTIONS_URL, {"split": "none"})
    assert response.context["counts"]["total"] == 1
    assert "1 question matches" in response.content.decode()
    response = mod_client.get(QUESTIONS_URL, {"q": "trees", "page": 2})
    assert 'href="?q=trees&amp;page=3"' in response.content.decode()
