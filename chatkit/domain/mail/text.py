"""What an account mail says: a one-time code, in the reader's language, plain and HTML.

No tracking: no remote images, no links, no per-reader identifiers beyond the code.
The HTML part says exactly what the text part says. The code is never in the subject,
which outlives the body in the outbox's record.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Final

VERIFY: Final = "verify"  # confirm the address of a new account
SIGN_IN: Final = "sign-in"  # send-otp: get back in without the password
EXISTS: Final = "exists"  # someone tried to register an address that has an account


@dataclass(frozen=True)
class MailText:
    subject: str
    text: str
    html: str


_TEXTS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "en": {
        VERIFY: ("Your verification code",
                 "Your verification code is {code}.\n\nEnter it in the app to confirm your email address. "
                 "It works once, for {minutes} minutes.\n\nIf you did not create an account, ignore this mail."),
        SIGN_IN: ("Your sign-in code",
                  "Your sign-in code is {code}.\n\nEnter it in the app to sign in; you can then set a new "
                  "password. It works once, for {minutes} minutes.\n\nIf you did not ask for it, ignore this "
                  "mail: your password stays as it is."),
        EXISTS: ("Someone tried to register with your address",
                 "Someone tried to create an account with this email address, which already has one.\n\n"
                 "If it was you, sign in instead; if you forgot your password, ask the app for a sign-in code."
                 "\n\nIf it was not you, ignore this mail."),
    },
    "ar": {
        VERIFY: ("رمز التحقق الخاص بك",
                 "رمز التحقق الخاص بك هو {code}.\n\nأدخله في التطبيق لتأكيد بريدك الإلكتروني. "
                 "يعمل مرة واحدة، لمدة {minutes} دقيقة.\n\nإذا لم تنشئ حسابًا، فتجاهل هذه الرسالة."),
        SIGN_IN: ("رمز تسجيل الدخول الخاص بك",
                  "رمز تسجيل الدخول الخاص بك هو {code}.\n\nأدخله في التطبيق لتسجيل الدخول، ثم يمكنك تعيين "
                  "كلمة مرور جديدة. يعمل مرة واحدة، لمدة {minutes} دقيقة.\n\nإذا لم تطلبه، فتجاهل هذه "
                  "الرسالة: تبقى كلمة مرورك كما هي."),
        EXISTS: ("حاول شخص ما التسجيل بعنوانك",
                 "حاول شخص ما إنشاء حساب بعنوان البريد الإلكتروني هذا، وله حساب بالفعل.\n\n"
                 "إذا كنت أنت، فسجّل الدخول بدلًا من ذلك؛ وإذا نسيت كلمة مرورك، فاطلب رمز تسجيل دخول من "
                 "التطبيق.\n\nإذا لم تكن أنت، فتجاهل هذه الرسالة."),
    },
}


def compose(kind: str, lang: str, *, code: str = "", minutes: int = 10) -> MailText:
    texts = _TEXTS.get(lang, _TEXTS["en"])
    subject, body = texts[kind]
    text = body.format(code=code, minutes=minutes)
    direction = "rtl" if lang == "ar" else "ltr"
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    page = (f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head><body>{paragraphs}</body></html>")
    return MailText(subject, text, page)
