-- 0012: monthly partitions of trading_facts are made ahead of time, never by a page (issue 20, finding 5).
--
-- Until now every page ran ensure_trading_fact_partitions over its facts' months: one far-future row (year 9999)
-- made its page transaction create every month up to it, holding an ACCESS EXCLUSIVE lock on trading_facts for
-- minutes until PostgreSQL ran out of lock memory, and the daemon's role needed CREATE for it. Now:
--
-- * partitions are made by upkeep (`mtsync migrate`, and the daemon when its role may), in short transactions of
--   their own, for a bounded horizon: the current month and the next months (15 by default);
-- * a page reads where the partitions end (trading_fact_partitions_end) and quarantines a fact at or after that
--   month (or before 2000) instead of storing it; so the daemon's role needs no CREATE, only row privileges;
-- * a past month that has no partition (a backfill older than the partitions, an MT4 trade opened long ago) still
--   goes to the default partition, and the next upkeep gives it its month and moves its rows there.

-- Creates the partition of one month (month_start: its first day, UTC), unless it exists; returns the rows moved in
-- from the default partition, or -1 when the month already had its partition.
--
-- The table is made on its own and then attached: ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on
-- trading_facts, so pages storing into other months go on while it runs (CREATE TABLE ... PARTITION OF would take
-- ACCESS EXCLUSIVE on the whole table). Attaching scans the default partition under ACCESS EXCLUSIVE for rows of
-- the month, and fails if it finds any: so they are moved first, with the default partition locked against new
-- rows from before the check until the commit. The caller bounds its lock waits (lock_timeout).
CREATE FUNCTION create_trading_fact_partition(month_start date)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    part_name   text := format('trading_facts_%s', to_char(month_start, 'YYYY_MM'));
    lower_bound timestamptz := month_start::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    moved       bigint := 0;
BEGIN
    IF month_start <> date_trunc('month', month_start)::date THEN
        RAISE EXCEPTION 'create_trading_fact_partition: % is not the first day of a month', month_start;
    END IF;
    -- A role that may not (the daemon's runtime role) is told so before it locks anything.
    IF NOT (has_schema_privilege(current_schema(), 'CREATE')
            AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'trading_facts'::regclass), 'USAGE')) THEN
        RAISE EXCEPTION 'role % may not make partitions of trading_facts', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'run mtsync migrate as the owner of trading_facts: it makes the partitions ahead';
    END IF;
    -- First the default partition's lock (it conflicts with itself, so a second upkeep waits here): taking a table
    -- lock also reads the catalog changes other sessions committed meanwhile, which an advisory lock does not; without
    -- it the check below could still see another instance's new partition as missing and fail to create it again.
    LOCK TABLE trading_facts_default IN SHARE ROW EXCLUSIVE MODE;
    IF to_regclass(part_name) IS NOT NULL THEN
        RETURN -1;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE trading_facts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part_name);
    IF EXISTS (SELECT 1 FROM trading_facts_default WHERE time_utc >= lower_bound AND time_utc < upper_bound) THEN
        EXECUTE format(
            'WITH gone AS (DELETE FROM trading_facts_default WHERE time_utc >= %L AND time_utc < %L RETURNING *) INSERT INTO %I SELECT * FROM gone',
            lower_bound, upper_bound, part_name);
        GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    EXECUTE format('ALTER TABLE trading_facts ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part_name, lower_bound, upper_bound);
    RETURN moved;
END;
$$;

-- Kept for operators and scripts that call it by hand (never called by a page any more): the partitions of every
-- month of [from_time, to_time], made the same way. Returns how many it created.
CREATE OR REPLACE FUNCTION ensure_trading_fact_partitions(from_time timestamptz, to_time timestamptz)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    month_start date := date_trunc('month', from_time AT TIME ZONE 'UTC')::date;
    last_month  date := date_trunc('month', to_time AT TIME ZONE 'UTC')::date;
    created     integer := 0;
BEGIN
    WHILE month_start <= last_month LOOP
        IF create_trading_fact_partition(month_start) >= 0 THEN
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END;
$$;

-- Where the partitions end: the first month, from the current one (UTC, the database's clock) on, that has no
-- partition. A page stores facts before it; a fact at or after it is outside the horizon. A few catalog lookups,
-- one per month ahead, cheap enough for every page.
CREATE FUNCTION trading_fact_partitions_end()
RETURNS date
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    month_start date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
BEGIN
    -- 1200 months: a bound on the loop, far past any horizon upkeep makes.
    FOR i IN 1..1200 LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_inherits
            WHERE inhparent = 'trading_facts'::regclass
              AND inhrelid = to_regclass(format('trading_facts_%s', to_char(month_start, 'YYYY_MM')))
        ) THEN
            RETURN month_start;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN month_start;
END;
$$;

-- The horizon starts now: this month and the next 15, so a role without CREATE has over a year of months before
-- anyone must run upkeep again. Past months keep what they have; a month whose rows sit in the default partition
-- gets its own partition here, and its rows move in.
SELECT create_trading_fact_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + n * interval '1 month')::date)
FROM generate_series(0, 15) AS n;
SELECT create_trading_fact_partition(m)
FROM (SELECT DISTINCT date_trunc('month', time_utc AT TIME ZONE 'UTC')::date AS m FROM trading_facts_default
      WHERE time_utc >= '2000-01-01T00:00:00Z' AND time_utc < date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS months;
