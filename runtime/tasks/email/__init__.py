"""send-bulk-email and email-feedback: recipients, the campaign ledger, SES and its feedback."""
