"""Tags on farms, queues and fleets, addressed by ARN."""

from __future__ import annotations

import re

from sqlalchemy import and_, delete, select

from ...arns import parse_arn
from ..protocol import ResourceNotFoundError, ValidationError
from ..store import find_document, tags
from ._common import save_tags
from ._registry import Call, Output, Params, operation

_PATH = re.compile(
    r"^farm/(?P<farm>farm-[0-9a-f]{32})(?:/(?P<kind>queue|fleet)/(?P<child>(?:queue|fleet)-[0-9a-f]{32}))?$"
)


def _require_taggable(call: Call, arn: str) -> None:
    """The ARN must name a farm, queue or fleet of this farm server that exists."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "deadline":
        raise ValidationError.for_field("resourceArn", "is not a Deadline Cloud resource ARN")
    if (parsed.region, parsed.account) != (call.runtime.region, call.account_id):
        raise ResourceNotFoundError("resource", arn, f"{arn} is not a resource of this farm server")
    match = _PATH.match(parsed.resource)
    if match is None:
        raise ResourceNotFoundError("resource", arn, f"{arn} names no farm, queue or fleet")
    farm_id, kind, child_id = match.group("farm"), match.group("kind"), match.group("child")
    if kind is None:
        found = find_document(call.conn, "farm", farm_id)
    else:
        found = find_document(call.conn, kind, child_id, farm_id=farm_id)
    if found is None:
        raise ResourceNotFoundError(kind or "farm", child_id or farm_id, f"{arn} does not exist")


@operation("TagResource")
def tag_resource(call: Call, params: Params) -> Output:
    _require_taggable(call, params["resourceArn"])
    save_tags(call, params["resourceArn"], params.get("tags"))
    return {}


@operation("UntagResource")
def untag_resource(call: Call, params: Params) -> Output:
    _require_taggable(call, params["resourceArn"])
    call.conn.execute(
        delete(tags).where(
            and_(tags.c.resource_arn == params["resourceArn"], tags.c.tag_key.in_(params["tagKeys"]))
        )
    )
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call, params: Params) -> Output:
    _require_taggable(call, params["resourceArn"])
    rows = call.conn.execute(
        select(tags.c.tag_key, tags.c.tag_value).where(tags.c.resource_arn == params["resourceArn"])
    )
    return {"tags": {row.tag_key: row.tag_value for row in rows}}
