"""The bridge's configuration file as Windows editors save it: with a byte order mark, which TOML itself refuses."""

from __future__ import annotations

import pathlib
import tempfile
import unittest

from mtbridge import config

from .support import KEY_HEX, secret_file


class ConfigurationFile(unittest.TestCase):
    def folder(self) -> pathlib.Path:
        return pathlib.Path(tempfile.mkdtemp(prefix="mtbridge-config-"))

    def text(self, key_file: pathlib.Path) -> str:
        return f"""[auth]
key_id = "mtsync-1"
key_file = "{key_file}"
[server]
id = "live-mt5"
platform = "mt5"
time_zone = "ny-close"
[source]
kind = "jsonl"
path = "export.jsonl"
"""

    def test_a_file_and_a_key_saved_with_a_byte_order_mark_are_read(self):
        folder = self.folder()
        key_file = secret_file(folder / "key", "\ufeff" + KEY_HEX + "\r\n")
        path = folder / "mtbridge.toml"
        path.write_text("\ufeff" + self.text(key_file), encoding="utf-8")
        settings = config.load(str(path), environment={})
        self.assertEqual((settings.server_id, settings.key), ("live-mt5", bytes.fromhex(KEY_HEX)))

    def test_a_file_that_is_not_utf8_is_refused_by_name(self):
        folder = self.folder()
        path = folder / "mtbridge.toml"
        path.write_bytes(self.text(folder / "key").encode("utf-16"))
        with self.assertRaises(config.ConfigError) as raised:
            config.load(str(path), environment={})
        self.assertIn("is not UTF-8 text", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
