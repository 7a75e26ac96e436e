"""Users and groups (roles) in the admin, with their changes in the audit log."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from core.admin_mixins import AuditedAdminMixin

# The admin's index links to the back-office pages (customer-service console, campaign wizard).
admin.site.index_template = "backoffice/admin_index.html"

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass
