from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ConsoleLogin',
            name='expert',
            field=fields.ForeignKeyField('models.Expert', source_field='expert_id', null=True, db_constraint=True, to_field='id', related_name='console_logins', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='ConsoleSession',
            name='staff',
            field=fields.ForeignKeyField('models.Staff', source_field='staff_id', null=True, db_constraint=True, to_field='id', related_name='console_sessions', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='ConsoleSession',
            name='expert',
            field=fields.ForeignKeyField('models.Expert', source_field='expert_id', null=True, db_constraint=True, to_field='id', related_name='console_sessions', on_delete=OnDelete.CASCADE),
        ),
    ]
