"""STS GetCallerIdentity: who the caller's credentials belong to (tools ask it for an account id)."""

from __future__ import annotations

from ._registry import Call, Output, Params, operation


@operation("GetCallerIdentity", service="sts")
def get_caller_identity(call: Call, params: Params) -> Output:
    """The farm's account; for credentials an external store issued, that store's account (the
    one it compares `x-amz-expected-bucket-owner` with)."""
    account = (call.principal.scope or {}).get("account") or call.account_id
    return {
        "Account": account,
        "Arn": call.principal.arn,
        "UserId": call.principal.principal_id,
    }
