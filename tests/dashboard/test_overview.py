"""The overview page (/overview/): counts and a chart of conversations started per day for 30 days."""

import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations.models import Conversation, Item
from tests.dashboard.helpers import login_redirect
from tests.factories import append_messages, make_conversation

pytestmark = pytest.mark.django_db

URL = "/overview/"
BAR = re.compile(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)">'
                 r"<title>(\d{4}-\d\d-\d\d): (\d+) conversations?</title></rect>")


def stats(page: str) -> dict[str, str]:
    return dict(re.findall(r"<header>(\w+)</header><p class=\"stat\">(\d+)</p>", page))


def bars(page: str) -> list[tuple[str, int, float]]:
    """(day, count, height) of each bar, left to right."""
    return [(day, int(count), float(height)) for _, _, _, height, day, count in BAR.findall(page)]


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (302, login_redirect(URL))


def test_an_empty_database_shows_zeros_and_30_empty_bars(viewer_client):
    page = viewer_client.get(URL).content.decode()
    assert stats(page) == {"Projects": "0", "Conversations": "0", "Items": "0"}
    assert [count for _, count, _ in bars(page)] == [0] * 30
    assert {height for _, _, height in bars(page)} == {0.0}


def test_the_numbers_are_right_just_after_seeding(viewer_client, project, other_project):
    before = stats(viewer_client.get(URL).content.decode())
    assert before == {"Projects": "2", "Conversations": "0", "Items": "0"}
    for _ in range(3):
        append_messages(make_conversation(project), 2)
    make_conversation(other_project, items=[{"role": "user", "content": "x"}])
    page = viewer_client.get(URL).content.decode()
    assert stats(page) == {"Projects": "2", "Conversations": "4", "Items": "7"}
    assert "4 started in the last 24 hours" in page


def test_the_numbers_are_right_just_after_the_seed_command(viewer_client):
    viewer_client.get(URL)
    out = io.StringIO()
    call_command("seed", "--conversations", "90", "--items-per-conversation", "4", "--no-progress",
                 stdout=out, stderr=io.StringIO())
    assert "Seeded 90 conversations and 360 items" in out.getvalue()
    page = viewer_client.get(URL).content.decode()
    assert stats(page) == {"Projects": "1", "Conversations": "90", "Items": "360"}
    since = timezone.now() - timedelta(hours=24)
    assert f"{Conversation.objects.filter(created_at__gte=since).count()} started in the last 24 hours" in page
    per_day = Counter(str(timezone.localdate(at)) for at in Conversation.objects.values_list("created_at", flat=True))
    chart = bars(page)
    assert [count for _, count, _ in chart] == [per_day.get(day, 0) for day, _, _ in chart]
    assert 28 <= sum(count for _, count, _ in chart) <= 32  # a third of 90 days' worth


def test_the_last_24_hours_leave_out_older_rows(viewer_client, project):
    old = make_conversation(project, items=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    Conversation.objects.filter(pk=old.pk).update(created_at=days_ago(3))
    Item.objects.filter(conversation=old).update(created_at=days_ago(3))
    make_conversation(project, items=[{"role": "user", "content": "c"}])
    page = viewer_client.get(URL).content.decode()
    assert stats(page) == {"Projects": "1", "Conversations": "2", "Items": "3"}
    assert "1 started in the last 24 hours" in page


def test_the_chart_is_an_svg_with_30_bars_one_per_day_ending_today(viewer_client, project):
    page = viewer_client.get(URL).content.decode()
    assert '<svg class="chart" viewBox="0 0 600 160" role="img"' in page
    assert page.count("<rect ") == 30
    today = timezone.now().date()
    assert [day for day, _, _ in bars(page)] == [str(today - timedelta(days=29 - n)) for n in range(30)]
    assert f"{today - timedelta(days=29)} to {today} (UTC days)" in page


def test_each_bar_counts_the_conversations_started_that_day_scaled_to_the_peak(viewer_client, project):
    older = [make_conversation(project) for _ in range(2)]
    Conversation.objects.filter(pk__in=[c.pk for c in older]).update(created_at=days_ago(3))
    for _ in range(4):
        make_conversation(project)
    page = viewer_client.get(URL).content.decode()
    chart = bars(page)
    assert [count for _, count, _ in chart] == [0] * 26 + [2, 0, 0, 4]
    assert "(peak 4)" in page
    assert chart[-1][2] == 140.0  # the peak reaches the top (160 high, 20 kept free)
    assert chart[-4][2] == 70.0
    assert "<title>" + chart[-1][0] + ": 4 conversations</title>" in page


def test_conversations_older_than_30_days_count_in_totals_but_not_in_the_chart(viewer_client, project):
    conversation = make_conversation(project)
    append_messages(conversation, 3)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=days_ago(40))
    page = viewer_client.get(URL).content.decode()
    assert stats(page)["Conversations"] == "1" and stats(page)["Items"] == "3"
    assert sum(count for _, count, _ in bars(page)) == 0

@pytest.mark.postgres_only
def test_big_tables_show_postgresqls_estimate_marked_as_such(viewer_client, project, monkeypatch):
    from django.db import connection

    from conversations import queries

    append_messages(make_conversation(project), 3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_item")
        cursor.execute("ANALYZE conversations_conversation")
    monkeypatch.setattr(queries, "EXACT_COUNT_LIMIT", 0)  # as if the tables were big
    page = viewer_client.get(URL).content.decode()
    assert page.count("""<abbr title="PostgreSQL's estimate">≈</abbr>""") == 2
    assert "≈</abbr>1</p>" in page and "≈</abbr>3</p>" in page
