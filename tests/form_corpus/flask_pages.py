"""Flask-WTF forms for the form corpus, rendered by a real Flask app (Flask and Flask-WTF from PyPI).

Two pages, fetched once with Flask's test client and served as snapshots at the same paths:

- ``/flask/profile``: every WTForms field type a form posts as ``application/x-www-form-urlencoded`` —
  StringField, PasswordField, BooleanField checked and unchecked, RadioField (one chosen), SelectField,
  SelectMultipleField with nothing selected and with two selected, TextAreaField (inner newlines), two
  SubmitFields, and Flask-WTF's hidden ``csrf_token``;
- ``/flask/upload``: a FileField in a ``multipart/form-data`` form, with a StringField, a SubmitField and
  the CSRF field.
"""

from __future__ import annotations

PROFILE_PAGE = "/flask/profile"
UPLOAD_PAGE = "/flask/upload"

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<form method="post" action="" id="{{ form_id }}"{% if multipart %} enctype="multipart/form-data"{% endif %}>
{% for field in form %}
  <p>{{ field.label }} {{ field() }}</p>
{% endfor %}
</form>
</body></html>
"""


def render() -> dict[str, str]:
    """``{path: html}`` for the two pages."""
    from flask import Flask, render_template_string
    from flask_wtf import FlaskForm
    from flask_wtf.file import FileField
    from wtforms import (  # type: ignore[attr-defined]  # SelectChoice is WTForms 3.3; types-WTForms stops at 3.2
        BooleanField,
        PasswordField,
        RadioField,
        SelectChoice,
        SelectField,
        SelectMultipleField,
        StringField,
        SubmitField,
        TextAreaField,
    )

    class ProfileForm(FlaskForm):
        name = StringField("Name", default="Ada")
        password = PasswordField("Password")
        newsletter = BooleanField("Newsletter", default=True)
        terms = BooleanField("Terms")
        plan = RadioField(
            "Plan", choices=[SelectChoice("free", "Free"), SelectChoice("team", "Team")], default="team"
        )
        country = SelectField(
            "Country", choices=[SelectChoice("fr", "France"), SelectChoice("de", "Germany")], default="de"
        )
        roles = SelectMultipleField(
            "Roles", choices=[SelectChoice("admin", "Admin"), SelectChoice("editor", "Editor")]
        )
        tags = SelectMultipleField(
            "Tags",
            choices=[SelectChoice("a", "A"), SelectChoice("b", "B"), SelectChoice("c", "C")],
            default=["a", "c"],
        )
        bio = TextAreaField("Bio", default="first line\nsecond line")
        save = SubmitField("Save")
        delete = SubmitField("Delete")

    class UploadForm(FlaskForm):
        title = StringField("Title", default="report")
        attachment = FileField("Attachment")
        upload = SubmitField("Upload")

    app = Flask(__name__)
    app.config.update(SECRET_KEY="form-corpus-not-a-secret", TESTING=True)

    @app.route(PROFILE_PAGE, methods=["GET", "POST"])
    def profile() -> str:
        return render_template_string(
            _PAGE, title="Profile", form=ProfileForm(), form_id="profile-form", multipart=False
        )

    @app.route(UPLOAD_PAGE, methods=["GET", "POST"])
    def upload() -> str:
        return render_template_string(
            _PAGE, title="Upload", form=UploadForm(), form_id="upload-form", multipart=True
        )

    client = app.test_client()
    pages = {}
    for path in (PROFILE_PAGE, UPLOAD_PAGE):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        pages[path] = answer.get_data(as_text=True)
    return pages
