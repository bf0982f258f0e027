"""§4.7's canonical lines and checksums, against the spec's vectors (bridge-protocol/transcripts/checksum-vectors.jsonl)."""

from __future__ import annotations

import json
import unittest
from decimal import Decimal

from mtbridge import records

from .support import TRANSCRIPTS


def vectors():
    lines = [json.loads(line, parse_float=Decimal) for line in (TRANSCRIPTS / "checksum-vectors.jsonl").read_text().splitlines()[1:] if line.strip()]
    return [l["vector"] for l in lines if "vector" in l], [l["bucket_vector"] for l in lines if "bucket_vector" in l]


class CanonicalLines(unittest.TestCase):
    def test_every_record_vector_gives_its_line_and_prefix(self):
        record_vectors, _ = vectors()
        self.assertGreaterEqual(len(record_vectors), 5)
        for vector in record_vectors:
            with self.subTest(vector["note"]):
                line = records.canonical_line(vector["record"], vector["platform"])
                self.assertEqual(line, vector["canonical_line"])
                self.assertEqual(f"{records.line_prefix(line):016x}", vector["sha256_prefix"])

    def test_every_bucket_vector_sums_modulo_2_to_the_64(self):
        _, bucket_vectors = vectors()
        for vector in bucket_vectors:
            with self.subTest(vector["note"]):
                total = sum(records.line_prefix(line) for line in vector["canonical_lines"]) % (1 << 64)
                self.assertEqual(f"{total:016x}", vector["checksum"])

    def test_decimals_are_written_plainly_whatever_form_they_come_in(self):
        for given, expected in [("1.03420", "1.0342"), (Decimal("1E+2"), "100"), ("-0.50", "-0.5"), ("0.000", "0"), ("-0", "0"),
                                (7, "7"), ("123456789012345678.123456789012345678", "123456789012345678.123456789012345678"), (None, "0")]:
            with self.subTest(given=given):
                self.assertEqual(records.canonical_decimal(given), expected)

    def test_integers_above_2_to_the_53_keep_every_digit(self):
        self.assertEqual(records.to_int("18446744073709551615"), 2**64 - 1)
        self.assertEqual(records.to_int(Decimal("9007199254740993")), 9007199254740993)
        with self.assertRaises(ValueError):
            records.to_int("1.5")

    def test_a_deal_with_only_time_is_placed_at_time_times_1000(self):
        self.assertEqual(records.deal_position({"Deal": "5", "Time": "1735725600"}), (1735725600000, 5))


if __name__ == "__main__":
    unittest.main()
