"""The form corpus of the browser comparison (tests/test_smoke_browser.py): pages and the cases on them."""
