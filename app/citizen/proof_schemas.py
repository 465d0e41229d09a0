"""The proof bundle a citizen downloads ("Download proof (JSON)"), as `python -m audit.verifier
--bundle` reads it (format: audit/proof_check.py). A response schema only: nothing is loaded."""

from __future__ import annotations

from marshmallow import Schema, fields


class EntryOut(Schema):
    seq = fields.Integer(required=True)
    body = fields.Dict(required=True)  # the entry's canonical body, as hashed
    leaf_hash = fields.String(required=True)


class InclusionOut(Schema):
    leaf_index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    audit_path = fields.List(fields.String(), required=True)
    root_hash = fields.String(required=True)


class SignedCheckpointOut(Schema):
    body = fields.Dict(required=True)
    signature = fields.String(required=True)


class PublicKeyOut(Schema):
    key_id = fields.String(required=True)
    pem = fields.String(required=True)


class WitnessPolicyOut(Schema):
    """The keys this platform's witnesses cosign with, to pass to the verifier as --log-key,
    --witness (each) and --quorum. Compare them with the keys published in the developer portal
    rather than trusting the copy inside the file."""

    log_key = fields.String(required=True, attribute="log_vkey")
    witness_keys = fields.List(fields.String(), required=True, attribute="witness_vkeys")
    quorum = fields.Integer(required=True)


class ProofBundleOut(Schema):
    format_ = fields.String(required=True, data_key="format", attribute="format")
    log_id = fields.String(required=True)
    entry = fields.Nested(EntryOut, required=True)
    proof = fields.Nested(InclusionOut, required=True)
    checkpoint = fields.Nested(SignedCheckpointOut, required=True)
    public_key = fields.Nested(PublicKeyOut, required=True)
    # The checkpoint as a C2SP signed note with the witnesses' cosignatures (when it has any).
    checkpoint_note = fields.String()
    witness_policy = fields.Nested(WitnessPolicyOut)
