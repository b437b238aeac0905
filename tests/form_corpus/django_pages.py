"""Real Django admin pages for the form corpus, rendered by Django itself and printed as JSON.

Run in its own process (``python django_pages.py DIRECTORY``): Django's settings are global to a process,
and the test process must not be configured as a Django project. A minimal project is set up in code
(sqlite in DIRECTORY; admin, auth, contenttypes, sessions, messages), migrated, given a superuser and a
group holding two permissions, and these pages are fetched with Django's test client:

- ``/admin/login/?next=/admin/``: the login page, logged out;
- ``/admin/auth/group/add/``: the group form, its permissions a ``<select multiple>`` with nothing selected
  (the issue's case: a browser sends no permission);
- ``/admin/auth/group/1/change/``: the same form with two permissions selected;
- ``/admin/auth/group/1/delete/``: the delete confirmation (a hidden ``post=yes`` and a button only);
- ``/admin/auth/group/``: the change list, with its search form (GET) and the actions form;
- ``/admin/auth/user/add/``: the user form with two password fields and the usable-password radios;
- ``/admin/auth/user/1/change/``: the user form (checkboxes, split date/time inputs, two multi-selects).

Every page after login starts with the header's logout form (a CSRF input and a button). The output is
JSON: ``pages`` (``{path with query: html}``), ``scripts`` (the admin's ``/admin/jsi18n/`` catalog) and
``static_dir`` (Django's own admin static files). The recording server serves each page at that same path,
so ``action=""`` posts back where it would in Django, and the admin's real JavaScript runs in the browser
(SelectFilter2 turns each multi-select into the two-box widget and selects the chosen box on submit).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAGES_LOGGED_IN = (
    "/admin/auth/group/add/",
    "/admin/auth/group/1/change/",
    "/admin/auth/group/1/delete/",
    "/admin/auth/group/",
    "/admin/auth/user/add/",
    "/admin/auth/user/1/change/",
)
LOGIN_PAGE = "/admin/login/?next=/admin/"
SCRIPT_CATALOG = "/admin/jsi18n/"
"""The admin's JavaScript translation catalog, which its widgets' scripts need."""


def main(directory: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="form-corpus-not-a-secret",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "db.sqlite3")}
        },
        STATIC_URL="/static/",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()
    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    admin = User.objects.create_superuser("admin", "admin@example.com", "corpus-password")
    group = Group.objects.create(name="editors")
    group.permissions.set(Permission.objects.filter(codename__in=["add_user", "view_group"]))
    admin.groups.add(group)

    pages: dict[str, str] = {}
    answer = Client().get(LOGIN_PAGE)
    assert answer.status_code == 200, answer.status_code
    pages[LOGIN_PAGE] = answer.content.decode()
    client = Client()
    client.force_login(admin)
    for path in PAGES_LOGGED_IN:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        pages[path] = answer.content.decode()
    catalog = client.get(SCRIPT_CATALOG)
    assert catalog.status_code == 200, (SCRIPT_CATALOG, catalog.status_code)
    static = Path(django.__file__).resolve().parent / "contrib" / "admin" / "static"
    json.dump(
        {"pages": pages, "scripts": {SCRIPT_CATALOG: catalog.content.decode()}, "static_dir": str(static)},
        sys.stdout,
    )


def _urlpatterns() -> list[object]:
    from django.contrib import admin
    from django.urls import path

    return [path("admin/", admin.site.urls)]


def __getattr__(name: str) -> object:
    """``urlpatterns`` built when Django first asks for it (after ``django.setup()``)."""
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
