"""Phone: CTI call-event webhooks and CSV import of call detail records."""

from somebound.channels.phone.cdr import RowError, import_cdr_csv
from somebound.channels.phone.cti import CALL_EVENTS, cti_event_from_dict, parse_cti_event

__all__ = ["CALL_EVENTS", "RowError", "cti_event_from_dict", "import_cdr_csv", "parse_cti_event"]
