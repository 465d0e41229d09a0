"""Notices to citizens: an outbox written in the transaction of the event it announces (a
release, a remembered consent), delivered by a worker over SMTP with leases, retries and
back-off; preferences (at once, a daily digest, off); one-tap withdraw links.

Flask-free, like every domain: the app layer wires in how an address, a label and a link are
found (notifications.delivery.Mailer)."""
