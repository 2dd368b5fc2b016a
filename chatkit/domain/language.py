"""The language of what clients read: English (as written in the code) and Arabic.

One catalogue: every ``Sentence`` (``chatkit.protocol``) and the fixed messages of the
domain and transports, mapped to Arabic, plus patterns for the messages that name a
field or a number ("email is required", "try again in 20 seconds"), whose field names
stay as the API spells them. A message with no entry is left in English rather than
guessed at. The language is the request's ``lang`` header (``en`` or ``ar``), else the
user's stored ``lang``, else English (the original backend's rule); transports apply
it in one place each, to error replies and to the sentences of their replies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from chatkit.domain.errors import BadRequest
from chatkit.protocol import Sentence

ENGLISH: Final = "en"
ARABIC: Final = "ar"
LANGS: Final = (ENGLISH, ARABIC)


def check_lang(value: str) -> str:
    """A language a user may choose, as stored (lower case); else a 400."""
    lang = value.strip().lower()
    if lang not in LANGS:
        raise BadRequest(Sentence.UNKNOWN_LANG)
    return lang


def pick(header: str | None, stored: str | None = None) -> str:
    """The language to answer in: a supported ``lang`` header wins (``ar-EG`` counts as
    ``ar``), then the user's stored choice, then English."""
    for candidate in (header, stored):
        if candidate:
            base = candidate.strip().lower().replace("_", "-").split("-")[0].split(",")[0]
            if base in LANGS:
                return base
    return ENGLISH


def translate(message: str, lang: str) -> str:
    """``message`` in ``lang``: from the catalogue, else by a pattern, else unchanged."""
    if lang != ARABIC:
        return message
    fixed = ARABIC_SENTENCES.get(message)
    if fixed is not None:
        return fixed
    for pattern, render in _PATTERNS:
        match = pattern.fullmatch(message)
        if match is not None:
            return render(match)
    return message


def push_title(sender_first_name: str | None, lang: str) -> str:
    """A new message's notification title, in the recipient's language."""
    if lang == ARABIC:
        return f"رسالة جديدة من {sender_first_name or 'شخص ما'}"
    return f"New message from {sender_first_name or 'someone'}"


def push_image_body(lang: str) -> str:
    """The notification text of an image message."""
    return "صورة" if lang == ARABIC else "image"


ARABIC_SENTENCES: Final[dict[str, str]] = {
    # authentication
    Sentence.AUTH_REQUIRED: "المصادقة مطلوبة",
    Sentence.INVALID_TOKEN: "رمز الدخول غير صالح",
    Sentence.SESSION_EXPIRED: "انتهت الجلسة، يرجى تسجيل الدخول مرة أخرى",
    Sentence.SESSION_ENDED: "انتهت الجلسة، يرجى تسجيل الدخول مرة أخرى",
    Sentence.PASSWORD_CHANGED: "تم تغيير كلمة المرور، يرجى تسجيل الدخول مرة أخرى",
    Sentence.ACCOUNT_NOT_FOUND: "الحساب غير موجود",
    Sentence.ACCOUNT_BLOCKED: "الحساب محظور",
    Sentence.ACCOUNT_DEACTIVATED: "الحساب معطّل",
    Sentence.BAD_LOGIN: "البريد الإلكتروني أو كلمة المرور غير صحيحة",
    Sentence.BAD_CURRENT_PASSWORD: "كلمة المرور الحالية غير صحيحة",
    Sentence.REGISTRATION_CLOSED: "التسجيل مغلق؛ اطلب حسابًا من المسؤول",
    Sentence.EMAIL_TAKEN: "البريد الإلكتروني مسجّل بالفعل",
    Sentence.BAD_CODE: "الرمز غير صحيح أو منتهي الصلاحية",
    Sentence.MAIL_UNAVAILABLE: "البريد الإلكتروني غير مهيأ على هذا الخادم",
    Sentence.CODE_REQUIRED: "أرسل الرمز في الحقل code (أو otp)",
    Sentence.UNKNOWN_LANG: "يجب أن تكون اللغة en أو ar",
    # chats and messages
    Sentence.BLOCKED: "لا يمكنك إرسال رسالة إلى مستخدم محظور",
    Sentence.USER_UNAVAILABLE: "هذا المستخدم غير متاح",
    Sentence.NOT_TO_YOURSELF: "لا يمكنك إرسال رسالة إلى نفسك",
    Sentence.ONE_TARGET: "أرسل واحدًا فقط من chatId و otherUserId",
    Sentence.CHAT_NOT_FOUND: "المحادثة غير موجودة",
    Sentence.MESSAGE_NOT_FOUND: "الرسالة غير موجودة",
    Sentence.USER_NOT_FOUND: "المستخدم غير موجود",
    Sentence.CLEAR_RACED: "تغيّرت المحادثة أثناء مسحها؛ حاول مرة أخرى",
    # transport
    Sentence.NOT_CONNECTED: "غير متصل",
    Sentence.SHUTTING_DOWN: "الخادم يتوقف عن العمل",
    Sentence.RETRY: "حدث خطأ ما، يرجى المحاولة مرة أخرى",
    Sentence.BODY_TOO_LARGE: "نص الطلب كبير جدًا",
    Sentence.BODY_UNREADABLE: "تعذّر فك ترميز نص الطلب (تحقق من Content-Encoding)",
    Sentence.PACKET_TOO_LARGE: "الحدث كبير جدًا: 1 ميغابايت على الأكثر",
    Sentence.MALFORMED_PACKET: "حزمة Socket.IO غير سليمة",
    Sentence.REQUEST_TOO_LARGE: "سطر الطلب أو الترويسات كبيرة جدًا",
    Sentence.BAD_METHOD: "طريقة HTTP غير مدعومة",
    Sentence.MALFORMED_REQUEST: "طلب HTTP غير سليم",
    Sentence.INTERNAL_ERROR: "خطأ داخلي في الخادم",
    Sentence.DATABASE_UNAVAILABLE: "قاعدة البيانات غير متاحة",
    Sentence.DATABASE_RETRY: "قاعدة البيانات غير متاحة، يرجى المحاولة مرة أخرى",
    Sentence.RATE_LIMITED: "طلبات كثيرة جدًا، يرجى التمهّل",
    # replies
    Sentence.REGISTERED: "تم التسجيل",
    Sentence.LOGGED_IN: "تم تسجيل الدخول",
    Sentence.LOGGED_OUT: "تم تسجيل الخروج",
    Sentence.PASSWORD_SET: "تم تغيير كلمة المرور",
    Sentence.CHAT_CLEARED: "تم مسح المحادثة",
    Sentence.USER_BLOCKED: "تم حظر المستخدم",
    Sentence.USER_UNBLOCKED: "تم إلغاء حظر المستخدم",
    Sentence.VERIFICATION_SENT: "تم إرسال رمز التحقق إلى بريدك الإلكتروني",
    Sentence.OTP_SENT: "إذا كان لهذا البريد الإلكتروني حساب، فقد أُرسل إليه رمز",
    Sentence.ACCOUNT_VERIFIED: "تم التحقق من الحساب",
    Sentence.PROFILE_UPDATED: "تم تحديث الملف الشخصي",
    Sentence.LANG_SET: "تم تحديث اللغة",
    # fixed messages of the domain and the transports
    "Media not found": "الوسائط غير موجودة",
    "Malformed JSON body": "نص JSON غير سليم",
    "Malformed JSON body: nested too deeply": "نص JSON غير سليم: متداخل بعمق كبير",
    "Malformed multipart body": "نص multipart غير سليم",
    "Malformed Socket.IO traffic": "حركة Socket.IO غير سليمة",
    "Nested multipart bodies are not accepted": "لا تُقبل نصوص multipart المتداخلة",
    "The body must be multipart/form-data": "يجب أن يكون نص الطلب multipart/form-data",
    "Only JPEG, PNG, GIF and WebP images are accepted": "تُقبل صور JPEG و PNG و GIF و WebP فقط",
    "The file is not a readable image": "الملف ليس صورة قابلة للقراءة",
    "Animated image has too many frames": "الصورة المتحركة تحتوي على إطارات كثيرة جدًا",
    "Give exactly one of chatId and receiverId": "أرسل واحدًا فقط من chatId و receiverId",
    "You can't block yourself": "لا يمكنك حظر نفسك",
    "No such user": "المستخدم غير موجود",
    "content must not be empty": "يجب ألا يكون المحتوى فارغًا",
    "newPassword must differ from currentPassword": "يجب أن تختلف newPassword عن currentPassword",
    "startDate must not be after endDate": "يجب ألا يكون startDate بعد endDate",
    "type must be text or image": "يجب أن يكون type هو text أو image",
    "email is not a valid email address": "البريد الإلكتروني غير صالح",
    "search must not contain a NUL character": "يجب ألا يحتوي البحث على محرف NUL",
}

Render = Callable[[re.Match[str]], str]


def _seconds(n: str, unit: str) -> str:
    return f"{n} {'ثانية' if unit.startswith('second') else 'دقيقة'}"


_TYPES: Final = {"a string": "نصًا", "an integer": "عددًا صحيحًا", "a boolean": "قيمة منطقية", "null": "null"}

_TYPE: Final = "(?:a string|an integer|a boolean|null)"
_PATTERNS: Final[list[tuple[re.Pattern[str], Render]]] = [
    (re.compile(r"(\S+) is required"), lambda m: f"الحقل {m[1]} مطلوب"),
    (re.compile(r"Unexpected field: (.*)"), lambda m: f"حقل غير متوقع: {m[1]}"),
    (re.compile(r"The (.+) must be a JSON object"), lambda m: "يجب أن يكون نص الطلب كائن JSON"),
    (re.compile(rf"(\S+) must be ({_TYPE}(?: or {_TYPE})*)"),
     lambda m: f"يجب أن يكون {m[1]} " + " أو ".join(_TYPES[t] for t in m[2].split(" or "))),
    (re.compile(r"(\S+) must be at most (\d+) characters"), lambda m: f"يجب ألا يزيد {m[1]} على {m[2]} حرفًا"),
    (re.compile(r"(\S+) must be at least (\d+) characters"), lambda m: f"يجب ألا يقل {m[1]} عن {m[2]} أحرف"),
    (re.compile(r"(\S+) must be at most (\d+) bytes"), lambda m: f"يجب ألا يزيد {m[1]} على {m[2]} بايت"),
    (re.compile(r"(\S+) must not be empty"), lambda m: f"يجب ألا يكون {m[1]} فارغًا"),
    (re.compile(r"(\S+) must contain a visible character"), lambda m: f"يجب أن يحتوي {m[1]} على محرف ظاهر"),
    (re.compile(r"(\S+) must not contain control characters"), lambda m: f"يجب ألا يحتوي {m[1]} على محارف تحكم"),
    (re.compile(r"(\S+) must be valid Unicode text"), lambda m: f"يجب أن يكون {m[1]} نص Unicode صالحًا"),
    (re.compile(r"(\S+) must be valid UTF-8 text"), lambda m: f"يجب أن يكون {m[1]} نص UTF-8 صالحًا"),
    (re.compile(r"(\S+) must be a 24-character hex id"), lambda m: f"يجب أن يكون {m[1]} معرّفًا سداسيًا من 24 محرفًا"),
    (re.compile(r"(\S+) must be an ISO-8601 date or time"),
     lambda m: f"يجب أن يكون {m[1]} تاريخًا أو وقتًا بصيغة ISO-8601"),
    (re.compile(r"(\S+) must be between (\d+) and (\d+)"), lambda m: f"يجب أن يكون {m[1]} بين {m[2]} و {m[3]}"),
    (re.compile(r"(\S+) is given twice"), lambda m: f"الحقل {m[1]} مكرر"),
    (re.compile(r"(\S+) is too long"), lambda m: f"الحقل {m[1]} طويل جدًا"),
    (re.compile(r"Too many failed logins, try again in (\d+) (seconds?)"),
     lambda m: f"محاولات دخول فاشلة كثيرة، حاول مرة أخرى بعد {_seconds(m[1], m[2])}"),
    (re.compile(r"Too many codes requested for this email, try again in (\d+) (minutes?)"),
     lambda m: f"طُلبت رموز كثيرة لهذا البريد الإلكتروني، حاول مرة أخرى بعد {_seconds(m[1], m[2])}"),
    (re.compile(r"Each file must be at most (\d+) bytes.*"), lambda m: f"يجب ألا يزيد حجم كل ملف على {m[1]} بايت"),
    (re.compile(r"Image is too large.*"), lambda m: "الصورة كبيرة جدًا"),
    (re.compile(r"Attach .*"), lambda m: "عدد الملفات المرفقة غير صحيح"),
    (re.compile(r"Unknown event: (.*)"), lambda m: f"حدث غير معروف: {m[1]}"),
]
