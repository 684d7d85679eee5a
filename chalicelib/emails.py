"""Customer emails through SES templates. Templates live here; provisioning uploads them."""

from __future__ import annotations

import json

from chalicelib import aws, config
from chalicelib.logs import get_logger

log = get_logger("email")

# name -> (subject, text body); SES renders {{placeholders}} from the template data.
TEMPLATES: dict[str, tuple[str, str]] = {
    "order_approved": (
        "Order {{order_id}} approved: we are buying your items",
        "Good news: we reviewed order {{order_id}} and are buying its {{item_count}} item(s) now.\n"
        "Merchants usually ship within 1-4 days; goods reach our warehouse 3-5 days later.\n",
    ),
    "order_rejected": (
        "Order {{order_id}} could not be accepted",
        "We could not accept order {{order_id}}.\nReason: {{reason}}\n\n"
        "{{refund}} has been returned to your wallet balance; you can use it for another order.\n",
    ),
    "inspection_issue": (
        "Item {{item_id}}: our inspection found an issue",
        'We inspected "{{title}}" (item {{item_id}}) on arrival and found an issue: {{notes}}\n'
        "See the photos in your storage. You can accept the item as it is, or open an after-sales case.\n"
        "Please answer by {{due_at}}: with no answer by then we take it that you accept the item.\n",
    ),
    "not_transportable": (
        "Item {{item_id}} cannot be shipped internationally",
        '"{{title}}" (item {{item_id}}) does not meet transport conditions ({{hazards}}).\n'
        "Please negotiate a return with the merchant; open an after-sales case to have us send it back.\n",
    ),
    "electronics_confirm": (
        "Item {{item_id}} arrived: please confirm from the photos",
        '"{{title}}" (item {{item_id}}) is in our warehouse. Electronics are checked by appearance only and\n'
        "are never powered on: please look at the arrival photos and confirm, or open an after-sales case.\n"
        "Please answer by {{due_at}}: with no answer by then we take it that you accept the item.\n",
    ),
    "feedback_reminder": (
        "Item {{item_id}}: we still need your answer by {{due_at}}",
        '"{{title}}" (item {{item_id}}) waits for your decision after its inspection ({{reason}}).\n'
        "Accept or confirm it, or open an after-sales case, by {{due_at}}. With no answer by then we\n"
        "assume you have reached an agreement with the merchant, and the item is stored as accepted.\n",
    ),
    "feedback_assumed": (
        "Item {{item_id}} is stored as accepted",
        'We did not hear from you about "{{title}}" (item {{item_id}}) by {{due_at}}, so as our policy\n'
        "says we assume you have reached an agreement with the merchant. It is now in the warehouse,\n"
        "stored free until {{expires_at}}.\n",
    ),
    "photos_ready": (
        "Parcel {{tracking_no}} arrived: {{item_count}} item(s) inspected, photos ready",
        "Your parcel {{tracking_no}} reached our warehouse. Every item in it has been inspected and\n"
        "photographed:\n\n"
        "{{#each items}}- {{title}} (item {{item_id}}): {{outcome}}. {{photo_count}} photo(s):\n"
        "{{links}}\n{{/each}}\n"
        "These links work for 7 days; the photos stay with each item in your account while it is with us.\n"
        "Anything not as expected? Ask for more photos or open an after-sales case from the item.\n",
    ),
    "photo_request_done": (
        "Item {{item_id}}: the extra photos you asked for are ready",
        'We took {{photo_count}} more photo(s) of "{{title}}" (item {{item_id}}) as you asked.\n'
        "Your note: {{note}}\n\n{{links}}\n\n"
        "These links work for 7 days; the photos stay with the item in your account.\n",
    ),
    "photo_request_refunded": (
        "Item {{item_id}}: your photo request was refunded",
        'We could not take the extra photos of "{{title}}" (item {{item_id}}): {{reason}}.\n'
        "The fee has been returned to your wallet.\n",
    ),
    "after_sales_resolved": (
        "Your after-sales case {{case_id}} is resolved",
        "Case {{case_id}} for item {{item_id}}: {{resolution}}. {{refund}}\n{{note}}\n",
    ),
    "claim_resolved": (
        "Your insurance claim {{claim_id}} is {{decision}}",
        "Claim {{claim_id}} ({{kind}}) on package {{package_id}}: {{decision}}. {{compensation}}\n{{note}}\n",
    ),
    "storage_reminder": (
        "{{count}} item(s) reach the end of free storage in {{days}} day(s)",
        "Hello,\n\nThese items in our warehouse reach the end of their storage period in {{days}} day(s):\n"
        "{{#each items}}- {{title}} (item {{item_id}}): until {{expires_at}}\n{{/each}}\n"
        "Submit a package before the deadline, or buy a storage extension. Goods still here after their\n"
        "deadline are considered abandoned and destroyed.\n",
    ),
    "price_difference_due": (
        "Item {{item_id}}: the merchant's price went up",
        "The merchant charged more than the listed price for item {{item_id}}.\n"
        "{{amount}} is due: top up your wallet and pay the difference to continue,\n"
        "or decline it to cancel the item with a refund of {{refund}} to your wallet.\n",
    ),
    "price_difference_confirm": (
        "Item {{item_id}}: the merchant's price went up, please confirm",
        'The merchant now asks {{actual}} per unit for "{{title}}" (item {{item_id}})\n'
        "instead of {{listed}}. "
        "The difference, {{amount}}, is more than we charge without asking you.\n"
        "Pay the difference from your wallet to have the item bought, or decline it to cancel the item\n"
        "with a refund of {{refund}} to your wallet.\n",
    ),
    "item_unavailable": (
        "Item {{item_id}} could not be bought: {{refund}} refunded",
        'We could not buy "{{title}}" (item {{item_id}}, order {{order_id}}): {{reason}}.\n{{note}}\n\n'
        "{{refund}} (what you paid for it, and its shop's domestic shipping when nothing else comes from\n"
        "that shop) has been returned to your wallet balance. {{closed}}\n",
    ),
    "replacement_offered": (
        "Item {{item_id}}: the shop has another option for you",
        'The shop cannot supply "{{title}}" ({{ordered}}) as ordered, but has {{offered}} in stock at\n'
        "{{price}} per unit (a difference of {{difference}} for your quantity). {{note}}\n\n"
        "Accept it to have it bought (a higher price is charged from your wallet, a lower one refunded),\n"
        "or decline it to cancel the item with a refund of {{refund}} to your wallet.\n"
        "Please answer by {{due_at}}: with no answer by then we decline it for you and refund the item.\n",
    ),
    # a replacement offer's deadline (chalicelib/replacement_deadline.py)
    "replacement_reminder": (
        "Item {{item_id}}: please answer the replacement offer by {{due_at}}",
        'The shop cannot supply "{{title}}" as ordered; we offered {{offered}} instead. Accept or decline\n'
        "the offer by {{due_at}}. With no answer by then we decline it for you: we never buy something you\n"
        "did not choose, so the item is cancelled and {{refund}} refunded to your wallet.\n",
    ),
    "replacement_expired": (
        "Item {{item_id}} cancelled: no answer to the replacement offer, {{refund}} refunded",
        'We offered {{offered}} instead of "{{title}}" (item {{item_id}}), which the shop cannot supply,\n'
        "and did not hear from you by {{due_at}}. As we never buy something you did not choose, we declined\n"
        "the offer for you: the item is cancelled and {{refund}} (what you paid for it, and its shop's\n"
        "domestic shipping when nothing else comes from that shop) is back in your wallet. {{closed}}\n",
    ),
    "package_payment_due": (
        "Package {{package_id}}: {{amount}} more is due after packing",
        "We packed package {{package_id}}. Its measured weight and size cost {{amount}} more than you paid,\n"
        "and your wallet balance does not cover it. Top up and pay the difference to have it shipped,\n"
        "or send the package back to storage for a refund, by {{due_at}}. With no answer by then it goes\n"
        "back to storage.\n",
    ),
    # issue 24: a packing difference over the consent threshold, a rehearsal, and their deadline
    "package_difference_confirm": (
        "Package {{package_id}}: packing costs {{amount}} more, please confirm",
        "We packed package {{package_id}}. Its measured weight and size cost {{amount}} more than you paid,\n"
        "more than the {{threshold}} we charge without asking. Pay the difference from your wallet to have\n"
        "it shipped, or send it back to storage for a refund, by {{due_at}} ({{days}} days). With no answer\n"
        "by then it goes back to storage.\n",
    ),
    "package_rehearsed": (
        "Package {{package_id}} is packed: check it before it ships",
        "Your rehearsal of package {{package_id}} is ready: packed, {{weight_g}} g, {{dims}}.\n"
        "Final charge: {{total}} ({{difference}} against what you paid). See the photos of the parcel,\n"
        "then confirm the packing, ask for a change, or send it back to storage, by {{due_at}}.\n",
    ),
    "package_answer_reminder": (
        "Package {{package_id}} waits for your answer: {{days}} day(s) left",
        "Package {{package_id}} is packed and waits for your answer until {{due_at}}"
        "{{#if rehearsal}} (confirm the rehearsed parcel or ask for a change){{else}} (pay the {{amount}}"
        " difference){{/if}}.\n"
        "With no answer by then it goes back to storage and what you paid is refunded.\n",
    ),
    "package_returned_to_storage": (
        "Package {{package_id}} went back to storage",
        "Package {{package_id}} waited {{days}} days for your answer after packing, so we unpacked it.\n"
        "{{refund}} went back to your wallet, and its {{item_count}} item(s) are back in storage with their\n"
        "storage deadlines; submit a new package before those deadlines to have them shipped.\n",
    ),
    "package_expired": (
        "Package {{package_id}} was not paid and has been cancelled",
        "Package {{package_id}} waited {{days}} days for payment, so we cancelled it.\n"
        "Its {{item_count}} item(s) are back in storage with their storage deadlines; submit a new package\n"
        "before those deadlines to have them shipped.\n",
    ),
    "package_shipped": (
        "Package {{package_id}} shipped: {{carrier}} {{tracking_no}}",
        "Package {{package_id}} left our warehouse with {{carrier}}.\nTracking number: {{tracking_no}}\n"
        "Track it: {{tracking_url}}\n\nPlease confirm receipt when it arrives, and rate our service.\n",
    ),
    "package_auto_confirmed": (
        "Package {{package_id}} marked as delivered",
        "Package {{package_id}} shipped {{days}} days ago, so we have marked it delivered.\n"
        "If it has not arrived, reply to this email. You can still rate our service.\n",
    ),
    # a withdrawal decided (chalicelib/withdrawals.py): each part also in the currency it was paid in
    "withdrawal_refunded": (
        "Withdrawal {{withdrawal_id}}: {{refunded}} refunded",
        "We refunded your withdrawal of {{amount}} to the payment methods it came from:\n"
        "{{#each refunds}}- {{amount}} ({{charged}}) to your {{method}} payment of {{paid_on}}\n{{/each}}\n"
        "Your bank or PayPal shows each refund once it has processed it.\n",
    ),
    "withdrawal_partly_refunded": (
        "Withdrawal {{withdrawal_id}}: {{returned}} back in your wallet",
        "{{#if refunds}}We refunded {{refunded}} of your withdrawal of {{amount}} to the payment methods "
        "it came from:\n"
        "{{#each refunds}}- {{amount}} ({{charged}}) to your {{method}} payment of {{paid_on}}\n{{/each}}\n"
        "The payment provider refused the rest, so{{else}}The payment provider refused to refund your "
        "withdrawal of {{amount}}, so{{/if}} {{returned}} is back in your wallet balance:\n"
        "{{#each returned_parts}}- {{amount}} of your {{method}} payment of {{paid_on}}: {{reason}}\n"
        "{{/each}}\nYou can use it for orders, or ask for it in a new withdrawal.\n",
    ),
    "withdrawal_rejected": (
        "Withdrawal {{withdrawal_id}} could not be made",
        "We could not make your withdrawal of {{amount}}.\nReason: {{reason}}\n\n"
        "{{amount}} is back in your wallet balance; you can use it for orders or ask again.\n",
    ),
    # staff replies of one thread within MESSAGE_EMAIL_BATCH_MINUTES, in one email (jobs/message_emails.py);
    # the bodies are plain text: `{{body}}` is HTML-escaped by SES in the HTML part
    "staff_replied": (
        "Our staff replied about your {{kind}} {{subject_id}}",
        "Our staff replied about your {{kind}} {{subject_id}} ({{count}} new message(s)):\n\n"
        "{{#each replies}}{{created_at}}\n{{body}}\n\n{{/each}}"
        "Read and answer them in the messages of your {{kind}}.\n",
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
