"""Dates in English pages as ISO writes them: a study's team reads them across countries, and Django's
English default (11/27/2026) is the US order a Brazilian or European reader takes for 11 July. Portuguese
pages keep Django's own pt_BR formats (27/11/2026 08:07)."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
