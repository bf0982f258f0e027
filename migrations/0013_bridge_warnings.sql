-- 0013: what a bridge said that mtsync did not believe, per server and stream, for `mtsync status`.
--
-- A bridge that breaks the protocol in ways that cost no record — an `end.next` that is not the last record it sent,
-- a `count` that lies, records outside the requested range (quarantined), lines of an earlier request — is not
-- failing, and its pages are stored. But an operator must see it: those are the bugs that lose history in other
-- clients. The last such warning and when it came sit beside the last error; `status` shows it while it is newer
-- than a day.
ALTER TABLE sync_cursors
    ADD COLUMN last_warning_at timestamptz,
    ADD COLUMN last_warning text;
