extension FactStore {
    /// The SQL of the store path, in the order `FactStore.store` runs it for a page. Public so that
    /// `mtsync-bench ceiling` runs these very statements through psql on the same staged rows: the ceiling it
    /// measures is this merge, not a copy of it that could drift.
    public enum Statements {
        /// Session-local staging tables, emptied at every COMMIT (`ON COMMIT DELETE ROWS`) and before every page:
        /// a CSV drop file is one transaction of many pages, and a page must not merge its predecessors' rows
        /// again (their facts would be inserted twice).
        public static let prepareStaging = """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS mtsync_staged_facts (
                server_id text, platform text, login bigint, ticket bigint, leg smallint, kind text, raw_action integer,
                side text, entry text, time_utc timestamptz, server_time_msc bigint, zone text, symbol text,
                symbol_canonical text, asset_class text, contract_size numeric, lots numeric, price numeric, profit numeric,
                swap numeric, commission numeric, fee numeric, taxes numeric, net numeric, technical boolean, currency text,
                order_ticket bigint, position_ticket bigint, reason integer, comment text, content_hash bytea, identity_key text,
                excluded_reason text, closed_lots numeric
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS mtsync_staged_sources (
                ticket bigint, server_time_msc bigint, digest_part bigint, volume numeric, outcome text
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS mtsync_merged (
                fact_id bigint, server_id text, ticket bigint, leg smallint, revision integer, was_counted boolean
            ) ON COMMIT DELETE ROWS;
            TRUNCATE mtsync_staged_facts, mtsync_staged_sources, mtsync_merged;
            """

        /// New identities at revision 1; changed (or deleted and back) ones at revision + 1; unchanged ones not at
        /// all (the WHERE of DO UPDATE), so they return no row and produce no event. Returns how many were merged, and
        /// how many of those replace an earlier revision (none in a first backfill: the removal is skipped).
        public static let mergeIdentities = """
            WITH m AS (
                INSERT INTO fact_identities AS fi (server_id, ticket, leg, content_hash, time_utc)
                SELECT server_id, ticket, leg, content_hash, time_utc FROM mtsync_staged_facts
                ON CONFLICT (server_id, ticket, leg) DO UPDATE
                   SET revision = fi.revision + 1, content_hash = EXCLUDED.content_hash, time_utc = EXCLUDED.time_utc,
                       deleted_at = NULL, updated_at = now()
                 WHERE fi.content_hash <> EXCLUDED.content_hash OR fi.deleted_at IS NOT NULL
                RETURNING fi.fact_id, fi.server_id, fi.ticket, fi.leg, fi.revision
            )
            , merged AS (
                INSERT INTO mtsync_merged (fact_id, server_id, ticket, leg, revision) SELECT * FROM m RETURNING revision
            )
            SELECT count(*), count(*) FILTER (WHERE revision > 1) FROM merged
            """

        /// The previous revision's row goes; it may sit in another month's partition if the time moved.
        /// If it counted (sent, not deleted), its hour is marked for the aggregator and its UTC day for the daily feed
        /// — a fact whose time moved, or that stopped counting, leaves its old hour and day changed too — and the merge
        /// remembers it (`was_counted`): a fact that counted and is now excluded must be retracted from the platform.
        public static let removeReplacedRevisions = """
            WITH gone AS (
                DELETE FROM trading_facts t USING mtsync_merged m WHERE m.revision > 1 AND t.fact_id = m.fact_id
                RETURNING t.fact_id, t.server_id, t.login, t.time_utc, (t.excluded_reason IS NULL AND NOT t.deleted) AS counted
            ), remembered AS (
                UPDATE mtsync_merged m SET was_counted = g.counted FROM gone g WHERE m.fact_id = g.fact_id
            ), counted_gone AS (
                SELECT * FROM gone WHERE counted
            ), \(marks(of: "counted_gone"))
            SELECT count(*) FROM gone
            """

        /// The two CTEs that mark the aggregator's (server, login, UTC hour) and the daily feed's (server, login, UTC
        /// day) of every row of `source` (a CTE returning `server_id`, `login`, `time_utc`). Every statement that
        /// changes facts uses this one text, because how the marks are written is what keeps a page and the feed
        /// builder from losing a change to each other:
        ///
        /// The marks are upserted with DO UPDATE, never DO NOTHING: the update takes the mark's row lock. With DO
        /// NOTHING a page could find its mark already there while the feed builder (or the aggregator) held it,
        /// computed the day without the page's uncommitted facts and deleted it — leaving those facts unmarked and
        /// the platform's row for that day stale (scripts/chaos found it). Now the page waits for the builder and
        /// inserts a fresh mark after it, or the builder waits for the page and computes with its facts. Feed marks
        /// are locked in (day, server, login) order, the order the builder takes them, so the two cannot deadlock.
        static func marks(of source: String) -> String {
            """
            hour_marks AS (
                INSERT INTO aggregate_hours_dirty (server_id, login, hour_start)
                SELECT DISTINCT server_id, login, date_trunc('hour', time_utc, 'UTC') FROM \(source) ORDER BY 1, 2, 3
                ON CONFLICT (server_id, login, hour_start) DO UPDATE SET marked_at = now()
            ), day_marks AS (
                INSERT INTO feed_login_days_dirty (server_id, login, utc_day)
                SELECT DISTINCT server_id, login, (time_utc AT TIME ZONE 'UTC')::date FROM \(source) ORDER BY 3, 1, 2
                ON CONFLICT (server_id, login, utc_day) DO UPDATE SET marked_at = now()
            )
            """
        }

        /// The current revision of each merged fact into `trading_facts`; for each fact that counts, one outbox event
        /// and its hour marked for the aggregator and its UTC day for the daily feed (`marks(of:)`); an excluded fact
        /// (a demo group) gets no event, unless it counted before: then `fact.deleted` retracts it. Returns the counts
        /// of counted facts created and updated, and of excluded facts stored.
        ///
        /// The event names its fact (id and time) and carries no payload: the relay builds it from the fact's row
        /// when it sends the event (migration 0020, `Outbox.claim`). A copy of the fact in every event was half of
        /// what a fact cost this statement, and its bytes the COPY before it.
        public static let storeRevisions = """
            WITH inserted AS (
                INSERT INTO trading_facts (
                    fact_id, time_utc, server_id, platform, login, ticket, leg, revision, kind, raw_action, side, entry,
                    server_time_msc, zone, symbol, symbol_canonical, asset_class, contract_size, lots, price, profit, swap,
                    commission, fee, taxes, net, technical, currency, order_ticket, position_ticket, reason, comment,
                    content_hash, idempotency_key, excluded_reason, closed_lots)
                SELECT m.fact_id, s.time_utc, s.server_id, s.platform, s.login, s.ticket, s.leg, m.revision, s.kind,
                       s.raw_action, s.side, s.entry, s.server_time_msc, s.zone, s.symbol, s.symbol_canonical, s.asset_class,
                       s.contract_size, s.lots, s.price, s.profit, s.swap, s.commission, s.fee, s.taxes, s.net, s.technical,
                       s.currency, s.order_ticket, s.position_ticket, s.reason, s.comment, s.content_hash,
                       s.identity_key || ':' || m.revision, s.excluded_reason, s.closed_lots
                FROM mtsync_merged m JOIN mtsync_staged_facts s USING (server_id, ticket, leg)
                RETURNING *
            ), events AS (
                INSERT INTO outbox (server_id, fact_id, event_kind, idempotency_key, fact_time_utc)
                SELECT e.server_id, e.fact_id,
                       CASE WHEN e.excluded_reason IS NOT NULL THEN 'fact.deleted' WHEN e.revision = 1 THEN 'fact.created' ELSE 'fact.updated' END,
                       e.idempotency_key, e.time_utc
                FROM (SELECT * FROM inserted WHERE excluded_reason IS NULL
                      UNION ALL
                      SELECT i.* FROM inserted i JOIN mtsync_merged m ON m.fact_id = i.fact_id WHERE i.excluded_reason IS NOT NULL AND m.was_counted) e
                RETURNING event_kind
            ), counted AS (
                SELECT * FROM inserted WHERE excluded_reason IS NULL
            ), \(marks(of: "counted"))
            SELECT (SELECT count(*) FROM counted WHERE revision = 1), (SELECT count(*) FROM counted WHERE revision > 1),
                   (SELECT count(*) FROM inserted WHERE excluded_reason IS NOT NULL)
            """

        /// One source record per raw record, for reconcile. Parameters: `$1` the server id, `$2` the stream.
        public static let mergeSourceRecords = """
            INSERT INTO source_records AS r (server_id, stream, ticket, server_time_msc, digest_part, volume, outcome)
            SELECT DISTINCT ON (ticket) $1, $2, ticket, server_time_msc, digest_part, volume, outcome
            FROM mtsync_staged_sources ORDER BY ticket
            ON CONFLICT (server_id, stream, ticket) DO UPDATE
               SET server_time_msc = EXCLUDED.server_time_msc, digest_part = EXCLUDED.digest_part,
                   volume = EXCLUDED.volume, outcome = EXCLUDED.outcome, seen_at = now()
             WHERE (r.server_time_msc, r.digest_part, r.volume, r.outcome)
                   IS DISTINCT FROM (EXCLUDED.server_time_msc, EXCLUDED.digest_part, EXCLUDED.volume, EXCLUDED.outcome)
            """
    }
}
