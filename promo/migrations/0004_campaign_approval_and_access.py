# Campaign approvals (approval_status, approved_by/at, note, created_by) and the custom permissions of the
# back office: category-level access (django-guardian object permissions), approving campaigns, sorry
# coupons, disabling vouchers.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('promo', '0003_campaign_events'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='campaign',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('approve_campaign', 'Can approve or reject campaigns waiting for approval'), ('issue_sorry_coupon', 'Can issue sorry coupons from campaigns marked for it')]},
        ),
        migrations.AlterModelOptions(
            name='category',
            options={'ordering': ['hierarchy', 'name'], 'permissions': [('campaigns_read', 'Read the campaigns of this category'), ('campaigns_write', 'Change the campaigns of this category'), ('campaigns_none', 'No access to the campaigns of this category')], 'verbose_name_plural': 'categories'},
        ),
        migrations.AlterModelOptions(
            name='voucher',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('disable_voucher', 'Can disable or re-enable a voucher (customer service)')]},
        ),
        migrations.AddField(
            model_name='campaign',
            name='approval_note',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='campaign',
            name='approval_status',
            field=models.CharField(choices=[('APPROVED', 'Approved'), ('PENDING', 'Pending'), ('REJECTED', 'Rejected')], db_index=True, default='APPROVED', max_length=10),
        ),
        migrations.AddField(
            model_name='campaign',
            name='approved_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='campaign',
            name='approved_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='campaign',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
