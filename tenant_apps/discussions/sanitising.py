"""Rich text of forum descriptions and post bodies: HTML cleaned by nh3
(ammonia) before it is stored, so the database never holds, and the API never
serves, markup a browser could run.

Kept: paragraphs, line breaks, emphasis, lists, links, code, quotes and small
headings. Links keep only an absolute http, https or mailto `href` and get
`rel="noopener nofollow"`. Everything else (script and style with their
content, event-handler and style attributes, images, frames, comments,
javascript: and relative URLs) is removed. Plain text comes out as HTML text
(`<` as `&lt;`), so clients can always render the stored value as HTML.
"""

import nh3

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h3", "h4"}
)

_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}},
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener nofollow",
    strip_comments=True,
)


def rich_text_clean(html: str) -> str:
    """The sanitised fragment, trimmed. Cleaning clean output changes nothing."""
    return _cleaner.clean(html).strip()


def rich_text_is_blank(html: str) -> bool:
    """No text left once the markup is set aside (`<p></p>`, `<br>`)."""
    return not nh3.clean(html, tags=set()).strip()
