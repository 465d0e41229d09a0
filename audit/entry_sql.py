"""The entry and its attribute rows as data-modifying CTEs: the start of every PostgreSQL
statement that writes an audit entry (audit/entry_write.py's locked append, audit/integrator.py's
queued one), each finishing it with what its mode writes besides."""

PG_ENTRY_CTES = """
    WITH entry AS (
        INSERT INTO audit_entries
            (seq, recorded_at, kind, citizen_ref, app_id, purpose, outcome, body, leaf_hash, chain_hash)
        VALUES
            (:seq, :recorded_at, :kind, :citizen_ref, :app_id, :purpose, :outcome, :body,
             :leaf_hash, :chain_hash)
    ), attributes AS (
        INSERT INTO audit_entry_attributes (seq, attribute)
        SELECT :seq, unnest(CAST(:attributes AS varchar[]))
    )"""
