"""The local family: the `file` source and the `dotenv` sink, files on this machine, with no network call."""

from connectors.local.dotenv_sink import DotenvSink
from connectors.local.file_source import FileSource
from syncd.connector import ConnectorSpec

file_spec = ConnectorSpec(
    name="file",
    summary="Secrets in a YAML, JSON or dotenv file, or a directory of them; SOPS files are decrypted.",
    source=FileSource,
)
dotenv_spec = ConnectorSpec(
    name="dotenv",
    summary="One variable per item in a dotenv file; lines syncd does not own are kept as they are.",
    sink=DotenvSink,
)
