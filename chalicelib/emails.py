"""Customer emails through SES templates. Templates live here; provisioning uploads them."""

from __future__ import annotations

import json

from chalicelib import aws, config
from chalicelib.logs import get_logger

log = get_logger("email")

# name -> (subject, text body); SES renders {{placeholders}} from the template data.
TEMPLATES: dict[str, tuple[str, str]] = {
    "welcome": (
        "Welcome to Procure, {{name}}",
        "Hello {{name}},\n\nYour account is ready. Paste a 1688, Taobao, Tmall or Weidian link to start.\n",
    ),
}


def template_name(name: str) -> str:
    return f"{config.get('TABLE_PREFIX')}-{name}"


def ensure_templates() -> None:
    """Create or update every template (idempotent)."""
    ses = aws.client("ses")
    for name, (subject, text) in TEMPLATES.items():
        template = {
            "TemplateName": template_name(name),
            "SubjectPart": subject,
            "TextPart": text,
            "HtmlPart": "<pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre>",
        }
        try:
            ses.create_template(Template=template)
        except ses.exceptions.AlreadyExistsException:
            ses.update_template(Template=template)


def send(name: str, to: str, data: dict) -> str:
    """Send template `name` to one address; returns the SES message id. Raises on SES errors."""
    if name not in TEMPLATES:
        raise KeyError(f"unknown email template {name!r}")
    response = aws.client("ses").send_templated_email(
        Source=config.get("EMAIL_SENDER"),
        Destination={"ToAddresses": [to]},
        Template=template_name(name),
        TemplateData=json.dumps(data, ensure_ascii=False),
    )
    log.info("email sent", extra={"template": name, "message_id": response["MessageId"]})
    return response["MessageId"]
