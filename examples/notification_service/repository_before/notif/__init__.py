"""A small notification service that turns events into e-mails and text messages."""
