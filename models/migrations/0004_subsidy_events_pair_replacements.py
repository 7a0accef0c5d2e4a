from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_console_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PairReplacement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pair', fields.ForeignKeyField('models.EvaluationPair', source_field='pair_id', db_constraint=True, to_field='id', related_name='replacements', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=8)),
                ('old_expert', fields.ForeignKeyField('models.Expert', source_field='old_expert_id', db_constraint=True, to_field='id', related_name='replaced_in', on_delete=OnDelete.RESTRICT)),
                ('new_expert', fields.ForeignKeyField('models.Expert', source_field='new_expert_id', db_constraint=True, to_field='id', related_name='replacing_in', on_delete=OnDelete.RESTRICT)),
                ('actor', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pair_replacement', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An expert of a pair replaced while the round was open (disabled, ill, a late conflict):'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubsidyEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subsidy', fields.ForeignKeyField('models.Subsidy', source_field='subsidy_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('action', fields.CharField(max_length=16)),
                ('amount', fields.DecimalField(null=True, max_digits=10, decimal_places=2)),
                ('note', fields.CharField(null=True, max_length=200)),
                ('actor', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'subsidy_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One money record on a subsidy, or the undo of one: who, when, how much, why.'},
            bases=['Model'],
        ),
    ]
