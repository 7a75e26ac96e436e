"""The back office's own endpoints under /v1 (project extensions): approving campaigns."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import StrictCharField, optional
from promo import approvals
from promo import campaign_selectors as selectors

APPROVAL_TAG = ["campaign approvals"]


class ApprovalRequestSerializer(serializers.Serializer):
    note = optional(StrictCharField, allow_blank=True, max_length=2000)


ApprovalResponse = inline_serializer("CampaignApproval", {
    "id": serializers.CharField(), "object": serializers.CharField(), "approval_status": serializers.CharField(),
    "active": serializers.BooleanField(), "approved_by": serializers.CharField(allow_null=True),
    "approved_at": serializers.DateTimeField(allow_null=True), "approval_note": serializers.CharField()})


def _approval_json(campaign) -> dict:
    approver = campaign.approved_by.get_username() if campaign.approved_by_id else None
    return {"id": campaign.public_id, "object": "campaign_approval", "approval_status": campaign.approval_status,
            "active": campaign.is_live, "approved_by": approver, "approved_at": campaign.approved_at,
            "approval_note": campaign.approval_note}


class CampaignApproveView(APIView):
    scoped = ("promo.Campaign",)
    decide = staticmethod(approvals.approve)

    @extend_schema(tags=APPROVAL_TAG, operation_id="approve-campaign", request=ApprovalRequestSerializer,
                   responses=ApprovalResponse, summary="Approve a campaign waiting for approval (project extension)",
                   description="By a Marketer or Admin other than its creator, from a staff session (API keys "
                               "cannot approve). The campaign is enabled and its codes redeem from now on.")
    def post(self, request, campaign_id: str):
        data = request.data if isinstance(request.data, dict) else {}
        ApprovalRequestSerializer(data=data).is_valid(raise_exception=True)
        campaign = selectors.campaign_get(campaign_id)
        return Response(_approval_json(self.decide(campaign, request.user, data.get("note") or "")))


class CampaignRejectView(CampaignApproveView):
    decide = staticmethod(approvals.reject)

    @extend_schema(tags=APPROVAL_TAG, operation_id="reject-campaign", request=ApprovalRequestSerializer,
                   responses=ApprovalResponse, summary="Reject a campaign waiting for approval (project extension)")
    def post(self, request, campaign_id: str):
        return super().post(request, campaign_id)
