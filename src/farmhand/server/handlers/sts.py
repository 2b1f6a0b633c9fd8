"""STS GetCallerIdentity: who the caller's credentials belong to (tools ask it for an account id)."""

from __future__ import annotations

from ._registry import Call, Output, Params, operation


@operation("GetCallerIdentity", service="sts")
def get_caller_identity(call: Call, params: Params) -> Output:
    return {
        "Account": call.account_id,
        "Arn": call.principal.arn,
        "UserId": call.principal.principal_id,
    }
