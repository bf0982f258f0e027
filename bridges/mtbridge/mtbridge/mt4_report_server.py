"""The MT4 Report Server database (MetaQuotes' replica of an MT4 server in MySQL) as a source
(bridge-sources.md §1).

Reads `mt4_trades` (the closed set: a real `CLOSE_TIME`, every cmd, as the Manager API's history; the open set:
cmd 0/1 with `CLOSE_TIME` 1970-01-01), `mt4_users` and `mt4_daily` with a SELECT-only user. The replica has no
groups table, so an account's deposit currency comes from `mt4_users.CURRENCY` where newer replicas have it,
else from the configured `group_currencies` (first matching mask); an account with neither is sent without one
and mtsync holds its deals rather than guess. Which `mt4_users` column holds the broker's customer id is the
broker's choice (`customer_id_column`). Symbols are not in the replica (no contract sizes): not served.
Deletions and edits leave no journal here: `changes` is not served; mtsync's reconcile finds them by `digest`.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime

from . import records, zones
from .mysql import EPOCH, Pool, day_closed_by, to_datetime, to_milliseconds

TRADE_COLUMNS = ("TICKET", "LOGIN", "SYMBOL", "DIGITS", "CMD", "VOLUME", "OPEN_TIME", "CLOSE_TIME", "OPEN_PRICE", "CLOSE_PRICE", "SL", "TP",
                 "COMMISSION", "COMMISSION_AGENT", "SWAPS", "PROFIT", "TAXES", "MAGIC", "COMMENT", "REASON", "TIMESTAMP")
CUSTOMER_ID_COLUMNS = ("ID", "COMMENT", "LEAD_SOURCE")
NEVER_CLOSED = datetime(1970, 1, 1)


def seconds(value: datetime) -> int:
    return to_milliseconds(value) // 1000


class MT4ReportServer:
    platform = "mt4"

    def __init__(self, server_id: str, time_zone: str, url: str, *, group_currencies: list[tuple[str, str]] = (),
                 customer_id_column: str | None = None, pool: Pool | None = None):
        if customer_id_column is not None and customer_id_column not in CUSTOMER_ID_COLUMNS:
            raise ValueError(f"customer_id_column must be one of {', '.join(CUSTOMER_ID_COLUMNS)}")
        self.server_id, self.time_zone = server_id, time_zone
        self.group_currencies = list(group_currencies)
        self.customer_id_column = customer_id_column
        self.pool = pool or Pool(url)
        self._has_currency: bool | None = None

    def capabilities(self) -> list[str]:
        return ["accounts", "digest", "daily"]

    def server_info(self) -> dict:
        return zones.server_info_times(self.time_zone)

    # -- trades

    def _trade(self, row) -> dict:
        data = dict(zip(TRADE_COLUMNS, row))
        text = records.canonical_decimal
        return {"order": data["TICKET"], "login": data["LOGIN"], "symbol": data["SYMBOL"].rstrip(), "digits": data["DIGITS"], "cmd": data["CMD"],
                "volume": data["VOLUME"], "open_time": seconds(data["OPEN_TIME"]), "close_time": seconds(data["CLOSE_TIME"]),
                "open_price": text(data["OPEN_PRICE"]), "close_price": text(data["CLOSE_PRICE"]), "sl": text(data["SL"]), "tp": text(data["TP"]),
                "commission": text(data["COMMISSION"]), "commission_agent": text(data["COMMISSION_AGENT"]), "storage": text(data["SWAPS"]),
                "profit": text(data["PROFIT"]), "taxes": text(data["TAXES"]), "magic": data["MAGIC"], "comment": data["COMMENT"].rstrip(),
                "reason": data["REASON"], "timestamp": data["TIMESTAMP"]}

    @staticmethod
    def _closed_bounds(from_ms: int, to_ms: int) -> tuple[datetime, datetime]:
        # close_time × 1000 in [from_ms, to_ms) ⟺ close_time in [ceil(from_ms / 1000), ceil(to_ms / 1000)).
        return to_datetime(-(-from_ms // 1000) * 1000), to_datetime(-(-to_ms // 1000) * 1000)

    def closed_trades(self, from_ms, to_ms, after, limit):
        low, high = self._closed_bounds(from_ms, to_ms)
        sql = f"SELECT {', '.join(TRADE_COLUMNS)} FROM mt4_trades WHERE CLOSE_TIME >= %s AND CLOSE_TIME < %s AND CLOSE_TIME > %s"
        arguments = [low, high, NEVER_CLOSED]
        if after is not None:
            when = to_datetime(after[0] * 1000)
            sql += " AND (CLOSE_TIME > %s OR (CLOSE_TIME = %s AND TICKET > %s))"
            arguments += [when, when, after[1]]
        sql += " ORDER BY CLOSE_TIME, TICKET LIMIT %s"
        return [self._trade(row) for row in self.pool.query(sql, arguments + [limit])]

    def open_trades(self, after, limit):
        sql = f"SELECT {', '.join(TRADE_COLUMNS)} FROM mt4_trades WHERE CLOSE_TIME = %s AND CMD IN (0, 1) AND TICKET > %s ORDER BY TICKET LIMIT %s"
        return [self._trade(row) for row in self.pool.query(sql, (NEVER_CLOSED, after if after is not None else -1, limit))]

    def history(self, from_ms, to_ms):
        low, high = self._closed_bounds(from_ms, to_ms)
        sql = f"SELECT {', '.join(TRADE_COLUMNS)} FROM mt4_trades WHERE CLOSE_TIME >= %s AND CLOSE_TIME < %s AND CLOSE_TIME > %s"
        for row in self.pool.stream(sql, (low, high, NEVER_CLOSED)):
            yield self._trade(row)

    def records_by_key(self, orders: list[int]) -> list[dict]:
        """The trades with these tickets (for the changes sweep: moved, or deleted?)."""
        found = []
        for start in range(0, len(orders), 500):
            chunk = orders[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            found += [self._trade(row) for row in self.pool.query(f"SELECT {', '.join(TRADE_COLUMNS)} FROM mt4_trades WHERE TICKET IN ({marks})", chunk)]
        return found

    # -- accounts, daily

    def _currency_column(self) -> bool:
        if self._has_currency is None:
            self._has_currency = bool(self.pool.query(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'mt4_users' AND column_name = 'CURRENCY'"))
        return self._has_currency

    def _currency(self, group: str, own: str | None) -> str | None:
        if own:
            return own.strip()
        for mask, currency in self.group_currencies:
            if fnmatch.fnmatchcase(group, mask):
                return currency
        return None

    def accounts(self, after, limit):
        currency = "CURRENCY" if self._currency_column() else "NULL"
        customer = self.customer_id_column or "NULL"
        rows = self.pool.query(
            f"SELECT LOGIN, `GROUP`, LEVERAGE, BALANCE, CREDIT, EQUITY, MARGIN, MARGIN_FREE, {currency}, {customer} FROM mt4_users "
            "WHERE LOGIN > %s ORDER BY LOGIN LIMIT %s", (after if after is not None else -1, limit))
        accounts = []
        for login, group, leverage, balance, credit, equity, margin, margin_free, own_currency, customer_id in rows:
            group = group.rstrip()
            text = records.canonical_decimal
            account = {"login": str(login), "group": group, "leverage": leverage, "balance": text(balance), "credit": text(credit),
                       "equity": text(equity), "margin": text(margin), "margin_free": text(margin_free)}
            chosen = self._currency(group, own_currency)
            if chosen:
                account["currency"] = chosen
            if customer_id and str(customer_id).strip():
                account["client_id"] = str(customer_id).strip()
            accounts.append(account)
        return accounts

    def daily(self, from_ms, to_ms, after, limit):
        made = "UNIX_TIMESTAMP(TIME)"  # the session zone is +00:00: the wall clock as epoch seconds
        day = f"FLOOR(({made} - 1) / 86400)"
        sql = (f"SELECT LOGIN, {made}, `GROUP`, BALANCE, CREDIT, EQUITY, PROFIT, BALANCE_PREV FROM mt4_daily "
               f"WHERE TIME > %s AND TIME <= %s")
        arguments = [to_datetime(from_ms // 1000 * 1000), to_datetime(to_ms // 1000 * 1000)]
        if after is not None:
            after_day = (datetime.fromisoformat(after[0]) - EPOCH).days
            sql += f" AND ({day} > %s OR ({day} = %s AND LOGIN > %s))"
            arguments += [after_day, after_day, after[1]]
        sql += f" ORDER BY {day}, LOGIN LIMIT %s"
        out = []
        text = records.canonical_decimal
        for login, made_at, group, balance, credit, equity, profit, balance_prev in self.pool.query(sql, arguments + [limit]):
            record = {"login": str(login), "day": day_closed_by(int(made_at)), "time_ms": int(made_at) * 1000, "balance": text(balance),
                      "credit": text(credit), "equity": text(equity), "profit": text(profit), "balance_prev": text(balance_prev)}
            currency = self._currency(group.rstrip(), None)
            if currency:
                record["currency"] = currency
            out.append(record)
        return out

    def deals(self, from_ms, to_ms, after, limit):
        raise NotImplementedError("MT4 serves trades")

    def symbols(self, after, limit):
        raise NotImplementedError("the Report Server has no symbol table")

    def changes(self, since, limit):
        raise NotImplementedError("the Report Server keeps no change journal")
