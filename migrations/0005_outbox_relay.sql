-- 0005: what the ingest relay needs on top of the outbox (issue 6).
--
-- The relay claims pending events per server in event order with FOR UPDATE SKIP LOCKED, in a short transaction
-- that stamps them with a claim (owner, until when); it then delivers them with no transaction open, and marks
-- the acknowledged ones delivered in a transaction of their own. A relay that dies between the send and the mark
-- leaves its claim to expire: the events go out again with the same idempotency keys (at least once).

ALTER TABLE outbox
    ADD COLUMN claimed_by    text,
    ADD COLUMN claimed_until timestamptz;

-- Events the ingest refused for good (SQS SenderFault, HTTP 4xx) or that failed too many times: the outbox row is
-- parked (parked_at) and its story kept here with the reason and what the ingest answered, until an operator
-- retries (`mtsync outbox retry`) or purges (`mtsync outbox purge`) it. The payload is kept so a purge loses
-- nothing an operator might still want.
CREATE TABLE dead_letters (
    dead_letter_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint      NOT NULL,
    server_id        text        NOT NULL,
    idempotency_key  text        NOT NULL,
    -- 'rejected': the ingest refused it; 'attempts': it failed max_attempts times.
    cause            text        NOT NULL CHECK (cause IN ('rejected', 'attempts')),
    reason           text        NOT NULL,
    response         text,
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    -- 'retried': put back in the outbox; 'purged': the outbox row was deleted by an operator.
    resolution       text        CHECK (resolution IN ('retried', 'purged')),
    resolved_by      text,
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);

CREATE INDEX dead_letters_open ON dead_letters (server_id, dead_letter_id) WHERE resolved_at IS NULL;
