"""insights and live pages: per-message listening insights, inbox sort indexes, event NOTIFY

Revision ID: 0003_insights_live
Revises: 0002_domains

- ``messages.insights``: the case keeps the first message's triage; per-message sentiment
  is what the critic -> advocate view compares before and after the company's answer.
- The inbox's other sort orders ("last update", "opened", "my cases") get keyset indexes
  in the shape of ``ix_cases_sla_order`` (see ``somebound.store.web.INBOX_INDEXES``).
- PostgreSQL: a statement trigger on ``events`` sends ``NOTIFY somebound_events`` at
  commit, so API processes hear what a separate worker process wrote
  (``somebound.api.live.EventRelay``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_insights_live"
down_revision = "0002_domains"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("insights", sa.JSON(), nullable=True))
    op.create_index("ix_cases_updated_order", "cases",
                    [sa.text("(updated_at IS NULL)"), "updated_at", "id"])
    op.create_index("ix_cases_opened_order", "cases",
                    [sa.text("(opened_at IS NULL)"), "opened_at", "id"])
    op.create_index("ix_cases_assignee_sla_order", "cases",
                    ["assignee_id", sa.text("(sla_due_at IS NULL)"), "sla_due_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        # one NOTIFY per inserting statement, sent at commit (none on rollback)
        op.execute("""CREATE OR REPLACE FUNCTION somebound_events_notify() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('somebound_events', '');
            RETURN NULL; END $$""")
        op.execute("""CREATE TRIGGER somebound_events_notify AFTER INSERT ON events
            FOR EACH STATEMENT EXECUTE FUNCTION somebound_events_notify()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS somebound_events_notify ON events")
        op.execute("DROP FUNCTION IF EXISTS somebound_events_notify()")
    op.drop_index("ix_cases_assignee_sla_order", table_name="cases")
    op.drop_index("ix_cases_opened_order", table_name="cases")
    op.drop_index("ix_cases_updated_order", table_name="cases")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("insights")
