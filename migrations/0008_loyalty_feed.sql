-- 0008: the loyalty platform's daily feed (issue 10; docs/ingest.md, "The daily feed").
--
-- The platform upserts rows by (user_id, date), where user_id is the broker's customer id, not a trading login.
-- So mtsync keeps who each login belongs to (accounts), marks the (login, UTC day)s a page changed, turns them
-- into (customer, trading day)s, recomputes each such day whole across every login and server of the customer,
-- and queues a batch only for the rows whose figures changed since they were last queued (feed_rows).

-- Trading accounts per server, from the bridge's `accounts` request; an operator may correct the customer id
-- (`mtsync accounts import`), and the correction wins over what the bridge says.
CREATE TABLE accounts (
    server_id          text        NOT NULL CHECK (server_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    login              bigint      NOT NULL CHECK (login >= 0),
    account_group      text,
    currency           text,
    leverage           integer,
    -- As the bridge sent it (MT5 IMTUser::ClientID; MT4 the bridge's customer field).
    client_id          text,
    -- Set by an operator; NULL: use client_id.
    customer_override  text,
    customer_id        text        GENERATED ALWAYS AS (coalesce(nullif(customer_override, ''), nullif(client_id, ''))) STORED,
    bridge_updated_ms  bigint,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, login)
);
CREATE INDEX accounts_customer ON accounts (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX accounts_login ON accounts (login);

-- Every change to an account that matters to the feed, with who made it and when.
CREATE TABLE account_changes (
    change_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_id   text        NOT NULL,
    login       bigint      NOT NULL,
    field       text        NOT NULL,
    old_value   text,
    new_value   text,
    changed_by  text        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_changes_login ON account_changes (login, changed_at);

-- (server, login, UTC day)s whose facts changed, marked by the store in the page's own transaction. `held`: the
-- login has no customer id (or no account yet); the marks wait and are released when the mapping appears.
CREATE TABLE feed_login_days_dirty (
    server_id  text        NOT NULL,
    login      bigint      NOT NULL,
    utc_day    date        NOT NULL,
    held       boolean     NOT NULL DEFAULT false,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, login, utc_day)
);
CREATE INDEX feed_login_days_dirty_open ON feed_login_days_dirty (utc_day) WHERE NOT held;

-- (customer, trading day)s to recompute. `held_reason`: the day cannot be sent yet (e.g. an account in a currency
-- without a configured rate); it is retried on every pass, so fixing the configuration releases it.
CREATE TABLE feed_customer_days_dirty (
    customer_id  text        NOT NULL,
    day          date        NOT NULL,
    held_reason  text,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, day)
);

-- The last row queued per customer and trading day: its revision, every figure (sent or kept for later fields),
-- the logins it covers, and a hash of the sent figures so a day unchanged for the platform is never sent again.
CREATE TABLE feed_rows (
    customer_id  text        NOT NULL,
    day          date        NOT NULL,
    revision     integer     NOT NULL CHECK (revision >= 1),
    row_hash     text        NOT NULL,
    figures      jsonb       NOT NULL,
    batch_id     text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, day)
);

-- Batches to send, written in the transaction that decides their rows. The body is the exact bytes sent (an SQS
-- message body, or the CSV of a file upload), so a resend after a crash is the same batch with the same id.
CREATE TABLE feed_batches (
    batch_id      text        PRIMARY KEY,
    -- Send order: strictly the order batches were queued, so a row's later revision never overtakes an earlier one.
    seq           bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    transport     text        NOT NULL CHECK (transport IN ('sqs', 'file')),
    origin        text        NOT NULL,
    rows          integer     NOT NULL CHECK (rows > 0),
    body          bytea       NOT NULL,
    sha256        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    sent_at       timestamptz,
    response      text,
    parked_at     timestamptz
);
CREATE INDEX feed_batches_pending ON feed_batches (seq) WHERE sent_at IS NULL AND parked_at IS NULL;

-- Facts stored before this migration count too: every (server, login, UTC day) with facts is due once.
INSERT INTO feed_login_days_dirty (server_id, login, utc_day)
SELECT DISTINCT server_id, login, (time_utc AT TIME ZONE 'UTC')::date FROM trading_facts;
