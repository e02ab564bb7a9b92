"""export_conversations and import_conversations: a lossless round trip, idempotent imports,
bad lines reported by number with nothing half-written, and the export's filters."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from conversations import importing, portability, services
from conversations.models import AuditEvent, Conversation, Item, Project
from tests.factories import append_messages, make_conversation, make_messages

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def export(tmp_path, *args, name="export.jsonl") -> str:
    path = tmp_path / name
    run("export_conversations", "-o", str(path), *args)
    return path.read_text(encoding="utf-8")


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def set_created_at(conversation, when: datetime) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when)


@pytest.fixture
def conversations_to_export(project, other_project, item_examples):
    """Two projects; every item type; an item deleted (a gap in positions); an empty
    conversation; unicode; items appended at different times."""
    everything = make_conversation(project, items=item_examples["valid_inputs"][:20],
                                   metadata={"user_id": "u1", "note": "naïve ☃ \"quoted\""})
    services.items_append(conversation=everything, actor=services.SYSTEM, items=item_examples["valid_inputs"][20:])
    long = make_conversation(other_project, items=make_messages(3), metadata={"plan": "pro"})
    rows = append_messages(long, 45, prefix="later")
    services.item_delete(conversation=long, actor=services.SYSTEM, item_id=rows[7].public_id)
    empty = make_conversation(project)
    return [everything, long, empty]


def empty_the_database() -> None:
    Item.objects.all().delete()
    Conversation.objects.all().delete()
    AuditEvent.objects.all().delete()
    Project.objects.all().delete()


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_file(tmp_path, conversations_to_export):
    first = export(tmp_path, name="first.jsonl")
    empty_the_database()

    out, _ = run("import_conversations", str(tmp_path / "first.jsonl"))

    assert "3 created" in out and "0 failed" in out
    assert export(tmp_path, name="second.jsonl") == first


def test_the_round_trip_keeps_ids_times_order_metadata_and_bodies(tmp_path, conversations_to_export):
    everything, long, _ = conversations_to_export
    before = {c.public_id: (c.project.name, c.created_at, c.updated_at, c.metadata,
                            list(c.items.order_by("position").values_list("public_id", "body", "created_at")))
              for c in Conversation.objects.select_related("project")}
    export(tmp_path)
    empty_the_database()
    run("import_conversations", str(tmp_path / "export.jsonl"))

    after = {c.public_id: (c.project.name, c.created_at, c.updated_at, c.metadata,
                           list(c.items.order_by("position").values_list("public_id", "body", "created_at")))
             for c in Conversation.objects.select_related("project")}
    assert after == before
    # Positions are dense again and the counters agree with them.
    copy = Conversation.objects.get(public_id=long.public_id)
    assert list(copy.items.order_by("position").values_list("position", flat=True)) == list(range(47))
    assert copy.item_count == copy.next_position == 47
    # Searchable text is rebuilt by the same rules as the API's.
    assert Item.objects.filter(conversation=copy, text__contains="later 20+").exists()


def test_each_line_is_one_conversation_with_exact_times(tmp_path, conversations_to_export):
    everything, long, empty = conversations_to_export
    everything.refresh_from_db()
    exported = lines(export(tmp_path))

    assert [line["id"] for line in exported] == [everything.public_id, long.public_id, empty.public_id]
    first = exported[0]
    assert list(first) == list(portability.FIELDS)
    assert first["project"] == "acme"
    assert datetime.fromisoformat(first["created_at"]) == everything.created_at
    assert first["created_at"].endswith("+00:00") and "." in first["created_at"]
    assert len(first["items"]) == len(first["items_created_at"]) == everything.item_count
    assert first["items"] == [item.body for item in everything.items.order_by("position")]
    assert exported[2]["items"] == []


def test_bodies_keep_what_the_api_only_returns_on_request(tmp_path, project):
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-secret"}
    make_conversation(project, items=[reasoning])
    [line] = lines(export(tmp_path))
    assert line["items"][0]["encrypted_content"] == "gAAAA-secret"


def test_importing_the_same_file_again_changes_nothing(tmp_path, conversations_to_export):
    export(tmp_path)
    empty_the_database()
    run("import_conversations", str(tmp_path / "export.jsonl"))
    events = AuditEvent.objects.count()
    state = list(Item.objects.order_by("pk").values_list("pk", "conversation_id", "position", "public_id"))

    out, _ = run("import_conversations", str(tmp_path / "export.jsonl"))

    assert "0 created, 0 appended to, 0 updated, 3 unchanged, 0 failed; 0 item(s) written" in out
    assert AuditEvent.objects.count() == events
    assert list(Item.objects.order_by("pk").values_list("pk", "conversation_id", "position", "public_id")) == state


def test_a_later_export_only_appends_what_is_new(tmp_path, project):
    conversation = make_conversation(project, items=make_messages(3), metadata={"stage": "one"})
    export(tmp_path, name="early.jsonl")
    append_messages(conversation, 2, prefix="new")
    services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata={"stage": "two"})
    export(tmp_path, name="late.jsonl")
    empty_the_database()
    run("import_conversations", str(tmp_path / "early.jsonl"))

    out, _ = run("import_conversations", str(tmp_path / "late.jsonl"))

    assert "1 appended to" in out and "2 item(s) written" in out
    copy = Conversation.objects.get(public_id=conversation.public_id)
    assert copy.item_count == 5 and copy.metadata == {"stage": "two"}
    event = AuditEvent.objects.filter(action="conversation.import").latest("pk")
    assert event.details["outcome"] == "appended" and event.details["items_added"] == 2
    assert event.details["metadata"] == {"added": [], "removed": [], "changed": ["stage"]}
    assert (tmp_path / "late.jsonl").read_text() == export(tmp_path, name="again.jsonl")


def test_a_conversation_stored_with_other_items_is_a_reported_conflict(tmp_path, project):
    conversation = make_conversation(project, items=make_messages(3))
    export(tmp_path)
    services.item_delete(conversation=conversation, actor=services.SYSTEM,
                         item_id=conversation.items.order_by("position").first().public_id)

    with pytest.raises(CommandError, match="1 failed"):
        run("import_conversations", str(tmp_path / "export.jsonl"))
    assert Conversation.objects.get().item_count == 2


def test_an_id_taken_in_another_project_is_refused(tmp_path, project, other_project):
    conversation = make_conversation(project, items=make_messages(2))
    export(tmp_path)
    err = StringIO()
    with pytest.raises(CommandError, match="1 failed"):
        call_command("import_conversations", str(tmp_path / "export.jsonl"), "--project", "globex",
                     "--no-progress", stdout=StringIO(), stderr=err)
    assert f"line 1 {conversation.public_id}: Conversation '{conversation.public_id}' already exists in " \
           "project 'acme'" in err.getvalue()
    assert not Conversation.objects.filter(project=other_project).exists()


def test_project_option_puts_everything_into_one_project(tmp_path, conversations_to_export):
    export(tmp_path)
    empty_the_database()
    run("import_conversations", str(tmp_path / "export.jsonl"), "--project", "restored")
    assert set(Conversation.objects.values_list("project__name", flat=True)) == {"restored"}


def good_line(n: int, items: int = 2) -> str:
    return json.dumps({"id": f"conv_import_{n}", "project": "acme", "created_at": "2026-01-02T03:04:05.123456Z",
                       "metadata": {"n": str(n)},
                       "items": [{"role": "user", "content": f"line {n} item {i}", "id": f"msg_{n}_{i}"}
                                 for i in range(items)]})


def test_bad_lines_are_reported_by_number_and_nothing_of_them_is_written(tmp_path, db):
    bad_item = json.loads(good_line(3, items=8))
    bad_item["items"][5] = {"type": "function_call", "id": "fc_1", "name": "lookup"}  # no call_id, no arguments
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        good_line(1),
        '{"id": "conv_broken", "items": [',
        json.dumps(bad_item),
        "",
        json.dumps({"id": "conv_x", "metdata": {}}),
        json.dumps({"id": "conv_y", "project": "acme", "items": [], "created_at": "yesterday"}),
        good_line(7),
    ]) + "\n")
    err = StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("import_conversations", str(path), "--no-progress", stdout=StringIO(), stderr=err)

    assert "2 created" in str(failure.value) and "4 failed" in str(failure.value)
    report = err.getvalue().splitlines()
    assert report[0].startswith("line 2: Not valid JSON")
    assert report[1].startswith("line 3 conv_import_3: Missing required parameter: 'items[5].")
    assert report[2].startswith("line 5 conv_x: Unknown field(s) 'metdata'")
    assert report[3].startswith("line 6 conv_y: Invalid 'created_at'")
    assert sorted(Conversation.objects.values_list("public_id", flat=True)) == ["conv_import_1", "conv_import_7"]
    assert not Item.objects.filter(public_id__startswith="msg_3_").exists()


def test_items_over_the_api_batch_limit_are_fine_in_a_file(tmp_path, db):
    path = tmp_path / "big.jsonl"
    path.write_text(good_line(1, items=250) + "\n")
    run("import_conversations", str(path))
    assert Conversation.objects.get().item_count == 250


def test_items_are_checked_by_the_api_rules(tmp_path, db):
    line = json.loads(good_line(1))
    line["items"].append({"role": "user", "content": "dup", "id": "msg_1_0"})
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(line) + "\n")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_conversations", str(path), "--no-progress", stdout=StringIO(), stderr=err)
    assert "Duplicate item id 'msg_1_0'" in err.getvalue()


def test_import_refuses_a_missing_file(tmp_path, db):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_conversations", str(tmp_path / "nope.jsonl"))


def test_gzip_files_round_trip(tmp_path, conversations_to_export):
    run("export_conversations", "-o", str(tmp_path / "export.jsonl.gz"))
    plain = export(tmp_path)
    empty_the_database()
    run("import_conversations", str(tmp_path / "export.jsonl.gz"))
    assert export(tmp_path, name="again.jsonl") == plain


# --- the export's filters and outputs -----------------------------------------------------------------


def test_export_filters_by_project_metadata_and_creation_time(tmp_path, project, other_project):
    old = make_conversation(project, metadata={"plan": "pro", "user_id": "u1"})
    set_created_at(old, datetime(2026, 1, 1, tzinfo=UTC))
    new = make_conversation(project, metadata={"plan": "pro", "user_id": "u2"})
    set_created_at(new, datetime(2026, 3, 1, 12, tzinfo=UTC))
    other = make_conversation(other_project, metadata={"plan": "pro"})
    set_created_at(other, datetime(2026, 3, 2, tzinfo=UTC))

    def ids(*args):
        return [line["id"] for line in lines(export(tmp_path, *args))]

    assert ids() == [old.public_id, new.public_id, other.public_id]
    assert ids("--project", "acme") == [old.public_id, new.public_id]
    assert ids("--metadata", "plan=pro", "user_id=u2") == [new.public_id]
    assert ids("--metadata", "plan=pro", "--metadata", "user_id=u1") == [old.public_id]
    assert ids("--since", "2026-03-01") == [new.public_id, other.public_id]
    assert ids("--since", "2026-03-01T13:00:00+00:00") == [other.public_id]
    assert ids("--project", "globex", "--since", "2026-03-03") == []
    # An offset PostgreSQL refuses (beyond ±15:59) is the same instant in UTC: 2026-03-01T16:00Z.
    assert ids("--since", "2026-03-01T00:00:00-16:00") == [other.public_id]


@pytest.mark.parametrize("args, message", [
    (["--project", "nope"], "No project named 'nope'"),
    (["--metadata", "plan"], "KEY=VALUE"),
    (["--metadata", "=x"], "keys must be non-empty"),
    (["--since", "last tuesday"], "--since wants a date"),
    (["--since", "2026-02-30"], "--since wants a date"),
    (["--since", "0001-01-01T00:00:00+01:00"], "outside the years 1 to 9999"),
])
def test_export_explains_mistakes(tmp_path, project, args, message):
    with pytest.raises(CommandError, match=message):
        run("export_conversations", *args)


@pytest.mark.parametrize("since", ["2026-03-01", "2026-03-01 13:00", "2026-03-01T13:00:00Z", "03/02/2026",
                                   "2026-03-01T12:00:00.000001+00:00"])
def test_export_since_reads_dates_as_the_apis_created_after_does(tmp_path, api, project, since):
    """One parser (the ConversationFilter's): the export used to refuse what the API accepts."""
    for month, day, hour in [(2, 28, 12), (3, 1, 12), (3, 1, 14), (3, 2, 0), (3, 3, 0)]:
        set_created_at(make_conversation(project), datetime(2026, month, day, hour, tzinfo=UTC))
    exported = {line["id"] for line in lines(export(tmp_path, "--since", since))}
    listed = {c["id"] for c in api.get("/v1/conversations", {"created_after": since, "limit": 100}).json()["data"]}
    assert exported == listed and 0 < len(exported) < 5


def test_export_takes_at_most_as_many_metadata_filters_as_the_api(tmp_path, project):
    make_conversation(project, metadata={f"k{n}": "v" for n in range(16)})
    assert len(lines(export(tmp_path, "--metadata", *[f"k{n}=v" for n in range(16)]))) == 1
    with pytest.raises(CommandError, match="at most 16"):
        run("export_conversations", "--metadata", *[f"k{n}=v" for n in range(17)])


def test_export_to_standard_output_keeps_the_summary_out_of_the_data(conversations_to_export):
    out, err = run("export_conversations")
    assert len(lines(out)) == 3
    assert err.startswith("Exported 3 conversation(s) and 82 item(s)")


def test_export_to_a_file_leaves_no_partial_file_and_prints_the_summary(tmp_path, conversations_to_export):
    out, _ = run("export_conversations", "-o", str(tmp_path / "x.jsonl"))
    assert out.startswith("Exported 3 conversation(s)")
    assert [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]


def test_export_into_a_missing_directory_is_a_clear_error(tmp_path, conversations_to_export):
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_conversations", "-o", str(tmp_path / "no" / "x.jsonl"))


def test_export_pages_through_ties_and_long_conversations_alike(project):
    when = datetime(2026, 2, 1, tzinfo=UTC)
    made = []
    for n in range(7):
        conversation = make_conversation(project, items=make_messages(n % 4))
        set_created_at(conversation, when if n < 5 else when + timedelta(seconds=n))
        made.append(conversation.public_id)
    everything = Conversation.objects.all()

    small = [line.text for line in portability.export_lines(everything, conversations_per_query=2,
                                                            items_per_query=3)]
    default = [line.text for line in portability.export_lines(everything)]

    assert small == default
    assert [json.loads(text)["id"] for text in small] == made


def test_export_reads_a_constant_number_of_queries_per_page(project, django_assert_num_queries):
    for _ in range(6):
        make_conversation(project, items=make_messages(3))
    # 6 conversations, 4 per page: page 1 (+ its items), page 2 (+ its items), no third query.
    with django_assert_num_queries(4):
        assert len(list(portability.export_lines(Conversation.objects.all(), conversations_per_query=4))) == 6


@pytest.mark.django_db(transaction=True)
def test_export_outside_a_transaction_reads_one_snapshot(tmp_path, project):
    # On PostgreSQL this runs in a read-only REPEATABLE READ transaction; on SQLite page by page.
    make_conversation(project, items=make_messages(2))
    out, err = run("export_conversations")
    assert len(lines(out)) == 1 and "2 item(s)" in err


@pytest.mark.django_db(transaction=True)
def test_import_outside_a_transaction_ends_durable(tmp_path):
    # On PostgreSQL the lines commit without waiting for the disk, and one synchronous commit at
    # the end flushes them all; the session is left as it was found.
    from django.db import connection

    path = tmp_path / "two.jsonl"
    path.write_text(good_line(1) + "\n" + good_line(2) + "\n")
    out, _ = run("import_conversations", str(path))
    assert "2 created" in out
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)


def test_a_conversation_twice_in_one_file_is_created_then_appended_to(tmp_path, project):
    conversation = make_conversation(project, items=make_messages(2))
    early = export(tmp_path, name="early.jsonl")
    append_messages(conversation, 3, prefix="new")
    late = export(tmp_path, name="late.jsonl")
    empty_the_database()
    (tmp_path / "both.jsonl").write_text(early + late)

    out, _ = run("import_conversations", str(tmp_path / "both.jsonl"))

    assert "1 created, 1 appended to" in out
    assert export(tmp_path, name="again.jsonl") == late


def test_when_a_batch_collides_with_a_concurrent_writer_each_line_is_imported_alone(tmp_path, project,
                                                                                    monkeypatch):
    already = make_conversation(project, items=make_messages(2))
    export(tmp_path)
    new = json.loads(good_line(1))
    with open(tmp_path / "export.jsonl", "a") as file:
        file.write(json.dumps(new) + "\n")
    # As if `already` had been created between the batch's lookup and its insert.
    monkeypatch.setattr(importing, "_stored", lambda public_ids: {})

    out, _ = run("import_conversations", str(tmp_path / "export.jsonl"))

    assert "1 created, 0 appended to, 0 updated, 1 unchanged, 0 failed" in out
    assert Conversation.objects.get(public_id=already.public_id).item_count == 2
    assert Conversation.objects.get(public_id="conv_import_1").item_count == 2


def test_the_batch_service_answers_one_result_per_request_in_order(project):
    requests = [
        importing.ImportRequest(project=project, public_id=f"conv_b{n}", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                               metadata={} if n != 1 else {"k": 1}, items=make_messages(n))
        for n in range(3)
    ]
    results = importing.conversations_import(requests=requests, actor=services.SYSTEM)
    assert [getattr(r, "outcome", None) for r in results] == ["created", None, "created"]
    assert results[1].param == "metadata"
    assert list(Conversation.objects.order_by("pk").values_list("public_id", "item_count")) == \
        [("conv_b0", 0), ("conv_b2", 2)]
    assert AuditEvent.objects.filter(action="conversation.import").count() == 2


# --- input that must not break an import (issue 9) ------------------------------------------------


def tool_line(n: int, arguments: str) -> str:
    """A line whose one item carries `arguments` verbatim (a tool_search_call's arguments may be any JSON)."""
    return ('{"id": "conv_import_' + str(n) + '", "project": "acme", "items": [{"type": "tool_search_call", '
            '"id": "tsc_' + str(n) + '", "execution": "server", "arguments": ' + arguments + "}]}")


def run_failing(*args) -> tuple[str, list[str]]:
    """Run a command expected to end with exit status 1: its summary, and its stderr lines."""
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(*args, "--no-progress", stdout=StringIO(), stderr=err)
    return str(failure.value), err.getvalue().splitlines()


def test_bad_lines_among_800_good_ones_are_skipped_and_every_good_line_is_stored(tmp_path, db):
    bad = {
        150: tool_line(150, '{"x": NaN}'),
        300: tool_line(300, '{"x": [1, Infinity]}'),
        301: tool_line(301, '{"x": -Infinity}'),
        302: tool_line(302, '{"x": 1e999}'),
        450: tool_line(450, "[" * 10_000 + "]" * 10_000),
        600: tool_line(600, '{"x": "' + "a" * 40_000 + '"}'),  # over --max-line-bytes
        601: json.dumps({"id": "conv_nul", "project": "a\u0000b", "items": []}),
    }
    rows, good = [], []
    for n in range(1, 808):
        if n in bad:
            rows.append(bad[n])
        else:
            rows.append(good_line(n))
            good.append(f"conv_import_{n}")
    assert len(good) == 800
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(rows) + "\n")

    summary, report = run_failing("import_conversations", str(path), "--max-line-bytes", "32768")

    assert "800 created" in summary and "7 failed" in summary
    assert sorted(Conversation.objects.values_list("public_id", flat=True)) == sorted(good)
    assert Item.objects.count() == 1600
    assert [line.split(":")[0] for line in report] == [
        "line 150 conv_import_150", "line 300 conv_import_300", "line 301 conv_import_301",
        "line 302 conv_import_302", "line 450", "line 600", "line 601 conv_nul"]
    assert "NaN" in report[0] and "Infinity" in report[1] and "-Infinity" in report[2]
    assert "1e999" in report[3]
    assert "nested more than" in report[4]
    assert "Longer than 32768 bytes" in report[5] and "--max-line-bytes" in report[5]
    assert "project" in report[6]


def test_nesting_up_to_the_limit_is_stored_and_one_level_more_is_refused(tmp_path, db):
    from conversations.validators import MAX_JSON_DEPTH

    # The line, the items array, the item and its arguments object hold the array four levels down.
    deepest = MAX_JSON_DEPTH - 4
    path = tmp_path / "deep.jsonl"
    path.write_text(tool_line(1, '{"x": ' + "[" * deepest + "]" * deepest + "}") + "\n"
                    + tool_line(2, '{"x": ' + "[" * (deepest + 1) + "]" * (deepest + 1) + "}") + "\n")

    summary, report = run_failing("import_conversations", str(path))

    assert list(Conversation.objects.values_list("public_id", flat=True)) == ["conv_import_1"]
    assert report == [f"line 2 conv_import_2: Not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep."]
    out, _ = run("export_conversations")
    assert json.loads(out)["items"][0]["arguments"] == json.loads('{"x": ' + "[" * deepest + "]" * deepest + "}")


def test_a_line_over_the_size_limit_is_skipped_without_reading_it_whole(tmp_path, db):
    import tracemalloc

    path = tmp_path / "huge.jsonl"
    with open(path, "w") as file:
        file.write(good_line(1) + "\n")
        file.write(tool_line(2, '{"x": "' + "a" * (32 * 1024 * 1024) + '"}') + "\n")
        file.write(good_line(3) + "\n")

    tracemalloc.start()
    try:
        summary, report = run_failing("import_conversations", str(path), "--max-line-bytes", "4096")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024  # the line is 32 MiB
    assert sorted(Conversation.objects.values_list("public_id", flat=True)) == ["conv_import_1", "conv_import_3"]
    assert report == ["line 2: Longer than 4096 bytes; give a larger --max-line-bytes to import it."]
    assert "2 created" in summary and "1 failed" in summary


def test_a_line_of_exactly_the_size_limit_is_read(tmp_path, db):
    line = good_line(1)
    path = tmp_path / "exact.jsonl"
    path.write_text(line + "\n" + good_line(2) + "\n" + line)
    run("import_conversations", str(path), "--max-line-bytes", str(len(line)))
    assert Conversation.objects.count() == 2


def test_the_line_size_limit_must_be_a_positive_number(tmp_path, db):
    path = tmp_path / "one.jsonl"
    path.write_text(good_line(1) + "\n")
    with pytest.raises(CommandError, match="max-line-bytes"):
        run("import_conversations", str(path), "--max-line-bytes", "0")


def test_a_truncated_gzip_file_keeps_every_line_before_the_cut(tmp_path, db):
    import gzip
    import zlib

    whole = gzip.compress("".join(good_line(n, items=3) + "\n" for n in range(1, 801)).encode(), mtime=0)
    cut = whole[: len(whole) * 2 // 3]
    before_the_cut = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")
    assert 300 < before_the_cut < 800
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)

    summary, report = run_failing("import_conversations", str(path))

    assert Conversation.objects.count() == before_the_cut
    assert Conversation.objects.filter(public_id=f"conv_import_{before_the_cut}").exists()
    assert report == [f"line {before_the_cut + 1}: The file is truncated or corrupt (Compressed file ended before "
                      "the end-of-stream marker was reached); nothing after this was read."]
    assert f"{before_the_cut} created" in summary and "1 failed" in summary


def test_a_file_that_is_not_gzip_is_reported_as_corrupt(tmp_path, db):
    path = tmp_path / "plain.jsonl.gz"
    path.write_text(good_line(1) + "\n")
    _, report = run_failing("import_conversations", str(path))
    assert report[0].startswith("line 1: The file is truncated or corrupt (Not a gzipped file")
    assert Conversation.objects.count() == 0


def test_when_the_database_refuses_a_batch_its_lines_are_written_one_by_one(tmp_path, db, monkeypatch):
    from django.db import DataError

    write_items = importing.write_items

    def refuse_conversation_5(timelines):
        if any(conversation.public_id == "conv_import_5" for conversation, *_ in timelines):
            raise DataError("invalid input syntax for type json")
        write_items(timelines)

    monkeypatch.setattr(importing, "write_items", refuse_conversation_5)
    path = tmp_path / "ten.jsonl"
    path.write_text("".join(good_line(n) + "\n" for n in range(1, 11)))

    summary, report = run_failing("import_conversations", str(path))

    assert Conversation.objects.count() == 9 and not Conversation.objects.filter(public_id="conv_import_5").exists()
    assert Item.objects.count() == 18
    assert report == ["line 5 conv_import_5: The database refused this conversation: "
                      "invalid input syntax for type json."]
    assert "9 created" in summary and "1 failed" in summary


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_that_cannot_be_told_in_utc_is_refused(tmp_path, db, when):
    path = tmp_path / "times.jsonl"
    line = json.loads(good_line(2))
    line["created_at"] = when
    path.write_text(good_line(1) + "\n" + json.dumps(line) + "\n")

    _, report = run_failing("import_conversations", str(path))

    assert report == ["line 2 conv_import_2: Invalid 'created_at': expected an ISO-8601 time such as "
                      "2026-03-01T09:30:00.123456+00:00. (created_at)"]
    assert list(Conversation.objects.values_list("public_id", flat=True)) == ["conv_import_1"]


def test_import_refreshes_the_planner_statistics_of_what_it_wrote(tmp_path, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def analyze_count(table):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [table])
            return cursor.fetchone()[0]

    tables = [Conversation._meta.db_table, Item._meta.db_table]
    postgres = connection.vendor == "postgresql"
    before = [analyze_count(table) for table in tables] if postgres else None
    path = tmp_path / "two.jsonl"
    path.write_text(good_line(1) + "\n" + good_line(2) + "\n")

    with CaptureQueriesContext(connection) as queries:
        run("import_conversations", str(path))

    statements = [query["sql"] for query in queries]
    if postgres:
        assert [analyze_count(table) for table in tables] == [count + 1 for count in before]
        assert any(sql.startswith("ANALYZE") for sql in statements)
    else:
        assert "PRAGMA optimize" in statements


def test_an_import_that_writes_nothing_analyzes_nothing(tmp_path, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = tmp_path / "one.jsonl"
    path.write_text(good_line(1) + "\n")
    run("import_conversations", str(path))
    with CaptureQueriesContext(connection) as queries:
        run("import_conversations", str(path))
    assert not [q["sql"] for q in queries if q["sql"].startswith(("ANALYZE", "PRAGMA"))]
