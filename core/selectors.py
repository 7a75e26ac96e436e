from django.db.models import QuerySet

from core.errors import NotFound
from core.models import AsyncAction, MetadataSchema
from core.permissions import restrict


def async_action_list() -> QuerySet[AsyncAction]:
    """A key limited to categories sees the actions it started; other keys and staff see all (core.permissions)."""
    return restrict(AsyncAction.objects.defer("attachment", "payload"), action="view").order_by("-created_at", "-id")


def async_action_get(public_id: str) -> AsyncAction:
    action = async_action_list().filter(public_id=public_id).first()
    if action is None:
        raise NotFound.for_object("async action", public_id)
    return action


def metadata_schema_get(related_object: str) -> MetadataSchema:
    schema = MetadataSchema.objects.filter(related_object=related_object).first()
    if schema is None:
        raise NotFound(f"Cannot find metadata schema for {related_object}")
    return schema
