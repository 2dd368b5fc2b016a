"""A user's own profile: names, language and picture, and the account as its owner sees it.

Pictures go through the chat images' pipeline (``images.clean_image``: judged by their
bytes, re-encoded without EXIF or GPS) into the same GridFS bucket, and are served the
same way: the stored value is the canonical path, shown as an expiring signed URL.
Replacing a picture deletes the old file, so no picture outlives its use.
"""

from __future__ import annotations

from chatkit.domain.accounts import clean_name
from chatkit.domain.images import CleanImage
from chatkit.domain.language import check_lang
from chatkit.domain.media_urls import MediaUrls, file_id_of, media_path
from chatkit.domain.views import View, picture, user_view
from chatkit.storage.database import Storage
from chatkit.storage.documents import Query, UserDoc
from chatkit.storage.users import search_keys


class Profiles:
    def __init__(self, storage: Storage, urls: MediaUrls) -> None:
        self.storage = storage
        self.urls = urls

    def view(self, user: UserDoc) -> View:
        """``user_view`` with a stored picture as a signed URL the app can load as is."""
        return {**user_view(user), "profilePicture": picture(user, self.urls)}

    async def update(self, user: UserDoc, *, first_name: str | None = None, last_name: str | None = None,
                     lang: str | None = None, picture: CleanImage | None = None) -> UserDoc:
        """Change what is given; everything is checked before anything is stored."""
        fields: Query = {}
        if first_name is not None:
            fields["firstName"] = clean_name(first_name, "firstName")
        if last_name is not None:
            fields["lastName"] = clean_name(last_name, "lastName")
        if lang is not None:
            fields["lang"] = check_lang(lang)
        if "firstName" in fields or "lastName" in fields:
            fields["searchKeys"] = search_keys(fields.get("firstName", user.get("firstName")),
                                               fields.get("lastName", user.get("lastName")), user.get("email"))
        old = user.get("profilePicture")
        if picture is not None:
            file_id = await self.storage.media.put(
                picture.data, content_type=picture.content_type, sha256=picture.sha256, chat_id=None,
                uploader=user["_id"], width=picture.width, height=picture.height, profile_of=user["_id"])
            fields["profilePicture"] = media_path(file_id)
        if not fields:
            return user
        updated = await self.storage.users.update(user["_id"], fields)
        if updated is None:
            return user
        old_file = file_id_of(old) if picture is not None and isinstance(old, str) else None
        if old_file is not None:
            await self.storage.media.delete(old_file)
        return updated
