"""core: inbox, dead letters, organisation, customers, identities, cases, messages, events

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

import somebound.store.base

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=128), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('username', name=op.f('uq_agents_username'))
    )
    op.create_table('channel_state',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_channel_state'))
    )
    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_number', sa.String(length=64), nullable=True),
    sa.Column('display_name', sa.String(length=256), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('erased', sa.Boolean(), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['customers.id'], name=op.f('fk_customers_merged_into_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('customer_number', name=op.f('uq_customers_customer_number'))
    )
    op.create_index('ix_customers_email', 'customers', ['email'], unique=False)
    op.create_index('ix_customers_phone', 'customers', ['phone'], unique=False)
    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('received_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('raw_inbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('bound', sa.String(length=16), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index('ix_events_at', 'events', ['at'], unique=False)
    op.create_index('ix_events_case', 'events', ['case_id'], unique=False)
    op.create_index('ix_events_type_at', 'events', ['type', 'at'], unique=False)
    op.create_table('queues',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('open_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('name', name=op.f('uq_queues_name'))
    )
    op.create_table('raw_inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('received_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('processed_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_inbox')),
    sa.UniqueConstraint('channel', 'payload_sha256', name='uq_raw_inbox_channel_sha')
    )
    op.create_index('ix_raw_inbox_pending', 'raw_inbox', ['status', 'id'], unique=False)
    op.create_table('teams',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_api_tokens_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256'))
    )
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('bound', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('thread_key', sa.String(length=512), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('parallel', sa.Boolean(), nullable=False),
    sa.Column('opened_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('solved_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sla_due_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('awaiting_since', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('message_count', sa.Integer(), nullable=False),
    sa.Column('routing_rule', sa.String(length=128), nullable=True),
    sa.Column('insights', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['agents.id'], name=op.f('fk_cases_assignee_id_agents')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_cases_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    op.create_index('ix_cases_customer_status', 'cases', ['customer_id', 'status'], unique=False)
    op.create_index('ix_cases_queue_status_due', 'cases', ['queue', 'status', 'sla_due_at'], unique=False)
    op.create_index('ix_cases_status_due', 'cases', ['status', 'sla_due_at'], unique=False)
    op.create_index('ix_cases_thread', 'cases', ['channel', 'thread_key'], unique=False)
    op.create_table('identities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=254), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('display_name', sa.String(length=256), nullable=True),
    sa.Column('handle', sa.String(length=128), nullable=True),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('first_seen', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('link_evidence', sa.String(length=16), nullable=True),
    sa.Column('linked_by', sa.String(length=64), nullable=True),
    sa.Column('linked_at', somebound.store.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('match_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_identities_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identities')),
    sa.UniqueConstraint('kind', 'key', name='uq_identities_kind_key')
    )
    op.create_index('ix_identities_customer', 'identities', ['customer_id'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('native_id', sa.String(length=512), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('identity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('author_key', sa.String(length=254), nullable=True),
    sa.Column('author_name', sa.String(length=256), nullable=True),
    sa.Column('is_company', sa.Boolean(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('in_reply_to', sa.String(length=512), nullable=True),
    sa.Column('sent_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('received_at', somebound.store.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('raw_inbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_messages_agent_id_agents')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_messages_case_id_cases')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_messages_customer_id_customers')),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], name=op.f('fk_messages_identity_id_identities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('channel', 'native_id', name='uq_messages_channel_native')
    )
    op.create_index('ix_messages_case', 'messages', ['case_id', 'sent_at'], unique=False)
    op.create_index('ix_messages_customer', 'messages', ['customer_id', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_customer', table_name='messages')
    op.drop_index('ix_messages_case', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_identities_customer', table_name='identities')
    op.drop_table('identities')
    op.drop_index('ix_cases_thread', table_name='cases')
    op.drop_index('ix_cases_status_due', table_name='cases')
    op.drop_index('ix_cases_queue_status_due', table_name='cases')
    op.drop_index('ix_cases_customer_status', table_name='cases')
    op.drop_table('cases')
    op.drop_table('api_tokens')
    op.drop_table('teams')
    op.drop_index('ix_raw_inbox_pending', table_name='raw_inbox')
    op.drop_table('raw_inbox')
    op.drop_table('queues')
    op.drop_index('ix_events_type_at', table_name='events')
    op.drop_index('ix_events_case', table_name='events')
    op.drop_index('ix_events_at', table_name='events')
    op.drop_table('events')
    op.drop_table('dead_letters')
    op.drop_index('ix_customers_phone', table_name='customers')
    op.drop_index('ix_customers_email', table_name='customers')
    op.drop_table('customers')
    op.drop_table('channel_state')
    op.drop_table('agents')
