"""The words GOV.UK Frontend's macros write when a call does not pass its own ("Success",
"Important", "Back", "Error", "Warning", "Show"...), put through gettext as the templates load.

govuk-frontend-jinja writes these defaults in English. A Chinese page whose template forgot to
pass one (a notification banner's title, a back link's text, the hidden "Warning" of a warning
text) showed that English word to the citizen, and a screen reader read it out. Rather than every
call remembering every default, the loader (app/site.py) rewrites each default in the component's
source to `_("...")`, so whichever page calls a component, in whichever language, the fallback is
translated. Each rewrite must find its exact text: an upstream change fails at start-up
(`GovukWordsChanged`) instead of slipping English back onto Chinese pages.

The words are extracted for the catalogue from the table below (`N_` marks them).
"""

from __future__ import annotations


def N_(message: str) -> str:  # Babel's keyword for "extract now, translate when shown"
    return message


# component template -> [(what the package writes, what the page gets)]. Password input: the
# toggle's words also go to the data-i18n attributes its script reads (else "Hide" and the
# announcements would be English once the script runs). Pagination: "Previous page" is one message,
# its hidden part included, so a language whose word for "Previous" already means "previous page"
# (Chinese 上一页) translates the whole and a screen reader does not hear "page" twice.
_REWRITES: dict[str, list[tuple[str, str]]] = {
    "components/back-link/macro.html": [('default("Back", true)', 'default(_("Back"), true)')],
    "components/error-message/macro.html": [('default("Error")', 'default(_("Error"))')],
    "components/notification-banner/macro.html": [
        ('{% set title = "Success" %}', '{% set title = _("Success") %}'),
        ('{% set title = "Important" %}', '{% set title = _("Important") %}'),
    ],
    "components/warning-text/macro.html": [('default("Warning", true)', 'default(_("Warning"), true)')],
    "components/service-navigation/macro.html": [
        ('params.menuButtonText or "Menu"', 'params.menuButtonText or _("Menu")'),
    ],
    "components/footer/macro.html": [('default("Support links", true)', 'default(_("Support links"), true)')],
    "components/pagination/macro.html": [
        ('default("Pagination", true)', 'default(_("Pagination"), true)'),
        ('default("Page " ~ item.number)', 'default(_("Page %(number)s", number=item.number))'),
        (
            'Previous<span class="govuk-visually-hidden"> page</span>',
            "{{ _('Previous<span class=\"govuk-visually-hidden\"> page</span>') }}",
        ),
        (
            'Next<span class="govuk-visually-hidden"> page</span>',
            "{{ _('Next<span class=\"govuk-visually-hidden\"> page</span>') }}",
        ),
    ],
    "components/password-input/macro.html": [
        ("'message': params.showPasswordText\n", "'message': params.showPasswordText or _(\"Show\")\n"),
        ("'message': params.hidePasswordText\n", "'message': params.hidePasswordText or _(\"Hide\")\n"),
        (
            "'message': params.showPasswordAriaLabelText\n",
            "'message': params.showPasswordAriaLabelText or _(\"Show password\")\n",
        ),
        (
            "'message': params.hidePasswordAriaLabelText\n",
            "'message': params.hidePasswordAriaLabelText or _(\"Hide password\")\n",
        ),
        (
            "'message': params.passwordShownAnnouncementText\n",
            "'message': params.passwordShownAnnouncementText or _(\"Your password is visible\")\n",
        ),
        (
            "'message': params.passwordHiddenAnnouncementText\n",
            "'message': params.passwordHiddenAnnouncementText or _(\"Your password is hidden\")\n",
        ),
        ('default("Show")', 'default(_("Show"))'),
        ('default("Show password")', 'default(_("Show password"))'),
    ],
}

EXTRACTED = (
    N_("Back"),
    N_("Error"),
    N_("Success"),
    N_("Important"),
    N_("Warning"),
    N_("Menu"),
    N_("Support links"),
    N_("Pagination"),
    N_("Page %(number)s"),
    N_('Previous<span class="govuk-visually-hidden"> page</span>'),
    N_('Next<span class="govuk-visually-hidden"> page</span>'),
    N_("Show"),
    N_("Hide"),
    N_("Show password"),
    N_("Hide password"),
    N_("Your password is visible"),
    N_("Your password is hidden"),
)


class GovukWordsChanged(RuntimeError):
    """A component's default no longer reads as this module expects: review the upgrade."""


def translated(template: str, source: str) -> str:
    """The component's source with each English default through gettext (other templates as
    they are). Raises GovukWordsChanged when a default to rewrite is not found exactly once."""
    for english, ours in _REWRITES.get(template, ()):
        if source.count(english) != 1:
            raise GovukWordsChanged(f"govuk_frontend_jinja/{template} changed: review {english!r}")
        source = source.replace(english, ours)
    return source


def rewritten_templates() -> list[str]:
    return list(_REWRITES)
