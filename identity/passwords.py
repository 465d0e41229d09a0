"""Password strength for citizens choosing their own password (activation).

Our own simple check rather than zxcvbn: the zxcvbn-python package has had no release since 2019,
so it does not count as well kept. The rules follow NIST SP 800-63B section 5.1.1.2: a minimum
length, no composition rules, and refusing passwords known to be common or tied to the person.
"""

from __future__ import annotations

MIN_LENGTH, MAX_LENGTH = 12, 200

# Passwords of 12 or more characters that appear near the top of published breach lists, plus the
# product's own name. Compared ignoring case, spaces and a trailing run of digits or "!".
COMMON = frozenset(
    {
        "password",
        "passwordpassword",
        "qwertyuiop",
        "qwertyuiopasdfghjkl",
        "qwerty",
        "qwertyqwerty",
        "asdfghjkl",
        "iloveyou",
        "iloveyouiloveyou",
        "letmein",
        "letmeinletmein",
        "welcome",
        "welcometoconsentry",
        "consentry",
        "administrator",
        "changeme",
        "abcdefghijkl",
        "abcdefghijklmnopqrstuvwxyz",
        "abc",
        "abcabcabcabc",
        "monkey",
        "football",
        "baseball",
        "princess",
        "sunshine",
        "superman",
        "trustno",
        "masterkey",
        "starwars",
        "dragon",
        "singapore",
        "correcthorsebatterystaple",
        "",
    }
)


def password_problem(password: str, *, uinfin: str) -> str | None:
    """Why `password` is too weak for the citizen with national id `uinfin`, in words to show
    them, or None when it is acceptable: 12 to 200 characters, not a common password, not
    containing their NRIC or FIN (or its digits), not one character repeated."""
    if len(password) < MIN_LENGTH:
        return f"Your password must be {MIN_LENGTH} characters or more"
    if len(password) > MAX_LENGTH:
        return f"Your password must be {MAX_LENGTH} characters or fewer"
    folded = password.lower().replace(" ", "")
    if len(set(folded)) <= 2:
        return "Your password must not be one or two characters repeated"
    if folded.rstrip("0123456789!") in COMMON or folded.strip("0123456789") == "":
        return "This password is too common. Choose a password that would be hard to guess"
    national_id = uinfin.strip().lower()
    if national_id and (national_id in folded or national_id[1:8] in folded):
        return "Your password must not contain your NRIC or FIN"
    return None
