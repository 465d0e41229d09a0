"""Notices to citizens in the Flask layer: the outbox entries the release and the consent
screen write (events.py), the mailer the worker uses (wiring.py), the settings and one-tap
withdraw pages (views.py), the CLI (cli.py), and the demo's mail sink page (demo_mail.py).
The domain is the Flask-free `notifications` package."""
