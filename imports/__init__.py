"""Reading township ledgers and the village registry from spreadsheets.

A pipeline of small steps that each return data: read (``readers``) → find
the header (``header``) → clean cells (``clean``) → validate rows
(``validate``) → resolve villages (``villages``), tied together by
``pipeline.parse_ledger``; then diff and commit (``diff``, ``batches``).
"""
