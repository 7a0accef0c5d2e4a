"""What staff take away: the digest (digest), the ledgers and the disclosure workbook (ledgers,
ledger_assignment, written by exports), the callback form in Word (docx_forms), and the CLI
commands that produce them (`python -m bot digest`, `python -m bot export`)."""
