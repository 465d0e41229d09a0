"""Query and response schemas of the public audit-proof API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..request_guards import DB_INT


class InclusionQuery(Schema):
    class Meta:
        unknown = RAISE

    seq = fields.Integer(required=True, strict=False, validate=DB_INT)
    tree_size = fields.Integer(required=True, strict=False, validate=[DB_INT, validate.Range(min=1)])


class ConsistencyQuery(Schema):
    class Meta:
        unknown = RAISE

    first = fields.Integer(required=True, validate=[DB_INT, validate.Range(min=1)])
    second = fields.Integer(required=True, validate=[DB_INT, validate.Range(min=1)])


class InclusionProof(Schema):
    leaf_index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    leaf_hash = fields.String(required=True)
    audit_path = fields.List(fields.String(), required=True)
    root_hash = fields.String(required=True)


class ConsistencyProof(Schema):
    first = fields.Integer(required=True)
    second = fields.Integer(required=True)
    first_root = fields.String(required=True)
    second_root = fields.String(required=True)
    consistency_path = fields.List(fields.String(), required=True)
