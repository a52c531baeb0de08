"""domains: decision log, identity resolution and master data, web follows/notifications/presence

Revision ID: 0002_domains
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

import somebound.store.base

revision = "0002_domains"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decision_catalogues',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_decision_catalogues'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('catalogue_version', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=128), nullable=True),
    sa.Column('treatment', sa.String(length=32), nullable=True),
    sa.Column('logged_probability', sa.Float(), nullable=True),
    sa.Column('control_group', sa.Boolean(), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('bins', sa.JSON(), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    op.create_index('ix_decisions_customer_at', 'decisions', ['customer_id', 'at'], unique=False)
    op.create_table('identity_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('identity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_audit'))
    )
    op.create_table('identity_labels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('identity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('other_customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('is_match', sa.Boolean(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_labels'))
    )
    op.create_table('identity_models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('model', sa.JSON(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_models'))
    )
    op.create_table('customer_field_lineage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attribute', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('previous_value', sa.JSON(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('set_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('merge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_field_lineage_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_field_lineage'))
    )
    op.create_index('ix_customer_field_lineage_customer', 'customer_field_lineage', ['customer_id', 'attribute'], unique=False)
    op.create_table('customer_merges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('survivor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merged_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('merged_by', sa.String(length=64), nullable=False),
    sa.Column('merged_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('unmerged_by', sa.String(length=64), nullable=True),
    sa.Column('unmerged_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merged_id'], ['customers.id'], name=op.f('fk_customer_merges_merged_id_customers')),
    sa.ForeignKeyConstraint(['survivor_id'], ['customers.id'], name=op.f('fk_customer_merges_survivor_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges'))
    )
    op.create_table('decision_outcomes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=128), nullable=False),
    sa.Column('treatment', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_decision_outcomes_decision_id_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_outcomes'))
    )
    op.create_index('ix_decision_outcomes_customer_at', 'decision_outcomes', ['customer_id', 'at'], unique=False)
    op.create_index('ix_decision_outcomes_decision', 'decision_outcomes', ['decision_id'], unique=False)
    op.create_table('web_follows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_web_follows_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_follows')),
    sa.UniqueConstraint('agent_id', 'target_kind', 'target_id', name='uq_web_follows_target')
    )
    op.create_index('ix_web_follows_target', 'web_follows', ['target_kind', 'target_id'], unique=False)
    op.create_table('web_notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=128), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('read', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_web_notifications_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_notifications')),
    sa.UniqueConstraint('agent_id', 'dedupe_key', name='uq_web_notifications_dedupe')
    )
    op.create_index('ix_web_notifications_agent', 'web_notifications', ['agent_id', 'read', 'id'], unique=False)
    op.create_table('web_presence',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seen_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('composing', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_web_presence_agent_id_agents')),
    sa.PrimaryKeyConstraint('case_id', 'agent_id', name=op.f('pk_web_presence'))
    )
    op.create_table('identity_link_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('identity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('previous_customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('evidence', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('merge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], name=op.f('fk_identity_link_history_identity_id_identities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_link_history'))
    )
    op.create_index('ix_identity_link_history_identity', 'identity_link_history', ['identity_id'], unique=False)
    op.create_table('identity_review_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('identity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('other_customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('match_weight', sa.Float(), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_identity_review_items_customer_id_customers')),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], name=op.f('fk_identity_review_items_identity_id_identities')),
    sa.ForeignKeyConstraint(['other_customer_id'], ['customers.id'], name=op.f('fk_identity_review_items_other_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_review_items'))
    )
    op.create_index('ix_identity_review_items_status', 'identity_review_items', ['status', 'id'], unique=False)


    # the inbox's keyset order (api/queries.list_cases): most urgent SLA first, no clock last
    op.create_index("ix_cases_sla_order", "cases",
                    [sa.text("(sla_due_at IS NULL)"), "sla_due_at", "id"])
    op.create_index("ix_cases_queue_sla_order", "cases",
                    ["queue", sa.text("(sla_due_at IS NULL)"), "sla_due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_queue_sla_order", table_name="cases")
    op.drop_index("ix_cases_sla_order", table_name="cases")
    op.drop_index('ix_identity_review_items_status', table_name='identity_review_items')
    op.drop_table('identity_review_items')
    op.drop_index('ix_identity_link_history_identity', table_name='identity_link_history')
    op.drop_table('identity_link_history')
    op.drop_table('web_presence')
    op.drop_index('ix_web_notifications_agent', table_name='web_notifications')
    op.drop_table('web_notifications')
    op.drop_index('ix_web_follows_target', table_name='web_follows')
    op.drop_table('web_follows')
    op.drop_index('ix_decision_outcomes_decision', table_name='decision_outcomes')
    op.drop_index('ix_decision_outcomes_customer_at', table_name='decision_outcomes')
    op.drop_table('decision_outcomes')
    op.drop_table('customer_merges')
    op.drop_index('ix_customer_field_lineage_customer', table_name='customer_field_lineage')
    op.drop_table('customer_field_lineage')
    op.drop_table('identity_models')
    op.drop_table('identity_labels')
    op.drop_table('identity_audit')
    op.drop_index('ix_decisions_customer_at', table_name='decisions')
    op.drop_table('decisions')
    op.drop_table('decision_catalogues')
