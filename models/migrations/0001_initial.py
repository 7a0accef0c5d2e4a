from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.outbox import OutboxStatus
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='CenterKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('region', fields.CharField(db_index=True, max_length=12)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=12)),
                ('label', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'center_key', 'app': 'models', 'pk_attr': 'id', 'table_description': "An API key of a centre's records system, scoped to one region. Only a hash is kept."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('openid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('locale', fields.CharField(default='zh_CN', max_length=8)),
                ('subscribed', fields.BooleanField(default=True)),
                ('flow', fields.CharField(null=True, max_length=32)),
                ('step', fields.CharField(null=True, max_length=32)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('history', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('paused', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('version', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'conversation', 'app': 'models', 'pk_attr': 'openid'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboundMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(unique=True, max_length=128)),
                ('openid', fields.CharField(db_index=True, max_length=64)),
                ('msg_type', fields.CharField(max_length=32)),
                ('reply', fields.TextField(null=True, unique=False)),
                ('received_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_message', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('period', fields.CharField(max_length=32)),
                ('finished_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'job_run', 'app': 'models', 'unique_together': (('name', 'period'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dedupe_key', fields.CharField(unique=True, max_length=191)),
                ('channel', fields.CharField(max_length=32)),
                ('recipient', fields.CharField(default='', max_length=255)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('kind', fields.CharField(default='message', max_length=48)),
                ('region', fields.CharField(null=True, db_index=True, max_length=12)),
                ('status', fields.CharField(default=OutboxStatus.PENDING, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Staff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=30)),
                ('region', fields.CharField(db_index=True, max_length=12)),
                ('openid', fields.CharField(unique=True, max_length=64)),
                ('supervisor', fields.BooleanField(default=False)),
                ('active', fields.BooleanField(default=True)),
                ('on_duty', fields.BooleanField(default=True)),
                ('replies', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'staff', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A centre staff member reachable in WeChat (alerts, digests, 人工 handoffs).'},
            bases=['Model'],
        ),
    ]
