"""Request and response schemas of the agency API's correction requests (app/agency_api/corrections.py)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from profile_store.correction_models import STATUSES
from profile_store.corrections import ANSWERS, MAX_REASON

MAX_LIMIT, DEFAULT_LIMIT = 200, 50


class QueueQuery(Schema):
    """`?status=&cursor=&limit=`; unknown parameters are refused, naming them."""

    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(STATUSES))
    cursor = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))


class AnswerRequest(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(required=True, validate=validate.OneOf(ANSWERS))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_REASON))


class CorrectionItem(Schema):
    id = fields.String(required=True)
    uinfin = fields.String(required=True)
    attribute = fields.String(required=True)
    what = fields.String(required=True)
    correct_value = fields.String(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class QueuePage(Schema):
    items = fields.List(fields.Nested(CorrectionItem), required=True)
    next_cursor = fields.String(allow_none=True)


class AnswerResponse(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime(required=True)
    changed = fields.Boolean(required=True)
