"""The options of the `file` source and of the `dotenv` sink."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import field_validator

from connectors.local.dotenv_format import Dialect
from syncd.connector import Options, path_field

FormatOption = Literal["auto", "yaml", "json", "dotenv"]


class FileSourceOptions(Options):
    path: str = path_field()
    format: FormatOption = "auto"
    sops: Literal["auto", "never", "always"] = "auto"


class DotenvSinkOptions(Options):
    path: str = path_field()
    # Text, not a number: YAML would read an unquoted 0600 as 384.
    mode: str = "0600"
    # Who must read the values back exactly; see connectors/local/dotenv_format.py.
    dialect: Dialect = "portable"

    @field_validator("mode", mode="before")
    @classmethod
    def _octal_permissions(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError('mode must be an octal permission string in quotes, such as "0600"')
        return value

    @property
    def permissions(self) -> int:
        return int(self.mode, 8)
