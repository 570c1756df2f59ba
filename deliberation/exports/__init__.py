"""Research data out: the `hm` schema of [T24]'s released dataset and the documented `tidy`
tables, as Parquet, CSV or JSON Lines, streamed from one database snapshot."""

from deliberation.exports.errors import ExportError
from deliberation.exports.service import SCHEMAS, ExportResult, export_write
from deliberation.exports.writers import FORMATS

__all__ = ["FORMATS", "SCHEMAS", "ExportError", "ExportResult", "export_write"]
