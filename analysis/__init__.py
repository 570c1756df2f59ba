"""Statistics over exported tables (METHOD.md §6), plain Python: no Django.

The same functions run in the app, in `manage.py report` and in a researcher's notebook on a
downloaded `tidy` export (`analysis.tidy.load_tidy`).
"""
