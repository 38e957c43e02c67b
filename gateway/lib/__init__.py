"""Helpers with no domain and no database, importable from every layer (nothing here imports the
rest of the gateway).

- catalogs: the message catalogs (`gateway/locales/<lang>.toml`), read once and cached.
- csv_rows: reading a CSV file into numbered rows, `line N: column: reason` problems, cell parsers.
- formatting: the one money (D2) and dd/mm/yyyy date formatter.
- gsm7: GSM-7 transliteration, checking and SMS segment counting.
- phones: phone numbers normalised once to E.164 with `phonenumbers`, masked in logs.
"""
