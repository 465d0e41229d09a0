"""Request and response schemas of the agency-facing API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class NoticeRequest(Schema):
    class Meta:
        unknown = RAISE

    notice_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    event = fields.String(required=True, validate=validate.Length(min=1, max=64))
    uinfin = fields.String(required=True, validate=validate.Length(min=9, max=9))


class NoticeResponse(Schema):
    status = fields.String(required=True)
    agency = fields.String(required=True)
    changed = fields.Integer(required=True)
