"""The MT5 SQL export (the backup server's report database in MySQL/MariaDB) as a source (bridge-sources.md §3).

Reads `mt5_deals` (and its yearly tables `mt5_deals_YYYY`), `mt5_users` ⋈ `mt5_groups`, `mt5_symbols` and
`mt5_daily` with a SELECT-only user. DATETIME columns hold the MT server's wall clock and are read as if UTC
(the session zone is +00:00), never converted. Doubles are served as the shortest decimal text that round-trips
them (§0). Deletions cannot be seen (a deleted deal's row just disappears): mtsync's reconcile finds them
through `digest`; `changes` is not served yet (the export's `Timestamp` is unique per change but not proven to
grow; bridge-sources.md §3).
"""

from __future__ import annotations

import heapq
import re
from datetime import datetime, timedelta

from . import records, zones
from .mysql import EPOCH, Pool, to_datetime, to_milliseconds
DEAL_COLUMNS = ("Deal", "Login", "`Order`", "PositionID", "Action", "Entry", "Reason", "Time", "TimeMsc", "Symbol", "Volume", "VolumeExt",
                "VolumeClosed", "VolumeClosedExt", "Price", "Profit", "Storage", "Commission", "Fee", "ContractSize", "Digits",
                "DigitsCurrency", "Comment", "ExternalID")
YEARLY = re.compile(r"mt5_deals_(\d{4})")


def decimal_text(value) -> str:
    return records.canonical_decimal(value)


class MT5SQLExport:
    platform = "mt5"

    def __init__(self, server_id: str, time_zone: str, url: str, pool: Pool | None = None):
        self.server_id, self.time_zone = server_id, time_zone
        self.pool = pool or Pool(url)

    def capabilities(self) -> list[str]:
        return ["accounts", "symbols", "digest", "daily"]

    def server_info(self) -> dict:
        # mt5_time is the backup server's copy of the trade server's own time settings (IMTConTime): serving its
        # offset, not the configured rule's, is what lets mtsync bridge check see a rule that is wrong.
        import pymysql
        try:
            rows = self.pool.query("SELECT TimeZone, DaylightState FROM mt5_time LIMIT 1")
        except pymysql.err.ProgrammingError:  # no such table: an export without it; the configuration is all we have
            rows = []
        if not rows:
            return zones.server_info_times(self.time_zone)
        return zones.server_info_times(self.time_zone, source=zones.SourceTime.from_mt5_time("mt5_time", rows[0][0], rows[0][1]))

    # -- deals

    def _tables(self) -> list[str]:
        """`mt5_deals` and every table whose name starts like it (the yearly `mt5_deals_YYYY`)."""
        return [row[0] for row in self.pool.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'mt5\\_deals%%'")]

    def _deal_tables(self, from_ms: int, to_ms: int) -> list[str]:
        """`mt5_deals` and the yearly tables whose year the range touches."""
        names = self._tables()
        first, last = to_datetime(from_ms).year, to_datetime(to_ms - 1).year
        chosen = []
        for name in names:
            match = YEARLY.fullmatch(name)
            if name == "mt5_deals" or (match and first <= int(match.group(1)) <= last):
                chosen.append(name)
        return sorted(chosen)

    def _deal(self, row) -> dict:
        data = dict(zip((c.strip("`") for c in DEAL_COLUMNS), row))
        time_msc = to_milliseconds(data["TimeMsc"])
        return {"Deal": str(data["Deal"]), "Login": str(data["Login"]), "Order": str(data["Order"]), "PositionID": str(data["PositionID"]),
                "Action": data["Action"], "Entry": data["Entry"], "Reason": data["Reason"],
                "Time": str(to_milliseconds(data["Time"]) // 1000), "TimeMsc": str(time_msc), "Symbol": data["Symbol"],
                "Volume": str(data["Volume"]), "VolumeExt": str(data["VolumeExt"]), "VolumeClosed": str(data["VolumeClosed"]),
                "VolumeClosedExt": str(data["VolumeClosedExt"]), "Price": decimal_text(data["Price"]), "Profit": decimal_text(data["Profit"]),
                "Storage": decimal_text(data["Storage"]), "Commission": decimal_text(data["Commission"]), "Fee": decimal_text(data["Fee"]),
                "ContractSize": decimal_text(data["ContractSize"]), "Digits": data["Digits"], "DigitsCurrency": data["DigitsCurrency"],
                "Comment": data["Comment"], "ExternalID": data["ExternalID"]}

    def deals(self, from_ms, to_ms, after, limit):
        pages = []
        for table in self._deal_tables(from_ms, to_ms):
            sql = f"SELECT {', '.join(DEAL_COLUMNS)} FROM `{table}` WHERE TimeMsc >= %s AND TimeMsc < %s"
            arguments = [to_datetime(from_ms), to_datetime(to_ms)]
            if after is not None:
                sql += " AND (TimeMsc > %s OR (TimeMsc = %s AND Deal > %s))"
                arguments += [to_datetime(after[0]), to_datetime(after[0]), after[1]]
            sql += " ORDER BY TimeMsc, Deal LIMIT %s"
            pages.append([self._deal(row) for row in self.pool.query(sql, arguments + [limit])])
        # Each table's page is in order; merged, the first `limit` are the range's next deals.
        return list(heapq.merge(*pages, key=records.deal_position))[:limit]

    def history(self, from_ms, to_ms):
        for table in self._deal_tables(from_ms, to_ms):
            sql = f"SELECT {', '.join(DEAL_COLUMNS)} FROM `{table}` WHERE TimeMsc >= %s AND TimeMsc < %s"
            for row in self.pool.stream(sql, (to_datetime(from_ms), to_datetime(to_ms))):
                yield self._deal(row)

    def records_by_key(self, deals: list[int]) -> list[dict]:
        """The deals with these tickets, in whichever table they are (for the changes sweep: moved, or deleted?)."""
        found = []
        tables = self._tables()
        for start in range(0, len(deals), 500):
            chunk = deals[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            for table in tables:
                if table == "mt5_deals" or YEARLY.fullmatch(table):
                    found += [self._deal(row) for row in self.pool.query(f"SELECT {', '.join(DEAL_COLUMNS)} FROM `{table}` WHERE Deal IN ({marks})", chunk)]
        return found

    # -- accounts, symbols, daily

    def accounts(self, after, limit):
        rows = self.pool.query(
            "SELECT u.Login, u.`Group`, g.Currency, u.Leverage, u.ClientID, u.Balance, u.Credit FROM mt5_users u "
            "LEFT JOIN mt5_groups g ON g.`Group` = u.`Group` WHERE u.Login > %s ORDER BY u.Login LIMIT %s", (after if after is not None else -1, limit))
        accounts = []
        for login, group, currency, leverage, client_id, balance, credit in rows:
            account = {"login": str(login), "group": group, "leverage": leverage, "balance": decimal_text(balance), "credit": decimal_text(credit)}
            if currency:  # a user whose group is missing has no currency: mtsync holds its deals rather than guess
                account["currency"] = currency
            if client_id:
                account["client_id"] = str(client_id)
            accounts.append(account)
        return accounts

    def symbols(self, after, limit):
        rows = self.pool.query(
            "SELECT Symbol, Path, CurrencyBase, CurrencyProfit, CurrencyMargin, ContractSize, Digits, CalcMode FROM mt5_symbols "
            "WHERE CAST(Symbol AS BINARY) > CAST(%s AS BINARY) ORDER BY CAST(Symbol AS BINARY) LIMIT %s", (after if after is not None else "", limit))
        return [{"symbol": s, "path": p, "base_currency": b, "profit_currency": pc, "margin_currency": m, "contract_size": decimal_text(c),
                 "digits": d, "calc_mode": mode} for s, p, b, pc, m, c, d, mode in rows]

    def daily(self, from_ms, to_ms, after, limit):
        # Datetime is when MetaTrader made the record (server-time epoch seconds), at or before the end of the day
        # it closes: the day is the date of the second before it, so a record made at midnight closes the day before.
        day = "FLOOR((Datetime - 1) / 86400)"
        sql = (f"SELECT Datetime, Login, Currency, Balance, Credit, ProfitEquity, Profit, BalancePrevDay, {day} FROM mt5_daily "
               "WHERE Datetime > %s AND Datetime <= %s")
        arguments = [from_ms // 1000, to_ms // 1000]
        if after is not None:
            after_day = (datetime.fromisoformat(after[0]) - EPOCH).days
            sql += f" AND ({day} > %s OR ({day} = %s AND Login > %s))"
            arguments += [after_day, after_day, after[1]]
        sql += f" ORDER BY {day}, Login LIMIT %s"
        out = []
        for when, login, currency, balance, credit, equity, profit, balance_prev, day_index in self.pool.query(sql, arguments + [limit]):
            record = {"login": str(login), "day": (EPOCH + timedelta(days=int(day_index))).date().isoformat(), "time_ms": when * 1000,
                      "balance": decimal_text(balance), "credit": decimal_text(credit), "equity": decimal_text(equity),
                      "profit": decimal_text(profit), "balance_prev": decimal_text(balance_prev)}
            if currency:
                record["currency"] = currency
            out.append(record)
        return out

    def changes(self, since, limit):
        raise NotImplementedError("changes are not served from the SQL export")

    def open_trades(self, after, limit):
        raise NotImplementedError("MT5 has no open trades stream")

    closed_trades = open_trades
