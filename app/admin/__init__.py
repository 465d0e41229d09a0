"""The admin pages for operators: agency apps (OAuth clients) registered, edited, disabled."""
