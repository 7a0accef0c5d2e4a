from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_console_experts')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Application',
            name=None,
            fields=['region', 'status', 'decision_due'],
        ),
        ops.AddIndex(
            model_name='Application',
            index=Index(fields=['region', 'status', 'decision_due', 'urgent']),
        ),
        ops.AddIndex(
            model_name='Application',
            index=Index(fields=['region', 'decided_at']),
        ),
        ops.AddIndex(
            model_name='Application',
            index=Index(fields=['region', 'decision_due', 'decided_at']),
        ),
        ops.RemoveIndex(
            model_name='Callback',
            name=None,
            fields=['region', 'status', 'answered_at'],
        ),
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['region', 'status', 'answered_at', 'satisfied']),
        ),
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['region', 'status', 'due_at']),
        ),
        ops.AddIndex(
            model_name='Callback',
            index=Index(fields=['region', 'flagged', 'answered_at']),
        ),
        ops.AddIndex(
            model_name='CallbackFollowUp',
            index=Index(fields=['callback_id', 'resolved']),
        ),
        ops.RemoveIndex(
            model_name='Case',
            name=None,
            fields=['region', 'status', 'closed_on'],
        ),
        ops.AddIndex(
            model_name='Case',
            index=Index(fields=['region', 'status', 'closed_on', 'origin']),
        ),
    ]
