"""Let the planner see rare metadata pairs as rare (PostgreSQL only).

With the default statistics target, ANALYZE keeps only the frequent pairs (plan=free, ...) as
most common elements; a pair missing from that list is then guessed at 0.5% of the rows
(PostgreSQL's default for array containment), so at 1M conversations a user_id filter walked
the created_at index past every row (490 ms) instead of taking the GIN index (5 ms). A larger
target keeps many more elements, so the least common kept one - the bound the planner uses for
pairs it has not kept - is close to the true frequency of a user_id. ANALYZE of 1M conversations
took 12 s with it.
"""

from django.db import migrations

from conversations.migrations import _postgres


class Migration(migrations.Migration):
    dependencies = [("conversations", "0004_retention_and_portability")]

    operations = [
        _postgres.RunSQLOnPostgres(
            "ALTER TABLE conversations_conversation ALTER COLUMN metadata_pairs SET STATISTICS 10000",
            "ALTER TABLE conversations_conversation ALTER COLUMN metadata_pairs SET STATISTICS -1",
        ),
    ]
