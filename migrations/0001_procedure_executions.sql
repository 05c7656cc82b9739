-- ProcedureExecution engine (PKO): one row per run of a background job and one
-- row per recorded step. Leases are columns: Hyperdrive supports neither
-- advisory locks nor LISTEN/NOTIFY nor session state.

CREATE TABLE procedure_execution (
    id                uuid PRIMARY KEY,
    job_type          text        NOT NULL,
    trigger           text        NOT NULL CHECK (trigger IN ('cron', 'user', 'api')),
    principal_kind    text        NOT NULL CHECK (principal_kind IN ('user', 'service', 'system')),
    principal_id      text        NOT NULL,
    dedupe_key        text        UNIQUE,
    params            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status            text        NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed')),
    -- attempts: deliveries that took the lease and ran steps; deliveries: every
    -- message received for this execution, including harmless redeliveries.
    attempts          integer     NOT NULL DEFAULT 0,
    deliveries        integer     NOT NULL DEFAULT 0,
    counters          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error_code        text,
    error_message     text,
    lease_token       uuid,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX procedure_execution_type_status_created
    ON procedure_execution (job_type, status, created_at DESC, id DESC);
CREATE INDEX procedure_execution_created
    ON procedure_execution (created_at DESC, id DESC);

CREATE TABLE procedure_step_execution (
    execution_id   uuid        NOT NULL REFERENCES procedure_execution (id) ON DELETE CASCADE,
    ordinal        integer     NOT NULL,
    name           text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    attempts       integer     NOT NULL DEFAULT 0,
    counters       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    output         jsonb,
    error_code     text,
    error_message  text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    PRIMARY KEY (execution_id, ordinal)
);

-- Effects written by the ENGINE_DRILL procedure. Deliberately no unique key:
-- the engine, not the table, must guarantee a finished step never runs again,
-- so a re-run would show as a second row.
CREATE TABLE engine_drill_effect (
    id            bigserial   PRIMARY KEY,
    execution_id  uuid        NOT NULL REFERENCES procedure_execution (id) ON DELETE CASCADE,
    step          text        NOT NULL,
    written_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX engine_drill_effect_execution ON engine_drill_effect (execution_id);
