"""Output: the report as HTML and PDF, the JSON document, the email, and files written atomically."""
